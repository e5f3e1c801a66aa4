"""Reading TOML and JSON files as plain data, with size caps and located syntax errors.

Nothing read here is ever evaluated: tomllib and json produce dicts, lists and scalars only.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

from config_layers.bounds import DEFAULT_MAX_BYTES as DEFAULT_MAX_BYTES  # re-exported: callers cap with it
from config_layers.bounds import BoundsError, check_text
from config_layers.errors import FileError
from config_layers.positions import json_positions, toml_positions
from config_layers.provenance.origin import KeyPath, Position

DocumentFormat = Literal["toml", "json"]

_TOML_WHERE = re.compile(r"^(?P<msg>.*?)\s*\(at line (?P<line>\d+), column (?P<col>\d+)\)\s*$", re.S)


@dataclass
class Document:
    """A parsed file: its data, and the positions of its keys (computed on first use)."""

    #: Read once per file version and never changed (config_layers.pipeline.memo).
    memo_by_identity: ClassVar[bool] = True

    path: Path
    fmt: DocumentFormat
    text: str
    data: dict[str, Any]
    _positions: dict[KeyPath, Position] | None = field(default=None, repr=False)

    def position(self, key: KeyPath) -> Position | None:
        """The 1-based (line, column) where ``key`` is written, or None when it is not."""
        if self._positions is None:
            scan = toml_positions if self.fmt == "toml" else json_positions
            self._positions = scan(self.text)
        return self._positions.get(key)

    def error(self, key: KeyPath, message: str) -> FileError:
        """A FileError for ``key`` of this document, located at the key's line and column (or,
        for a key that is missing, at the nearest table above it that is written)."""
        pos = next((p for depth in range(len(key), 0, -1) if (p := self.position(key[:depth]))), None)
        return FileError(
            self.path,
            message,
            key_path=format_key_path(key) or None,
            line=pos[0] if pos else None,
            column=pos[1] if pos else None,
        )


def format_key_path(key: Iterable[str | int], *, plain: bool = False) -> str:
    """The one key-path formatter. As an error locates a key in a file: ``("a", 0, "b c")`` ->
    ``'a[0]."b c"'``; ``plain``, as provenance and validation name a config field: parts joined by
    dots as they are (``"loras.Perfect Eyes.weight"``)."""
    if plain:
        return ".".join(map(str, key))
    out = ""
    for part in key:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            shown = part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part)
            out += f".{shown}" if out else shown
    return out


def is_regular_file(path: Path) -> bool:
    """``path.is_file()``, where a path the OS refuses to look at (a name over its limits, a folder
    that cannot be entered, a NUL) counts as absent instead of raising."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def outside_folder(file: Path, beside: Path) -> str | None:
    """Why ``beside`` (a sidecar or metadata file of ``file``) must not be read: it resolves
    outside the folder that holds ``file`` (a symlink out of the library), or cannot be
    resolved. None when it is inside."""
    if os.path.dirname(beside) == os.path.dirname(file) and not os.path.islink(beside):
        return None  # not a link, and in the model file's own folder (whatever that resolves to)
    try:
        folder = file.parent.resolve()
        real = beside.resolve()
    except (OSError, RuntimeError) as exc:  # a symlink loop, a name over the OS limit
        return f"cannot be resolved ({exc}); refused unread"
    if not real.is_relative_to(folder):
        return f"is a link to a file outside {folder}, the model file's folder; refused unread"
    return None


