"""ConfigBuilder: wires the six layers in order, merges them, validates, and keeps provenance.

The only module of the core that touches the filesystem and the environment; it can be
handed an environment mapping (tests, GUIs) instead of ``os.environ``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config_layers.bounds import MAX_TABLE_KEYS
from config_layers.cache import FileCache, IdentityMemo, shared, shared_cache
from config_layers.discovery.files import FileIndex
from config_layers.discovery.neighbors import folder_names
from config_layers.documents import DEFAULT_MAX_BYTES, Document, read_document
from config_layers.errors import ConfigError, ConfigErrors, NotFoundError
from config_layers.layers.base import Layer
from config_layers.layers.defaults import defaults_layer
from config_layers.layers.env import env_layers
from config_layers.layers.lora_overlays import (
    LoraSelection,
    check_only_resolved_paths,
    lora_overlays_layer,
    stack_layers,
)
from config_layers.layers.model_profile import model_profile_layer, no_model_profile_layer
from config_layers.layers.overrides import overrides_layer
from config_layers.layers.user_file import locate_user_file, no_user_file_layer, user_file_layer
from config_layers.learning.learned_file import LearnedProfile, learned_path, load_learned_profile
from config_layers.learning.presets import PresetCandidate, evidence_notes, rank_candidates
from config_layers.loras.inspect import LoraInspection, inspect_lora, key_check
from config_layers.metadata import ForeignPriors, MetadataError, priors_from_safetensors
from config_layers.names import model_stem
from config_layers.pipeline.merge import KeyCasing, merge_layers
from config_layers.pipeline.normalize import normalize_config
from config_layers.plan import LoraPlan, plan_loras
from config_layers.profiles.families import lora_compatibility
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
from config_layers.profiles.suggest import (
    SuggestedPreset,
    check_lora_compatibility,
    choose_lora_weight,
    suggest_preset_for,
)
from config_layers.provenance.origin import Origin, origin_error
from config_layers.provenance.report import BuildReport, Provenance, layer_summaries
from config_layers.resolve.foreign import ForeignReader, foreign_paths
from config_layers.resolve.priors import combine_lora_priors, combine_model_priors
from config_layers.schema.config import SECRET_LEAVES, PipelineConfig, iter_leaves
from config_layers.schema.messages import validate
from config_layers.shipped import default_settings_file, profiles_dir
from config_layers.stacks import (
    LEGACY_KEYS,
    STACK_SUFFIX,
    STAGES,
    ComposedStack,
    LocatedEntry,
    StackFile,
    Stage,
    compose_stack,
    find_stack,
    parse_stack,
    promote_legacy,
)

if TYPE_CHECKING:
    from config_layers.discovery.hashing import HashCache

log = logging.getLogger("config_layers")

#: The defaults file is ours or the integrator's, but still capped: a stray device file must not hang a build.
SETTINGS_MAX_BYTES = 16 * 1024 * 1024

_SCHEMA_DEFAULT = Origin("defaults", "built-in default (config_layers.schema)")


@dataclass
class _Profiles:
    """What the profile lookup found for one build."""

    model: ModelProfile | None = None
    checkpoint: Path | None = None
    learned: LearnedProfile | None = None
    vae: tuple[str, KeyOrigin] | None = None
    library_checked: bool = False
    loras: dict[str, LoraProfile | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lora_notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class ConfigBuilder:
    """Builds validated ``PipelineConfig`` objects from the six layers.

    ``settings_file``: the defaults layer (the shipped ``settings.toml`` by default).
    ``model_dirs`` / ``lora_dirs``: where checkpoints and LoRAs (and their sidecars) live.
    ``profile_dirs``: libraries of profiles matched by name when a file has no sidecar
    (the shipped ``profiles/`` by default; pass ``[]`` for none).
    ``user_file``: the user's override TOML (else ``<PREFIX>_USER_FILE``, else the
    platform config dir's ``stablenew/user.toml`` if present).
    ``environ``: a mapping used instead of ``os.environ``.
    ``lenient``: record cross-family LoRAs and missing files as warnings instead of failing.
    ``stacks_dirs``: folders of ``<name>.lorastack.toml`` files, searched before the LoRA dirs.
    ``match_by_hash``: when no library profile matches a file by name, hash the file (sha256,
    cached by path, size and mtime in ``hash_cache_file`` or the user cache dir) and match by
    ``sha256`` / ``autov2``. Off by default: ``build()`` never hashes unless asked to.

    One builder may be shared by threads: ``build()`` keeps no per-call state on it, and
    its caches (parsed files, profiles, the model-file index) are locked.
    """

    def __init__(
        self,
        settings_file: Path | str | None = None,
        model_dirs: Sequence[Path | str] = (),
        lora_dirs: Sequence[Path | str] = (),
        user_file: Path | str | None = None,
        env_prefix: str = "STABLENEW",
        environ: Mapping[str, str] | None = None,
        profile_dirs: Sequence[Path | str] | None = None,
        lenient: bool = False,
        stacks_dirs: Sequence[Path | str] = (),
        match_by_hash: bool = False,
        hash_cache_file: Path | str | None = None,
    ) -> None:
        self.settings_file = Path(settings_file) if settings_file else default_settings_file()
        self.model_dirs = [Path(d) for d in model_dirs]
        self.lora_dirs = [Path(d) for d in lora_dirs]
        self.profile_dirs = [profiles_dir()] if profile_dirs is None else [Path(d) for d in profile_dirs]
        self.user_file = Path(user_file) if user_file else None
        self.env_prefix = env_prefix.rstrip("_")
        self.environ = environ
        self.lenient = lenient
        self.stacks_dirs = [Path(d) for d in stacks_dirs]
        self._models = FileIndex(self.model_dirs, "model")
        self._loras = FileIndex(self.lora_dirs, "LoRA")
        # Parsed files are shared by every builder of the process (keyed by path + stat, bounded);
        # the loaders look their functions up when called, so a patched module global applies.
        self._settings_docs: FileCache[Document] = shared_cache(
            "settings", lambda p: read_document(p, max_bytes=SETTINGS_MAX_BYTES)
        )
        self._user_docs: FileCache[Document] = shared_cache(
            "user", lambda p: read_document(p, max_bytes=DEFAULT_MAX_BYTES)
        )
        self._model_profiles: FileCache[ModelProfile | None] = shared_cache(
            "model_profiles", lambda p: load_model_profile(p)
        )
        self._lora_profiles: FileCache[LoraProfile | None] = shared_cache(
            "lora_profiles", lambda p: load_lora_profile(p)
        )
        self._stacks: FileCache[StackFile] = shared_cache(
            "stacks",
            lambda p: parse_stack(p.name.removesuffix(STACK_SUFFIX), read_document(p, max_bytes=DEFAULT_MAX_BYTES)),
        )
        self._learned: FileCache[LearnedProfile | None] = shared_cache("learned", lambda p: load_learned_profile(p))
        self._headers: FileCache[ForeignPriors] = shared_cache("headers", lambda p: priors_from_safetensors(p))
        self._lora_keys: FileCache[LoraInspection] = shared_cache("lora_keys", lambda p: inspect_lora(p))
        self._foreign = shared("foreign", lambda: ForeignReader(self._headers))
        # Combined priors of unchanged inputs (the same cached objects) are reused, not rebuilt.
        self._priors = shared("priors", IdentityMemo)
        self.match_by_hash = match_by_hash
        self.hash_cache_file = Path(hash_cache_file) if hash_cache_file else None
        self._hash_cache: HashCache | None = None
        self._library_lock = threading.Lock()
        self._library: ProfileLibrary | None = None

    def build(
        self,
        model: str | None = None,
        loras: Sequence[str] = (),
        overrides: Mapping[str, Any] | None = None,
        preset_id: str | None = None,
        *,
        lora_stack: str | None = None,
        stage: Stage = "txt2img",
        lenient: bool | None = None,
    ) -> PipelineConfig:
        """Build one validated config for ``stage``.

        ``model`` and ``loras`` are call-time choices (the ``overrides`` layer); without
        ``model`` the model a lower layer names is used. ``lora_stack`` names a
        ``<name>.lorastack.toml``; its entries whose ``applies_to`` holds ``stage`` join the
        LoRAs. Raises ConfigError (with file, key path and line) for any bad input.
        """
        lenient = self.lenient if lenient is None else lenient
        if stage not in STAGES:
            raise ConfigError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
        environ = os.environ if self.environ is None else self.environ
        defaults = defaults_layer(self._settings_docs.get(self.settings_file))
        user, legacy = self._user_layer(environ)
        env = env_layers(environ, self.env_prefix)
        call = overrides_layer(overrides, model, loras)
        chosen_model, named = _selection([defaults, user, *env, call])

        stack = self._compose(lora_stack, legacy, lenient)
        plan = plan_loras(stack, stage, named, self.lora_dirs, self._loras.find, lenient=lenient)
        found = self._find_profiles(chosen_model, plan, lenient)
        self._check_headers(found, plan, lenient)
        suggestion = self._suggest(found, preset_id, chosen_model)
        if suggestion is not None and found.learned is not None:
            found.notes += evidence_notes(found.learned, suggestion.preset_id)
        if found.model is not None:
            profile_layer = model_profile_layer(found.model, suggestion, found.vae, tuple(found.notes))
        else:
            profile_layer = no_model_profile_layer("; ".join(found.notes) or "no model selected")
        if suggestion is not None and found.model is not None:
            log.info(
                "Using model profile preset %s (source=%s) for %s%s",
                suggestion.preset_id,
                suggestion.source,
                found.model.model_name,
                "".join(f" + {lora.name}" for lora in plan.loras),
            )
        selections = self._lora_selections(found, suggestion, plan)
        if suggestion is not None and found.learned is not None:
            for selection in selections:
                if selection.choice.rule == "preset_overlay":
                    found.lora_notes += evidence_notes(found.learned, suggestion.preset_id, selection.name)
        dropped = {ex.entry.entry.name.casefold() for ex in plan.excluded}
        # LoRAs another layer names although the stack excluded them are declared after the stack.
        excluded = {p.name.casefold() for p in plan.loras if p.entry is None and p.name.casefold() in dropped}
        preset = (suggestion.preset_id or "", suggestion.preset_index) if suggestion else None
        early = [sel for sel in selections if sel.name.casefold() not in excluded]
        late = [sel for sel in selections if sel.name.casefold() in excluded]
        layers = [defaults, profile_layer, lora_overlays_layer(early, found.model, preset, tuple(found.lora_notes))]
        if stack is not None:
            resolved = {id(p.entry): p.path for p in plan.loras if p.entry is not None}
            layers += stack_layers(stack.steps, resolved, stage, stack.name, tuple(plan.notes))
        if late:
            layers.append(lora_overlays_layer(late, found.model, preset))
        layers += [user, *env, call]
        merged, history = merge_layers(layers)
        check_only_resolved_paths(history)
        normalize_config(merged, history)
        config = validate(merged, history)
        leaves = dict(iter_leaves(config.model_dump()))
        provenance = Provenance(history, leaves, _SCHEMA_DEFAULT, SECRET_LEAVES)
        base_type = found.model.base_type if found.model is not None else "unknown"
        warnings = plan.warnings + found.warnings
        config._report = BuildReport(provenance, layer_summaries(layers, history), warnings, stage, base_type, lenient)
        return config

    def presets(self, model: str, loras: Sequence[str] = (), *, lenient: bool | None = None) -> list[PresetCandidate]:
        """Every candidate preset of ``model`` (sidecar, foreign, library and learned ones), in
        the order ``build()`` prefers them: the first is the one it picks, each says why, with
        its rating, source, file and line, runs observed and the LoRA weights it gives ``loras``."""
        lenient = self.lenient if lenient is None else lenient
        plan = plan_loras(None, "txt2img", list(loras), self.lora_dirs, self._loras.find, lenient=lenient)
        found = self._find_profiles(model, plan, lenient)
        if found.model is None:
            raise ConfigError(f"model {model!r} has no profile, so no presets; " + "; ".join(found.notes))
        usable = [p for p in found.loras.values() if p is not None]
        return rank_candidates(found.model, usable, found.learned)

    # -- layers -------------------------------------------------------------------------

    def _user_layer(self, environ: Mapping[str, str]) -> tuple[Layer, LocatedEntry | None]:
        """The user file's layer, and its legacy flat ``lora``/``lora_scale`` keys promoted to a
        one-entry stack (they are not config keys, so they leave the layer's data)."""
        path, required, how = locate_user_file(self.user_file, environ, self.env_prefix)
        if path is None:
            return no_user_file_layer(how), None
        if not required and not path.is_file():
            return no_user_file_layer(str(path)), None
        document = self._user_docs.get(path)
        if not any(key in document.data for key in LEGACY_KEYS):
            return user_file_layer(document), None
        return user_file_layer(document, without=LEGACY_KEYS), promote_legacy(document, document.data)

    def _compose(self, name: str | None, legacy: LocatedEntry | None, lenient: bool) -> ComposedStack | None:
        if name is not None and legacy is not None:
            raise legacy.document.error(
                ("lora",) if "lora" in legacy.document.data else ("lora_scale",),
                f"legacy 'lora'/'lora_scale' keys and the LoRA stack {name!r} together; pick one schema",
            )
        if legacy is not None:
            return ComposedStack.single("(legacy lora keys)", legacy)
        if name is None:
            return None
        directories = [*self.stacks_dirs, *self.lora_dirs]
        return compose_stack(name, lambda stack: self._stacks.get(find_stack(stack, directories)), lenient=lenient)

    # -- profiles -----------------------------------------------------------------------

    def _profile_library(self) -> ProfileLibrary:
        with self._library_lock:
            if self._library is None:
                self._library = ProfileLibrary(self.profile_dirs)
            return self._library

    def _find_profiles(self, model: str | None, plan: LoraPlan, lenient: bool) -> _Profiles:
        found = _Profiles()
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
        for lora in plan.loras:
            found.loras[lora.name] = self._lora_profile(lora.name, lora.path, found, lenient) if lora.path else None
        if found.model is not None:
            for name, profile in found.loras.items():
                issue = check_lora_compatibility(profile, found.model) if profile else None
                if issue is None or profile is None:
                    continue
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

    def _check_headers(self, found: _Profiles, plan: LoraPlan, lenient: bool) -> None:
        """Can each LoRA load on the model? Read the safetensors headers (only the headers) and
        compare architecture families. Unreadable headers and cross-family LoRAs are errors, or
        warnings when ``lenient``."""
        problems: list[str] = []

        def header_base(path: Path | None) -> tuple[str, str] | None:
            if path is None or path.suffix.lower() != ".safetensors":
                return None
            try:
                priors = self._headers.get(path)
            except MetadataError as exc:
                problems.append(f"cannot check whether it loads: {exc}")
                return None
            if priors.base_type is None or priors.base_type.value == "unknown":
                return None
            return str(priors.base_type.value), priors.base_type.key

        model_base: tuple[str, str] | None = None
        if found.model is not None and found.model.base_type != "unknown":
            model_base = (found.model.base_type, "its profile")
        else:
            model_base = header_base(found.checkpoint)
        for lora in plan.loras:
            self._check_keys(lora.name, lora.path, model_base, found, problems)
            lora_base = header_base(lora.path)
            if lora_base is None or model_base is None:
                continue
            profile = found.loras.get(lora.name)
            if profile is not None and profile.target_base_type == lora_base[0]:
                continue  # the profile check above already compared these base types
            verdict = lora_compatibility(lora_base[0], model_base[0])
            if verdict == "incompatible":
                problems.append(
                    f"LoRA {lora.name!r} is {lora_base[0]} by its header ({lora_base[1]}) and the model is "
                    f"{model_base[0]} (by {model_base[1]}): another architecture family, it cannot load"
                )
            elif verdict == "finetune":
                found.warnings.append(
                    f"LoRA {lora.name!r} is {lora_base[0]} by its header; the model is {model_base[0]} "
                    "(same family: it loads but may look off)"
                )
        if problems and not lenient:
            raise ConfigErrors(problems, title="LoRA check failed (lenient mode records these as warnings):")
        found.warnings += problems

    def _check_keys(
        self, name: str, path: Path | None, model: tuple[str, str] | None, found: _Profiles, problems: list[str]
    ) -> None:
        """Will the WebUI recognise the LoRA's tensor names, and do they fit the model's family?"""
        if path is None:
            return
        if path.suffix.lower() != ".safetensors":
            found.lora_notes.append(f"LoRA {name!r}: key format not checked (not a .safetensors file)")
            return
        try:
            inspection = self._lora_keys.get(path)
        except MetadataError:
            return  # the header check reports the unreadable header
        verdict = key_check(name, inspection, model[0] if model else None)
        problems += [verdict.problem] if verdict.problem else []
        found.warnings += [verdict.warning] if verdict.warning else []
        found.lora_notes += [verdict.note] if verdict.note else []

    def _model_profile(self, checkpoint: Path, found: _Profiles, lenient: bool) -> ModelProfile | None:
        """The checkpoint's priors: its sidecar > foreign metadata beside it > the profile library."""
        stem = model_stem(checkpoint.name)
        names = folder_names(checkpoint.parent)
        sidecar_path = find_sidecar(checkpoint, MODEL_SIDECAR_SUFFIXES, names)
        sidecar = self._model_profiles.get(sidecar_path) if sidecar_path else None
        foreign = self._read_foreign(checkpoint, names, found, lenient)
        library = None
        if not (sidecar and sidecar.recommended_presets and sidecar.base_type != "unknown"):
            library = self._library_for(found, lenient).model(stem) or self._by_hash(checkpoint, "model")
        shown = str(sidecar_path or sidecar_candidates(checkpoint, MODEL_SIDECAR_SUFFIXES)[0])
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

    def _lora_profile(self, name: str, lora_file: Path, found: _Profiles, lenient: bool) -> LoraProfile | None:
        """The LoRA's priors: its sidecar > foreign metadata beside it > the profile library."""
        stem = model_stem(lora_file.name)
        names = folder_names(lora_file.parent)
        sidecar_path = find_sidecar(lora_file, LORA_SIDECAR_SUFFIXES, names)
        sidecar = self._lora_profiles.get(sidecar_path) if sidecar_path else None
        foreign = self._read_foreign(lora_file, names, found, lenient)
        library = None
        if not (sidecar and sidecar.recommended_weights and sidecar.target_base_type != "unknown"):
            library = self._library_for(found, lenient).lora(stem) or self._by_hash(lora_file, "lora")
        shown = str(sidecar_path or sidecar_candidates(lora_file, LORA_SIDECAR_SUFFIXES)[0])
        priors = self._priors.call(combine_lora_priors, stem, sidecar, foreign, library, sidecar_path=shown)
        found.warnings += priors.problems
        if priors.profile is None:
            found.lora_notes.append(
                f"no profile found for LoRA {name!r}; looked for: " + ", ".join(self._looked(lora_file, lora=True))
            )
        else:
            found.lora_notes.append(priors.explain(f"LoRA {name!r}"))
        return priors.profile

    def _library_for(self, found: _Profiles, lenient: bool) -> ProfileLibrary:
        """The profile library, consulted only when a sidecar leaves an aspect open; its broken
        files fail the build then (or are warnings when lenient)."""
        library = self._profile_library()
        if library.problems and not lenient:
            raise ConfigErrors([str(p) for p in library.problems], title="unreadable profiles in the profile library:")
        found.warnings += [
            f"ignored unreadable library profile: {p}" for p in library.problems if str(p) not in str(found.warnings)
        ]
        return library

    def _read_foreign(
        self, file: Path, names: frozenset[str] | None, found: _Profiles, lenient: bool
    ) -> list[ForeignPriors]:
        priors, problems = self._foreign.read(file, names)
        if problems and not lenient:
            raise ConfigErrors(
                [str(problem) for problem in problems],
                title="unreadable metadata beside a model file (lenient mode records these as warnings):",
            )
        found.warnings += [f"ignored unreadable metadata: {problem}" for problem in problems]
        return priors

    def _by_hash(self, file: Path, kind: str) -> Any:
        if not self.match_by_hash:
            return None
        hashes = self._hashes()
        digest = hashes.sha256(file)  # FileError when the file cannot be read
        hashes.save()  # a cache that cannot be saved is logged, never fatal
        library = self._profile_library()
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
        looked += self._profile_library().searched()
        if not self.match_by_hash:
            looked.append("(matching by hash is off)")
        return looked

    def _suggest(self, found: _Profiles, preset_id: str | None, model: str | None) -> SuggestedPreset | None:
        if found.model is None:
            if preset_id is not None:
                raise ConfigError(f"preset {preset_id!r} was asked for, but model {model!r} has no profile")
            return None
        usable = [p for p in found.loras.values() if p is not None]
        suggestion = suggest_preset_for(found.model, usable, preset_id)
        if suggestion is None:
            found.notes.append(f"the profile of {found.model.model_name!r} has no presets")
        return suggestion

    def _lora_selections(
        self, found: _Profiles, suggestion: SuggestedPreset | None, plan: LoraPlan
    ) -> list[LoraSelection]:
        preset = None
        if suggestion is not None and found.model is not None:
            preset = found.model.recommended_presets[suggestion.preset_index]
        selections = []
        for lora in plan.loras:
            profile = found.loras.get(lora.name)
            choice = None
            if suggestion is not None and profile is not None:
                choice = suggestion.lora_weight_choices.get(profile.lora_name)
            if choice is None:
                choice = choose_lora_weight(lora.name, profile, found.model, preset)
            name = _spelling(lora.name, lora.path)
            selections.append(LoraSelection(name, choice, profile, lora.path if lora.entry is None else None))
        return selections


def _selection(layers: Sequence[Layer]) -> tuple[str | None, list[str]]:
    """The model and LoRAs the non-profile layers name (later layers win, names fold case
    as the merge folds them)."""
    model: str | None = None
    names: list[str] = []
    casing = KeyCasing()
    for layer in layers:
        value = layer.data.get("model")
        if isinstance(value, str):
            model = value
        table = layer.data.get("loras")
        if isinstance(table, Mapping):
            if len(table) > MAX_TABLE_KEYS:  # bounds the work of every later step per LoRA
                raise origin_error(
                    layer.origin_of(("loras",)), "loras", f"names {len(table)} LoRAs; at most {MAX_TABLE_KEYS}"
                )
            for name in map(str, table):
                if casing.find(name) is None:
                    casing.add(name)
                    names.append(name)
    return model, names


def _base_source(profile: ModelProfile | LoraProfile, key: str) -> str:
    """Where a profile's base type came from, for messages."""
    foreign = profile.key_origin((key,))
    if foreign is not None:
        return f"{foreign.rule} in {foreign.source}"
    return f"the profile {profile.document.path}" if profile.document else "its profile"


def _spelling(name: str, path: Path | None) -> str:
    """A LoRA is spelled as its file's stem when the name differs from it only in case."""
    if path is not None:
        stem = model_stem(path.name)
        if stem != name and stem.casefold() == name.casefold():
            return stem
    return name
