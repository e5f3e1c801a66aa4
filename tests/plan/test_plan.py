"""make_plan is a pure function of what the resolver found: these tests build its inputs
directly (profiles as objects, no files, no patching)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config_layers.errors import ConfigError
from config_layers.plan import make_plan
from config_layers.profiles.models import LoraProfile, ModelProfile
from config_layers.resolve.lora_files import LoraPlan, PlannedLora
from config_layers.resolve.resolver import Found


def model_profile(presets: int = 1) -> ModelProfile:
    preset: dict[str, Any] = {
        "label": "Photoreal",
        "rating": "best",
        "source": "internet_prior",
        "sampler": "DPM++ 2M",
        "steps": 30,
        "cfg": 6.0,
        "resolution": [1024, 1024],
        "lora_overlays": [{"name": "Eyes", "weight": 0.45}],
    }
    return ModelProfile.model_validate(
        {
            "kind": "model_profile",
            "version": 1,
            "model_name": "Real",
            "base_type": "sdxl",
            "recommended_presets": [{**preset, "id": f"p{i}"} for i in range(presets)],
        }
    )


def lora_profile(name: str, weight: float) -> LoraProfile:
    return LoraProfile.model_validate(
        {
            "kind": "lora_profile",
            "version": 1,
            "lora_name": name,
            "target_base_type": "sdxl",
            "recommended_weights": [{"label": "default", "weight": weight, "rating": "good"}],
        }
    )


def test_the_preset_gives_its_lora_overlay_weight_and_a_plain_lora_its_own_weight() -> None:
    found = Found(model=model_profile(), loras={"Eyes": lora_profile("Eyes", 0.7), "Grain": lora_profile("Grain", 0.3)})
    loras = LoraPlan([PlannedLora("Eyes", Path("/l/Eyes.safetensors")), PlannedLora("Grain", None)])
    plan = make_plan(found, loras, None, "txt2img", None, "Real")
    assert plan.preset == ("p0", 0)
    weights = {sel.name: (sel.choice.weight, sel.choice.rule) for sel in plan.early}
    assert weights["Eyes"] == (0.45, "preset_overlay")
    assert weights["Grain"][0] == 0.3 and weights["Grain"][1] != "preset_overlay"
    assert plan.late == () and plan.base_type == "sdxl"


def test_a_named_preset_is_chosen_and_a_preset_without_a_model_profile_is_an_error() -> None:
    plan = make_plan(Found(model=model_profile(presets=2)), LoraPlan(), None, "txt2img", "p1", "Real")
    assert plan.preset == ("p1", 1)
    with pytest.raises(ConfigError, match="preset 'p1' was asked for, but model 'Real' has no profile"):
        make_plan(Found(), LoraPlan(), None, "txt2img", "p1", "Real")


def test_a_model_profile_without_presets_is_noted_and_the_found_notes_are_not_changed() -> None:
    found = Found(model=model_profile(presets=0), notes=["read Real.modelprofile.toml"])
    plan = make_plan(found, LoraPlan(), None, "txt2img", None, "Real")
    assert plan.preset is None
    assert plan.notes == ("read Real.modelprofile.toml", "the profile of 'Real' has no presets")
    assert found.notes == ["read Real.modelprofile.toml"]  # the plan copies, it does not append


def test_a_lora_is_spelled_as_its_file_when_the_name_differs_only_in_case() -> None:
    loras = LoraPlan([PlannedLora("eyes", Path("/l/Eyes.safetensors"))])
    plan = make_plan(Found(), loras, None, "txt2img", None, None)
    (selection,) = plan.early
    assert selection.name == "Eyes" and selection.path == Path("/l/Eyes.safetensors")


def test_warnings_of_the_lora_plan_come_before_the_resolvers() -> None:
    plan = make_plan(Found(warnings=["resolver"]), LoraPlan(warnings=["plan"]), None, "txt2img", None, None)
    assert plan.warnings == ("plan", "resolver")
