"""What a build decides before composing its layers: :func:`make_plan`, from the LoRA files
(``resolve.lora_files``) and the profiles the resolver found, picks the preset, each LoRA's
weight and the order LoRAs are declared in. A pure function: no files, no caches."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from config_layers.bounds import MAX_TABLE_KEYS
from config_layers.errors import ConfigError
from config_layers.layers.base import Layer
from config_layers.layers.lora_overlays import LoraSelection
from config_layers.learning.presets import evidence_notes
from config_layers.names import model_stem
from config_layers.pipeline.merge import KeyCasing
from config_layers.profiles.suggest import SuggestedPreset, choose_lora_weight, suggest_preset_for
from config_layers.provenance.origin import origin_error
from config_layers.resolve.lora_files import LoraPlan
from config_layers.resolve.resolver import Found
from config_layers.stacks import ComposedStack, Stage


@dataclass(frozen=True)
class BuildPlan:
    """What a build decided before composing its layers, from already-read inputs: the model
    and LoRA profiles found, the preset chosen, each LoRA's weight (chosen once), which LoRAs
    are declared before the stack's layers and which after, and the notes and warnings."""

    stage: Stage
    found: Found
    loras: LoraPlan
    stack: ComposedStack | None
    suggestion: SuggestedPreset | None
    #: LoRAs declared by the profile part before the stack; ``late``: after it (a LoRA another
    #: layer names although the stack excluded it: the explicit name wins).
    early: tuple[LoraSelection, ...]
    late: tuple[LoraSelection, ...]
    notes: tuple[str, ...]
    lora_notes: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def preset(self) -> tuple[str, int] | None:
        """The chosen preset's (id, index) in the model profile."""
        if self.suggestion is None:
            return None
        return self.suggestion.preset_id or "", self.suggestion.preset_index

    @property
    def base_type(self) -> str:
        return self.found.model.base_type if self.found.model is not None else "unknown"


def make_plan(
    found: Found,
    loras: LoraPlan,
    stack: ComposedStack | None,
    stage: Stage,
    preset_id: str | None,
    model: str | None,
) -> BuildPlan:
    """The build's decisions as a pure function of what was found (no files, no caches):
    the preset (``preset_id`` when given), each LoRA's weight, the early/late split."""
    notes, lora_notes = list(found.notes), list(found.lora_notes)
    suggestion = _suggest(found, preset_id, model, notes)
    if suggestion is not None and found.learned is not None:
        notes += evidence_notes(found.learned, suggestion.preset_id)
    selections = _selections(found, suggestion, loras)
    if suggestion is not None and found.learned is not None:
        for selection in selections:
            if selection.choice.rule == "preset_overlay":
                lora_notes += evidence_notes(found.learned, suggestion.preset_id, selection.name)
    dropped = {ex.entry.entry.name.casefold() for ex in loras.excluded}
    late_names = {p.name.casefold() for p in loras.loras if p.entry is None and p.name.casefold() in dropped}
    return BuildPlan(
        stage=stage,
        found=found,
        loras=loras,
        stack=stack,
        suggestion=suggestion,
        early=tuple(sel for sel in selections if sel.name.casefold() not in late_names),
        late=tuple(sel for sel in selections if sel.name.casefold() in late_names),
        notes=tuple(notes),
        lora_notes=tuple(lora_notes),
        warnings=tuple(loras.warnings + found.warnings),
    )


def _suggest(found: Found, preset_id: str | None, model: str | None, notes: list[str]) -> SuggestedPreset | None:
    if found.model is None:
        if preset_id is not None:
            raise ConfigError(f"preset {preset_id!r} was asked for, but model {model!r} has no profile")
        return None
    usable = [p for p in found.loras.values() if p is not None]
    suggestion = suggest_preset_for(found.model, usable, preset_id, [issue for _, issue in found.compatibility])
    if suggestion is None:
        notes.append(f"the profile of {found.model.model_name!r} has no presets")
    return suggestion


def _selections(found: Found, suggestion: SuggestedPreset | None, loras: LoraPlan) -> list[LoraSelection]:
    """Each LoRA with its weight: the suggestion already chose one for LoRAs with a profile;
    the rest get theirs here (so each LoRA's weight is chosen once)."""
    preset = None
    if suggestion is not None and found.model is not None:
        preset = found.model.recommended_presets[suggestion.preset_index]
    selections = []
    for lora in loras.loras:
        profile = found.loras.get(lora.name)
        choice = None
        if suggestion is not None and profile is not None:
            choice = suggestion.lora_weight_choices.get(profile.lora_name)
        if choice is None:
            choice = choose_lora_weight(lora.name, profile, found.model, preset)
        name = _spelling(lora.name, lora.path)
        selections.append(LoraSelection(name, choice, profile, lora.path if lora.entry is None else None))
    return selections


def _spelling(name: str, path: Path | None) -> str:
    """A LoRA is spelled as its file's stem when the name differs from it only in case."""
    if path is not None:
        stem = model_stem(path.name)
        if stem != name and stem.casefold() == name.casefold():
            return stem
    return name


def selection(layers: Sequence[Layer]) -> tuple[str | None, list[str]]:
    """The model and LoRAs the non-profile layers name (later layers win, names fold case
    as the merge folds them): what the plan is made for."""
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
