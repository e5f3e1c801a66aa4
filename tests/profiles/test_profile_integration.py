"""The controller adapter of PR-LEARN-PROFILES-001, over the real builder."""

from __future__ import annotations

import pytest

from config_layers import build_pipeline_config_with_profiles
from config_layers.builder import ConfigBuilder
from config_layers.profiles import SuggestedPreset
from config_layers.schema.config import PipelineConfig
from tests.conftest import Library

SUGGESTED = SuggestedPreset(
    sampler="DPM++ 2M",
    scheduler="Karras",
    steps=33,
    cfg=6.5,
    resolution=(832, 1216),
    lora_weights={"PerfectEyesXL": 0.45},
    source="internet_prior",
    preset_id="rvxl_photoreal_default",
)


@pytest.fixture
def patched_builder(rich_library: Library, monkeypatch: pytest.MonkeyPatch) -> ConfigBuilder:
    """A builder whose suggestion is the fixed SUGGESTED preset (the spec's mocked suggest_preset_for)."""
    import config_layers.builder as builder_module

    def fake_suggest(model_profile: object, lora_profiles: object, preset_id: object = None) -> SuggestedPreset:
        from config_layers.profiles.suggest import LoraWeightChoice

        SUGGESTED.lora_weight_choices = {
            "PerfectEyesXL": LoraWeightChoice(0.45, "preset_overlay", None, (), "mocked"),
        }
        return SUGGESTED

    monkeypatch.setattr(builder_module, "suggest_preset_for", fake_suggest)
    return rich_library.builder()


def test_build_pipeline_config_with_profiles_applies_suggested_preset(patched_builder: ConfigBuilder) -> None:
    cfg = build_pipeline_config_with_profiles("RealVisXL_V4.0", ["PerfectEyesXL"], {}, builder=patched_builder)
    t = cfg.txt2img
    assert (t.sampler_name, t.scheduler, t.steps, t.cfg_scale) == ("DPM++ 2M", "Karras", 33, 6.5)
    assert (t.width, t.height) == (832, 1216)
    assert cfg.loras["PerfectEyesXL"].weight == 0.45
    assert cfg.provenance["txt2img.steps"].layer == "model_profile"
    assert cfg.provenance["txt2img.steps"].source.endswith("RealVisXL_V4.0.modelprofile.toml#rvxl_photoreal_default")


def test_build_pipeline_config_with_profiles_respects_user_overrides(patched_builder: ConfigBuilder) -> None:
    cfg = build_pipeline_config_with_profiles(
        "RealVisXL_V4.0",
        ["PerfectEyesXL"],
        {"txt2img": {"cfg_scale": 4.0, "steps": 12}, "loras": {"PerfectEyesXL": {"weight": 0.9}}},
        builder=patched_builder,
    )
    assert (cfg.txt2img.cfg_scale, cfg.txt2img.steps) == (4.0, 12)
    assert cfg.loras["PerfectEyesXL"].weight == 0.9
    assert cfg.txt2img.sampler_name == "DPM++ 2M"  # not overridden: still the preset's
    for key in ("txt2img.cfg_scale", "txt2img.steps", "loras.PerfectEyesXL.weight"):
        assert cfg.provenance[key].layer == "overrides"
    assert [c.origin.layer for c in cfg.provenance["txt2img.steps"].chain] == ["defaults", "model_profile"]


def test_build_pipeline_config_with_profiles_falls_back_without_profiles(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    import config_layers.builder as builder_module

    library.model("RealVisXL_V4.0", "kind = 'model_profile'\nversion = 1\nmodel_name = 'RealVisXL_V4.0'\n")
    library.lora("PerfectEyesXL")
    monkeypatch.setattr(builder_module.ConfigBuilder, "_model_profile", lambda self, checkpoint, found, lenient: None)
    cfg = build_pipeline_config_with_profiles("RealVisXL_V4.0", ["PerfectEyesXL"], {}, builder=library.builder())
    defaults = PipelineConfig()
    assert cfg.txt2img.sampler_name == defaults.txt2img.sampler_name == "Euler a"
    assert cfg.txt2img.steps == defaults.txt2img.steps == 20
    assert (cfg.txt2img.width, cfg.txt2img.height) == (512, 512)
    assert cfg.loras["PerfectEyesXL"].weight == 0.6
    assert cfg.provenance["loras.PerfectEyesXL.weight"].origin.rule.startswith("default")


def test_without_any_sidecar_the_provenance_says_where_it_looked(library: Library) -> None:
    library.model("Plain")
    cfg = library.builder().build(model="Plain", overrides={"txt2img": {"steps": 9}})
    assert cfg.txt2img.steps == 9 and cfg.txt2img.sampler_name == "Euler a"
    (model_layer,) = [s for s in cfg.report.layers if s.name == "model_profile"]
    assert "no profile found for model 'Plain'" in model_layer.notes[0]
    assert "Plain.modelprofile.toml" in model_layer.notes[0] and "Plain.modelprofile.json" in model_layer.notes[0]


def test_adapter_defaults_to_the_shipped_example_library() -> None:
    cfg = build_pipeline_config_with_profiles("RealVisXL_V4.0", ["PerfectEyesXL"], {"txt2img.steps": 31})
    assert cfg.txt2img.sampler_name == "DPM++ 2M" and cfg.txt2img.steps == 31
