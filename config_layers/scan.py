"""``config-layers scan``: every model and LoRA below some folders, with the priors found for
each and the problems met (unreadable metadata), without stopping at the first problem."""

from __future__ import annotations

import os
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from config_layers.cache import FileCache, StatKey
from config_layers.discovery.files import FileIndex
from config_layers.discovery.hashing import HashCache
from config_layers.discovery.listing import BrokenEntry
from config_layers.documents import is_regular_file
from config_layers.errors import ConfigError, FileError
from config_layers.loras.inspect import key_format_label
from config_layers.metadata import ForeignPriors, MetadataError, priors_from_metadata, read_safetensors_metadata
from config_layers.names import model_stem
from config_layers.profiles.library import ProfileLibrary
from config_layers.profiles.loading import (
    LORA_SIDECAR_SUFFIXES,
    MODEL_SIDECAR_SUFFIXES,
    find_sidecar,
    load_lora_profile,
    load_model_profile,
    sidecar_candidates,
)
from config_layers.profiles.models import LoraProfile, ModelProfile
from config_layers.resolve.foreign import FOREIGN_SUFFIXES, ForeignReader
from config_layers.resolve.priors import Candidate, combine_lora_priors, combine_model_priors

Kind = Literal["model", "lora"]
_LORA_FOLDERS = frozenset({"lora", "loras", "lycoris", "locon"})


@dataclass
class ScanEntry:
    """One file of the library and what is known about it."""

    path: Path
    kind: Kind
    kind_reason: str
    profile: ModelProfile | LoraProfile | None = None
    candidates: list[Candidate] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    sha256: str | None = None
    key_format: str | None = None

    def summary(self) -> dict[str, Any]:
        """The entry as plain data (``scan --format json``)."""
        out: dict[str, Any] = {"path": str(self.path), "kind": self.kind, "kind_reason": self.kind_reason}
        profile = self.profile
        if isinstance(profile, ModelProfile):
            out["base_type"] = profile.base_type
            out["presets"] = [
                {
                    "id": p.id,
                    "rating": p.rating,
                    "sampler": p.sampler,
                    "scheduler": p.scheduler,
                    "steps": p.steps,
                    "cfg": p.cfg,
                    "resolution": list(p.resolution),
                }
                for p in profile.recommended_presets
            ]
        elif isinstance(profile, LoraProfile):
            out["base_type"] = profile.target_base_type
            out["weights"] = [
                {"label": w.label, "weight": w.weight, "rating": w.rating} for w in profile.recommended_weights
            ]
            out["trigger_phrases"] = list(profile.trigger_phrases)
        else:
            out["base_type"] = None
        if self.sha256:
            out["sha256"] = self.sha256
        if self.key_format:
            out["key_format"] = self.key_format
        out["sources"] = [{"kind": c.kind, "path": c.path, "status": c.status} for c in self.candidates]
        out["problems"] = list(self.problems)
        return out


