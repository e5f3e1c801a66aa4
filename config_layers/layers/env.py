"""Layer 5, ``env``: environment variables ``<PREFIX>_A__B=value`` -> ``a.b = value``.

Only variables with the prefix are read, from the mapping the caller passes (the process
environment by default). Values are typed as TOML (``40`` is an integer, ``true`` a
boolean, ``[1, 2]`` a list); anything that is not a TOML value is a string, kept literally
(``@format {env[HOME]}`` stays that text: nothing is evaluated).

StableNew's own flat variables share the prefix: :func:`env_layers` maps the ones that mean a
field here (``STABLENEW_CORE_STEPS`` -> ``txt2img.steps``) and notes the ignored ones, by the
table in ``stablenew_env``.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import tomllib
from collections.abc import Mapping
from typing import Any

from config_layers.bounds import MAX_DEPTH, BoundsError, check_text
from config_layers.errors import ConfigError, ConfigErrors
from config_layers.layers.base import Layer, mapped_layer
from config_layers.layers.stablenew_env import RESERVED_SUFFIXES, classify_environment, legacy_values
from config_layers.provenance.origin import KeyPath, Origin
from config_layers.provenance.redaction import shorten
from config_layers.schema.messages import text_field


def parse_value(raw: str, *, text: bool = False) -> Any:
    """Type a string as a TOML value; what is not one stays the string itself. For a ``text``
    field the string is kept as written (a password ``12345678`` is not a number); a quoted
    TOML string is still unquoted."""
    value = _parse_value(raw, text)
    # Parses are cached (one tomllib call per value costs more than the rest of the layer);
    # a list or table is copied so no build shares it with another.
    return copy.deepcopy(value) if isinstance(value, (list, dict)) else value


@functools.lru_cache(maxsize=1024)
def _parse_value(raw: str, text: bool) -> Any:
    if text and not (len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'"):
        return raw
    try:
        check_text(f"v = {raw}", "toml")
        parsed = tomllib.loads(f"v = {raw}")
    except tomllib.TOMLDecodeError:
        return raw
    except (BoundsError, ValueError, RecursionError) as exc:  # too deep, or an int over 4,300 digits
        raise ConfigError(f"the value is refused: {getattr(exc, 'message', exc)}") from None
    return parsed["v"] if parsed.keys() == {"v"} else raw


def env_layers(environ: Mapping[str, str], prefix: str) -> list[Layer]:
    """The ``env`` layer in two parts: StableNew's legacy names first, then our own names, so our
    name for a field wins over StableNew's and the provenance chain shows both. Ignored variables
    are listed in the notes; a flat name one edit from a known one is an error."""
    head = f"{prefix}_"
    return list(_env_layers(tuple((name, environ[name]) for name in sorted(environ) if name.startswith(head)), prefix))


@functools.lru_cache(maxsize=64)
def _env_layers(variables: tuple[tuple[str, str], ...], prefix: str) -> tuple[Layer, ...]:
    # The same variables give the same layers (nothing changes a layer once made), so a
    # repeated build neither parses them again nor walks them for its memo's key.
    made = _make_env_layers(dict(variables), prefix)
    return tuple(dataclasses.replace(layer, made_from=(variables, prefix, index)) for index, layer in enumerate(made))


def _make_env_layers(environ: Mapping[str, str], prefix: str) -> list[Layer]:
    variables = classify_environment(environ, prefix)
    refused = [v for v in variables if v.fate == "refused" and "__" not in v.name]
    if refused:
        raise ConfigErrors(
            [f"{v.name}: {v.reason}" for v in refused],
            title=f"refused {prefix}_* variables (config-layers env lists every one):",
        )
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    for variable in (v for v in variables if v.fate == "legacy"):
        values = legacy_values(
            variable, environ[variable.name], lambda raw, path: parse_value(raw, text=text_field(path))
        )
        for dotted, value in values.items():
            path = tuple(dotted.split("."))
            target = data
            for part in path[:-1]:
                target = target.setdefault(part, {})
            target[path[-1]] = value
            rule = f"StableNew's legacy name {variable.name} for {dotted} (config_layers/data/stablenew_env.toml)"
            origins[path] = Origin("env", variable.name, path, rule=rule)
    legacy = [v.name for v in variables if v.fate == "legacy"]
    ignored = [f"{v.name} ({v.reason})" for v in variables if v.fate == "ignored"]
    notes = (f"ignored, not config keys: {'; '.join(ignored)}",) if ignored else ()
    own = {v.name: environ[v.name] for v in variables if v.fate in ("read", "refused")}
    layers = [mapped_layer("env", data, origins, sources=tuple(legacy))] if legacy else []
    return [*layers, env_layer(own, prefix, notes)]


def env_layer(
    environ: Mapping[str, str],
    prefix: str,
    notes: tuple[str, ...] = (),
) -> Layer:
    """The prefixed variables as a layer; a text field's value keeps its string (the schema says
    which fields hold text)."""
    head = f"{prefix}_"
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    names: list[str] = []
    for name in sorted(environ):
        if not name.startswith(head) or name[len(head) :] in RESERVED_SUFFIXES:
            continue
        parts = name[len(head) :].lower().split("__")
        if len(parts) > MAX_DEPTH:
            raise ConfigError(f"{shorten(name)}: nested too deeply (more than {MAX_DEPTH} '__' parts)")
        if not all(parts):
            raise ConfigError(f"{name}: empty key segment; nest keys with '__', as {head}TXT2IMG__STEPS")
        target = data
        for depth, part in enumerate(parts[:-1]):
            if tuple(parts[: depth + 1]) in origins:  # another variable's value is a whole table
                other = origins[tuple(parts[: depth + 1])].source
                raise ConfigError(f"{name}: {other} already sets this table as a value; set one or the other")
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                clash = "__".join(parts[: depth + 1]).upper()
                raise ConfigError(f"{name}: {head}{clash} is already set to a value, not a table")
            target = child
        if isinstance(target.get(parts[-1]), dict):
            raise ConfigError(f"{name}: other variables set keys below it; set one or the other")
        if parts[-1] in target:
            other = origins[tuple(parts)].source
            raise ConfigError(f"{name} and {other} set the same key (names differ only in case); keep one")
        try:
            target[parts[-1]] = parse_value(environ[name], text=text_field(tuple(parts)))
        except ConfigError as exc:
            raise ConfigError(f"{name}: {exc}") from None
        origins[tuple(parts)] = Origin("env", name, tuple(parts))
        names.append(name)
    if not names and not notes:
        notes = (f"no {head}* variables set",)
    return mapped_layer("env", data, origins, sources=tuple(names), notes=notes)
