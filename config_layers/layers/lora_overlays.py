"""Layer 3, ``lora_overlays``: each selected LoRA's weight, file and trigger.

Parts merged in this order, all recorded under the layer name ``lora_overlays``: the
profile part (weights by the most specific rule that has one, files found by name); then one
part per file of a named stack's chain (or the legacy flat keys), so a stack's ``scale`` wins
over a profile's prior and the provenance chain shows both; last, the profile part of LoRAs
another layer names although the stack excluded them (the explicit name wins).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config_layers.documents import format_key_path
from config_layers.layers.base import Layer, mapped_layer
from config_layers.layers.model_profile import profile_origin, profile_source
from config_layers.profiles.models import LoraProfile, ModelProfile
from config_layers.profiles.suggest import LoraWeightChoice
from config_layers.provenance.history import History
from config_layers.provenance.origin import KeyPath, Origin, origin_error
from config_layers.stacks import LocatedEntry, StackStep

TRIGGER_RULE = "trigger: every trigger phrase, joined with ', '"
LEGACY_RULE = "legacy: promoted from the flat lora/lora_scale keys (scale defaults to 1.0)"


@dataclass(frozen=True)
class LoraSelection:
    """One LoRA of the build with the weight chosen for it and, when found by name, its file."""

    name: str
    choice: LoraWeightChoice
    profile: LoraProfile | None
    path: Path | None = None


def lora_overlays_layer(
    selections: Sequence[LoraSelection],
    model_profile: ModelProfile | None,
    preset: tuple[str, int] | None,
    notes: tuple[str, ...] = (),
) -> Layer:
    """``loras.<name>.weight``, ``.trigger`` (the LoRA profile's trigger phrases, from its sidecar,
    else foreign metadata, else the library; a stack entry's ``trigger`` wins later) and ``.path``
    for LoRAs found by name; ``preset`` is (id, index)."""
    loras: dict[str, dict[str, Any]] = {}
    origins: dict[KeyPath, Origin] = {}
    sources: dict[str, None] = {}  # ordered and unique: one profile is the source of many LoRAs
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
        sources[origin.source] = None
        profile = selection.profile
        if profile is not None and profile.trigger_phrases:
            loras[selection.name]["trigger"] = ", ".join(profile.trigger_phrases)
            origins[("loras", selection.name, "trigger")] = profile_origin(
                "lora_overlays",
                profile,
                profile_source(profile, profile.lora_name),
                ("trigger_phrases",),
                TRIGGER_RULE,
            )
        if selection.path is not None:
            loras[selection.name]["path"] = str(selection.path)
            origins[("loras", selection.name, "path")] = Origin(
                "lora_overlays", str(selection.path), rule="found by name in the LoRA directories"
            )
    data = {"loras": loras} if loras else {}
    return mapped_layer("lora_overlays", data, origins, sources=tuple(sources), notes=notes)


def stack_layers(
    steps: Sequence[StackStep],
    resolved: Mapping[int, Path | None],
    stage: str,
    stack_name: str,
    notes: tuple[str, ...] = (),
) -> list[Layer]:
    """One layer per stack file of the chain, base first, each located in its file: it drops
    what it excludes, then declares its entries for ``stage`` (``loras.<name>.{weight,path,
    trigger}``). So ``explain loras.<name>`` shows an excluded entry, which file dropped it, and
    an entry added back. A stack file's prompt settings (``style_prompt`` …) are declared with
    its entries. ``resolved`` maps ``id(entry)`` to the file of each entry that is in
    the final stack."""
    layers = []
    for index, step in enumerate(steps):
        loras: dict[str, dict[str, Any]] = {}
        origins: dict[KeyPath, Origin] = {}
        for located in step.declares:
            if stage in located.entry.applies_to:
                _declare(loras, origins, located, resolved.get(id(located)))
        removals = tuple(
            (
                ("loras", exclusion.entry.entry.name),
                Origin(
                    "lora_overlays",
                    str(exclusion.by.path),
                    exclusion.key,
                    rule=f"excluded by stack {stack_name!r}",
                    _locate=exclusion.by.position,
                ),
            )
            for exclusion in step.excludes
        )
        source = str(step.document.path)
        data: dict[str, Any] = {"loras": loras} if loras else {}
        for key in step.prompt:
            data[key] = step.document.data[key]
            origins[(key,)] = Origin("lora_overlays", source, (key,), _locate=step.document.position)
        layer = mapped_layer(
            "lora_overlays",
            data,
            origins,
            sources=(source,),
            notes=notes if index == len(steps) - 1 else (),
        )
        layers.append(Layer(layer.name, layer.data, layer.origin_of, layer.sources, layer.notes, removals))
    return layers


def _declare(
    loras: dict[str, dict[str, Any]], origins: dict[KeyPath, Origin], located: LocatedEntry, path: Path | None
) -> None:
    entry = located.entry
    legacy = located.key[:1] == ("lora",)
    rule = LEGACY_RULE if legacy else None

    def origin(field: str) -> Origin:
        if not legacy:
            key: KeyPath = (*located.key, field)
        elif field == "scale" and "lora_scale" in located.document.data:
            key = ("lora_scale",)
        else:
            key = located.key
        return Origin("lora_overlays", located.stack, key, rule=rule, _locate=located.document.position)

    values: dict[str, Any] = {"weight": entry.scale}
    origins[("loras", entry.name, "weight")] = origin("scale")
    if path is not None:
        values["path"] = str(path)
        origins[("loras", entry.name, "path")] = origin("file")
    if entry.trigger is not None:
        values["trigger"] = entry.trigger
        origins[("loras", entry.name, "trigger")] = origin("trigger")
    loras[entry.name] = values


def check_only_resolved_paths(history: History) -> None:
    """``loras.<name>.path`` is the file the builder resolved inside the LoRA directories; a
    user-controlled layer setting it would bypass that confinement."""
    for path, assignments in history.items():
        if len(path) == 3 and path[0] == "loras" and path[2] == "path":
            for assignment in assignments:
                if assignment.layer.name != "lora_overlays":
                    raise origin_error(
                        assignment.origin,
                        format_key_path(path, plain=True),
                        "is resolved from the LoRA directories and cannot be set; name the file in a LoRA stack",
                    )
