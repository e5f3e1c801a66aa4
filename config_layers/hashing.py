"""sha256 of model files, cached by path, size and mtime in the user cache directory.

Hashing a multi-GB checkpoint takes seconds, so a hash is computed once per file version
and kept in ``<user cache dir>/config_layers/sha256.json``. ``build()`` never hashes unless
the builder was made with ``match_by_hash=True``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config_layers.atomic import write_text_atomic

#: Hashing more files than this (not already cached) shows a progress bar.
PROGRESS_THRESHOLD = 3
_CHUNK = 1024 * 1024


def default_cache_file() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path("config_layers", appauthor=False) / "sha256.json"


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
        try:
            raw = json.loads(self.cache_file.read_text(encoding="utf-8"))
            return {key: CachedHash(**value) for key, value in raw["files"].items()}
        except (OSError, ValueError, KeyError, TypeError):
            return {}  # a missing or damaged cache only costs re-hashing

    def cached(self, path: Path) -> str | None:
        """The sha256 of ``path`` if this version of the file was hashed before."""
        key, st = str(Path(path).resolve()), os.stat(path)
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
        st = os.stat(path)
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        value = digest.hexdigest()
        entry = CachedHash(value, st.st_size, st.st_mtime_ns, datetime.now(UTC).isoformat())
        with self._lock:
            self._entries[str(Path(path).resolve())] = entry
            self._dirty = True
        return value

    def hash_many(self, paths: Sequence[Path], *, progress: bool = True) -> dict[Path, str]:
        """Hash several files, with a progress bar when more than a few need hashing."""
        todo = [p for p in paths if self.cached(p) is None]
        if progress and len(todo) > PROGRESS_THRESHOLD:
            from rich.progress import track

            for path in track(todo, description="hashing", transient=True):
                self.sha256(path)
        out = {Path(p): self.sha256(p) for p in paths}
        self.save()
        return out

    def save(self) -> None:
        """Write the cache (atomically) if anything new was hashed."""
        with self._lock:
            if not self._dirty:
                return
            payload: dict[str, Any] = {
                "version": 1,
                "files": {key: vars(entry) for key, entry in sorted(self._entries.items())},
            }
            self._dirty = False
        write_text_atomic(self.cache_file, json.dumps(payload, indent=1) + "\n", overwrite=True)
