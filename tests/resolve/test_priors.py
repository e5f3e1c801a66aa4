"""Foreign metadata as priors, and the precedence: own sidecar > foreign metadata > library."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from config_layers import ConfigError
from tests.conftest import LORA_TOML, MODEL_TOML, Library, write_stub_safetensors

CIVITAI_INFO = {
    "id": 1,
    "modelId": 2,
    "baseModel": "SDXL 1.0",
    "trainedWords": [],
    "images": [
        {"meta": {"sampler": "DPM++ 2M Karras", "steps": 30, "cfgScale": 6, "Size": "832x1216"}},
        {"meta": {"sampler": "DPM++ 2M Karras", "steps": 28, "cfgScale": 6, "Size": "832x1216"}},
        {"meta": {"sampler": "Euler a", "steps": 30, "cfgScale": 7, "Size": "1024x1024"}},
        {"meta": None},
    ],
}


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return path


def test_civitai_info_beside_a_checkpoint_gives_a_preset(library: Library) -> None:
    checkpoint = library.model("Civ")
    info = write_json(checkpoint.with_name("Civ.civitai.info"), CIVITAI_INFO)
    cfg = library.builder().build(model="Civ")
    t = cfg.txt2img
    assert (t.sampler_name, t.scheduler, t.steps, t.cfg_scale, t.width, t.height) == (
        "DPM++ 2M",
        "Karras",
        30,
        6.0,
        832,
        1216,
    )
    entry = cfg.provenance["txt2img.steps"]
    assert (entry.layer, entry.source) == ("model_profile", str(info))
    assert entry.origin.rule is not None and entry.origin.rule.startswith("civitai_info: images[*].meta")
    (model_layer,) = [s for s in cfg.report.layers if s.name == "model_profile"]
    assert any(f"civitai_info {info}: used for recommended_presets, base_type" in n for n in model_layer.notes)


def test_own_sidecar_beats_foreign_metadata_and_explain_lists_both(library: Library) -> None:
    checkpoint = library.model("RealVisXL_V4.0", MODEL_TOML)
    info = write_json(checkpoint.with_name("RealVisXL_V4.0.civitai.info"), CIVITAI_INFO)
    cfg = library.builder().build(model="RealVisXL_V4.0")
    assert cfg.txt2img.cfg_scale == 6.5 and cfg.txt2img.steps == 30
    assert cfg.provenance["txt2img.cfg_scale"].source.endswith(
        "RealVisXL_V4.0.modelprofile.toml#rvxl_photoreal_default"
    )
    notes = "\n".join(next(s for s in cfg.report.layers if s.name == "model_profile").notes)
    assert "sidecar " in notes and "used for recommended_presets, base_type" in notes
    assert f"civitai_info {info}: nothing used" in notes


def test_foreign_metadata_beats_the_library(library: Library) -> None:
    shelf = library.root / "shelf"
    shelf.mkdir()
    (shelf / "rv.modelprofile.toml").write_text(MODEL_TOML, encoding="utf-8")
    checkpoint = library.model("RealVisXL_V4.0")
    write_json(checkpoint.with_name("RealVisXL_V4.0.civitai.info"), CIVITAI_INFO)
    cfg = library.builder(profile_dirs=[shelf]).build(model="RealVisXL_V4.0")
    assert cfg.txt2img.cfg_scale == 6.0  # Civitai's images, not the library's 6.5
    checkpoint.with_name("RealVisXL_V4.0.civitai.info").unlink()
    assert library.builder(profile_dirs=[shelf]).build(model="RealVisXL_V4.0").txt2img.cfg_scale == 6.5


def test_a1111_checkpoint_metadata_gives_the_vae(library: Library) -> None:
    checkpoint = library.model("Plain")
    meta = write_json(
        checkpoint.with_name("Plain.json"), {"description": "", "sd version": "SDXL", "vae": "sdxl_vae.safetensors"}
    )
    cfg = library.builder().build(model="Plain")
    assert cfg.vae == "sdxl_vae.safetensors"
    entry = cfg.provenance["vae"]
    assert (entry.layer, entry.source, entry.line) == ("model_profile", str(meta), 4)
    assert entry.origin.rule is not None and entry.origin.rule.startswith("a1111_metadata: vae")


def test_a1111_preferred_weight_for_a_lora(library: Library) -> None:
    lora = library.lora("Styled")
    meta = write_json(lora.with_name("Styled.json"), {"preferred weight": 0.7, "activation text": "styled, ink"})
    cfg = library.builder().build(loras=["Styled"])
    assert cfg.loras["Styled"].weight == 0.7
    entry = cfg.provenance["loras.Styled.weight"]
    assert entry.source == str(meta) and "a1111_metadata: preferred weight" in (entry.origin.rule or "")
    assert entry.line == 2 and entry.column == 3


def test_preferred_weight_zero_means_unset(library: Library) -> None:
    lora = library.lora("Zero")
    write_json(lora.with_name("Zero.json"), {"preferred weight": 0, "sd version": "SDXL"})
    assert library.builder().build(loras=["Zero"]).loras["Zero"].weight == 0.6


def test_a1111_beats_lora_manager_and_sidecar_beats_both(library: Library) -> None:
    lora = library.lora("PerfectEyesXL")
    write_json(lora.with_name("PerfectEyesXL.json"), {"preferred weight": 0.8})
    write_json(
        lora.with_name("PerfectEyesXL.metadata.json"), {"base_model": "SDXL 1.0", "usage_tips": '{"strength": 0.3}'}
    )
    assert library.builder().build(loras=["PerfectEyesXL"]).loras["PerfectEyesXL"].weight == 0.8
    lora.with_name("PerfectEyesXL.json").unlink()
    assert library.builder().build(loras=["PerfectEyesXL"]).loras["PerfectEyesXL"].weight == 0.3
    (library.loras / "PerfectEyesXL.loraprofile.toml").write_text(LORA_TOML, encoding="utf-8")
    assert library.builder().build(loras=["PerfectEyesXL"]).loras["PerfectEyesXL"].weight == 0.7


def test_unreadable_foreign_metadata_fails_loudly_or_is_a_lenient_warning(library: Library) -> None:
    checkpoint = library.model("Broken")
    info = checkpoint.with_name("Broken.civitai.info")
    info.write_text('{"baseModel": "SDXL 1.0", "images": [', encoding="utf-8")
    with pytest.raises(ConfigError, match="unreadable metadata") as caught:
        library.builder().build(model="Broken")
    assert str(info) in str(caught.value)
    cfg = library.builder(lenient=True).build(model="Broken")
    assert any(str(info) in w for w in cfg.warnings)


def test_json_of_neither_shape_is_a_clear_problem(library: Library) -> None:
    checkpoint = library.model("Odd")
    write_json(checkpoint.with_name("Odd.json"), {"hello": "world"})
    with pytest.raises(ConfigError, match=r"Odd\.json"):
        library.builder().build(model="Odd")


def test_library_match_by_hash_only_when_asked(library: Library) -> None:
    checkpoint = write_stub_safetensors(library.models / "renamed_download.safetensors", {"x": "1"})
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    shelf = library.root / "shelf"
    shelf.mkdir()
    (shelf / "rv.modelprofile.toml").write_text(
        MODEL_TOML.replace('tags = ["photoreal"]', f'tags = ["photoreal"]\nsha256 = "{digest}"'), encoding="utf-8"
    )
    cache = library.root / "cache" / "sha256.json"
    plain = library.builder(profile_dirs=[shelf], hash_cache_file=cache).build(model="renamed_download")
    assert plain.txt2img.cfg_scale == 7.0 and not cache.exists()
    hashed = library.builder(profile_dirs=[shelf], match_by_hash=True, hash_cache_file=cache).build(
        model="renamed_download"
    )
    assert hashed.txt2img.cfg_scale == 6.5
    assert hashed.provenance["txt2img.cfg_scale"].source.startswith(str(shelf / "rv.modelprofile.toml"))


def test_library_match_by_autov2(library: Library) -> None:
    checkpoint = write_stub_safetensors(library.models / "civitai_name.safetensors", {"y": "2"})
    short = hashlib.sha256(checkpoint.read_bytes()).hexdigest()[:10].upper()
    shelf = library.root / "shelf"
    shelf.mkdir()
    (shelf / "rv.modelprofile.toml").write_text(
        MODEL_TOML.replace('tags = ["photoreal"]', f'tags = ["photoreal"]\nautov2 = "{short}"'), encoding="utf-8"
    )
    cfg = library.builder(profile_dirs=[shelf], match_by_hash=True, hash_cache_file=library.root / "c.json").build(
        model="civitai_name"
    )
    assert cfg.txt2img.cfg_scale == 6.5


def test_shipped_library_applies_to_a_checkpoint_without_sidecar(library: Library) -> None:
    from config_layers.shipped import profiles_dir

    library.model("sd_xl_base_1.0")
    cfg = library.builder(profile_dirs=[profiles_dir()]).build(model="sd_xl_base_1.0")
    entry = cfg.provenance["txt2img.steps"]
    assert entry.layer == "model_profile" and "sdxl_base_1.0.modelprofile.toml" in entry.source


def test_a_broken_library_profile_only_matters_when_the_library_is_consulted(library: Library) -> None:
    shelf = library.root / "shelf"
    shelf.mkdir()
    (shelf / "bad.loraprofile.toml").write_text('kind = "lora_profile"\nversion = 1\nlora_name = 3\n', encoding="utf-8")
    library.model("RealVisXL_V4.0", MODEL_TOML)
    library.model("Plain")
    assert library.builder(profile_dirs=[shelf]).build(model="RealVisXL_V4.0").txt2img.cfg_scale == 6.5
    with pytest.raises(
        ConfigError, match=r"unreadable profiles in the profile library:\n  - .*bad\.loraprofile\.toml:3:1"
    ):
        library.builder(profile_dirs=[shelf]).build(model="Plain")
    cfg = library.builder(profile_dirs=[shelf], lenient=True).build(model="Plain")
    assert [w for w in cfg.warnings if "bad.loraprofile.toml" in w] and len(cfg.warnings) == 1


def test_explain_lists_the_candidates_and_the_preset_choice(library: Library) -> None:
    checkpoint = library.model("RealVisXL_V4.0", MODEL_TOML)
    info = write_json(checkpoint.with_name("RealVisXL_V4.0.civitai.info"), CIVITAI_INFO)
    text = library.builder().build(model="RealVisXL_V4.0").explain("txt2img.cfg_scale")
    assert "note (model_profile): priors for model 'RealVisXL_V4.0':" in text
    assert f"civitai_info {info}: nothing used" in text
    assert "preset 'rvxl_photoreal_default' has the highest rating (best)" in text


def test_civitai_cfg_rounding_is_recorded(library: Library) -> None:
    checkpoint = library.model("Noisy")
    images = [{"meta": {"sampler": "Euler", "steps": 20, "cfgScale": 6.499999999999998, "Size": "1024x1024"}}]
    write_json(checkpoint.with_name("Noisy.civitai.info"), {"baseModel": "SDXL 1.0", "images": images})
    entry = library.builder().build(model="Noisy").provenance["txt2img.cfg_scale"]
    assert entry.value == 6.5
    assert "normalized: 6.499999999999998 rounded to 6.5 before voting" in (entry.origin.rule or "")
