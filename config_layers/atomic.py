"""Atomic file writes: a temporary file in the same folder, flushed, then renamed over the target.

A reader sees the old file or the new one, never half of either; a crash leaves the old file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from config_layers.errors import FileError


def write_text_atomic(path: Path, text: str, *, overwrite: bool) -> None:
    """Write ``text`` to ``path`` atomically. Without ``overwrite`` an existing file is an
    error (FileError) and is left untouched; with it, the file's permission bits are kept."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileError(path, "already exists; pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        if not overwrite:
            # link() fails if the target appeared meanwhile, where replace() would clobber it.
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise FileError(path, "already exists; pass --force to replace it") from None
            os.unlink(temporary)
        else:
            os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