class Scanner:
    """Scans folders; keeps parsed files between scans (re-read only when a file changes)."""

    def __init__(self, profile_dirs: Sequence[Path] = (), hashes: HashCache | None = None) -> None:
        """``hashes``: when given, every file is hashed (cached by path, size and mtime) and a file
        no library profile matches by name is matched by ``sha256`` / ``autov2``."""
        self._hashes = hashes
        # One read per header: the raw metadata classifies the file, the priors derive from it.
        self._raw_headers: FileCache[dict[str, str]] = FileCache(read_safetensors_metadata, max_entries=None)
        self._headers: FileCache[ForeignPriors] = FileCache(
            lambda p: priors_from_metadata(self._raw_headers.get(p), p), max_entries=None
        )
        self._foreign = ForeignReader(self._headers)
        self._models: FileCache[ModelProfile | None] = FileCache(load_model_profile, max_entries=None)
        self._loras: FileCache[LoraProfile | None] = FileCache(load_lora_profile, max_entries=None)
        self._library_dirs = list(profile_dirs)
        self._entries: dict[str, tuple[tuple[StatKey | None, ...], ScanEntry]] = {}
        self._library: ProfileLibrary | None = None

    def files(self, folders: Sequence[Path]) -> list[Path]:
        return FileIndex([Path(folder) for folder in folders], "model").files()[0]

    def scan(self, folders: Sequence[Path], *, progress: bool = False) -> list[ScanEntry]:
        """Every model file below ``folders``. A file whose folder listing shows it and the files
        beside it unchanged since the last scan reuses that scan's entry. Entries that cannot be
        used (a looping link, a folder that cannot be listed) are listed last, with the problem."""
        files, broken = FileIndex([Path(folder) for folder in folders], "model").files()
        if self._hashes is not None:
            self._hashes.hash_many(files, progress=progress)
        listings: dict[str, dict[str, StatKey]] = {}
        folded: dict[str, frozenset[str]] = {}
        out = []
        for path in _track(files, progress):
            # String operations: Path's parent/suffix/hash cost more than the rest of a cached file.
            key = str(path)
            folder, _, name = key.rpartition(os.sep)
            listing = listings.get(folder)
            if listing is None:
                listing = listings[folder] = _listing(path.parent)
                folded[folder] = frozenset(name.casefold() for name in listing)
            stem = name[: name.rfind(".")]  # every file here has a model extension
            fingerprint = (*[listing.get(stem + suffix) for suffix in _RELATED], listing.get(name))
            cached = self._entries.get(key)
            if cached is not None and cached[0] == fingerprint:
                out.append(cached[1])
                continue
            entry = self.entry(path, listing, folded[folder])
            self._entries[key] = (fingerprint, entry)
            out.append(entry)
        return out + [_broken_entry(item) for item in broken]

    def entry(
        self, path: Path, listing: Container[str] | None = None, names: frozenset[str] | None = None
    ) -> ScanEntry:
        """What is known about one file; ``listing``: the names in its folder, when already read,
        and ``names`` the same case-folded (so files that are not there are not stat'ed)."""
        foreign, problems = self._foreign.read(path, names)
        kind, reason = classify(path, self._raw_header(path), listing)
        entry = ScanEntry(path, kind, reason, problems=[str(p) for p in problems])
        entry.key_format = key_format_label(path) if kind == "lora" else None
        if self._hashes is not None:
            try:
                entry.sha256 = self._hashes.sha256(path)
            except FileError as exc:  # an unreadable model file is listed with its reason
                entry.problems.append(str(exc))
        stem = model_stem(path.name)
        suffixes = LORA_SIDECAR_SUFFIXES if kind == "lora" else MODEL_SIDECAR_SUFFIXES
        try:
            sidecar_path = find_sidecar(path, suffixes, names)
            cache = self._loras if kind == "lora" else self._models
            sidecar = cache.get(sidecar_path) if sidecar_path else None
            library = self._profile_library()
        except ConfigError as exc:
            entry.problems.append(str(exc))
            return entry
        shown = str(sidecar_path or sidecar_candidates(path, suffixes)[0])
        if kind == "lora":
            assert sidecar is None or isinstance(sidecar, LoraProfile)
            lora = combine_lora_priors(
                stem, sidecar, foreign, self._library_lora(library, stem, entry.sha256), sidecar_path=shown
            )
            entry.profile, entry.candidates = lora.profile, lora.candidates
            entry.problems += lora.problems
        else:
            assert sidecar is None or isinstance(sidecar, ModelProfile)
            model = combine_model_priors(
                stem, sidecar, foreign, self._library_model(library, stem, entry.sha256), sidecar_path=shown
            )
            entry.profile, entry.candidates = model.profile, model.candidates
            entry.problems += model.problems
        return entry

    def _library_model(self, library: ProfileLibrary | None, stem: str, digest: str | None) -> ModelProfile | None:
        if library is None:
            return None
        found = library.model(stem)
        if found is None and digest is not None:
            found = library.model_by_hash(digest)
        return found

    def _library_lora(self, library: ProfileLibrary | None, stem: str, digest: str | None) -> LoraProfile | None:
        if library is None:
            return None
        found = library.lora(stem)
        if found is None and digest is not None:
            found = library.lora_by_hash(digest)
        return found

    def _raw_header(self, path: Path) -> dict[str, str]:
        if path.suffix.lower() != ".safetensors":
            return {}
        try:
            return self._raw_headers.get(path)
        except MetadataError:
            return {}  # already reported by the foreign reader

    def _profile_library(self) -> ProfileLibrary | None:
        if self._library is None and self._library_dirs:
            self._library = ProfileLibrary(self._library_dirs)
        return self._library


def classify(path: Path, header: dict[str, str], listing: Container[str] | None = None) -> tuple[Kind, str]:
    """Model or LoRA: by the sidecar beside it, else its safetensors header (a ModelSpec
    architecture ending in ``/lora``, or kohya's ``ss_network_module``), else its folder's name.
    ``listing``: the names in the file's folder, when already read (saves a stat per candidate)."""
    if find_sidecar_kind(path, LORA_SIDECAR_SUFFIXES, listing):
        return "lora", "has a .loraprofile sidecar"
    if find_sidecar_kind(path, MODEL_SIDECAR_SUFFIXES, listing):
        return "model", "has a .modelprofile sidecar"
    architecture = header.get("modelspec.architecture", "")
    if architecture.endswith(("/lora", "/lycoris")) or "ss_network_module" in header:
        return "lora", "its header says LoRA"
    if architecture:
        return "model", "its header says checkpoint"
    if any(part.lower() in _LORA_FOLDERS for part in path.parent.parts):
        return "lora", "it is in a LoRA folder"
    return "model", "default (no sign of a LoRA)"


#: Files beside ``<stem>.<ext>`` that change what a scan says about it.
_RELATED = (*MODEL_SIDECAR_SUFFIXES, *LORA_SIDECAR_SUFFIXES, *FOREIGN_SUFFIXES)


def _listing(folder: Path) -> dict[str, StatKey]:
    """File name -> (mtime_ns, size, inode) for one folder, from one directory read."""
    out: dict[str, StatKey] = {}
    try:
        with os.scandir(folder) as entries:
            for item in entries:
                try:
                    st = item.stat()
                except OSError:
                    continue
                out[item.name] = (st.st_mtime_ns, st.st_size, st.st_ino)
    except OSError:
        pass
    return out


def _broken_entry(item: BrokenEntry) -> ScanEntry:
    kind: Kind = "lora" if any(part.lower() in _LORA_FOLDERS for part in item.path.parent.parts) else "model"
    return ScanEntry(item.path, kind, "skipped: cannot be used", problems=[item.reason])


def find_sidecar_kind(path: Path, suffixes: Sequence[str], listing: Container[str] | None = None) -> bool:
    if listing is not None:
        return any(candidate.name in listing for candidate in sidecar_candidates(path, suffixes))
    return any(is_regular_file(candidate) for candidate in sidecar_candidates(path, suffixes))


def _track(files: list[Path], progress: bool) -> Iterable[Path]:
    if not progress or len(files) < 50:
        return files
    from rich.console import Console
    from rich.progress import track

    return track(files, description="scanning", transient=True, console=Console(stderr=True))
