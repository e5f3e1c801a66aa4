"""sha256 of model files, cached by path, size and mtime in the user cache directory.

Hashing a multi-GB checkpoint takes seconds, so a hash is computed once per file version
and kept in ``<user cache dir>/config_layers/sha256.json``. ``build()`` never hashes unless
the builder was made with ``match_by_hash=True``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config_layers.atomic import write_text_atomic
from config_layers.bounds import MAX_CACHE_BYTES
from config_layers.cache import default_cache_dir
from config_layers.documents import read_document
from config_layers.errors import ConfigError, FileError

log = logging.getLogger("config_layers")

_ENTRY_KEYS = {"sha256", "size", "mtime_ns", "hashed_at"}
_SHA256 = re.compile(r"[0-9a-f]{64}")

#: Hashing more files than this (not already cached) shows a progress bar.
PROGRESS_THRESHOLD = 3
_CHUNK = 1024 * 1024


def default_cache_file() -> Path:
    return default_cache_dir() / "sha256.json"


def autov2(sha256: str) -> str:
    """Civitai's AutoV2 hash: the first 10 hex digits of the sha256."""
    return sha256[:10].lower()


@dataclass(frozen=True)
class CachedHash:
    sha256: str
    size: int
    mtime_ns: int
    hashed_at: str


class HashCache:
    """A persistent map from file version (path, size, mtime) to sha256."""

    def __init__(self, cache_file: Path | None = None) -> None:
        self.cache_file = Path(cache_file) if cache_file else default_cache_file()
        self._lock = threading.Lock()
        self._entries: dict[str, CachedHash] = self._read()
        self._dirty = False

    def _read(self) -> dict[str, CachedHash]:
        """The cached hashes; a missing or damaged cache (or entry) is discarded: it only costs re-hashing."""
        try:
            files = read_document(self.cache_file, max_bytes=MAX_CACHE_BYTES).data.get("files")
        except ConfigError:
            return {}
        entries: dict[str, CachedHash] = {}
        for key, value in files.items() if isinstance(files, dict) else ():
            if not isinstance(value, dict) or value.keys() != _ENTRY_KEYS:
                continue
            digest, size, mtime, when = (value[name] for name in ("sha256", "size", "mtime_ns", "hashed_at"))
            if isinstance(digest, str) and _SHA256.fullmatch(digest) and type(size) is int and type(mtime) is int:
                entries[key] = CachedHash(digest, size, mtime, str(when))
        return entries

    def cached(self, path: Path) -> str | None:
        """The sha256 of ``path`` if this version of the file was hashed before."""
        try:
            key, st = str(Path(path).resolve()), os.stat(path)
        except (OSError, RuntimeError, ValueError):
            return None  # sha256() says why it cannot be read
        with self._lock:
            entry = self._entries.get(key)
        if entry and entry.size == st.st_size and entry.mtime_ns == st.st_mtime_ns:
            return entry.sha256
        return None

    def sha256(self, path: Path) -> str:
        """The sha256 of ``path``, from the cache or computed (and cached)."""
        found = self.cached(path)
        if found is not None:
            return found
        digest = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                st = os.fstat(handle.fileno())
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
        except (OSError, ValueError) as exc:
            raise FileError(path, f"cannot read it to hash it: {getattr(exc, 'strerror', None) or exc}") from None
        value = digest.hexdigest()
        entry = CachedHash(value, st.st_size, st.st_mtime_ns, datetime.now(UTC).isoformat())
        with self._lock:
            self._entries[str(Path(path).resolve())] = entry
            self._dirty = True
        return value

    def hash_many(self, paths: Sequence[Path], *, progress: bool = True) -> dict[Path, str]:
        """Hash several files, with a progress bar when more than a few need hashing. Files that
        cannot be read are left out (``sha256()`` of one says why); a cache that cannot be saved
        is logged as a warning."""
        todo = [p for p in paths if self.cached(p) is None]
        if progress and len(todo) > PROGRESS_THRESHOLD:
            from rich.progress import track

            todo = track(todo, description="hashing", transient=True)  # type: ignore[assignment]
        for path in todo:
            try:
                self.sha256(path)
            except FileError:
                continue
        out = {Path(p): found for p in paths if (found := self.cached(p)) is not None}
        self.save()
        return out

    def save(self) -> str | None:
        """Write the cache (atomically) if anything new was hashed. A cache that cannot be written
        (an unwritable cache folder) is not fatal: the problem is logged and returned."""
        with self._lock:
            if not self._dirty:
                return None
            payload: dict[str, Any] = {
                "version": 1,
                "files": {key: vars(entry) for key, entry in sorted(self._entries.items())},
            }
            self._dirty = False
        try:
            write_text_atomic(self.cache_file, json.dumps(payload, indent=1) + "\n", overwrite=True)
        except FileError as exc:
            problem = f"the hash cache was not saved: {exc}"
            log.warning("%s", problem)
            return problem
        return None
