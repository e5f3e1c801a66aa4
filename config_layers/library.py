"""Finding model and LoRA files in a user's model library.

A library can hold tens of thousands of files, so each folder tree is listed once per process
(shared by every builder and scanner) and kept fresh cheaply: a lookup that misses stats each
listed folder and re-lists only folders whose mtime changed (a file added, removed or renamed
changes its folder's mtime). A folder whose mtime is within ``_RACY_NS`` of when it was listed
may change again within the same mtime tick, so it is re-listed on every miss until it settles.

Entries that cannot be used (a looping or dangling ``*.safetensors`` link, a folder that cannot be
listed or entered) are skipped and kept as :class:`BrokenEntry`: scan lists them, a lookup names
one only when it is the file asked for.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from config_layers.errors import ConfigError, NotFoundError
from config_layers.normalize import model_stem, strip_model_hash
from config_layers.stacks.paths import resolve_lora_file

MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")

#: OS limits of a path and of one of its components, in bytes (Linux; other systems are lower).
PATH_MAX = 4096
NAME_MAX = 255
#: A folder listed less than this after its last change is listed again on a lookup miss.
_RACY_NS = 2_000_000_000
#: Folder trees kept per process (each one a few bytes per file).
_MAX_TREES = 64


@dataclass(frozen=True)
class BrokenEntry:
    """A library entry that was skipped: a model file that cannot be used, or a folder that
    cannot be listed or entered."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class _Folder:
    """One folder's listing: model files (name, stem, is a link), subfolders, broken entries."""

    mtime_ns: int
    listed_ns: int
    files: list[tuple[str, str, bool]] = field(default_factory=list)
    subfolders: list[str] = field(default_factory=list)
    broken: list[BrokenEntry] = field(default_factory=list)

    def settled(self) -> bool:
        return self.listed_ns - self.mtime_ns >= _RACY_NS


