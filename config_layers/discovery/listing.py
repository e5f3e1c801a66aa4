"""One folder's model files, listed with a single ``scandir``, and listings kept between processes.

Listing a 50,000-file library takes longer than a whole build, so settled listings are stored in
the user cache dir (``listings/``, one file per library root of at least ``KEEP_FROM_FILES`` model
files) and a new process reuses a folder's
stored listing while the folder's mtime and ctime are unchanged: adding, removing or renaming an
entry changes both, and so does a permission change. Only plain listings are stored: a folder
holding links or broken entries is listed again, since a link's target can change without its
folder changing. The store is only an accelerator: a missing, damaged or unwritable one costs a
listing and is never an error.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from config_layers.atomic import write_bytes_atomic
from config_layers.cache import RACY_NS, default_cache_dir
from config_layers.errors import FileError
from config_layers.names import MODEL_EXTENSIONS, model_stem

if TYPE_CHECKING:
    from config_layers.discovery import listing_codec

log = logging.getLogger("config_layers")

#: A stored listing larger than this is discarded unread (50,000 files take about 2 MB).
MAX_STORE_BYTES = 64 * 1024 * 1024
#: A library of fewer model files is listed in a few ms: its listings are not kept.
KEEP_FROM_FILES = 2_000
_EXTENSIONS = frozenset(MODEL_EXTENSIONS)

#: A folder's change stamp: its mtime and ctime in ns.
Stamp = tuple[int, int]


@dataclass(frozen=True)
class BrokenEntry:
    """A library entry that was skipped: a model file that cannot be used, or a folder that
    cannot be listed or entered."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Folder:
    """One folder's listing: model file names by stem (names sorted), the names that are links,
    subfolders (sorted) and broken entries."""

    stamp: Stamp | None
    listed_ns: int
    stems: dict[str, list[str]] = field(default_factory=dict)
    links: set[str] = field(default_factory=set)
    subfolders: list[str] = field(default_factory=list)
    broken: list[BrokenEntry] = field(default_factory=list)
    #: Read from a :class:`ListingStore`: its names are checked when used (see :meth:`names`).
    kept: bool = False

    def names(self, stem: str) -> list[str]:
        """The file names of ``stem``; a kept listing's names must be what a listing would give."""
        found = self.stems.get(stem, [])
        return [name for name in found if listed_stem(name) == stem] if self.kept else found

    def settled(self) -> bool:
        return self.stamp is not None and self.listed_ns - self.stamp[0] >= RACY_NS

    def storable(self) -> bool:
        return self.settled() and not self.links and not self.broken

    def same_listing(self, other: Folder | None) -> bool:
        return other is not None and (self.stems, self.links, self.subfolders, self.broken) == (
            other.stems,
            other.links,
            other.subfolders,
            other.broken,
        )


def folder_stamp(path: str) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_ctime_ns


def list_folder(path: str, now: int, *, is_root: bool) -> Folder | None:
    """One folder read with a single ``scandir``: only links get a ``stat`` (d_type tells the rest)."""
    try:
        st = os.stat(path)
        with os.scandir(path) as listing:
            entries = list(listing)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if is_root and exc.errno == errno.ENOTDIR:
            return None
        reason = f"folder cannot be listed ({exc.strerror or exc}); its files were skipped"
        return Folder(None, now, broken=[BrokenEntry(Path(path), reason)])
    folder = Folder((st.st_mtime_ns, st.st_ctime_ns), now)
    stems = folder.stems
    enterable: bool | None = None
    for entry in entries:
        name = entry.name
        if name[0] == ".":
            continue
        dot = name.rfind(".")
        try:
            if dot <= 0 or name[dot:].lower() not in _EXTENSIONS:
                if entry.is_dir(follow_symlinks=False):
                    folder.subfolders.append(name)
                continue
            if enterable is None:
                enterable = os.access(path, os.X_OK)
            if not enterable:
                reason = "its folder cannot be entered (permission denied)"
                folder.broken.append(BrokenEntry(Path(entry.path), reason))
                continue
            if not entry.is_file(follow_symlinks=False):
                if entry.is_symlink():
                    if not stat.S_ISREG(os.stat(entry.path).st_mode):
                        continue
                    folder.links.add(name)
                else:
                    if entry.is_dir(follow_symlinks=False):
                        folder.subfolders.append(name)
                    continue
        except OSError as exc:
            folder.broken.append(BrokenEntry(Path(entry.path), broken_reason(exc)))
            continue
        stems.setdefault(_stem(name, dot), []).append(name)
    folder.subfolders.sort()
    folder.broken.sort(key=lambda b: b.path.name)
    return folder


