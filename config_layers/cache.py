"""Small thread-safe caches of things read from files, invalidated by the file's stat.

Builders in one process share them (:func:`shared_cache`), so a fresh builder does not parse
again what another one already read; each is bounded, least recently used entries going first.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, TypeVar

T = TypeVar("T")

StatKey = tuple[int, int, int]

#: Entries per cache by default: sidecars and headers are a few KiB each once parsed.
DEFAULT_MAX_ENTRIES = 4096
#: A file changed less than this before it was read may change again within the same mtime
#: tick (filesystems keep mtimes in ticks of 1 ms to 2 s), so a stat cannot vouch for it yet:
#: it is read again until it has been still this long.
RACY_NS = 2_000_000_000


def default_cache_dir() -> Path:
    """The user cache dir of config_layers (kept listings and sha256 hashes live there)."""
    from platformdirs import user_cache_path  # only builders that use the default pay for it

    return user_cache_path("config_layers", appauthor=False)


def stat_key(path: Path) -> StatKey | None:
    """(mtime_ns, size, inode) of ``path``, or None when it cannot be stat'ed."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_mtime_ns, st.st_size, st.st_ino


class FileCache(Generic[T]):
    """``load(path)`` results, reused while the file's mtime, size and inode are unchanged.

    A miss loads outside the lock: two threads may both load a changed file once, which is
    cheaper than serialising every build behind one slow read. A file modified within
    ``RACY_NS`` of its reading is not kept (see ``RACY_NS``). ``max_entries=None``: unbounded.
    """

    def __init__(self, load: Callable[[Path], T], *, max_entries: int | None = DEFAULT_MAX_ENTRIES) -> None:
        self._load = load
        self._lock = threading.Lock()
        self._entries: OrderedDict[Path, tuple[StatKey, T]] = OrderedDict()
        self.max_entries = max_entries

    def get(self, path: Path) -> T:
        return self.get_at(path, stat_key(path))

    def get_at(self, path: Path, key: StatKey | None) -> T:
        """``get`` with the file's :func:`stat_key` already taken (a build stats each file once)."""
        with self._lock:
            hit = self._entries.get(path)
            if hit is not None and key is not None and hit[0] == key:
                self._entries.move_to_end(path)
                return hit[1]
        value = self._load(path)
        if key is not None and time.time_ns() - key[0] >= RACY_NS:
            with self._lock:
                self._entries[path] = (key, value)
                self._entries.move_to_end(path)
                while self.max_entries is not None and len(self._entries) > self.max_entries:
                    self._entries.popitem(last=False)
        return value

    def __len__(self) -> int:
        return len(self._entries)


_SHARED: dict[str, Any] = {}
_SHARED_LOCK = threading.Lock()


def shared_cache(name: str, load: Callable[[Path], T]) -> FileCache[T]:
    """The process-wide cache called ``name`` (created with ``load`` on first use): every
    caller naming it must mean the same loader."""
    with _SHARED_LOCK:
        cache = _SHARED.get(name)
        if cache is None:
            cache = _SHARED[name] = FileCache(load)
        return cache


def shared(name: str, make: Callable[[], T]) -> T:
    """A process-wide object called ``name``, made once (a reader holding shared caches)."""
    with _SHARED_LOCK:
        value = _SHARED.get(name)
        if value is None:
            value = _SHARED[name] = make()
        return value


R = TypeVar("R")


def _identity(value: object) -> object:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple):
        return tuple(_identity(item) for item in value)
    return id(value)


class IdentityMemo:
    """Results of pure functions over objects the file caches hand out, keyed by those objects'
    identity: a cached file yields the same object until it changes, so an unchanged input
    means an unchanged result, without comparing (or hashing) the objects themselves. Entries
    hold their arguments, so an identity cannot be reused while its entry lives; bounded (LRU)."""

    def __init__(self, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[object, tuple[object, Any]] = OrderedDict()
        self.max_entries = max_entries

    def call(self, fn: Callable[..., R], *args: Any, **kwargs: Any) -> R:
        key = (fn, _identity(args), _identity(tuple(sorted(kwargs.items()))))
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit[1]  # type: ignore[no-any-return]
        result = fn(*args, **kwargs)
        with self._lock:
            self._entries[key] = ((args, kwargs), result)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return result
