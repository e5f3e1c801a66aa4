"""A small thread-safe cache of things read from files, invalidated by the file's stat."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

T = TypeVar("T")

StatKey = tuple[int, int, int]


def stat_key(path: Path) -> StatKey | None:
    """(mtime_ns, size, inode) of ``path``, or None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class FileCache(Generic[T]):
    """``load(path)`` results, reused while the file's mtime, size and inode are unchanged.

    A miss loads outside the lock: two threads may both load a changed file once, which is
    cheaper than serialising every build behind one slow read.
    """

    def __init__(self, load: Callable[[Path], T]) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._entries: dict[Path, tuple[StatKey, T]] = {}

    def get(self, path: Path) -> T:
        key = stat_key(path)
        with self._lock:
            hit = self._entries.get(path)
        if hit is not None and key is not None and hit[0] == key:
            return hit[1]
        value = self._load(path)
        if key is not None:
            with self._lock:
                self._entries[path] = (key, value)
        return value
