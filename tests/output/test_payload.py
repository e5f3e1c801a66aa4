"""The AUTOMATIC1111 payload: LoRA tokens, triggers, and keys a real WebUI API client sends."""

from __future__ import annotations

from typing import Any

import pytest

from config_layers.output.payload import lora_token
from tests.conftest import MODEL_TOML, Library, write_stub_safetensors

STACK = """\
[[loras]]
name = "film_grain"
file = "film_grain.safetensors"
scale = 0.8
applies_to = ["txt2img"]
trigger = "film grain"

[[loras]]
name = "western"
file = "western.safetensors"
scale = 1.0
applies_to = ["txt2img"]
"""


@pytest.fixture
def configured(library: Library) -> Library:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    write_stub_safetensors(library.loras / "film_grain.safetensors")
    write_stub_safetensors(library.loras / "western.safetensors")
    (library.loras / "look.lorastack.toml").write_text(STACK, encoding="utf-8")
    return library


def client_keys(stage: str = "txt2img") -> set[str]:
    """Every key the webuiapi client puts in a txt2img or img2img payload."""
    import webuiapi

    captured: dict[str, Any] = {}
    api = webuiapi.WebUIApi(host="127.0.0.1", port=9)

    def capture(url: str, json: dict[str, Any], use_async: bool) -> None:
        captured.update(json)

    api.post_and_get_api_result = capture
    if stage == "txt2img":
        api.txt2img(prompt="x", enable_hr=True)
    else:
        api.img2img(images=[], prompt="x")
    return set(captured)


def test_prompt_gets_lora_tokens_and_triggers_once(configured: Library) -> None:
    cfg = configured.builder().build(
        model="RealVisXL_V4.0", lora_stack="look", overrides={"prompt": "a cowboy, Film Grain"}
    )
    payload = cfg.to_webui_payload("txt2img")
    assert payload["prompt"] == "a cowboy, Film Grain, <lora:film_grain:0.8>, <lora:western:1>"
    cfg = configured.builder().build(
        model="RealVisXL_V4.0", lora_stack="look", overrides={"prompt": "a cowboy <lora:western:0.3>"}
    )
    # Triggers come before the subject (the documented composition order).
    assert cfg.to_webui_payload()["prompt"] == "film grain, a cowboy <lora:western:0.3>, <lora:film_grain:0.8>"
    assert "film grain" not in cfg.to_webui_payload(triggers=False)["prompt"]


def test_payload_fields(configured: Library) -> None:
    cfg = configured.builder().build(model="RealVisXL_V4.0", overrides={"hires": {"enabled": True}})
    payload = cfg.to_webui_payload()
    assert (payload["sampler_name"], payload["scheduler"], payload["steps"], payload["cfg_scale"]) == (
        "DPM++ 2M",
        "Karras",
        30,
        6.5,
    )
    assert (payload["width"], payload["height"], payload["enable_hr"], payload["hr_scale"]) == (1024, 1024, True, 2.0)
    assert payload["override_settings"] == {
        "sd_model_checkpoint": "RealVisXL_V4.0",
        "sd_vae": "Automatic",
        "CLIP_stop_at_last_layers": 2,
    }
    img2img = configured.builder().build(model="RealVisXL_V4.0", stage="img2img").to_webui_payload()
    assert img2img["denoising_strength"] == 0.3 and "enable_hr" not in img2img
    with pytest.raises(ValueError, match="no WebUI payload for stage 'upscale'"):
        cfg.to_webui_payload("upscale")
    with pytest.raises(ValueError, match="built for stage 'txt2img'; build it with stage='img2img'"):
        cfg.to_webui_payload("img2img")


@pytest.mark.parametrize("stage", ["txt2img", "img2img"])
def test_every_key_we_send_is_one_the_webuiapi_client_sends(configured: Library, stage: str) -> None:
    keys = client_keys(stage)
    everything_on = {
        "hires": {"enabled": True},
        "adetailer": {"enabled": True},
        "upscale": {"enabled": True},
        "refiner": {"enabled": True, "checkpoint": "sdxl_refiner"},
    }
    cfg = configured.builder().build(model="RealVisXL_V4.0", lora_stack="look", stage=stage, overrides=everything_on)
    payload = cfg.to_webui_payload()
    # The client does not send the refiner's keys; both real APIs accept them (test_webui_flavors.py).
    assert set(payload) - {"refiner_checkpoint", "refiner_switch_at"} <= keys, set(payload) - keys
    assert set(payload["override_settings"]) <= {"sd_model_checkpoint", "sd_vae", "CLIP_stop_at_last_layers"}


def test_refiner_keys_whenever_the_refiner_is_enabled(configured: Library) -> None:
    cfg = configured.builder().build(model="RealVisXL_V4.0")
    assert "refiner_checkpoint" not in cfg.to_webui_payload()
    cfg = configured.builder().build(
        model="RealVisXL_V4.0", overrides={"refiner": {"enabled": True, "checkpoint": "sdxl_refiner"}}
    )
    payload = cfg.to_webui_payload()
    assert (payload["refiner_checkpoint"], payload["refiner_switch_at"]) == ("sdxl_refiner", 0.8)


def test_lora_tokens_use_the_file_stem(configured: Library) -> None:
    (configured.loras / "named.lorastack.toml").write_text(
        '[[loras]]\nname = "grain"\nfile = "film_grain.safetensors"\nscale = 0.8\napplies_to = ["txt2img"]\n',
        encoding="utf-8",
    )
    cfg = configured.builder().build(model="RealVisXL_V4.0", lora_stack="named")
    assert list(cfg.loras) == ["grain"]
    assert cfg.to_webui_payload()["prompt"] == "<lora:film_grain:0.8>"


def test_lora_token_formats_weights_without_float_noise() -> None:
    assert lora_token("x", 6.499999999999998 / 10) == "<lora:x:0.65>"
    assert lora_token("x", 1.0) == "<lora:x:1>"
    assert lora_token("x", -0.5) == "<lora:x:-0.5>"