class _Tree:
    """The model files below one root folder, listed incrementally (see the module docstring)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.lock = threading.Lock()
        self._folders: dict[str, _Folder] = {}
        self._order: list[str] = []
        self._by_stem: dict[str, list[str]] = {}
        self._by_fold: dict[str, list[str]] | None = None
        self._links: set[str] = set()
        self.broken: list[BrokenEntry] = []
        self._walked = False
        self._paths: list[Path] | None = None

    def refresh(self) -> bool:
        """Re-list the folders that changed since the last walk; True when anything did."""
        now = time.time_ns()
        folders: dict[str, _Folder] = {}
        changed = not self._walked
        stack = [self.root]
        while stack:
            current = stack.pop()
            old = self._folders.get(current)
            folder = old if old is not None and old.settled() and _mtime(current) == old.mtime_ns else None
            if folder is None:
                folder = _list_folder(current, now, is_root=current == self.root)
                changed = changed or old is None or _listing(old) != _listing(folder)
            if folder is not None:
                folders[current] = folder
                stack.extend(os.path.join(current, name) for name in reversed(folder.subfolders))
        changed = changed or folders.keys() != self._folders.keys()
        self._folders = folders
        self._walked = True
        if changed:
            self._reindex()
        return changed

    def _reindex(self) -> None:
        by_stem: dict[str, list[str]] = {}
        links: set[str] = set()
        order: list[str] = []
        broken: list[BrokenEntry] = []
        for current, folder in self._folders.items():
            for name, stem, is_link in folder.files:
                path = os.path.join(current, name)
                order.append(path)
                by_stem.setdefault(stem, []).append(path)
                if is_link:
                    links.add(path)
            broken += folder.broken
        self._by_stem, self._links, self._order, self.broken = by_stem, links, order, broken
        self._by_fold = None
        self._paths = None

    def exact(self, stem: str) -> list[str]:
        return self._by_stem.get(stem, [])

    def folded(self, folded: str) -> list[str]:
        if self._by_fold is None:
            by_fold: dict[str, list[str]] = {}
            for stem, paths in self._by_stem.items():
                by_fold.setdefault(stem.casefold(), []).extend(paths)
            self._by_fold = by_fold
        return self._by_fold.get(folded, [])

    def is_link(self, path: str) -> bool:
        return path in self._links

    def files(self) -> list[Path]:
        if self._paths is None:
            self._paths = [Path(path) for path in self._order]
        return self._paths


def _listing(folder: _Folder | None) -> object:
    return None if folder is None else (folder.files, folder.subfolders, folder.broken)


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _list_folder(path: str, now: int, *, is_root: bool) -> _Folder | None:
    """One folder read with a single ``scandir``: only links get a ``stat`` (d_type tells the rest)."""
    try:
        mtime = os.stat(path).st_mtime_ns
        with os.scandir(path) as listing:
            entries = sorted(listing, key=lambda e: e.name)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if is_root and exc.errno == errno.ENOTDIR:
            return None
        reason = f"folder cannot be listed ({exc.strerror or exc}); its files were skipped"
        return _Folder(0, now, broken=[BrokenEntry(Path(path), reason)])
    folder = _Folder(mtime, now)
    enterable = os.access(path, os.X_OK)
    for entry in entries:
        name = entry.name
        if name.startswith("."):
            continue
        lowered = name.lower()
        ext = next((e for e in MODEL_EXTENSIONS if lowered.endswith(e)), None)
        try:
            if ext is None:
                if entry.is_dir(follow_symlinks=False):
                    folder.subfolders.append(name)
                continue
            if not enterable:
                reason = "its folder cannot be entered (permission denied)"
                folder.broken.append(BrokenEntry(Path(entry.path), reason))
                continue
            is_link = entry.is_symlink()
            if is_link:
                if not stat.S_ISREG(os.stat(entry.path).st_mode):
                    continue
            elif not entry.is_file(follow_symlinks=False):
                if entry.is_dir(follow_symlinks=False):
                    folder.subfolders.append(name)
                continue
        except OSError as exc:
            folder.broken.append(BrokenEntry(Path(entry.path), _reason(exc)))
            continue
        stem = name[: -len(ext)]
        folder.files.append((name, model_stem(name) if "\\" in stem else stem, is_link))
    return folder


def _reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "a symlink loop; skipped"
    if exc.errno == errno.ENOENT:
        return "a link to nothing (dangling symlink); skipped"
    return f"cannot be read ({exc.strerror or exc}); skipped"


_TREES: OrderedDict[str, _Tree] = OrderedDict()
_TREES_LOCK = threading.Lock()


def _tree(directory: Path) -> _Tree:
    """The process-wide tree of ``directory`` (the least recently used one is dropped past ``_MAX_TREES``)."""
    key = os.path.abspath(directory)
    with _TREES_LOCK:
        tree = _TREES.get(key)
        if tree is None:
            tree = _TREES[key] = _Tree(key)
            while len(_TREES) > _MAX_TREES:
                _TREES.popitem(last=False)
        _TREES.move_to_end(key)
        return tree


def check_name(name: str, what: str) -> None:
    """Refuse a name no file can have: a NUL character, or longer than the OS allows."""
    shown = repr(name if len(name) <= 80 else name[:60] + "…")
    if "\x00" in name:
        raise ConfigError(f"{what} name {shown} contains a NUL character")
    try:
        encoded = os.fsencode(name)
    except UnicodeError:
        raise ConfigError(f"{what} name {shown} cannot be a file name (not encodable)") from None
    if len(encoded) > PATH_MAX:
        raise ConfigError(f"{what} name {shown} is {len(encoded)} bytes, over the {PATH_MAX}-byte path limit")
    longest = max(encoded.replace(b"\\", b"/").split(b"/"), key=len)
    if len(longest) > NAME_MAX:
        raise ConfigError(
            f"{what} name {shown} has a {len(longest)}-byte part, over the {NAME_MAX}-byte file name limit"
        )


class FileIndex:
    """Model files below some directories, by stem (see the module docstring for freshness).

    Every file it returns is inside one of the directories: a link to a file outside them is
    refused (ConfigError) by the rule a stack's ``file`` entry follows.
    """

    def __init__(self, directories: Sequence[Path], what: str) -> None:
        self.directories = [Path(d) for d in directories]
        self.what = what

    def find(self, name: str) -> Path:
        """The one file ``name`` means: a stem, a file name, a ``sub/dir/file`` path or a WebUI
        name with a ``" [hash]"`` suffix. Raises NotFoundError, or ConfigError (ambiguous, a
        name no file can have, a link leading outside the directories)."""
        check_name(name, self.what)
        bare = strip_model_hash(name).strip().replace("\\", "/")
        if not bare:
            raise ConfigError(f"{self.what} name is empty")
        if "/" in bare:
            return self._find_relative(name, bare)
        stem = model_stem(bare)
        trees = [_tree(directory) for directory in self.directories]
        matches = self._match(trees, stem, refresh=False)
        if not matches or any(not _exists(path) for path, _ in matches):
            matches = self._match(trees, stem, refresh=True)
        if not matches:
            broken = [str(b) for tree in trees for b in tree.broken if _names(b, stem)]
            raise NotFoundError(self.what, name, [*self.searched(), *broken])
        if len(matches) > 1:
            listed = "\n".join(f"  - {path}" for path, _ in matches)
            raise ConfigError(f"{self.what} {name!r} is ambiguous; name it with its folder. Candidates:\n{listed}")
        path, is_link = matches[0]
        if is_link:
            # The folder part resolved as the roots are, so only the link itself is judged.
            self._confine(os.path.join(os.path.realpath(path.parent), path.name))
        return path

    def _match(self, trees: list[_Tree], stem: str, *, refresh: bool) -> list[tuple[Path, bool]]:
        found: dict[str, bool] = {}
        for tree in trees:
            with tree.lock:
                if refresh or not tree._walked:
                    tree.refresh()
                for path in tree.exact(stem):
                    found.setdefault(path, tree.is_link(path))
        if not found:
            folded = stem.casefold()
            for tree in trees:
                with tree.lock:
                    for path in tree.folded(folded):
                        found.setdefault(path, tree.is_link(path))
        return [(Path(path), is_link) for path, is_link in found.items()]

    def _confine(self, file: str) -> Path:
        try:
            return resolve_lora_file(file, self.directories, what=self.what)
        except NotFoundError:
            raise NotFoundError(self.what, file, self.searched()) from None
        except (OSError, RuntimeError) as exc:
            raise ConfigError(f"{self.what} {file!r} cannot be resolved: {exc}") from None

    def _find_relative(self, name: str, relative: str) -> Path:
        for candidate in _with_extensions(relative):
            try:
                return self._confine(candidate)
            except NotFoundError:
                continue
        broken = []
        for directory in self.directories:
            for candidate in _with_extensions(relative):
                path = os.path.join(directory, candidate)
                if os.path.lexists(path):
                    try:
                        os.stat(path)
                    except OSError as exc:
                        broken.append(str(BrokenEntry(Path(path), _reason(exc))))
        raise NotFoundError(self.what, name, [*self.searched(), *broken])

    def files(self) -> tuple[list[Path], list[BrokenEntry]]:
        """Every model file below the directories (refreshed now), and the entries skipped."""
        files: dict[Path, None] = {}
        broken: list[BrokenEntry] = []
        for directory in self.directories:
            tree = _tree(directory)
            with tree.lock:
                tree.refresh()
                files.update(dict.fromkeys(tree.files()))
                broken += tree.broken
        return list(files), broken

    def searched(self) -> list[str]:
        pattern = "{" + ",".join(f"*{ext}" for ext in MODEL_EXTENSIONS) + "}"
        return [f"{directory} (recursive, {pattern})" for directory in self.directories]


def _exists(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def _names(entry: BrokenEntry, stem: str) -> bool:
    """Whether a broken entry is the file ``stem`` names (or the folder that would hold it)."""
    name = entry.path.name
    lowered = name.lower()
    ext = next((e for e in MODEL_EXTENSIONS if lowered.endswith(e)), None)
    return ext is None or name[: -len(ext)].casefold() == stem.casefold()


def _with_extensions(relative: str) -> Iterable[str]:
    if relative.lower().endswith(MODEL_EXTENSIONS):
        yield relative
    for ext in MODEL_EXTENSIONS:
        yield relative + ext


def walk_model_files(directory: Path) -> Iterable[Path]:
    """Model files below ``directory`` (not following folder links; hidden and broken entries skipped)."""
    return FileIndex([directory], "model").files()[0]