def _stem(name: str, dot: int) -> str:
    stem = name[:dot]
    return model_stem(name) if "\\" in stem else stem


def listed_stem(name: str) -> str | None:
    """The stem a folder listing files ``name`` under, or None when no listing holds such a name."""
    dot = name.rfind(".")
    if dot <= 0 or name[dot:].lower() not in _EXTENSIONS or not _plain_name(name):
        return None
    return _stem(name, dot)


def broken_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symlink loop; skipped"
    if exc.errno == errno.ENOENT:
        return "a link to nothing (dangling symlink); skipped"
    return f"cannot be read ({exc.strerror or exc}); skipped"


class ListingStore:
    """Settled folder listings of library roots, kept in ``directory`` between processes
    (None: ``listings/`` in the user cache dir, looked up when first needed)."""

    def __init__(self, directory: Path | None = None, *, keep_from_files: int | None = None) -> None:
        self._directory = Path(directory) if directory is not None else None
        self.keep_from_files = KEEP_FROM_FILES if keep_from_files is None else keep_from_files

    @property
    def directory(self) -> Path:
        if self._directory is None:
            self._directory = default_cache_dir() / "listings"
        return self._directory

    def _file(self, root: str) -> Path:
        digest = hashlib.sha256(os.fsencode(root)).hexdigest()[:32]
        return self.directory / f"{digest}.msgpack"

    def load(self, root: str) -> dict[str, Folder]:
        """The stored listings below ``root`` that still look right; anything else is dropped."""
        path = self._file(root)
        try:
            with path.open("rb") as handle:
                if os.fstat(handle.fileno()).st_size > MAX_STORE_BYTES:
                    return {}
                data = handle.read()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            log.debug("listing cache %s ignored: %s", path, exc)
            return {}
        from config_layers.discovery import listing_codec  # only a kept listing needs msgspec

        stored = listing_codec.decode(data)
        if stored is None:
            log.debug("listing cache %s ignored: not a listing", path)
            return {}
        if stored.root != root:
            return {}
        return {
            current: Folder(
                (entry.mtime_ns, entry.ctime_ns), entry.listed_ns, entry.stems, set(), entry.subfolders, kept=True
            )
            for current, entry in stored.folders.items()
            if _plausible(root, current, entry)
        }

    def save(self, root: str, folders: dict[str, Folder]) -> None:
        """Store the settled, plain listings of ``folders`` (atomically; a failure is only logged),
        when they hold at least ``keep_from_files`` model files."""
        if sum(len(names) for folder in folders.values() for names in folder.stems.values()) < self.keep_from_files:
            return
        from config_layers.discovery import listing_codec

        kept = {
            current: listing_codec.Stored(
                folder.stamp[0], folder.stamp[1], folder.listed_ns, folder.stems, folder.subfolders
            )
            for current, folder in folders.items()
            if folder.stamp is not None and folder.storable()
        }
        path = self._file(root)
        try:
            write_bytes_atomic(path, [listing_codec.encode(root, kept)], overwrite=True)
        except FileError as exc:
            log.debug("listing cache not written: %s", exc)


def _plausible(root: str, current: str, entry: listing_codec.Stored) -> bool:
    """A stored folder lies below ``root`` and its subfolders are plain names, so a damaged or
    edited store cannot lead the walk outside the library (file names are checked when used)."""
    if current != root and not current.startswith(root + os.sep):
        return False
    if any(part in ("", ".", "..") for part in current[len(root) :].split(os.sep)[1:]):
        return False
    return all(_plain_name(name) for name in entry.subfolders)


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and os.sep not in name and "\x00" not in name and name[0] != "."
