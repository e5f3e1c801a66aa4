"""The ``__metadata__`` of a safetensors file, read by hand with strict caps.

A safetensors file starts with an unsigned 64-bit little-endian length N, then N bytes of UTF-8
JSON (an object: tensor name -> dtype/shape/offsets, plus an optional ``"__metadata__"`` object of
string -> string), then the tensor data. We read the 8 bytes and the N header bytes, never the
tensors, and refuse a length over ``max_header_bytes`` before reading anything more (a corrupt or
hostile file may claim 2 GB). The ``safetensors`` package is not used: it has no cap we control.

Trainers write their own keys there: the SAI ModelSpec (``modelspec.architecture``,
``modelspec.trigger_phrase``, ``modelspec.resolution``…) and kohya's ``ss_*`` keys
(``ss_base_model_version``, ``ss_output_name``…). Only the values we use are checked for control
characters; the mapping :func:`read_safetensors_metadata` returns is as written.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import struct
from pathlib import Path
from typing import Final

from config_layers.bounds import MAX_HEADER_BYTES as MAX_HEADER_BYTES  # re-exported: the header readers' default
from config_layers.documents import decode_utf8, parse_json
from config_layers.metadata.basetypes import from_kohya_base_model_version, from_modelspec_architecture
from config_layers.metadata.types import (
    ForeignPriors,
    ForeignValue,
    MetadataError,
    expect_phrases,
    expect_text,
    parse_resolution,
    type_name,
)

_LENGTH: Final[struct.Struct] = struct.Struct("<Q")
_META: Final[str] = "__metadata__"


def _check_length(length: int, available: int, path: Path, max_header_bytes: int) -> None:
    if length > max_header_bytes:
        raise MetadataError(
            path,
            f"header length {length} bytes is over the {max_header_bytes}-byte limit "
            "(not a safetensors file, or a damaged one)",
        )
    if length > available:
        raise MetadataError(
            path, f"header length {length} bytes runs past the end of the file ({available} bytes follow it)"
        )


def decode_header(header: bytes, path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a header's JSON bytes (empty when absent); MetadataError otherwise.

    Line and column in errors are positions in the JSON header, which starts at byte 8.
    """
    return metadata_of(parse_header_json(header, path), path)


def parse_header_json(header: bytes, path: Path) -> dict[str, object]:
    """A header's JSON bytes as the object they must be; MetadataError otherwise."""
    document = parse_json(decode_utf8(header, path, error=MetadataError), path, error=MetadataError)
    if not isinstance(document, dict):
        raise MetadataError(path, f"the JSON header must be an object, not {type_name(document)}")
    return document


