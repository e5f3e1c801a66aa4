"""Value types every metadata reader returns, its error type, and the checks they share.

Foreign metadata is untrusted data (it arrives with downloaded models), so the shared checks are
strict: files are size-capped before they are read, JSON is parsed as plain data (no ``NaN``, no
duplicate keys, no evaluation of anything), and every string we hand on is checked for control
characters. Any problem becomes a :class:`MetadataError` naming the file, the key path and, where
the JSON parser reports one, the line and column.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from config_layers.bounds import unsafe_character as unsafe_character  # re-exported: readers use it
from config_layers.documents import decode_utf8, parse_json, read_capped_bytes
from config_layers.errors import FileError
from config_layers.errors import MetadataError as MetadataError  # re-exported: defined in errors.py

SourceKind = Literal["a1111_metadata", "civitai_info", "lora_manager", "safetensors_header"]


@dataclass(frozen=True)
class ForeignValue:
    """One value read from a foreign file, with where in that file it was found.

    ``value`` is already typed and normalized; ``key`` is its place in the file
    (``"preferred weight"``, ``"images[*].meta.sampler"``, ``"__metadata__.modelspec.architecture"``);
    ``note`` says how it was derived when that is not obvious (votes, a split, a mapping).
    """

    value: object
    key: str
    note: str | None = None


@dataclass(frozen=True)
class ForeignPriors:
    """What one foreign metadata file says about a model or LoRA; ``None`` where it says nothing.

    Value types: ``base_type`` str (one of :data:`config_layers.metadata.basetypes.BASE_TYPES`),
    ``trigger_phrases`` list[str], ``lora_weight`` float, ``vae`` str, ``sampler`` str (already
    split from its scheduler), ``scheduler`` str, ``steps`` int, ``cfg`` float, ``resolution``
    tuple[int, int], ``output_name`` str, ``sha256`` lowercase hex str.
    """

    source_kind: SourceKind
    path: Path
    base_type: ForeignValue | None = None
    trigger_phrases: ForeignValue | None = None
    lora_weight: ForeignValue | None = None
    vae: ForeignValue | None = None
    sampler: ForeignValue | None = None
    scheduler: ForeignValue | None = None
    steps: ForeignValue | None = None
    cfg: ForeignValue | None = None
    resolution: ForeignValue | None = None
    output_name: ForeignValue | None = None
    sha256: ForeignValue | None = None


# --------------------------------------------------------------------------- reading files


def read_capped(path: Path, max_bytes: int) -> bytes:
    """Read a whole regular file of at most ``max_bytes`` bytes; anything else is a MetadataError.

    The open file's size is checked before reading (a 2 GB "sidecar" is never pulled into
    memory); a file replaced meanwhile is read as its old or its new version, never half.
    """
    try:
        return read_capped_bytes(path, max_bytes)
    except FileError as error:
        message = error.message
        if message.startswith(("is a directory", "is not a regular")):
            message = "not a regular file"
        elif message == "file not found" or message.startswith("cannot read: "):
            message = "cannot read file: " + message.removeprefix("cannot read: ")
        raise MetadataError(path, message) from None


# --------------------------------------------------------------------------- JSON


def decode_json(raw: bytes, path: Path) -> object:
    """UTF-8 bytes of a JSON document -> plain Python data (:func:`config_layers.documents.parse_json`)."""
    return parse_json(decode_utf8(raw, path, error=MetadataError), path, error=MetadataError)


# --------------------------------------------------------------------------- typed values


def child_key(parent: str | None, key: str | int) -> str:
    """Key path of a child: ``child_key("files", 0) == "files[0]"``, ``child_key("a", "b") == "a.b"``."""
    if isinstance(key, int):
        return f"{parent or ''}[{key}]"
    return f"{parent}.{key}" if parent else key


def type_name(value: object) -> str:
    """The JSON name of a parsed value's type, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def expect_object(value: object, path: Path, key_path: str | None) -> dict[str, object]:
    """``value`` if it is a JSON object, else a MetadataError naming ``key_path``."""
    if not isinstance(value, dict):
        where = "the document" if key_path is None else "value"
        raise MetadataError(path, f"{where} must be an object, not {type_name(value)}", key_path=key_path)
    return value


