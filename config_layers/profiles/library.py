"""A library of profiles matched by name: the shipped ``profiles/`` folder, or the user's own."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from config_layers.errors import ConfigError, FileError
from config_layers.names import model_stem
from config_layers.profiles.loading import (
    LORA_SIDECAR_SUFFIXES,
    MODEL_SIDECAR_SUFFIXES,
    load_lora_profile,
    load_model_profile,
)
from config_layers.profiles.models import LoraProfile, ModelProfile, _Profile

_P = TypeVar("_P", bound=_Profile)


class ProfileLibrary:
    """Every profile below some folders, indexed by ``model_name``/``lora_name`` and aliases
    (compared as bare stems, case-folded). Read once, when first needed. A file that cannot
    be read is skipped and its error kept in ``problems``: the caller decides whether that
    fails a build (the default) or is a warning (lenient mode)."""

    def __init__(self, directories: Sequence[Path]) -> None:
        self.directories = list(directories)
        self._models: dict[str, ModelProfile] = {}
        self._loras: dict[str, LoraProfile] = {}
        self._model_hashes: dict[str, ModelProfile] = {}
        self._lora_hashes: dict[str, LoraProfile] = {}
        self.problems: list[ConfigError] = []
        for directory in self.directories:
            for path in sorted(directory.rglob("*")) if directory.is_dir() else ():
                try:
                    self._add(path)
                except ConfigError as exc:
                    self.problems.append(exc)

    def _add(self, path: Path) -> None:
        name = path.name.lower()
        if name.endswith(MODEL_SIDECAR_SUFFIXES):
            model = load_model_profile(path)
            if model is not None:
                _index(self._models, model, [model.model_name, *model.aliases])
                _index_hashes(self._model_hashes, model)
        elif name.endswith(LORA_SIDECAR_SUFFIXES):
            lora = load_lora_profile(path)
            if lora is not None:
                _index(self._loras, lora, [lora.lora_name, *lora.aliases])
                _index_hashes(self._lora_hashes, lora)

    def model(self, name: str) -> ModelProfile | None:
        return self._models.get(model_stem(name).casefold())

    def lora(self, name: str) -> LoraProfile | None:
        return self._loras.get(model_stem(name).casefold())

    def model_by_hash(self, sha256: str) -> ModelProfile | None:
        """The profile whose ``sha256`` (or Civitai ``autov2``, its first 10 hex digits) matches."""
        return self._model_hashes.get(sha256.lower()) or self._model_hashes.get(sha256[:10].lower())

    def lora_by_hash(self, sha256: str) -> LoraProfile | None:
        return self._lora_hashes.get(sha256.lower()) or self._lora_hashes.get(sha256[:10].lower())

    def searched(self) -> list[str]:
        return [f"profile library {d} (by name and aliases)" for d in self.directories]


def _index(index: dict[str, _P], profile: _P, names: list[str]) -> None:
    for name in names:
        key = model_stem(name).casefold()
        other = index.get(key)
        if other is not None and other is not profile:
            where = profile.document.path if profile.document else name
            theirs = other.document.path if other.document else "another profile"
            raise FileError(where, f"name {name!r} is already claimed by {theirs}")
        index[key] = profile


def _index_hashes(index: dict[str, _P], profile: _P) -> None:
    for digest in (profile.sha256, profile.autov2):
        if digest:
            index[digest.lower()] = profile
