"""Finding model and LoRA files in a user's model library."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from config_layers.errors import ConfigError, NotFoundError
from config_layers.normalize import model_stem, strip_model_hash

MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")


class FileIndex:
    """Model files below some directories, by stem; rebuilt when a lookup misses.

    Walking a large library on every build is what makes config tools slow, so the
    index is kept and refreshed only when it cannot answer (a new file) or answers
    with a file that has gone.
    """

    def __init__(self, directories: Sequence[Path], what: str) -> None:
        self.directories = [Path(d) for d in directories]
        self.what = what
        self._lock = threading.Lock()
        self._by_stem: dict[str, list[Path]] | None = None

    def find(self, name: str) -> Path:
        """The one file ``name`` means: a stem, a file name, a ``sub/dir/file`` path or a WebUI
        name with a ``" [hash]"`` suffix. Raises NotFoundError or ConfigError (ambiguous)."""
        bare = strip_model_hash(name).strip().replace("\\", "/")
        if not bare:
            raise ConfigError(f"{self.what} name is empty")
        if "/" in bare:
            return self._find_relative(name, bare)
        matches = self._lookup(model_stem(bare))
        if any(not path.is_file() for path in matches):
            matches = self._lookup(model_stem(bare), refresh=True)
        if len(matches) > 1:
            listed = "\n".join(f"  - {path}" for path in matches)
            raise ConfigError(f"{self.what} {name!r} is ambiguous; name it with its folder. Candidates:\n{listed}")
        return matches[0]

    def _lookup(self, stem: str, *, refresh: bool = False) -> list[Path]:
        with self._lock:
            if self._by_stem is None or refresh:
                self._by_stem = _index(self.directories)
            found = _match(self._by_stem, stem)
            if not found and not refresh:
                self._by_stem = _index(self.directories)
                found = _match(self._by_stem, stem)
        if not found:
            raise NotFoundError(self.what, stem, self.searched())
        return found

    def _find_relative(self, name: str, relative: str) -> Path:
        for directory in self.directories:
            root = directory.resolve()
            for candidate in _with_extensions(root / relative):
                resolved = candidate.resolve()
                if resolved.is_relative_to(root) and resolved.is_file():
                    return resolved
        raise NotFoundError(self.what, name, self.searched())

    def searched(self) -> list[str]:
        pattern = "{" + ",".join(f"*{ext}" for ext in MODEL_EXTENSIONS) + "}"
        return [f"{directory} (recursive, {pattern})" for directory in self.directories]


def _with_extensions(path: Path) -> Iterable[Path]:
    if path.suffix.lower() in MODEL_EXTENSIONS:
        yield path
    for ext in MODEL_EXTENSIONS:
        yield path.with_name(path.name + ext)


def _match(index: dict[str, list[Path]], stem: str) -> list[Path]:
    exact = index.get(stem)
    if exact:
        return exact
    folded = stem.casefold()
    return [path for key, paths in index.items() if key.casefold() == folded for path in paths]


def _index(directories: Sequence[Path]) -> dict[str, list[Path]]:
    by_stem: dict[str, list[Path]] = {}
    seen: set[Path] = set()
    for directory in directories:
        for path in walk_model_files(directory):
            if path in seen:
                continue
            seen.add(path)
            by_stem.setdefault(model_stem(path.name), []).append(path)
    return by_stem


def walk_model_files(directory: Path) -> Iterable[Path]:
    """Model files below ``directory`` (not following folder links; hidden entries skipped)."""
    stack = [directory]
    while stack:
        current = stack.pop()
        try:
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.name.lower().endswith(MODEL_EXTENSIONS) and entry.is_file():
                yield Path(entry.path)
