"""The file format of kept folder listings (msgspec, typed: a file that does not match is dropped).

Imported only when a kept listing is read or written: most processes on a small library never pay
for msgspec.
"""

from __future__ import annotations

import gc

import msgspec

_VERSION = 1


class Stored(msgspec.Struct, array_like=True, frozen=True):
    mtime_ns: int
    ctime_ns: int
    listed_ns: int
    stems: dict[str, list[str]]
    subfolders: list[str]


class _Store(msgspec.Struct, frozen=True):
    version: int
    root: str
    folders: dict[str, Stored]


_DECODER = msgspec.msgpack.Decoder(_Store)
_ENCODER = msgspec.msgpack.Encoder()


def decode(data: bytes) -> _Store | None:
    """A kept listing file's content, or None when it is not one of this version."""
    # Tens of thousands of small lists would set off the cyclic collector many times over,
    # doubling the decode; none of them can be part of a cycle.
    paused = gc.isenabled()
    gc.disable()
    try:
        stored = _DECODER.decode(data)
    except msgspec.DecodeError:
        return None
    finally:
        if paused:
            gc.enable()
    return stored if stored.version == _VERSION else None


def encode(root: str, folders: dict[str, Stored]) -> bytes:
    return _ENCODER.encode(_Store(_VERSION, root, folders))