def expect_list(value: object, path: Path, key_path: str) -> list[object]:
    """``value`` if it is a JSON array, else a MetadataError naming ``key_path``."""
    if not isinstance(value, list):
        raise MetadataError(path, f"must be an array, not {type_name(value)}", key_path=key_path)
    return value


def expect_text(value: object, path: Path, key_path: str) -> str:
    """A string without control characters, stripped. Such characters are *rejected*, not
    removed: a value that needs them is not one we can pass on to a prompt or a payload."""
    if not isinstance(value, str):
        raise MetadataError(path, f"must be a string, not {type_name(value)}", key_path=key_path)
    bad = unsafe_character(value)
    if bad is not None:
        raise MetadataError(path, f"string contains the control character {bad}", key_path=key_path)
    return value.strip()


def as_number(value: object, *, allow_string: bool = False) -> float | None:
    """A finite float from a JSON number (or a numeric string when allowed); ``None`` otherwise.
    Booleans are not numbers here, whatever Python thinks."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value) if not isinstance(value, int) or abs(value) < 2**63 else math.inf
    elif allow_string and isinstance(value, str) and unsafe_character(value) is None:
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def expect_number(value: object, path: Path, key_path: str, *, allow_string: bool = False) -> float:
    """A finite number at ``key_path``, else a MetadataError naming it."""
    number = as_number(value, allow_string=allow_string)
    if number is None:
        shown = repr(value) if isinstance(value, str | int | float) else type_name(value)
        raise MetadataError(path, f"must be a finite number, not {shown}", key_path=key_path)
    return number


def as_count(value: object) -> int | None:
    """A positive whole number from a JSON number or numeric string (``30``, ``30.0``, ``"30"``)."""
    number = as_number(value, allow_string=True)
    if number is None or number < 1 or number != int(number) or number > 1_000_000:
        return None
    return int(number)


_RESOLUTION = re.compile(r"\s*(\d{1,6})\s*[xX\u00d7,]\s*(\d{1,6})\s*")


def parse_resolution(value: object) -> tuple[int, int] | None:
    """``"832x1216"`` (or ``"832,1216"``) -> ``(832, 1216)``; ``None`` for anything else, zero
    sides included."""
    if not isinstance(value, str):
        return None
    match = _RESOLUTION.fullmatch(value)
    if match is None:
        return None
    width, height = int(match.group(1)), int(match.group(2))
    return (width, height) if width > 0 and height > 0 else None


_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


def expect_sha256(value: object, path: Path, key_path: str) -> str | None:
    """64 hex digits, returned lowercase; ``None`` for null or an empty string (not computed yet);
    anything else is a MetadataError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or _SHA256.fullmatch(value.strip()) is None:
        shown = repr(value)[:80] if isinstance(value, str) else type_name(value)
        raise MetadataError(path, f"must be a SHA-256 hex digest (64 hex digits), not {shown}", key_path=key_path)
    return value.strip().lower()


def expect_phrases(value: object, path: Path, key_path: str) -> list[str]:
    """Phrases from one free-text field (A1111 "activation text", ``modelspec.trigger_phrase``).

    Commas and line breaks separate phrases; each is stripped and whitespace-collapsed; empties
    and repeats are dropped, order is kept. Any other control character is rejected.
    """
    if not isinstance(value, str):
        raise MetadataError(path, f"must be a string, not {type_name(value)}", key_path=key_path)
    return unique_phrases([expect_text(part, path, key_path) for part in re.split(r"[,\r\n]", value)])


def unique_phrases(items: list[str]) -> list[str]:
    """Whitespace-collapsed, non-empty items, each kept once at its first position."""
    phrases: list[str] = []
    for item in items:
        phrase = " ".join(item.split())
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    return phrases
