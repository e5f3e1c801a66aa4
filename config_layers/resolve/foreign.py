"""Finding and reading the metadata other tools keep beside a model or LoRA file."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

from config_layers.cache import FileCache, StatKey, stat_key
from config_layers.discovery.neighbors import folder_names, present
from config_layers.documents import outside_folder
from config_layers.loras.inspect import SafetensorsHeader
from config_layers.metadata import (
    ForeignPriors,
    MetadataError,
    priors_from_safetensors,
    read_civitai_info,
    read_json_sidecar,
    read_lora_manager,
)

#: ``<stem><suffix>`` files other tools write, and their readers. ``<stem>.json`` is A1111's
#: user metadata or SD.Next's Civitai data; the reader tells them apart by their keys.
FOREIGN_SUFFIXES: dict[str, Callable[..., ForeignPriors]] = {
    ".json": read_json_sidecar,
    ".civitai.info": read_civitai_info,
    ".metadata.json": read_lora_manager,
}
#: Readers of Civitai data, which lists several files: the model file's extension picks ours.
_BY_EXTENSION = (".json", ".civitai.info")
#: Civitai data is also written as ``<file name>.civitai.info`` (``x.safetensors.civitai.info``):
#: StableNew's LoRA keyword detector tries that name first, and several downloaders write it.
_FULL_NAME_SUFFIXES = (".civitai.info",)


def stem_of(file: Path) -> str:
    return file.name[: -len(file.suffix)] if file.suffix else file.name


def foreign_candidates(file: Path) -> list[tuple[str, list[Path]]]:
    """Each foreign suffix with the places its file could be for ``file``, preferred first."""
    return [(suffix, [file.with_name(name) for name in names]) for suffix, names in _candidate_names(file)]


def _candidate_names(file: Path) -> list[tuple[str, list[str]]]:
    """:func:`foreign_candidates` as names in the folder of ``file`` (no Path built per candidate)."""
    name, stem = file.name, stem_of(file)
    return [
        (suffix, [name + suffix, stem + suffix] if suffix in _FULL_NAME_SUFFIXES else [stem + suffix])
        for suffix in FOREIGN_SUFFIXES
    ]


def foreign_paths(file: Path) -> list[Path]:
    """Every place foreign metadata for ``file`` could be (existing or not)."""
    paths = [path for _, candidates in foreign_candidates(file) for path in candidates]
    if file.suffix.lower() == ".safetensors":
        paths.append(file)
    return paths


class ForeignReader:
    """Reads (and caches, by file stat) every foreign metadata file beside a model file. Of the
    two names of Civitai data, the first present is read."""

    def __init__(self, headers: FileCache[SafetensorsHeader]) -> None:
        self._headers = headers
        self._lock = threading.Lock()
        self._caches: dict[tuple[str, str], FileCache[ForeignPriors]] = {}

    def _cache(self, suffix: str, extension: str) -> FileCache[ForeignPriors]:
        key = (suffix, extension.lower() if suffix in _BY_EXTENSION else "")
        with self._lock:
            cache = self._caches.get(key)
            if cache is None:
                reader = FOREIGN_SUFFIXES[suffix]
                load = partial(reader, model_extension=key[1]) if key[1] else reader
                cache = self._caches[key] = FileCache(load)
            return cache

    def read(
        self,
        file: Path,
        names: frozenset[str] | None = None,
        stat: Callable[[Path], StatKey | None] = stat_key,
        header: SafetensorsHeader | None = None,
    ) -> tuple[list[ForeignPriors], list[MetadataError]]:
        """The priors of every readable foreign file beside ``file``, and the unreadable ones' errors.
        ``names``: the listing of its folder (:func:`folder_names`), read here when not given;
        ``stat``: a file's :func:`stat_key`, when the caller already has it; ``header``: the
        header of ``file``, when the caller already read it."""
        names = folder_names(file.parent) if names is None else names
        found: list[ForeignPriors] = []
        problems: list[MetadataError] = []
        for suffix, candidates in _candidate_names(file):
            path = next((p for p in _present(file, candidates, names) if p != file), None)
            if path is None:
                continue
            refused = outside_folder(file, path)
            if refused is not None:
                problems.append(MetadataError(path, refused))
                continue
            try:
                found.append(self._cache(suffix, file.suffix).get_at(path, stat(path)))
            except MetadataError as exc:
                problems.append(exc)
        # The model file itself: its stat (taken once by the caller) says whether it is still there.
        key = stat(file) if header is None and file.suffix.lower() == ".safetensors" else None
        if key is not None:
            header = self._headers.get_at(file, key)
        if header is not None:
            try:
                found.append(header.checked_priors())
            except MetadataError as exc:
                problems.append(exc)
        return found, problems


def _present(file: Path, candidates: list[str], names: frozenset[str] | None) -> Iterator[Path]:
    """The candidates (names beside ``file``) that are regular files; those the folder's listing
    ``names`` lacks are skipped without a Path or a ``stat``."""
    for name in candidates:
        if names is None or name.casefold() in names:
            path = file.with_name(name)
            if present(path, names):
                yield path


__all__ = [
    "FOREIGN_SUFFIXES",
    "ForeignReader",
    "foreign_paths",
    "outside_folder",
    "priors_from_safetensors",
    "stem_of",
]
