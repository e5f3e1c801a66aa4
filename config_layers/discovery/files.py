"""Finding model and LoRA files in a user's model library.

A library can hold tens of thousands of files, so each folder tree is listed once per process
(shared by every builder and scanner) and kept fresh cheaply: a lookup that misses stats each
listed folder and re-lists only folders whose mtime or ctime changed (a file added, removed or
renamed changes both). A folder whose mtime is within ``RACY_NS`` of when it was listed may
change again within the same mtime tick, so it is re-listed on every miss until it settles.
With a :class:`ListingStore`, a new process starts from the settled listings an earlier one
kept (see :mod:`config_layers.discovery.listing`).

Entries that cannot be used (a looping or dangling ``*.safetensors`` link, a folder that cannot be
listed or entered) are skipped and kept as :class:`BrokenEntry`: scan lists them, a lookup names
one only when it is the file asked for.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from config_layers.discovery.confine import resolve_lora_file
from config_layers.discovery.listing import BrokenEntry, Folder, ListingStore, broken_reason, folder_stamp, list_folder
from config_layers.errors import ConfigError, NotFoundError
from config_layers.names import MODEL_EXTENSIONS, model_stem, strip_model_hash

#: OS limits of a path and of one of its components, in bytes (Linux; other systems are lower).
PATH_MAX = 4096
NAME_MAX = 255
#: Folder trees kept per process (each one a few bytes per file).
_MAX_TREES = 64
_GENERATIONS = itertools.count()
#: Names remembered per index (see ``FileIndex._known``).
_MAX_KNOWN = 4096
#: A tree of more folders than this gets an index by stem; a smaller one is searched folder by folder.
_INDEX_FROM_FOLDERS = 64


#: A match: the file's path, and whether the library entry is a link.
Match = tuple[str, bool]


class _Tree:
    """The model files below one root folder, listed incrementally (see the module docstring)."""

    def __init__(self, root: str, store: ListingStore | None) -> None:
        self.root = root
        self.store = store
        self.lock = threading.Lock()
        self._folders: dict[str, Folder] = {}
        # stem (or case-folded stem) -> the folders holding it; built on the first lookup after a change.
        self._by_stem: dict[str, list[str]] | None = None
        self._by_fold: dict[str, list[str]] | None = None
        self._paths: list[Path] | None = None
        self._walked = False
        #: Moves on whenever a refresh changes what the tree holds; never the same in two trees.
        self.generation = next(_GENERATIONS)

    def refresh(self) -> bool:
        """Re-list the folders that changed since the last walk; True when anything did."""
        if self._walked and all(
            folder.settled() and folder_stamp(current) == folder.stamp for current, folder in self._folders.items()
        ):
            return False  # the usual miss: one stat per folder, nothing to walk again
        now = time.time_ns()
        if not self._walked and self.store is not None:
            self._folders = self.store.load(self.root)
        folders: dict[str, Folder] = {}
        changed = not self._walked
        newly_settled = False
        stack = [self.root]
        while stack:
            current = stack.pop()
            old = self._folders.get(current)
            folder = old if old is not None and old.settled() and folder_stamp(current) == old.stamp else None
            if folder is None:
                folder = list_folder(current, now, is_root=current == self.root)
                changed = changed or folder is None or not folder.same_listing(old)
                newly_settled = newly_settled or (folder is not None and folder.storable())
            if folder is not None:
                folders[current] = folder
                prefix = current + os.sep
                stack.extend(prefix + name for name in reversed(folder.subfolders))
        changed = changed or folders.keys() != self._folders.keys()
        self._folders = folders
        self._walked = True
        if newly_settled and self.store is not None:
            self.store.save(self.root, folders)
        if changed:
            self._by_stem = self._by_fold = None
            self._paths = None
            self.generation = next(_GENERATIONS)
        return changed

    def exact(self, stem: str) -> list[Match]:
        holders: Iterable[str]
        if len(self._folders) <= _INDEX_FROM_FOLDERS:
            holders = [current for current, folder in self._folders.items() if stem in folder.stems]
        else:
            if self._by_stem is None:
                by_stem: dict[str, list[str]] = {}
                for current, folder in self._folders.items():
                    for key in folder.stems:
                        by_stem.setdefault(key, []).append(current)
                self._by_stem = by_stem
            holders = self._by_stem.get(stem, ())
        return self._matches(holders, lambda folder: folder.names(stem))

    def folded(self, folded: str) -> list[Match]:
        if self._by_fold is None:
            by_fold: dict[str, list[str]] = {}
            for current, folder in self._folders.items():
                for key in dict.fromkeys(stem.casefold() for stem in folder.stems):
                    by_fold.setdefault(key, []).append(current)
            self._by_fold = by_fold

        def names(folder: Folder) -> list[str]:
            return [name for stem in folder.stems if stem.casefold() == folded for name in folder.names(stem)]

        return self._matches(self._by_fold.get(folded, ()), names)

    def _matches(self, holders: Iterable[str], names: Callable[[Folder], Iterable[str]]) -> list[Match]:
        out = []
        for current in holders:
            folder = self._folders[current]
            out += [(current + os.sep + name, name in folder.links) for name in sorted(names(folder))]
        return out

    def broken(self) -> list[BrokenEntry]:
        return [entry for folder in self._folders.values() for entry in folder.broken]

    def files(self) -> list[Path]:
        """Every model file, folder by folder in walk order, names sorted within a folder."""
        if self._paths is None:
            self._paths = [
                Path(current, name)
                for current, folder in self._folders.items()
                for name in sorted(name for stem in folder.stems for name in folder.names(stem))
            ]
        return self._paths


_TREES: OrderedDict[str, _Tree] = OrderedDict()
_TREES_LOCK = threading.Lock()


def _tree(directory: Path, store: ListingStore | None) -> _Tree:
    """The process-wide tree of ``directory`` (the least recently used one is dropped past
    ``_MAX_TREES``); a new one starts from ``store``'s listings."""
    key = os.path.abspath(directory)
    with _TREES_LOCK:
        tree = _TREES.get(key)
        if tree is None:
            tree = _TREES[key] = _Tree(key, store)
            while len(_TREES) > _MAX_TREES:
                _TREES.popitem(last=False)
        _TREES.move_to_end(key)
        return tree


