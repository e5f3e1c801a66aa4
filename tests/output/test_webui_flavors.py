"""Payloads for both WebUIs: every key checked against the shipped field lists of the real
A1111 1.10 and Forge endpoints (``config_layers/data/webui_api_fields.json``)."""

from __future__ import annotations

from typing import Any

import pytest

from config_layers.output.webui_fields import accepted_keys
from config_layers.schema.config import WebUIFlavor
from tests.conftest import MODEL_TOML, Library

#: WebUI option names (shared_options) our override_settings may use.
OVERRIDE_OPTIONS = {"sd_model_checkpoint", "sd_vae", "CLIP_stop_at_last_layers"}

EVERY_STAGE_ON: dict[str, Any] = {
    "prompt": "a cowboy",
    "hires": {
        "enabled": True,
        "sampler_name": "DPM++ 2M",
        "scheduler": "Karras",
        "prompt": "sharp",
        "negative_prompt": "blurry",
        "resize_x": 1536,
        "resize_y": 1536,
        "checkpoint": "RealVisXL_V4.0",
        "cfg": 4.0,
        "distilled_cfg": 3.0,
        "additional_modules": ["ae.safetensors"],
    },
    "refiner": {"enabled": True, "checkpoint": "sdxl_refiner"},
    "adetailer": {"enabled": True},
    "upscale": {"enabled": True},
    "txt2img": {"distilled_cfg_scale": 2.5},
}


@pytest.fixture
def model(library: Library) -> Library:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    library.lora("aida")
    return library


@pytest.mark.parametrize("flavor", ["a1111", "forge"])
@pytest.mark.parametrize("stage", ["txt2img", "img2img"])
def test_every_key_of_every_payload_is_accepted_by_that_webui(model: Library, flavor: WebUIFlavor, stage: str) -> None:
    cfg = model.builder().build(model="RealVisXL_V4.0", loras=["aida"], overrides=EVERY_STAGE_ON, stage=stage)
    payload = cfg.to_webui_payload(flavor=flavor)
    assert set(payload) <= accepted_keys(flavor, stage), set(payload) - accepted_keys(flavor, stage)
    assert set(payload["override_settings"]) <= OVERRIDE_OPTIONS
    assert {"refiner_checkpoint", "refiner_switch_at"} <= set(payload)
    assert ("distilled_cfg_scale" in payload) == (flavor == "forge")


def test_field_lists_tell_the_webuis_apart() -> None:
    assert "hr_additional_modules" in accepted_keys("forge", "txt2img") - accepted_keys("a1111", "txt2img")
    assert "distilled_cfg_scale" not in accepted_keys("a1111", "img2img")


def test_forge_hires_payload(model: Library) -> None:
    cfg = model.builder().build(model="RealVisXL_V4.0", overrides={"hires": {"enabled": True}})
    payload = cfg.to_webui_payload(flavor="forge")
    # Forge iterates hr_additional_modules without a None check: it must always be a list.
    assert payload["hr_additional_modules"] == ["Use same choices"]
    assert payload["distilled_cfg_scale"] == 3.5
    assert not {"hr_cfg", "hr_distilled_cfg", "hr_sampler_name", "hr_checkpoint_name"} & set(payload)
    full = model.builder().build(model="RealVisXL_V4.0", overrides=EVERY_STAGE_ON).to_webui_payload(flavor="forge")
    assert (full["hr_cfg"], full["hr_distilled_cfg"], full["hr_additional_modules"]) == (4.0, 3.0, ["ae.safetensors"])
    assert full["distilled_cfg_scale"] == 2.5


def test_hires_fields_are_sent_when_set(model: Library) -> None:
    payload = model.builder().build(model="RealVisXL_V4.0", overrides=EVERY_STAGE_ON).to_webui_payload()
    assert {key: payload[key] for key in payload if key.startswith("hr_")} == {
        "hr_scale": 2.0,
        "hr_upscaler": "Latent",
        "hr_second_pass_steps": 0,
        "hr_sampler_name": "DPM++ 2M",
        "hr_scheduler": "Karras",
        "hr_prompt": "sharp",
        "hr_negative_prompt": "blurry",
        "hr_resize_x": 1536,
        "hr_resize_y": 1536,
        "hr_checkpoint_name": "RealVisXL_V4.0",
    }


def test_flavor_comes_from_the_config(model: Library) -> None:
    cfg = model.builder(environ={"STABLENEW_WEBUI__FLAVOR": "forge"}).build(model="RealVisXL_V4.0")
    assert cfg.webui.flavor == "forge"
    assert "distilled_cfg_scale" in cfg.to_webui_payload()
    assert cfg.provenance["webui.flavor"].origin.source == "STABLENEW_WEBUI__FLAVOR"
    assert "distilled_cfg_scale" not in cfg.to_webui_payload(flavor="a1111")
    assert model.builder().build(model="RealVisXL_V4.0").webui.flavor == "a1111"


def test_unknown_flavor_is_an_error(model: Library) -> None:
    with pytest.raises(Exception, match=r"webui\.flavor = 'comfy'.*must be one of"):
        model.builder(environ={"STABLENEW_WEBUI__FLAVOR": "comfy"}).build(model="RealVisXL_V4.0")


def test_a1111_payload_warns_about_forge_only_fields(model: Library) -> None:
    cfg = model.builder().build(model="RealVisXL_V4.0", overrides=EVERY_STAGE_ON)
    assert not [w for w in cfg.warnings if "Forge-only" in w]
    cfg.to_webui_payload(flavor="forge")
    assert not [w for w in cfg.warnings if "Forge-only" in w]
    cfg.to_webui_payload()
    cfg.to_webui_payload()
    [warning] = [w for w in cfg.warnings if "Forge-only" in w]
    assert "txt2img.distilled_cfg_scale, hires.cfg, hires.distilled_cfg, hires.additional_modules" in warning
    plain = model.builder().build(model="RealVisXL_V4.0")
    plain.to_webui_payload()
    assert not [w for w in plain.warnings if "Forge-only" in w]
