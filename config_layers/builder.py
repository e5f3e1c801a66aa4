"""ConfigBuilder: the pipeline of one build, step by step: read the input layers, resolve the
model and LoRA files (``resolve/``), plan (``plan.py``), compose the layers in ``LAYER_ORDER``
(``layers/compose.py``), merge and normalize (``pipeline/``), validate (``schema/messages.py``)
and keep the provenance (``provenance/``).

It reads the settings, user and stack files and the environment (a mapping can be handed in
instead of ``os.environ``); the resolver reads everything about model and LoRA files.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config_layers.bounds import SETTINGS_MAX_BYTES
from config_layers.cache import FileCache, shared_cache
from config_layers.discovery.files import FileIndex
from config_layers.discovery.listing import ListingStore
from config_layers.documents import DEFAULT_MAX_BYTES, Document, read_document
from config_layers.errors import ConfigError
from config_layers.layers.base import Layer
from config_layers.layers.compose import compose_layers
from config_layers.layers.defaults import defaults_layer
from config_layers.layers.env import env_layers
from config_layers.layers.lora_overlays import check_only_resolved_paths
from config_layers.layers.overrides import overrides_layer
from config_layers.layers.user_file import read_user_layer
from config_layers.pipeline.memo import BuildMemo
from config_layers.pipeline.merge import merge_layers
from config_layers.pipeline.normalize import normalize_config
from config_layers.plan import make_plan, selection
from config_layers.provenance.report import BuildReport, build_report
from config_layers.resolve.lora_files import LoraPlan, plan_loras
from config_layers.resolve.resolver import Found, Resolver
from config_layers.schema.config import PipelineConfig
from config_layers.schema.messages import validate
from config_layers.shipped import default_settings_file, profiles_dir
from config_layers.stacks import (
    STACK_SUFFIX,
    STAGES,
    ComposedStack,
    StackFile,
    Stage,
    parse_stack,
    stack_for,
)

if TYPE_CHECKING:
    from config_layers.learning.presets import PresetCandidate

log = logging.getLogger("config_layers")


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
    ``cache_dir``: where folder listings of the model and LoRA dirs are kept between processes
    (the user cache dir's ``config_layers`` by default), so a new process need not list a large
    library again; a folder is listed again as soon as it changes.

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
        cache_dir: Path | str | None = None,
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
        self.cache_dir = Path(cache_dir) if cache_dir else None
        listings = ListingStore(self.cache_dir / "listings" if self.cache_dir else None)
        self._models = FileIndex(self.model_dirs, "model", listings)
        self._loras = FileIndex(self.lora_dirs, "LoRA", listings)
        # Parsed files are shared by every builder of the process (keyed by path + stat, bounded);
        # the loaders look their functions up when called, so a patched module global applies.
        self._settings_docs: FileCache[Document] = shared_cache(
            "settings", lambda p: read_document(p, max_bytes=SETTINGS_MAX_BYTES)
        )
        self._user_docs: FileCache[Document] = shared_cache(
            "user", lambda p: read_document(p, max_bytes=DEFAULT_MAX_BYTES)
        )
        self._stacks: FileCache[StackFile] = shared_cache(
            "stacks",
            lambda p: parse_stack(p.name.removesuffix(STACK_SUFFIX), read_document(p, max_bytes=DEFAULT_MAX_BYTES)),
        )
        self.match_by_hash = match_by_hash
        self.hash_cache_file = Path(hash_cache_file) if hash_cache_file else None
        self._resolver = Resolver(
            self._models, self.profile_dirs, match_by_hash=match_by_hash, hash_cache_file=self.hash_cache_file
        )

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
        user, legacy = read_user_layer(self.user_file, environ, self.env_prefix, self._user_docs)
        env = env_layers(environ, self.env_prefix)
        call = overrides_layer(overrides, model, loras)
        chosen_model, named = selection([defaults, user, *env, call])

        stack = stack_for(lora_stack, legacy, [*self.stacks_dirs, *self.lora_dirs], self._stacks, lenient=lenient)
        lora_plan = plan_loras(stack, stage, named, self.lora_dirs, self._loras, lenient=lenient)
        files = [(lora.name, lora.path) for lora in lora_plan.loras]
        found = self._resolver.find(chosen_model, files, lenient)
        self._resolver.check_loads(found, files, lenient)
        # Everything read is in hand; the rest is pure, and remembered by what was read.
        reads = (defaults, user, env, call, found, lora_plan, stack)
        dump, report, chosen = _BUILDS.call(_compose, *reads, stage, preset_id, chosen_model, lenient, os.getcwd())
        if chosen is not None:
            log.info("Using model profile preset %s (source=%s) for %s%s", *chosen)
        # Each caller gets its own config (the remembered one is never handed out).
        config = PipelineConfig.model_validate(dump)
        config._report = dataclasses.replace(report, layers=list(report.layers), warnings=list(report.warnings))
        return config

    def presets(self, model: str, loras: Sequence[str] = (), *, lenient: bool | None = None) -> list[PresetCandidate]:
        """Every candidate preset of ``model`` (sidecar, foreign, library and learned ones), in
        the order ``build()`` prefers them: the first is the one it picks, each says why, with
        its rating, source, file and line, runs observed and the LoRA weights it gives ``loras``."""
        from config_layers.learning.presets import rank_candidates  # only ``presets`` ranks them all

        lenient = self.lenient if lenient is None else lenient
        plan = plan_loras(None, "txt2img", list(loras), self.lora_dirs, self._loras, lenient=lenient)
        found = self._resolver.find(model, [(lora.name, lora.path) for lora in plan.loras], lenient)
        if found.model is None:
            raise ConfigError(f"model {model!r} has no profile, so no presets; " + "; ".join(found.notes))
        usable = [p for p in found.loras.values() if p is not None]
        return rank_candidates(found.model, usable, found.learned)


def _leaves(data: Any) -> int:
    return sum(_leaves(value) for value in data.values()) if isinstance(data, dict) else 1


# A build's entry holds ~0.5-1 KiB per config leaf (its data and provenance): about 40 MiB at most.
_BUILDS = BuildMemo(weigh=lambda result: _leaves(result[0]), max_weight=50_000)


def _compose(
    defaults: Layer,
    user: Layer,
    env: list[Layer],
    call: Layer,
    found: Found,
    lora_plan: LoraPlan,
    stack: ComposedStack | None,
    stage: Stage,
    preset_id: str | None,
    chosen_model: str | None,
    lenient: bool,
    cwd: str,  # origins shown relative to it are part of the result
) -> tuple[dict[str, Any], BuildReport, tuple[str | None, str, str, str] | None]:
    """The pure part of a build: plan, layers, merge, normalization, validation, provenance.
    Returns the config's data, its report and the preset choice to log."""
    plan = make_plan(found, lora_plan, stack, stage, preset_id, chosen_model)
    chosen = None
    if plan.suggestion is not None and found.model is not None:
        loras = "".join(f" + {lora.name}" for lora in lora_plan.loras)
        chosen = (plan.suggestion.preset_id, plan.suggestion.source, found.model.model_name, loras)
    layers = compose_layers(defaults, user, env, call, plan)
    merged, history = merge_layers(layers)
    check_only_resolved_paths(history)
    normalize_config(merged, history)
    config = validate(merged, history)
    report = build_report(config, history, layers, plan.warnings, stage, plan.base_type, lenient)
    return config.model_dump(), report, chosen
