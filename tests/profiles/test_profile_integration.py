"""The controller adapter of PR-LEARN-PROFILES-001, over the real builder."""

from __future__ import annotations

import pytest

from config_layers import build_pipeline_config_with_profiles
from config_layers.builder import ConfigBuilder
from config_layers.discovery.files import FileIndex
from config_layers.errors import ConfigError
from config_layers.resolve.resolver import Resolver
from config_layers.schema.config import PipelineConfig
from tests.conftest import MODEL_TOML, Library

# The conftest profile, with the spec's suggested preset as its best one.
PRESET_MODEL = (
    MODEL_TOML.replace("steps = 30", "steps = 33")
    .replace("resolution = [1024, 1024]", "resolution = [832, 1216]")
    .replace("weight = 0.55", "weight = 0.45")
)


@pytest.fixture
def preset_builder(library: Library) -> ConfigBuilder:
    """A builder whose model profile has one preset (the spec's suggested preset), in a temp library."""
    library.model("RealVisXL_V4.0", PRESET_MODEL)
    library.lora("PerfectEyesXL")
    return library.builder()


def test_build_pipeline_config_with_profiles_applies_suggested_preset(preset_builder: ConfigBuilder) -> None:
    cfg = build_pipeline_config_with_profiles("RealVisXL_V4.0", ["PerfectEyesXL"], {}, builder=preset_builder)
    t = cfg.txt2img
    assert (t.sampler_name, t.scheduler, t.steps, t.cfg_scale) == ("DPM++ 2M", "Karras", 33, 6.5)
    assert (t.width, t.height) == (832, 1216)
    assert cfg.loras["PerfectEyesXL"].weight == 0.45
    assert cfg.provenance["txt2img.steps"].layer == "model_profile"
    assert cfg.provenance["txt2img.steps"].source.endswith("RealVisXL_V4.0.modelprofile.toml#rvxl_photoreal_default")


def test_build_pipeline_config_with_profiles_respects_user_overrides(preset_builder: ConfigBuilder) -> None:
    cfg = build_pipeline_config_with_profiles(
        "RealVisXL_V4.0",
        ["PerfectEyesXL"],
        {"txt2img": {"cfg_scale": 4.0, "steps": 12}, "loras": {"PerfectEyesXL": {"weight": 0.9}}},
        builder=preset_builder,
    )
    assert (cfg.txt2img.cfg_scale, cfg.txt2img.steps) == (4.0, 12)
    assert cfg.loras["PerfectEyesXL"].weight == 0.9
    assert cfg.txt2img.sampler_name == "DPM++ 2M"  # not overridden: still the preset's
    for key in ("txt2img.cfg_scale", "txt2img.steps", "loras.PerfectEyesXL.weight"):
        assert cfg.provenance[key].layer == "overrides"
    assert [c.origin.layer for c in cfg.provenance["txt2img.steps"].chain] == ["defaults", "model_profile"]


def test_build_pipeline_config_with_profiles_falls_back_without_profiles(library: Library) -> None:
    library.model("RealVisXL_V4.0")
    library.lora("PerfectEyesXL")
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


def test_the_resolver_reads_a_sidecar_and_notes_where_it_looked_for_the_rest(library: Library) -> None:
    checkpoint = library.model("RealVisXL_V4.0", PRESET_MODEL)
    lora = library.lora("PerfectEyesXL")
    resolver = Resolver(FileIndex([library.models], "model"), [])
    found = resolver.find("RealVisXL_V4.0", [("PerfectEyesXL", lora), ("Missing", None)], lenient=False)
    assert found.checkpoint == checkpoint
    assert found.model is not None and found.model.recommended_presets[1].steps == 33
    assert found.loras["Missing"] is None
    assert any("no profile found for LoRA 'PerfectEyesXL'" in note for note in found.lora_notes)
    assert any("PerfectEyesXL.loraprofile.toml" in note for note in found.lora_notes)


def test_the_resolver_refuses_a_lora_of_another_family_unless_lenient(library: Library) -> None:
    library.model("RealVisXL_V4.0", PRESET_MODEL)
    lora = library.lora(
        "Sd15Lora", "kind = 'lora_profile'\nversion = 1\nlora_name = 'Sd15Lora'\ntarget_base_type = 'sd15'\n"
    )
    resolver = Resolver(FileIndex([library.models], "model"), [])
    with pytest.raises(ConfigError, match="another architecture family"):
        resolver.find("RealVisXL_V4.0", [("Sd15Lora", lora)], lenient=False)
    found = resolver.find("RealVisXL_V4.0", [("Sd15Lora", lora)], lenient=True)
    assert any("Sd15Lora" in warning and "sd15" in warning for warning in found.warnings)
