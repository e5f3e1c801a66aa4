"""Layer 6, ``overrides``: call-time values (the GUI's current choices, CLI ``--set``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from config_layers.bounds import MAX_DEPTH, check_depth
from config_layers.errors import ConfigError
from config_layers.layers.base import Layer, mapped_layer, nest
from config_layers.provenance.origin import Origin


def overrides_layer(overrides: Mapping[str, Any] | None, model: str | None, loras: Sequence[str]) -> Layer:
    """``overrides`` (nested, or with dotted top-level keys), plus the model and LoRAs the
    call names: ``model=`` sets ``model``; each LoRA adds an (empty) ``loras.<name>`` table,
    so it joins the config and takes its weight from a lower layer unless one is given."""
    check_depth(overrides or {}, "overrides")
    if any(len(str(key).split(".")) > MAX_DEPTH for key in overrides or {}):
        raise ConfigError(f"overrides: a dotted key has more than {MAX_DEPTH} parts")
    try:
        data = nest(overrides or {})
    except ValueError as exc:
        raise ConfigError(f"overrides: {exc}") from None
    if model is not None:
        data["model"] = model
    if loras:
        table = data.setdefault("loras", {})
        if not isinstance(table, dict):
            raise ConfigError("overrides: 'loras' must be a table of LoRA names")
        named = {str(key).casefold() for key in table}
        for name in loras:
            if name.casefold() not in named:
                named.add(name.casefold())
                table[name] = {}
    origin = Origin("overrides", "overrides")
    return mapped_layer("overrides", data, {}, sources=("overrides",) if data else (), fallback=origin)