def read_document(path: Path, *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Document:
    """Read ``path`` as TOML (``.toml``) or JSON (anything else) into a Document.

    Raises FileError for a missing or oversized file, bytes that are not UTF-8, a syntax
    error (with line and column) or a top level that is not a table.
    """
    fmt: DocumentFormat = "toml" if path.suffix.lower() == ".toml" else "json"
    return parse_document(path, read_capped_bytes(path, max_bytes), fmt)


def read_capped_bytes(path: Path, max_bytes: int | None) -> bytes:
    """The bytes of the regular file ``path`` (at most ``max_bytes``), or a FileError.

    The file is opened first and the open file is checked (fstat): a file replaced meanwhile
    (an atomic rewrite) is read whole as either its old or its new version, never an error.
    """
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below like any
        # file that is not regular.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(descriptor)
            if stat.S_ISDIR(info.st_mode):
                raise FileError(path, "is a directory, not a file")
            if not stat.S_ISREG(info.st_mode):
                raise FileError(path, "is not a regular file")
            size = info.st_size
            if max_bytes is not None and size > max_bytes:
                raise FileError(path, f"file is {size} bytes, over the {max_bytes}-byte limit")
            # Read what fstat promised plus one byte (to notice growth): read(n) allocates n up front.
            raw = handle.read(size + 1)
    except FileNotFoundError:
        raise FileError(path, "file not found") from None
    except IsADirectoryError:
        raise FileError(path, "is a directory, not a file") from None
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL in the path
        raise FileError(path, f"cannot read: {getattr(exc, 'strerror', None) or exc}") from None
    if len(raw) > size:
        # The same open file grew while being read (an in-place writer, not a rename).
        raise FileError(path, "changed while being read; try again")
    return raw


def parse_document(path: Path, raw: bytes, fmt: DocumentFormat) -> Document:
    """Parse bytes already read from ``path``; see read_document for the errors."""
    text = decode_utf8(raw, path)
    data = _parse_toml(path, text) if fmt == "toml" else _parse_json(path, text)
    return Document(path=path, fmt=fmt, text=text, data=data)


def decode_utf8(raw: bytes, path: Path, *, error: type[FileError] = FileError, key_path: str | None = None) -> str:
    """UTF-8 text (a leading byte-order mark dropped); bad bytes are an ``error`` located by line/column."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        raise error(
            path,
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start})",
            key_path=key_path,
            line=raw.count(b"\n", 0, exc.start) + 1,
            column=exc.start - line_start + 1,
        ) from None
    return text.removeprefix("\ufeff")


def parse_json(text: str, path: Path, *, error: type[FileError] = FileError, key_path: str | None = None) -> Any:
    """JSON text as plain data, the one JSON reader of every file (sidecars, foreign metadata,
    safetensors headers): NaN/Infinity and duplicate keys are refused, nesting and digit runs are
    bounded (:mod:`config_layers.bounds`), never a RecursionError. Problems are an ``error``
    naming ``path``, ``key_path`` and the line and column where the parser gives them."""
    try:
        check_text(text, "json")
    except BoundsError as exc:
        raise error(path, f"invalid JSON: {exc.message}", key_path=key_path, line=exc.line, column=exc.column) from None
    try:
        return _JSON.decode(text)
    except json.JSONDecodeError as exc:
        raise error(path, f"invalid JSON: {exc.msg}", key_path=key_path, line=exc.lineno, column=exc.colno) from None
    except RecursionError:  # bounded above; kept as a last line of defence
        raise error(path, "invalid JSON: nested too deeply", key_path=key_path) from None
    except ValueError as exc:  # NaN/Infinity, a duplicate key, an integer literal with thousands of digits
        raise error(path, f"invalid JSON: {exc}", key_path=key_path) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


#: One decoder for every JSON text (``json.loads`` with hooks builds a new one per call).
_JSON = json.JSONDecoder(object_pairs_hook=_unique_pairs, parse_constant=_reject_constant)


def _check_bounds(path: Path, text: str, fmt: DocumentFormat) -> None:
    try:
        check_text(text, fmt)
    except BoundsError as exc:
        raise FileError(path, f"invalid {fmt.upper()}: {exc.message}", line=exc.line, column=exc.column) from None


def _parse_toml(path: Path, text: str) -> dict[str, Any]:
    _check_bounds(path, text, "toml")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_WHERE.match(str(exc))
        if match is None:
            raise FileError(path, f"invalid TOML: {exc}") from None
        raise FileError(
            path,
            f"invalid TOML: {match['msg']}",
            line=int(match["line"]),
            column=int(match["col"]),
        ) from None
    except (RecursionError, ValueError) as exc:  # bounded above; kept as a last line of defence
        raise FileError(path, f"invalid TOML: {exc or 'nested too deeply'}") from None


def _parse_json(path: Path, text: str) -> dict[str, Any]:
    data = parse_json(text, path)
    if not isinstance(data, dict):
        raise FileError(path, f"top level must be a JSON object, not {type(data).__name__}", line=1)
    return data
