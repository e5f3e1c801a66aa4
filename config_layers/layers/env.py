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

from config_layers.bounds import MAX_DEPTH, BoundsError, check_text
from config_layers.errors import ConfigError
from config_layers.layers.base import Layer, mapped_layer
from config_layers.origin import KeyPath, Origin
from config_layers.redaction import shorten

#: Variables with the prefix that configure the builder itself, not config keys.
RESERVED_SUFFIXES = ("USER_FILE",)


def parse_value(raw: str, *, text: bool = False) -> Any:
    """Type a string as a TOML value; what is not one stays the string itself. For a ``text``
    field the string is kept as written (a password ``12345678`` is not a number); a quoted
    TOML string is still unquoted."""
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
            target[parts[-1]] = parse_value(environ[name], text=is_text(tuple(parts)))
        except ConfigError as exc:
            raise ConfigError(f"{name}: {exc}") from None
        origins[tuple(parts)] = Origin("env", name, tuple(parts))
        names.append(name)
    notes = () if names else (f"no {head}* variables set",)
    return mapped_layer("env", data, origins, sources=tuple(names), notes=notes)
