"""Layer 3, ``lora_overlays``: each selected LoRA's weight, by the most specific rule that has one."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from config_layers.layers.base import Layer, mapped_layer
from config_layers.layers.model_profile import profile_origin, profile_source
from config_layers.origin import KeyPath, Origin
from config_layers.profiles.models import LoraProfile, ModelProfile
from config_layers.profiles.suggest import LoraWeightChoice


@dataclass(frozen=True)
class LoraSelection:
    """One LoRA of the build with the weight chosen for it."""

    name: str
    choice: LoraWeightChoice
    profile: LoraProfile | None


def lora_overlays_layer(
    selections: Sequence[LoraSelection],
    model_profile: ModelProfile | None,
    preset: tuple[str, int] | None,
    notes: tuple[str, ...] = (),
) -> Layer:
    """``loras.<name>.weight`` for every selection; ``preset`` is the chosen (id, index)."""
    loras: dict[str, dict[str, float]] = {}
    origins: dict[KeyPath, Origin] = {}
    sources: list[str] = []
    for selection in selections:
        choice = selection.choice
        loras[selection.name] = {"weight": choice.weight}
        rule = f"{choice.rule}: {choice.detail}"
        origin: Origin
        if choice.profile == "lora" and selection.profile is not None:
            source = profile_source(selection.profile, selection.profile.lora_name)
            origin = profile_origin("lora_overlays", selection.profile, source, choice.key, rule)
        elif choice.profile == "model" and model_profile is not None and preset is not None:
            preset_id, index = preset
            source = f"{profile_source(model_profile, model_profile.model_name)}#{preset_id}"
            key = ("recommended_presets", index, *choice.key)
            origin = profile_origin("lora_overlays", model_profile, source, key, rule)
        else:
            origin = Origin("lora_overlays", "default LoRA weight", rule=rule)
        origins[("loras", selection.name, "weight")] = origin
        if origin.source not in sources:
            sources.append(origin.source)
    data = {"loras": loras} if loras else {}
    return mapped_layer("lora_overlays", data, origins, sources=tuple(sources), notes=notes)