_KNOWN: OrderedDict[tuple[tuple[str, ...], str], dict[str, tuple[tuple[int, ...], Path]]] = OrderedDict()


def _known_names(directories: tuple[str, ...], what: str) -> dict[str, tuple[tuple[int, ...], Path]]:
    with _TREES_LOCK:
        known = _KNOWN.get((directories, what))
        if known is None:
            known = _KNOWN[(directories, what)] = {}
            while len(_KNOWN) > _MAX_TREES:
                _KNOWN.popitem(last=False)
        _KNOWN.move_to_end((directories, what))
        return known


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

    def __init__(self, directories: Sequence[Path], what: str, store: ListingStore | None = None) -> None:
        self.directories = [Path(d) for d in directories]
        self.what = what
        self.store = store
        # name -> (the trees' generations, the file): while no tree changed, a name found
        # before means the same file, which need only still exist. Shared by the indexes of
        # the same folders, so a new builder starts with what earlier ones found.
        self._known = _known_names(tuple(str(d) for d in self.directories), what)
        self._trees: list[_Tree] | None = None

    def find(self, name: str) -> Path:
        """The one file ``name`` means: a stem, a file name, a ``sub/dir/file`` path or a WebUI
        name with a ``" [hash]"`` suffix. Raises NotFoundError, or ConfigError (ambiguous, a
        name no file can have, a link leading outside the directories)."""
        return self.find_entry(name)[0]

    def find_entry(self, name: str) -> tuple[Path, bool | None]:
        """:meth:`find`, and whether the file's library entry is a link (None: not known, for
        a ``sub/dir/file`` name)."""
        trees = self._trees
        if trees is None:
            # Kept by the index: should the process-wide table drop one, it stays correct here.
            trees = self._trees = [_tree(directory, self.store) for directory in self.directories]
        known = self._known.get(name)
        if known is not None and known[0] == tuple(tree.generation for tree in trees) and _exists(known[1]):
            return known[1], False
        check_name(name, self.what)
        bare = strip_model_hash(name).strip().replace("\\", "/")
        if not bare:
            raise ConfigError(f"{self.what} name is empty")
        if "/" in bare:
            return self._find_relative(name, bare), None
        stem = model_stem(bare)
        matches = self._match(trees, stem, refresh=False)
        if not matches or any(not _exists(path) for path, _ in matches):
            matches = self._match(trees, stem, refresh=True)
        if not matches:
            broken = [str(b) for b in self._broken(trees) if _names(b, stem)]
            raise NotFoundError(self.what, name, [*self.searched(), *broken])
        if len(matches) > 1:
            listed = "\n".join(f"  - {path}" for path, _ in matches)
            raise ConfigError(f"{self.what} {name!r} is ambiguous; name it with its folder. Candidates:\n{listed}")
        path, is_link = matches[0]
        if is_link:
            # The folder part resolved as the roots are, so only the link itself is judged.
            self._confine(os.path.join(os.path.realpath(path.parent), path.name))
        elif all(tree._walked for tree in trees):  # a link's target may change: judged each time
            if len(self._known) >= _MAX_KNOWN:
                self._known.clear()
            self._known[name] = (tuple(tree.generation for tree in trees), path)
        return path, is_link

    def _match(self, trees: list[_Tree], stem: str, *, refresh: bool) -> list[tuple[Path, bool]]:
        found: dict[str, bool] = {}
        # A folder named twice (say once relative, once absolute) is one tree, matched once.
        unique: dict[int, tuple[Path, _Tree]] = {}
        for directory, tree in zip(self.directories, trees, strict=True):
            unique.setdefault(id(tree), (directory, tree))
        pairs = list(unique.values())
        for directory, tree in pairs:
            with tree.lock:
                if refresh or not tree._walked:
                    tree.refresh()
                for path, is_link in tree.exact(stem):
                    found.setdefault(_as_given(directory, tree, path), is_link)
        if not found:
            folded = stem.casefold()
            for directory, tree in pairs:
                with tree.lock:
                    for path, is_link in tree.folded(folded):
                        found.setdefault(_as_given(directory, tree, path), is_link)
        return [(Path(path), is_link) for path, is_link in found.items()]

    def _broken(self, trees: list[_Tree]) -> list[BrokenEntry]:
        out = []
        for tree in trees:
            with tree.lock:
                out += tree.broken()
        return out

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
                        broken.append(str(BrokenEntry(Path(path), broken_reason(exc))))
        raise NotFoundError(self.what, name, [*self.searched(), *broken])

    def files(self) -> tuple[list[Path], list[BrokenEntry]]:
        """Every model file below the directories (refreshed now), and the entries skipped."""
        files: dict[Path, None] = {}
        broken: list[BrokenEntry] = []
        seen: set[int] = set()
        for directory in self.directories:
            tree = _tree(directory, self.store)
            if id(tree) in seen:
                continue
            seen.add(id(tree))
            with tree.lock:
                tree.refresh()
                paths = tree.files()
                broken += tree.broken()
            if str(directory) != tree.root:
                paths = [Path(_as_given(directory, tree, str(path))) for path in paths]
            files.update(dict.fromkeys(paths))
        return list(files), broken

    def searched(self) -> list[str]:
        pattern = "{" + ",".join(f"*{ext}" for ext in MODEL_EXTENSIONS) + "}"
        return [f"{directory} (recursive, {pattern})" for directory in self.directories]


def _as_given(directory: Path, tree: _Tree, path: str) -> str:
    """``path`` (below the tree's absolute root) spelled below ``directory`` as the caller gave it."""
    return str(directory) + path[len(tree.root) :]


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
