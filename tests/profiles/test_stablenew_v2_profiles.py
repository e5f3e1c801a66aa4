"""StableNew's V2 ModelProfile fields load; hires ones map with provenance, its ids are carried."""

from __future__ import annotations

import json

import pytest

from config_layers.errors import ConfigError
from config_layers.output.dumps import to_json
from tests.conftest import MODEL_TOML, Library

V2_TOML = (
    MODEL_TOML.replace(
        'tags = ["photoreal"]\n',
        'tags = ["photoreal"]\n'
        'default_refiner_id = "sdxl_refiner_default"\n'
        'default_hires_upscaler_id = "4x-UltraSharp"\n'
        "default_hires_denoise = 0.25\n"
        'style_profile_id = "sdxl_realism"\n',
    )
    + "\n[learning_summary]\nruns_observed = 0\n"
)

#: As StableNew's own loader writes it: JSON, null scheduler, null mean_rating.
V2_JSON = {
    "kind": "model_profile",
    "version": 1,
    "model_name": "RealVisXL_V4.0",
    "base_type": "sdxl",
    "tags": [],
    "recommended_presets": [
        {
            "id": "p",
            "label": "P",
            "rating": "good",
            "source": "local_learning",
            "sampler": "DPM++ 2M Karras",
            "scheduler": None,
            "steps": 28,
            "cfg": 6.0,
            "resolution": [1024, 1024],
            "lora_overlays": [],
        }
    ],
    "learning_summary": {"runs_observed": 3, "mean_rating": None},
    "default_refiner_id": None,
    "default_hires_upscaler_id": "Latent",
    "default_hires_denoise": 0.3,
    "style_profile_id": None,
}


def test_v2_fields_map_to_hires_with_provenance(library: Library) -> None:
    library.model("RealVisXL_V4.0", V2_TOML)
    cfg = library.builder().build(model="RealVisXL_V4.0")
    assert (cfg.hires.upscaler, cfg.hires.denoising_strength) == ("4x-UltraSharp", 0.25)
    origin = cfg.provenance["hires.denoising_strength"].origin
    assert origin.layer == "model_profile" and origin.source.endswith("RealVisXL_V4.0.modelprofile.toml")
    assert (origin.line, origin.key) == (8, ("default_hires_denoise",))
    assert origin.rule == "StableNew V2 field"


def test_stablenew_ids_are_carried_in_notes_json_and_explain(library: Library) -> None:
    library.model("RealVisXL_V4.0", V2_TOML)
    cfg = library.builder().build(model="RealVisXL_V4.0")
    [note] = [n for layer in cfg.report.layers for n in layer.notes if "StableNew profile ids" in n]
    assert "default_refiner_id = 'sdxl_refiner_default' (" in note
    assert "style_profile_id = 'sdxl_realism' (" in note and "modelprofile.toml:9:1" in note
    layers = json.loads(to_json(cfg))["layers"]
    assert any("default_refiner_id" in n for layer in layers for n in layer["notes"])
    assert "style_profile_id = 'sdxl_realism'" in cfg.explain("hires.upscaler")


def test_stablenew_json_sidecar_with_nulls_loads(library: Library) -> None:
    library.model("RealVisXL_V4.0", json.dumps(V2_JSON), suffix=".modelprofile.json")
    cfg = library.builder().build(model="RealVisXL_V4.0")
    assert (cfg.hires.upscaler, cfg.hires.denoising_strength, cfg.txt2img.steps) == ("Latent", 0.3, 28)
    assert not [n for layer in cfg.report.layers for n in layer.notes if "StableNew profile ids" in n]


def test_fields_stablenew_does_not_define_stay_errors(library: Library) -> None:
    library.model("RealVisXL_V4.0", json.dumps({**V2_JSON, "default_hires_scale": 2}), suffix=".modelprofile.json")
    with pytest.raises(ConfigError, match=r"default_hires_scale.*unknown key"):
        library.builder().build(model="RealVisXL_V4.0")


def test_bad_v2_value_is_located(library: Library) -> None:
    library.model("RealVisXL_V4.0", V2_TOML.replace("default_hires_denoise = 0.25", "default_hires_denoise = 2.5"))
    with pytest.raises(ConfigError, match=r"modelprofile\.toml:8:1: default_hires_denoise: must be <= 1.0"):
        library.builder().build(model="RealVisXL_V4.0")
