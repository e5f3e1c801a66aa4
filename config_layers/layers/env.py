"""Layer 5, ``env``: environment variables ``<PREFIX>_A__B=value`` -> ``a.b = value``.

Only variables with the prefix are read, from the mapping the caller passes (the process
environment by default). Values are typed as TOML (``40`` is an integer, ``true`` a
boolean, ``[1, 2]`` a list); anything that is not a TOML value is a string, kept literally
(``@format {env[HOME]}`` stays that text: nothing is evaluated).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from typing import Any

from config_layers.errors import ConfigError
from config_layers.layers.base import Layer, mapped_layer
from config_layers.origin import KeyPath, Origin

#: Variables with the prefix that configure the builder itself, not config keys.
RESERVED_SUFFIXES = ("USER_FILE",)


def parse_value(raw: str, *, text: bool = False) -> Any:
    """Type a string as a TOML value; what is not one stays the string itself. For a ``text``
    field the string is kept as written (a password ``12345678`` is not a number); a quoted
    TOML string is still unquoted."""
    if text and not (len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'"):
        return raw
    try:
        parsed = tomllib.loads(f"v = {raw}")
    except tomllib.TOMLDecodeError:
        return raw
    return parsed["v"] if parsed.keys() == {"v"} else raw


def env_layer(
    environ: Mapping[str, str], prefix: str, is_text: Callable[[tuple[str, ...]], bool] = lambda path: False
) -> Layer:
    """The prefixed variables as a layer; ``is_text(path)`` says which keys hold text."""
    head = f"{prefix}_"
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    names: list[str] = []
    for name in sorted(environ):
        if not name.startswith(head) or name[len(head) :] in RESERVED_SUFFIXES:
            continue
        parts = name[len(head) :].lower().split("__")
        if not all(parts):
            raise ConfigError(f"{name}: empty key segment; nest keys with '__', as {head}TXT2IMG__STEPS")
        target = data
        for depth, part in enumerate(parts[:-1]):
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
        target[parts[-1]] = parse_value(environ[name], text=is_text(tuple(parts)))
        origins[tuple(parts)] = Origin("env", name, tuple(parts))
        names.append(name)
    notes = () if names else (f"no {head}* variables set",)
    return mapped_layer("env", data, origins, sources=tuple(names), notes=notes)