def metadata_of(document: dict[str, object], path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a parsed header (empty when absent), checked to map strings to strings."""
    if _META not in document:
        return {}
    metadata = document[_META]
    if not isinstance(metadata, dict):
        raise MetadataError(path, f"must be an object of strings, not {type_name(metadata)}", key_path=_META)
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise MetadataError(path, f"must be a string, not {type_name(value)}", key_path=f"{_META}.{key}")
    return dict(metadata)


def parse_safetensors_metadata(raw: bytes, path: Path, *, max_header_bytes: int = MAX_HEADER_BYTES) -> dict[str, str]:
    """The ``__metadata__`` from the bytes of a safetensors file (its first 8 + N bytes suffice)."""
    if len(raw) < _LENGTH.size:
        raise MetadataError(path, f"file is {len(raw)} bytes, too short for the 8-byte header length")
    (length,) = _LENGTH.unpack_from(raw)
    _check_length(length, len(raw) - _LENGTH.size, path, max_header_bytes)
    return decode_header(raw[_LENGTH.size : _LENGTH.size + length], path)


def read_safetensors_metadata(path: Path, *, max_header_bytes: int = MAX_HEADER_BYTES) -> dict[str, str]:
    """Read the ``__metadata__`` of a safetensors file: 8 + N bytes, never the tensor data."""
    return decode_header(read_header_bytes(path, max_header_bytes=max_header_bytes), path)


def read_header_bytes(path: Path, *, max_header_bytes: int = MAX_HEADER_BYTES) -> bytes:
    """The N JSON header bytes of a safetensors file (tensor data starts at byte 8 + N); capped."""
    try:
        # os-level reads: a buffered file object costs more than the two reads of a small header.
        # O_NONBLOCK: opening a FIFO must not wait for a writer; it is refused below.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        try:
            info = os.fstat(descriptor)
            if not stat.S_ISREG(info.st_mode):
                raise MetadataError(path, "not a regular file")
            prefix = read_exactly(descriptor, _LENGTH.size)
            if len(prefix) < _LENGTH.size:
                raise MetadataError(path, f"file is {len(prefix)} bytes, too short for the 8-byte header length")
            (length,) = _LENGTH.unpack(prefix)
            _check_length(length, info.st_size - _LENGTH.size, path, max_header_bytes)
            header = read_exactly(descriptor, length)
        finally:
            os.close(descriptor)
    except (OSError, ValueError) as error:  # ValueError: an embedded NUL in the path
        raise MetadataError(path, f"cannot read file: {getattr(error, 'strerror', None) or error}") from error
    if len(header) < length:  # the file shrank after the size check
        raise MetadataError(path, f"header length {length} bytes runs past the end of the file")
    return header


def read_exactly(descriptor: int, size: int) -> bytes:
    """``size`` bytes from the descriptor's position (fewer only at the end of the file)."""
    chunks = []
    while size > 0:
        chunk = os.read(descriptor, size)
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def priors_from_metadata(metadata: dict[str, str], path: Path) -> ForeignPriors:
    """Priors from a ``__metadata__`` mapping.

    Base type: ``modelspec.architecture`` wins over kohya's ``ss_base_model_version`` when both
    are present (the note says whether they agree). ``modelspec.trigger_phrase`` is split on
    commas; ``modelspec.resolution`` must be ``WIDTHxHEIGHT``; ``ss_output_name`` "None" (what
    kohya writes when no name was given) counts as absent. ``modelspec.usage_hint`` is free prose
    and is not read.
    """

    def text(key: str) -> str | None:
        raw = metadata.get(key)
        value = None if raw is None else expect_text(raw, path, f"{_META}.{key}")
        return value or None

    architecture, kohya = text("modelspec.architecture"), text("ss_base_model_version")
    base_type = None
    if architecture is not None:
        mapped = from_modelspec_architecture(architecture)
        note = mapped.note
        if kohya is not None:
            other = from_kohya_base_model_version(kohya).base_type
            verdict = "agrees" if other == mapped.base_type else f"says {other}; modelspec wins"
            note = "; ".join(filter(None, (note, f"ss_base_model_version {kohya!r} {verdict}")))
        base_type = ForeignValue(mapped.base_type, f"{_META}.modelspec.architecture", note)
    elif kohya is not None:
        mapped = from_kohya_base_model_version(kohya)
        base_type = ForeignValue(mapped.base_type, f"{_META}.ss_base_model_version", mapped.note)

    trigger_phrases = None
    if metadata.get("modelspec.trigger_phrase") is not None:
        key = f"{_META}.modelspec.trigger_phrase"
        phrases = expect_phrases(metadata["modelspec.trigger_phrase"], path, key)
        trigger_phrases = ForeignValue(phrases, key) if phrases else None

    resolution = None
    written = text("modelspec.resolution")
    if written is not None:
        size = parse_resolution(written)
        if size is None:
            raise MetadataError(
                path,
                f"must be WIDTHxHEIGHT like '1024x1024', not {written!r}",
                key_path=f"{_META}.modelspec.resolution",
            )
        resolution = ForeignValue(size, f"{_META}.modelspec.resolution")

    name = text("ss_output_name")
    output_name = ForeignValue(name, f"{_META}.ss_output_name") if name and name != "None" else None

    return ForeignPriors(
        source_kind="safetensors_header",
        path=path,
        base_type=base_type,
        trigger_phrases=trigger_phrases,
        resolution=resolution,
        output_name=output_name,
    )


def parse_safetensors(raw: bytes, path: Path, *, max_header_bytes: int = MAX_HEADER_BYTES) -> ForeignPriors:
    """Priors from the bytes of a safetensors file (pure; its first 8 + N bytes suffice)."""
    return priors_from_metadata(parse_safetensors_metadata(raw, path, max_header_bytes=max_header_bytes), path)


def priors_from_safetensors(path: Path, *, max_header_bytes: int = MAX_HEADER_BYTES) -> ForeignPriors:
    """Read a safetensors file's header (never its tensors) and return the priors it states."""
    return priors_from_metadata(read_safetensors_metadata(path, max_header_bytes=max_header_bytes), path)


def write_safetensors_header(path: Path, metadata: dict[str, str]) -> None:
    """Write a valid tensor-less safetensors file holding ``metadata`` as its ``__metadata__``.

    The JSON header is padded with spaces to a multiple of 8 bytes, as the format recommends (so
    tensor data would start aligned). The file is written to a temporary file in the same folder,
    flushed to disk and moved into place with ``os.replace``: readers see the old file or the new
    one, never half of one. Raises TypeError for metadata that is not str -> str.
    """
    import tempfile  # only writers need it (it pulls in shutil and random); readers stay cheap

    if not all(isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()):
        raise TypeError("safetensors __metadata__ must map str to str")
    header = json.dumps({_META: metadata}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header += b" " * (-len(header) % 8)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        mode = 0o644
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(_LENGTH.pack(len(header)))
            stream.write(header)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)  # mkstemp makes it 0600; keep what the old file had
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
