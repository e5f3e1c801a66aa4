"""``config-layers scan``: every model and LoRA below some folders, with the priors found for
each and the problems met (unreadable metadata), without stopping at the first problem."""

from __future__ import annotations

import os
from collections.abc import Callable, Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config_layers.cache import StatKey, stat_key
from config_layers.discovery.files import FileIndex
from config_layers.discovery.hashing import HashCache
from config_layers.discovery.listing import BrokenEntry
from config_layers.discovery.neighbors import folder_names
from config_layers.documents import is_regular_file
from config_layers.errors import ConfigError, FileError
from config_layers.loras.inspect import SafetensorsHeader
from config_layers.names import model_stem
from config_layers.profiles.loading import LORA_SIDECAR_SUFFIXES, MODEL_SIDECAR_SUFFIXES, sidecar_candidates
from config_layers.profiles.models import LoraProfile, ModelProfile
from config_layers.resolve.foreign import FOREIGN_SUFFIXES, stem_of
from config_layers.resolve.priors import Candidate, combine_lora_priors, combine_model_priors
from config_layers.resolve.resolver import Kind, Resolver

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
    """Scans folders; keeps each file's entry between scans (made again only when the file or a
    file beside it changes). Files are read through a :class:`Resolver` (the build's, when given):
    its caches, shared by every resolver of the process, hold each file parsed once."""

    def __init__(
        self, profile_dirs: Sequence[Path] = (), hashes: HashCache | None = None, resolver: Resolver | None = None
    ) -> None:
        """``hashes``: when given, every file is hashed (cached by path, size and mtime) and a file
        no library profile matches by name is matched by ``sha256`` / ``autov2``. ``resolver``:
        the one to read through (its profile library is the scan's); else one on ``profile_dirs``."""
        self._hashes = hashes
        self.resolver = resolver or Resolver(
            FileIndex([], "model"), profile_dirs, match_by_hash=hashes is not None, hashes=hashes
        )
        self._entries: dict[str, tuple[tuple[StatKey | None, ...], ScanEntry]] = {}

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
        self, path: Path, listing: Mapping[str, StatKey] | None = None, names: frozenset[str] | None = None
    ) -> ScanEntry:
        """What is known about one file; ``listing``: its folder's names with their stat, when
        already read, and ``names`` the same case-folded (so files that are not there are not
        stat'ed, and those that are are stat'ed once)."""
        resolver = self.resolver
        stat = _stat_in(listing)
        names = folder_names(path.parent) if names is None else names
        # One read of the header says LoRA or checkpoint, gives its priors and the key format.
        key = stat(path) if path.suffix.lower() == ".safetensors" else None
        header = resolver.header(path, key) if key is not None else None
        foreign, problems = resolver.foreign(path, names, stat, header)
        kind, reason = classify(path, header, listing)
        entry = ScanEntry(path, kind, reason, problems=[str(p) for p in problems])
        entry.key_format = header.key_format if header is not None and kind == "lora" else None
        if self._hashes is not None:
            try:
                entry.sha256 = self._hashes.sha256(path)
            except FileError as exc:  # an unreadable model file is listed with its reason
                entry.problems.append(str(exc))
        stem = model_stem(path.name)
        try:
            sidecar, shown = resolver.sidecar(path, kind, names, stat)
            library = resolver.library_match(resolver.library(), kind, path, entry.sha256 is not None)
        except ConfigError as exc:
            entry.problems.append(str(exc))
            return entry
        if kind == "lora":
            assert sidecar is None or isinstance(sidecar, LoraProfile)
            lora = combine_lora_priors(stem, sidecar, foreign, library, sidecar_path=shown)
            entry.profile, entry.candidates = lora.profile, lora.candidates
            entry.problems += lora.problems
        else:
            assert sidecar is None or isinstance(sidecar, ModelProfile)
            model = combine_model_priors(stem, sidecar, foreign, library, sidecar_path=shown)
            entry.profile, entry.candidates = model.profile, model.candidates
            entry.problems += model.problems
        return entry


def classify(path: Path, header: SafetensorsHeader | None, listing: Container[str] | None = None) -> tuple[Kind, str]:
    """Model or LoRA: by the sidecar beside it, else its safetensors header (a ModelSpec
    architecture ending in ``/lora``, or kohya's ``ss_network_module``), else its folder's name.
    ``listing``: the names in the file's folder, when already read (saves a stat per candidate)."""
    if find_sidecar_kind(path, LORA_SIDECAR_SUFFIXES, listing):
        return "lora", "has a .loraprofile sidecar"
    if find_sidecar_kind(path, MODEL_SIDECAR_SUFFIXES, listing):
        return "model", "has a .modelprofile sidecar"
    architecture = header.architecture if header is not None else ""
    if architecture.endswith(("/lora", "/lycoris")) or (header is not None and header.network_module):
        return "lora", "its header says LoRA"
    if architecture:
        return "model", "its header says checkpoint"
    if any(part.lower() in _LORA_FOLDERS for part in path.parent.parts):
        return "lora", "it is in a LoRA folder"
    return "model", "default (no sign of a LoRA)"


def _stat_in(listing: Mapping[str, StatKey] | None) -> Callable[[Path], StatKey | None]:
    """A file's stat key from its folder's listing (taken by the one directory read), else a stat."""
    if listing is None:
        return stat_key
    return lambda path: listing.get(path.name) or stat_key(path)


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
        stem = stem_of(path)
        return any(stem + suffix in listing for suffix in suffixes)
    return any(is_regular_file(candidate) for candidate in sidecar_candidates(path, suffixes))


def _track(files: list[Path], progress: bool) -> Iterable[Path]:
    if not progress or len(files) < 50:
        return files
    from rich.console import Console
    from rich.progress import track

    return track(files, description="scanning", transient=True, console=Console(stderr=True))
