"""The one place that reads what is known about a model or LoRA file: its sidecar, foreign
metadata beside it (A1111, Civitai, Lora-Manager, the safetensors header), the learned presets,
the profile library (by name, and by hash when asked), and whether each LoRA loads on the model
(header base types and tensor key formats). ``ConfigBuilder.build()`` and ``presets()`` use it.

Every file read goes through process-wide caches keyed by path and stat (:mod:`config_layers.cache`),
so resolving the same unchanged files again costs a few ``stat`` calls.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from config_layers.cache import FileCache, IdentityMemo, StatKey, shared, shared_cache, stat_key
from config_layers.discovery.files import FileIndex
from config_layers.discovery.neighbors import folder_names
from config_layers.errors import ConfigError, ConfigErrors, NotFoundError
from config_layers.learning.learned_file import LearnedProfile, learned_path, load_learned_profile
from config_layers.loras.inspect import SafetensorsHeader, key_check, read_header
from config_layers.metadata import ForeignPriors, MetadataError
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
from config_layers.profiles.models import KeyOrigin, LoraProfile, ModelProfile
from config_layers.profiles.suggest import CompatibilityIssue, check_lora_compatibility
from config_layers.resolve.foreign import ForeignReader, foreign_paths, stem_of
from config_layers.resolve.priors import combine_lora_priors, combine_model_priors

if TYPE_CHECKING:
    from config_layers.discovery.hashing import HashCache

P = TypeVar("P", ModelProfile, LoraProfile)
T = TypeVar("T")
Kind = Literal["model", "lora"]

#: LoRA lookups remembered per resolver (a user file may name up to MAX_TABLE_KEYS LoRAs).
_MEMO_ENTRIES = 8192
_LoraMemo = tuple[frozenset[str], list[tuple[Path, "StatKey | None"]], str, "LoraProfile | None"]


@dataclass
class Found:
    """What the profile lookup found for one build."""

    model: ModelProfile | None = None
    checkpoint: Path | None = None
    learned: LearnedProfile | None = None
    vae: tuple[str, KeyOrigin] | None = None
    loras: dict[str, LoraProfile | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lora_notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # The per-build memos are keyed by path strings: a Path hashes and compares slower.
    listings: dict[str, frozenset[str] | None] = field(default_factory=dict)
    #: Each (LoRA name, issue) :func:`check_lora_compatibility` found, in LoRA order.
    compatibility: list[tuple[str, CompatibilityIssue]] = field(default_factory=list)
    #: The model's base type and what says it (its profile, else its checkpoint's header).
    model_base: tuple[str, str] | None = None
    #: Why the checkpoint's header could not say the model's base type, when it could not.
    model_base_problem: str | None = None
    stats: dict[str, StatKey | None] = field(default_factory=dict)
    headers: dict[str, SafetensorsHeader] = field(default_factory=dict)

    #: The per-build memos of the reads themselves; the rest of a build uses only what the
    #: lookup made of them (the fields above), so they are not part of :meth:`memo_key`.
    _READS: ClassVar[frozenset[str]] = frozenset({"listings", "stats", "headers"})

    def memo_key(self) -> tuple[object, ...]:
        """What the rest of a build uses, for config_layers.pipeline.memo."""
        return tuple(getattr(self, f.name) for f in dataclasses.fields(self) if f.name not in self._READS)

    def folder_names(self, folder: Path) -> frozenset[str] | None:
        """The listing of ``folder``, read once per build: a folder changed in the last seconds is
        not cached across builds, and 1,000 LoRAs in it must not list it 1,000 times."""
        return _once(self.listings, str(folder), lambda: folder_names(folder))

    def stat(self, path: Path) -> StatKey | None:
        """``stat_key(path)``, taken once per build: every cache a LoRA file is looked up in
        (memo, header, key report) is asked with this one stat."""
        return _once(self.stats, str(path), lambda: stat_key(path))


def _once(memo: dict[str, T], key: str, make: Callable[[], T]) -> T:
    """``memo[key]``, made by ``make`` the first time it is asked for."""
    try:
        return memo[key]
    except KeyError:
        value = memo[key] = make()
        return value


class Resolver:
    """Model and LoRA files -> their profiles (see the module docstring). Thread-safe: its
    caches are locked, and per-call results live in the :class:`Found` it returns.

    ``models``: the model files by name; ``profile_dirs``: the profile library; ``match_by_hash``:
    when no library profile matches a file by name, hash it (cached in ``hash_cache_file``)."""

    def __init__(
        self,
        models: FileIndex,
        profile_dirs: Sequence[Path],
        *,
        match_by_hash: bool = False,
        hash_cache_file: Path | None = None,
        hashes: HashCache | None = None,
    ) -> None:
        """``hashes``: the hash cache to match by hash with (else one on ``hash_cache_file``, made on first use)."""
        self._models = models
        self.profile_dirs = list(profile_dirs)
        self.match_by_hash = match_by_hash
        self.hash_cache_file = hash_cache_file
        # Shared by every resolver of the process; the loaders look their functions up when
        # called, so a patched module global applies.
        self._model_profiles: FileCache[ModelProfile | None] = shared_cache(
            "model_profiles", lambda p: load_model_profile(p)
        )
        self._lora_profiles: FileCache[LoraProfile | None] = shared_cache(
            "lora_profiles", lambda p: load_lora_profile(p)
        )
        self._learned: FileCache[LearnedProfile | None] = shared_cache("learned", lambda p: load_learned_profile(p))
        # One read per header gives both its priors and its key report.
        self._safetensors: FileCache[SafetensorsHeader] = shared_cache("safetensors", lambda p: read_header(p))
        self._foreign = shared("foreign", lambda: ForeignReader(self._safetensors))
        # Combined priors of unchanged inputs (the same cached objects) are reused, not rebuilt.
        self._priors = shared("priors", IdentityMemo)
        self._hash_cache: HashCache | None = hashes
        self._library_lock = threading.Lock()
        self._library: ProfileLibrary | None = None
        # (LoRA name, file) -> (folder listing, [(file read, its stat)], note, profile)
        self._lora_memo: OrderedDict[tuple[str, str], _LoraMemo] = OrderedDict()

    def library(self) -> ProfileLibrary:
        """The profile library (read on first use)."""
        with self._library_lock:
            if self._library is None:
                self._library = ProfileLibrary(self.profile_dirs)
            return self._library

    def find(self, model: str | None, loras: Sequence[tuple[str, Path | None]], lenient: bool) -> Found:
        """The profiles of ``model`` (found by name in the model folders) and of each LoRA file, with
        notes on what was looked for; LoRAs of another family than the model fail (warnings when
        ``lenient``)."""
        found = Found()
        if model is None:
            found.notes.append("no model selected, so no model profile")
        else:
            try:
                checkpoint = self._models.find(model)
            except NotFoundError as exc:
                if not lenient:
                    raise
                found.warnings.append(str(exc))
                found.notes.append(f"model {model!r} not found, so no model profile")
            else:
                found.checkpoint = checkpoint
                found.model = self._model_profile(checkpoint, found, lenient)
        for name, path in loras:
            found.loras[name] = self._lora_profile(name, path, found, lenient) if path else None
        self._check_compatibility(found, loras)
        for name, issue in found.compatibility:
            if issue.evidence != "profile" or found.model is None:
                continue
            profile = found.loras[name]
            assert profile is not None
            message = (
                f"LoRA {name!r} is {issue.lora_base_type} (by {_base_source(profile, 'target_base_type')}) and "
                f"the model is {issue.model_base_type} (by {_base_source(found.model, 'base_type')}): "
            )
            if issue.severity == "error":
                message += "another architecture family, it cannot load"
                if not lenient:
                    raise ConfigError(message + " (lenient mode records this as a warning)")
            else:
                message += "same family, it loads but may look off"
            found.warnings.append(message)
        return found

    def _check_compatibility(self, found: Found, loras: Sequence[tuple[str, Path | None]]) -> None:
        """Every LoRA against the model, once: by its profile's base type, and by its header's
        where that says otherwise (``check_loads`` reports those)."""
        model = found.model
        found.model_base = None
        if model is not None and model.base_type != "unknown":
            found.model_base = (model.base_type, "its profile")
        elif found.checkpoint is not None and found.checkpoint.suffix.lower() == ".safetensors":
            priors = self._header(found, found.checkpoint).priors
            if isinstance(priors, MetadataError):
                found.model_base_problem = f"cannot check whether it loads: {priors}"
            else:
                found.model_base = _header_base(priors)
        for name, path in loras:
            profile = found.loras.get(name)
            if profile is not None and model is not None:
                issue = check_lora_compatibility(profile.lora_name, profile.target_base_type, model.base_type)
                found.compatibility += [(name, issue)] if issue else []
            if path is None or path.suffix.lower() != ".safetensors" or found.model_base is None:
                continue
            priors = self._header(found, path).priors
            lora_base = None if isinstance(priors, MetadataError) else _header_base(priors)
            if lora_base is None or (profile is not None and profile.target_base_type == lora_base[0]):
                continue  # the profile's base type is the header's: judged above
            issue = check_lora_compatibility(name, lora_base[0], found.model_base[0], "header")
            found.compatibility += [(name, issue)] if issue else []

    def header(self, path: Path, key: StatKey | None) -> SafetensorsHeader:
        """The safetensors header of ``path`` (read once, cached by ``key``, its :func:`stat_key`)."""
        return self._safetensors.get_at(path, key)

    def _header(self, found: Found, path: Path) -> SafetensorsHeader:
        """The header of ``path``, read at most once per build (even a file too fresh to cache)."""
        return _once(found.headers, str(path), lambda: self.header(path, found.stat(path)))

    def check_loads(self, found: Found, loras: Sequence[tuple[str, Path | None]], lenient: bool) -> None:
        """Can each LoRA load on the model? Its key format (from the safetensors header, never the
        tensors), and the header's base type where it disagrees with the profile's
        (``found.compatibility``). Unreadable headers and cross-family LoRAs are errors, or
        warnings when ``lenient``."""
        problems: list[str] = [found.model_base_problem] if found.model_base_problem else []
        by_header = {name: issue for name, issue in found.compatibility if issue.evidence == "header"}
        model = found.model_base
        for name, path in loras:
            header = self._check_keys(name, path, model, found, problems)
            if header is not None and isinstance(header.priors, MetadataError):
                problems.append(f"cannot check whether it loads: {header.priors}")
            issue = by_header.get(name)
            if issue is None or header is None or model is None:
                continue
            lora_base = _header_base(header.checked_priors())
            assert lora_base is not None
            if issue.severity == "error":
                problems.append(
                    f"LoRA {name!r} is {issue.lora_base_type} by its header ({lora_base[1]}) and the model is "
                    f"{issue.model_base_type} (by {model[1]}): another architecture family, it cannot load"
                )
            else:
                found.warnings.append(
                    f"LoRA {name!r} is {issue.lora_base_type} by its header; the model is {issue.model_base_type} "
                    "(same family: it loads but may look off)"
                )
        if problems and not lenient:
            raise ConfigErrors(problems, title="LoRA check failed (lenient mode records these as warnings):")
        found.warnings += problems

    def _check_keys(
        self, name: str, path: Path | None, model: tuple[str, str] | None, found: Found, problems: list[str]
    ) -> SafetensorsHeader | None:
        """Will the WebUI recognise the LoRA's tensor names, and do they fit the model's family?
        The header read, for a safetensors file."""
        if path is None:
            return None
        if path.suffix.lower() != ".safetensors":
            found.lora_notes.append(f"LoRA {name!r}: key format not checked (not a .safetensors file)")
            return None
        header = self._header(found, path)
        inspection = header.inspection
        if isinstance(inspection, MetadataError):
            return header  # the caller reports an unreadable header
        verdict = key_check(name, inspection, model[0] if model else None)
        problems += [verdict.problem] if verdict.problem else []
        found.warnings += [verdict.warning] if verdict.warning else []
        found.lora_notes += [verdict.note] if verdict.note else []
        return header

    def _model_profile(self, checkpoint: Path, found: Found, lenient: bool) -> ModelProfile | None:
        """The checkpoint's priors: its sidecar > foreign metadata beside it > the profile library."""
        stem = model_stem(checkpoint.name)
        names = found.folder_names(checkpoint.parent)
        sidecar, foreign, shown = self._read_beside(checkpoint, self._model_profiles, names, found, lenient)
        library = None
        if not (sidecar and sidecar.recommended_presets and sidecar.base_type != "unknown"):
            library = self.library_match(self._library_for(found, lenient), "model", checkpoint, self.match_by_hash)
        learned_file = learned_path(checkpoint)
        found.learned = self._learned.get(learned_file) if learned_file.is_file() else None
        priors = self._priors.call(
            combine_model_priors, stem, sidecar, foreign, library, sidecar_path=shown, learned=found.learned
        )
        found.vae = priors.vae
        found.warnings += priors.problems
        if priors.profile is None:
            found.notes.append(
                f"no profile found for model {stem!r}; looked for: " + ", ".join(self._looked(checkpoint))
            )
        else:
            found.notes.append(priors.explain(f"model {stem!r}"))
        return priors.profile

    def _lora_profile(self, name: str, lora_file: Path, found: Found, lenient: bool) -> LoraProfile | None:
        """The LoRA's priors: its sidecar > foreign metadata beside it > the profile library.

        A clean result (no warnings) is kept while the LoRA's folder listing is the same cached
        listing and every file it read has the same stat: a build naming 1,000 LoRAs then costs
        one ``stat`` per unchanged LoRA (the build's own, :meth:`Found.stat`) instead of a lookup."""
        names = found.folder_names(lora_file.parent)
        key = (name, str(lora_file))
        with self._library_lock:
            hit = self._lora_memo.get(key)
        if hit is not None and names is not None and hit[0] is names and all(found.stat(p) == k for p, k in hit[1]):
            found.lora_notes.append(hit[2])
            return hit[3]
        warned = len(found.warnings)
        stem = model_stem(lora_file.name)
        sidecar, foreign, shown = self._read_beside(lora_file, self._lora_profiles, names, found, lenient)
        library = None
        if not (sidecar and sidecar.recommended_weights and sidecar.target_base_type != "unknown"):
            library = self.library_match(self._library_for(found, lenient), "lora", lora_file, self.match_by_hash)
        priors = self._priors.call(combine_lora_priors, stem, sidecar, foreign, library, sidecar_path=shown)
        found.warnings += priors.problems
        if priors.profile is None:
            note = f"no profile found for LoRA {name!r}; looked for: " + ", ".join(self._looked(lora_file, lora=True))
        else:
            note = priors.explain(f"LoRA {name!r}")
        found.lora_notes.append(note)
        if names is not None and len(found.warnings) == warned and not self.match_by_hash:
            read = [lora_file, *sidecar_candidates(lora_file, LORA_SIDECAR_SUFFIXES), *foreign_paths(lora_file)]
            stats = [(p, found.stat(p)) for p in dict.fromkeys(read) if p.name.casefold() in names]
            with self._library_lock:
                self._lora_memo[key] = (names, stats, note, priors.profile)
                self._lora_memo.move_to_end(key)
                while len(self._lora_memo) > _MEMO_ENTRIES:
                    self._lora_memo.popitem(last=False)
        return priors.profile

    def foreign(
        self,
        file: Path,
        names: frozenset[str] | None,
        stat: Callable[[Path], StatKey | None],
        header: SafetensorsHeader | None = None,
    ) -> tuple[list[ForeignPriors], list[MetadataError]]:
        """The foreign metadata beside ``file`` (its header included) that can be read, and the
        errors of the files that cannot. ``names``: the listing of its folder
        (:func:`folder_names`); ``stat``: a file's :func:`stat_key`, as the caller took it;
        ``header``: the header of ``file`` (:meth:`header`), when the caller has read it."""
        return self._foreign.read(file, names, stat, header)

    def sidecar(
        self, file: Path, kind: Kind, names: frozenset[str] | None, stat: Callable[[Path], StatKey | None]
    ) -> tuple[ModelProfile | LoraProfile | None, str]:
        """The sidecar profile of a model (``kind``) file and the sidecar path to show (the first
        candidate when there is none). Raises ConfigError for a sidecar that cannot be used."""
        if kind == "lora":
            return self._sidecar(file, self._lora_profiles, names, stat)
        return self._sidecar(file, self._model_profiles, names, stat)

    def _sidecar(
        self,
        file: Path,
        sidecars: FileCache[P | None],
        names: frozenset[str] | None,
        stat: Callable[[Path], StatKey | None],
    ) -> tuple[P | None, str]:
        suffixes = LORA_SIDECAR_SUFFIXES if sidecars is self._lora_profiles else MODEL_SIDECAR_SUFFIXES
        stem = stem_of(file)
        # Most files have no sidecar: a listing that lacks every candidate name settles it.
        absent = names is not None and all((stem + suffix).casefold() not in names for suffix in suffixes)
        sidecar_path = None if absent else find_sidecar(file, suffixes, names)
        if sidecar_path is None:
            return None, os.path.join(os.path.dirname(file), stem + suffixes[0])
        return sidecars.get_at(sidecar_path, stat(sidecar_path)), str(sidecar_path)

    def _read_beside(
        self,
        file: Path,
        sidecars: FileCache[P | None],
        names: frozenset[str] | None,
        found: Found,
        lenient: bool,
    ) -> tuple[P | None, list[ForeignPriors], str]:
        """The sidecar of ``file``, the foreign metadata beside it (unreadable files fail the
        build, or are warnings when ``lenient``), and the sidecar path to show."""
        sidecar, shown = self._sidecar(file, sidecars, names, found.stat)
        header = self._header(found, file) if file.suffix.lower() == ".safetensors" and found.stat(file) else None
        foreign, problems = self.foreign(file, names, found.stat, header)
        if problems and not lenient:
            raise ConfigErrors(
                [str(problem) for problem in problems],
                title="unreadable metadata beside a model file (lenient mode records these as warnings):",
            )
        found.warnings += [f"ignored unreadable metadata: {problem}" for problem in problems]
        return sidecar, foreign, shown

    def _library_for(self, found: Found, lenient: bool) -> ProfileLibrary:
        """The profile library, consulted only when a sidecar leaves an aspect open; its broken
        files fail the build then (or are warnings when lenient)."""
        library = self.library()
        if library.problems and not lenient:
            raise ConfigErrors([str(p) for p in library.problems], title="unreadable profiles in the profile library:")
        found.warnings += [
            f"ignored unreadable library profile: {p}" for p in library.problems if str(p) not in str(found.warnings)
        ]
        return library

    def library_match(self, library: ProfileLibrary, kind: Kind, file: Path, by_hash: bool) -> Any:
        """The library profile of a model (``kind``) file: by its name, else (``by_hash``) by its
        SHA-256 (FileError when the file cannot be read)."""
        stem = model_stem(file.name)
        match = library.model(stem) if kind == "model" else library.lora(stem)
        if match is not None or not by_hash:
            return match
        hashes = self._hashes()
        digest = hashes.sha256(file)
        hashes.save()  # a cache that cannot be saved is logged, never fatal
        return library.model_by_hash(digest) if kind == "model" else library.lora_by_hash(digest)

    def _hashes(self) -> HashCache:
        from config_layers.discovery.hashing import HashCache  # hashing is opt-in: keep hashlib off the import path

        with self._library_lock:
            if self._hash_cache is None:
                self._hash_cache = HashCache(self.hash_cache_file)
            return self._hash_cache

    def _looked(self, file: Path, *, lora: bool = False) -> list[str]:
        suffixes = LORA_SIDECAR_SUFFIXES if lora else MODEL_SIDECAR_SUFFIXES
        looked = [str(p) for p in sidecar_candidates(file, suffixes)]
        looked += [f"{p} (header)" if p == file else str(p) for p in foreign_paths(file)]
        looked += self.library().searched()
        if not self.match_by_hash:
            looked.append("(matching by hash is off)")
        return looked


def _header_base(priors: ForeignPriors) -> tuple[str, str] | None:
    """The base type a header states and the key it is in; None when it states none."""
    if priors.base_type is None or priors.base_type.value == "unknown":
        return None
    return str(priors.base_type.value), priors.base_type.key


def _base_source(profile: ModelProfile | LoraProfile, key: str) -> str:
    """Where a profile's base type came from, for messages."""
    foreign = profile.key_origin((key,))
    if foreign is not None:
        return f"{foreign.rule} in {foreign.source}"
    return f"the profile {profile.document.path}" if profile.document else "its profile"
