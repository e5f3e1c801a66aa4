"""Trigger words reach loras.<name>.trigger (stack entry > sidecar > foreign metadata) and the prompt once."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import LORA_TOML, MODEL_TOML, Library, write_stub_safetensors


def once(prompt: str, *phrases: str) -> bool:
    """Each phrase (or ``<lora:...>`` token) is in the prompt exactly once, ignoring case; the
    order is the prompt composer's business."""
    words = re.sub(r"<lora:[^>]*>", "", prompt).casefold()
    return all(
        (prompt if phrase.startswith("<lora:") else words).casefold().count(phrase.casefold()) == 1
        for phrase in phrases
    )


@pytest.fixture
def lib(library: Library) -> Library:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    return library


def test_sidecar_trigger_phrases_fill_the_trigger(lib: Library) -> None:
    lib.lora("PerfectEyesXL", LORA_TOML.replace('["perfecteyes"]', '["perfecteyes", "detailed eyes"]'))
    cfg = lib.builder().build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"], overrides={"prompt": "a portrait"})
    assert cfg.loras["PerfectEyesXL"].trigger == "perfecteyes, detailed eyes"
    origin = cfg.provenance["loras.PerfectEyesXL.trigger"].origin
    assert origin.layer == "lora_overlays" and origin.source.endswith("PerfectEyesXL.loraprofile.toml")
    assert (origin.key, origin.line) == (("trigger_phrases",), 6)
    assert origin.rule == "trigger: every trigger phrase, joined with ', '"
    assert once(
        cfg.to_webui_payload()["prompt"], "a portrait", "perfecteyes", "detailed eyes", "<lora:PerfectEyesXL:0.55>"
    )


def test_a1111_activation_text(lib: Library) -> None:
    lib.lora("aida")
    (lib.loras / "aida.json").write_text(
        json.dumps({"description": "", "activation text": "aidaxl, red hair", "preferred weight": 0.8}),
        encoding="utf-8",
    )
    cfg = lib.builder().build(model="RealVisXL_V4.0", loras=["aida"])
    assert cfg.loras["aida"].trigger == "aidaxl, red hair"
    origin = cfg.provenance["loras.aida.trigger"].origin
    assert origin.source.endswith("aida.json") and origin.key == ("activation text",) and origin.line == 1
    assert origin.rule is not None and origin.rule.startswith("a1111_metadata: activation text")
    assert once(cfg.to_webui_payload()["prompt"], "aidaxl", "red hair", "<lora:aida:0.8>")


def test_civitai_trained_words(lib: Library) -> None:
    lib.lora("aida")
    (lib.loras / "aida.civitai.info").write_text(
        json.dumps({"baseModel": "SDXL 1.0", "trainedWords": ["aidaxl", "aida"]}, indent=1), encoding="utf-8"
    )
    cfg = lib.builder().build(model="RealVisXL_V4.0", loras=["aida"])
    assert cfg.loras["aida"].trigger == "aidaxl, aida"
    origin = cfg.provenance["loras.aida.trigger"].origin
    assert origin.source.endswith("aida.civitai.info") and origin.key == ("trainedWords",) and origin.line == 3


def test_lora_manager_trained_words(lib: Library) -> None:
    lib.lora("aida")
    (lib.loras / "aida.metadata.json").write_text(
        json.dumps({"base_model": "SDXL 1.0", "civitai": {"trainedWords": ["aidaxl"]}}), encoding="utf-8"
    )
    cfg = lib.builder().build(model="RealVisXL_V4.0", loras=["aida"])
    assert cfg.loras["aida"].trigger == "aidaxl"
    origin = cfg.provenance["loras.aida.trigger"].origin
    assert origin.source.endswith("aida.metadata.json") and "civitai.trainedWords" in (origin.rule or "")


def test_safetensors_header_trigger_phrase(lib: Library) -> None:
    write_stub_safetensors(lib.loras / "aida.safetensors", {"modelspec.trigger_phrase": "aidaxl"})
    cfg = lib.builder().build(model="RealVisXL_V4.0", loras=["aida"])
    assert cfg.loras["aida"].trigger == "aidaxl"
    assert "modelspec.trigger_phrase" in (cfg.provenance["loras.aida.trigger"].origin.rule or "")


def test_sidecar_wins_over_foreign_metadata(lib: Library) -> None:
    lib.lora("PerfectEyesXL", LORA_TOML)
    (lib.loras / "PerfectEyesXL.json").write_text(json.dumps({"activation text": "other words"}), encoding="utf-8")
    cfg = lib.builder().build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"])
    assert cfg.loras["PerfectEyesXL"].trigger == "perfecteyes"


def test_stack_entry_wins_over_the_sidecar(lib: Library) -> None:
    lib.lora("PerfectEyesXL", LORA_TOML)
    (lib.loras / "eyes.lorastack.toml").write_text(
        '[[loras]]\nname = "PerfectEyesXL"\nfile = "PerfectEyesXL.safetensors"\nscale = 0.5\n'
        'applies_to = ["txt2img"]\ntrigger = "sharp eyes"\n',
        encoding="utf-8",
    )
    cfg = lib.builder().build(model="RealVisXL_V4.0", lora_stack="eyes")
    field = cfg.provenance["loras.PerfectEyesXL.trigger"]
    assert field.value == "sharp eyes" and field.origin.source.endswith("eyes.lorastack.toml")
    assert [(entry.value, entry.origin.key) for entry in field.chain] == [("perfecteyes", ("trigger_phrases",))]


def test_any_layer_clears_the_trigger(lib: Library) -> None:
    lib.lora("PerfectEyesXL", LORA_TOML)
    user = lib.file("user.toml", '[loras.PerfectEyesXL]\ntrigger = ""\n')
    cfg = lib.builder(user_file=user).build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"])
    assert cfg.loras["PerfectEyesXL"].trigger == ""
    assert cfg.provenance["loras.PerfectEyesXL.trigger"].origin.layer == "user_file"
    prompt = cfg.to_webui_payload()["prompt"]
    assert once(prompt, "<lora:PerfectEyesXL:0.55>") and "perfecteyes" not in re.sub(r"<lora:[^>]*>", "", prompt)


def test_the_payload_adds_each_phrase_once(lib: Library) -> None:
    lib.lora("PerfectEyesXL", LORA_TOML.replace('["perfecteyes"]', '["perfecteyes", "detailed eyes"]'))
    cfg = lib.builder().build(
        model="RealVisXL_V4.0", loras=["PerfectEyesXL"], overrides={"prompt": "PerfectEyes, a portrait"}
    )
    prompt = cfg.to_webui_payload()["prompt"]
    assert once(prompt, "perfecteyes", "detailed eyes", "a portrait", "<lora:PerfectEyesXL:0.55>"), prompt
    assert once(cfg.to_webui_payload(triggers=False)["prompt"], "perfecteyes")
