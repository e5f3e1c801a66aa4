"""Finding and reading the metadata other tools keep beside a model or LoRA file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from config_layers.cache import FileCache
from config_layers.documents import is_regular_file, outside_folder
from config_layers.metadata import (
    ForeignPriors,
    MetadataError,
    priors_from_safetensors,
    read_civitai_info,
    read_json_sidecar,
    read_lora_manager,
)

#: ``<stem><suffix>`` files other tools write, and their readers. ``<stem>.json`` is A1111's
#: user metadata or SD.Next's Civitai data; the reader tells them apart by their keys.
FOREIGN_SUFFIXES: dict[str, Callable[[Path], ForeignPriors]] = {
    ".json": read_json_sidecar,
    ".civitai.info": read_civitai_info,
    ".metadata.json": read_lora_manager,
}


def stem_of(file: Path) -> str:
    return file.name[: -len(file.suffix)] if file.suffix else file.name


def foreign_paths(file: Path) -> list[Path]:
    """Every place foreign metadata for ``file`` could be (existing or not)."""
    paths = [file.with_name(stem_of(file) + suffix) for suffix in FOREIGN_SUFFIXES]
    if file.suffix.lower() == ".safetensors":
        paths.append(file)
    return paths


class ForeignReader:
    """Reads (and caches, by file stat) every foreign metadata file beside a model file."""

    def __init__(self, headers: FileCache[ForeignPriors]) -> None:
        self._headers = headers
        self._caches = {suffix: FileCache(reader) for suffix, reader in FOREIGN_SUFFIXES.items()}

    def read(self, file: Path) -> tuple[list[ForeignPriors], list[MetadataError]]:
        """The priors of every readable foreign file beside ``file``, and the unreadable ones' errors."""
        found: list[ForeignPriors] = []
        problems: list[MetadataError] = []
        for suffix, cache in self._caches.items():
            path = file.with_name(stem_of(file) + suffix)
            if path == file or not is_regular_file(path):
                continue
            refused = outside_folder(file, path)
            if refused is not None:
                problems.append(MetadataError(path, refused))
                continue
            try:
                found.append(cache.get(path))
            except MetadataError as exc:
                problems.append(exc)
        if file.suffix.lower() == ".safetensors" and is_regular_file(file):
            try:
                found.append(self._headers.get(file))
            except MetadataError as exc:
                problems.append(exc)
        return found, problems


__all__ = [
    "FOREIGN_SUFFIXES",
    "ForeignReader",
    "foreign_paths",
    "outside_folder",
    "priors_from_safetensors",
    "stem_of",
]
