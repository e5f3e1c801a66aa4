"""The layer stack of one build, in ``LAYER_ORDER``: each layer's parts are put under its name
and the stack is read off in that order, so the order lives in one place (provenance/origin.py)."""

from __future__ import annotations

from collections.abc import Sequence

from config_layers.layers.base import Layer
from config_layers.layers.lora_overlays import lora_overlays_layer, stack_layers
from config_layers.layers.model_profile import model_profile_layer, no_model_profile_layer
from config_layers.plan import BuildPlan
from config_layers.provenance.origin import LAYER_ORDER, LayerName


def compose_layers(defaults: Layer, user: Layer, env: Sequence[Layer], call: Layer, plan: BuildPlan) -> list[Layer]:
    """Every layer of the build, lowest precedence first; the layers the plan makes (model
    profile, LoRA overlays with the stack's parts) between the read ones."""
    found = plan.found
    if found.model is not None:
        profile = model_profile_layer(found.model, plan.suggestion, found.vae, plan.notes)
    else:
        profile = no_model_profile_layer("; ".join(plan.notes) or "no model selected")
    overlays = [lora_overlays_layer(plan.early, found.model, plan.preset, plan.lora_notes)]
    stack = plan.stack
    if stack is not None:
        resolved = {id(p.entry): p.path for p in plan.loras.loras if p.entry is not None}
        overlays += stack_layers(stack.steps, resolved, plan.stage, stack.name, tuple(plan.loras.notes))
    if plan.late:
        overlays.append(lora_overlays_layer(plan.late, found.model, plan.preset))
    parts: dict[LayerName, Sequence[Layer]] = {
        "defaults": [defaults],
        "model_profile": [profile],
        "lora_overlays": overlays,
        "user_file": [user],
        "env": env,
        "overrides": [call],
    }
    return [layer for name in LAYER_ORDER for layer in _named(name, parts[name])]


def _named(name: LayerName, layers: Sequence[Layer]) -> Sequence[Layer]:
    wrong = [layer.name for layer in layers if layer.name != name]
    if wrong:  # a layer module naming itself wrongly would put its values at the wrong precedence
        raise ValueError(f"layer {wrong[0]!r} was composed in the place of {name!r}")
    return layers
