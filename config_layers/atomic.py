"""Atomic file writes: a temporary file in the same folder, flushed, then renamed over the target.

A reader sees the old file or the new one, never half of either; a crash leaves the old file.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from config_layers.errors import FileError


def write_text_atomic(path: Path, text: str, *, overwrite: bool) -> None:
    """Write ``text`` to ``path`` atomically. Without ``overwrite`` an existing file is an
    error (FileError) and is left untouched; with it, the file's permission bits are kept.
    A new file gets the usual permissions (0666 less the umask)."""
    write_bytes_atomic(path, [text.encode("utf-8")], overwrite=overwrite)


def write_bytes_atomic(path: Path, chunks: Iterable[bytes], *, overwrite: bool) -> None:
    """Write the ``chunks`` (streamed, e.g. tensors one by one) to ``path`` atomically; the
    rules of :func:`write_text_atomic` apply. An exception from ``chunks`` leaves no file."""
    path = Path(path)
    try:
        if path.is_dir():
            raise FileError(path, "is a directory, not a file; nothing was written")
        if path.exists() and not overwrite:
            raise FileError(path, "already exists; pass --force to replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        mode = path.stat().st_mode & 0o7777 if path.exists() else None
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        # os.open applies the umask to 0o666, as open() would; mkstemp would force 0600.
        handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL in the path
        raise FileError(path, f"cannot write: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            for chunk in chunks:
                stream.write(chunk)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        if overwrite:
            os.replace(temporary, path)
        else:
            # link() fails if the target appeared meanwhile, where replace() would clobber it.
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise FileError(path, "already exists; pass --force to replace it") from None
            os.unlink(temporary)
    except OSError as exc:
        _discard(temporary)
        raise FileError(path, f"cannot write: {exc.strerror or exc}") from None
    except BaseException:
        _discard(temporary)
        raise


def _discard(temporary: Path) -> None:
    if os.path.exists(temporary):
        os.unlink(temporary)
