"""Layer 1, ``defaults``: the shipped ``settings.toml`` (or another file the caller names)."""

from __future__ import annotations

from config_layers.documents import Document
from config_layers.layers.base import Layer, file_layer


def defaults_layer(document: Document) -> Layer:
    return file_layer("defaults", document)
