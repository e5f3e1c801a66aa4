"""One redaction for every output: dumps, explain, error messages, logs and ``repr``.

A value is secret when its path is a known credential (``webui.password``) or lies below one,
or when a key the schema does not know looks like a credential (``webui.pasword``,
``webui_token``, ``api_key``): a typo must not print the password it was meant to hold. In any
string shown, the password of a URL's userinfo (``http://user:pw@host``) is masked. Long values
echoed in messages are shortened.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, get_args, get_origin

from pydantic import BaseModel, SecretStr

REDACTED = "********"
_PYDANTIC_MASK = "**********"

#: Key names that hold credentials when the schema does not know them.
_SECRET_NAME = re.compile(
    # password with its usual typos (pasword, passwd, pswd), then the other credential words
    r"p(?:a|4)?s+w(?:o|0)?r?d|pwd|passphrase|secret|token|api[_-]?key|auth(?!or)|credential|private[_-]?key|cookie|session",
    re.IGNORECASE,
)
_AUTHORITY_END = re.compile(r"[/?#\s]")

#: Longest value echoed whole in a message, and most list items shown.
SHOWN_CHARACTERS = 120
_SHOWN_ITEMS = 10


class SecretValue:
    """A secret held so that it never prints; ``get_secret_value()`` unwraps it."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def get_secret_value(self) -> Any:
        return self._value

    def __repr__(self) -> str:
        return f"SecretValue({REDACTED!r})"

    def __str__(self) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SecretValue | SecretStr):
            return bool(self._value == other.get_secret_value())
        return NotImplemented

    def __hash__(self) -> int:
        return hash(REDACTED)


def looks_secret(name: str) -> bool:
    """Whether a key name reads like a credential (``password``, ``api_key``, ``token``...)."""
    return _SECRET_NAME.search(name) is not None


def is_secret_path(path: tuple[str | int, ...]) -> bool:
    """Whether the value at ``path`` (a config path) must never be shown: a credential leaf of
    the schema or anything below one, or a key the schema does not know whose name looks
    like a credential (at any depth)."""
    from config_layers.schema.config import SECRET_LEAVES, PipelineConfig
    from config_layers.schema.messages import _unwrap

    folded = tuple(str(part).casefold() for part in path)
    if any(folded[:depth] in SECRET_LEAVES for depth in range(1, len(folded) + 1)):
        return True
    current: Any = PipelineConfig
    for part in path:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            known = current.model_fields.get(str(part))
            if known is None and looks_secret(str(part)):
                return True
            current = known.annotation if known is not None else None
        elif get_origin(current) is dict:
            current = get_args(current)[1]  # the key is data (a LoRA name), not a field name
        elif get_origin(current) in (list, tuple):
            current = get_args(current)[0]
        elif isinstance(part, str) and looks_secret(part):
            return True
        else:
            current = None
    return False


def redact_text(text: str) -> str:
    """``text`` with the password of every URL userinfo masked: ``http://u:pw@h`` -> ``http://u:********@h``."""
    if "://" not in text:
        return text
    out: list[str] = []
    done = 0
    for scheme_end in (match.end() for match in re.finditer("://", text)):
        if scheme_end < done:
            continue
        stop = _AUTHORITY_END.search(text, scheme_end)
        authority_end = stop.start() if stop else len(text)
        at = text.rfind("@", scheme_end, authority_end)
        colon = text.find(":", scheme_end, at) if at >= 0 else -1
        if colon < 0:
            continue
        out += [text[done : colon + 1], REDACTED]
        done = at
    return "".join(out) + text[done:] if out else text


def redact(path: tuple[str | int, ...], value: Any) -> Any:
    """``value`` (found at config ``path``) as it may be shown: secrets masked, deeply."""
    if value is None or value == "" or value == _PYDANTIC_MASK:
        return value  # nothing, or already masked (pydantic's JSON dump of a SecretStr)
    if isinstance(value, SecretStr | SecretValue) or is_secret_path(path):
        return REDACTED
    return _redact_below(path, value)


def _redact_below(path: tuple[str | int, ...], value: Any) -> Any:
    """``redact`` for a value whose own path is known not to be secret (list items share it)."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, SecretStr | SecretValue):
        return REDACTED
    if isinstance(value, Mapping):
        return {key: redact((*path, str(key)), child) for key, child in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_below(path, child) for child in value]
    return value


def shorten(text: str, limit: int = SHOWN_CHARACTERS) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def show(path: tuple[str | int, ...], value: Any) -> str:
    """A value for a message: redacted, as ``repr`` for text, ``{...}`` for a table, shortened."""
    more = ""
    if isinstance(value, list | tuple) and len(value) > _SHOWN_ITEMS:
        value, more = list(value[:_SHOWN_ITEMS]), f", ...] ({len(value)} items)"
    shown = redact(path, value)
    if shown == REDACTED:
        return REDACTED
    if isinstance(shown, Mapping) and shown:
        return "{...}"
    if isinstance(shown, str):
        cut = repr(shown[:SHOWN_CHARACTERS])
        return cut if len(shown) <= SHOWN_CHARACTERS else f"{cut}... ({len(shown)} characters)"
    text = shorten(str(shown))
    return text[:-1] + more if more and text.endswith("]") else text + more
