"""Civitai model-version data (<stem>.civitai.info) and whole-model data (SD.Next)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config_layers.metadata import (
    ForeignPriors,
    ForeignValue,
    MetadataError,
    parse_civitai_info,
    priors_from_civitai,
    read_civitai_info,
)

STEM = "realvisxlV40_v40Bakedvae"


def _parse(data: Any, name: str = f"{STEM}.civitai.info") -> Any:
    return parse_civitai_info(json.dumps(data).encode(), Path(name))


def _with_metas(*metas: dict[str, Any] | None) -> dict[str, Any]:
    return {"modelId": 1, "baseModel": "SDXL 1.0", "images": [{"meta": meta} for meta in metas]}


def test_realistic_version(write_json: Any, civitai_version: dict[str, Any], sha: str) -> None:
    path = write_json(f"{STEM}.civitai.info", civitai_version)
    priors = read_civitai_info(path)
    assert priors.source_kind == "civitai_info" and priors.path == path
    assert priors.base_type == ForeignValue("sdxl", "baseModel")
    # entries are kept whole (an entry is one phrase even with commas); blanks dropped
    assert priors.trigger_phrases == ForeignValue(["photorealistic", "raw photo, film grain"], "trainedWords")
    assert priors.sha256 == ForeignValue(sha.lower(), "files[0].hashes.SHA256")
    # 4 images with meta: "DPM++ 2M" x2 (one split from "DPM++ 2M Karras"), "Euler a", "DPM++ 2M SDE"
    assert priors.sampler == ForeignValue(
        "DPM++ 2M", "images[*].meta.sampler", "most common of 4 images (2 votes); split from 'DPM++ 2M Karras'"
    )
    assert priors.scheduler is not None and priors.scheduler.value == "Karras"
    assert priors.scheduler.note is not None and "images using 'DPM++ 2M'" in priors.scheduler.note
    assert priors.steps == ForeignValue(30, "images[*].meta.steps", "most common of 4 images (2 votes)")
    assert priors.cfg == ForeignValue(
        6.5,
        "images[*].meta.cfgScale",
        "most common of 4 images (2 votes); normalized: 6.499999999999998 rounded to 6.5 before voting",
    )
    assert priors.resolution == ForeignValue((832, 1216), "images[*].meta.Size", "most common of 4 images (3 votes)")
    assert priors.lora_weight is None and priors.vae is None and priors.output_name is None


def test_each_setting_is_its_own_mode() -> None:
    priors = _parse(
        _with_metas(
            {"sampler": "Euler a", "steps": 20, "cfgScale": 7, "Size": "512x512"},
            {"sampler": "DPM++ 2M Karras", "steps": 30, "cfgScale": 5, "Size": "512x512"},
            {"sampler": "DPM++ 2M Karras", "steps": 20, "cfgScale": 5},
        )
    )
    assert (priors.sampler.value, priors.scheduler.value) == ("DPM++ 2M", "Karras")
    assert priors.steps.value == 20 and priors.cfg.value == 5.0 and priors.resolution.value == (512, 512)


def test_ties_go_to_the_first_value_to_appear() -> None:
    priors = _parse(
        _with_metas(
            {"sampler": "Euler a", "steps": 25},
            {"sampler": "DPM++ 2M Karras", "steps": 30},
            {"sampler": "DPM++ 2M", "steps": 30},
            {"sampler": "Euler a", "steps": 25},
        )
    )
    assert priors.sampler.value == "Euler a"
    assert priors.sampler.note == "most common of 4 images (2 votes); tied with 'DPM++ 2M', the first to appear wins"
    assert priors.steps.value == 25 and "tied with 30" in priors.steps.note
    assert priors.scheduler is None  # no "Euler a" image names a scheduler


def test_scheduler_key_wins_over_the_sampler_suffix() -> None:
    priors = _parse(
        _with_metas(
            {"sampler": "DPM++ 2M Karras", "Schedule type": "Exponential"},
            {"sampler": "DPM++ 2M", "scheduler": "sgm_uniform"},
            {"sampler": "DPM++ 2M", "scheduler": "sgm_uniform", "Schedule type": "Exponential"},
        )
    )
    assert priors.sampler.value == "DPM++ 2M"
    assert priors.scheduler == ForeignValue(
        "Exponential",
        "images[*].meta.Schedule type",
        "most common of 3 images using 'DPM++ 2M' that name a scheduler (2 votes)",
    )


def test_comfy_scheduler_names_get_a1111_labels() -> None:
    priors = _parse(_with_metas({"sampler": "euler", "scheduler": "karras"}))
    assert priors.scheduler == ForeignValue(
        "Karras", "images[*].meta.scheduler", "most common of 1 image using 'euler' that names a scheduler (1 vote)"
    )


def test_unreadable_votes_are_skipped_and_counted() -> None:
    priors = _parse(
        _with_metas(
            {"steps": "30+15", "cfgScale": "high", "Size": "big", "sampler": "\x1b[31m"},
            {"steps": 28.0, "cfgScale": "6.5", "Size": "896 x 1152", "sampler": "Euler"},
            {"steps": 0, "cfgScale": -1, "Size": "0x512", "sampler": ""},
            {"steps": True, "cfgScale": None, "Size": 1024},
        )
    )
    assert priors.steps == ForeignValue(
        28, "images[*].meta.steps", "most common of 1 image (1 vote); 3 unreadable values skipped"
    )
    assert priors.cfg.value == 6.5 and priors.cfg.note.endswith("2 unreadable values skipped")
    assert priors.resolution.value == (896, 1152) and priors.resolution.note.endswith("3 unreadable values skipped")
    assert priors.sampler.value == "Euler" and priors.sampler.note.endswith("2 unreadable values skipped")


def test_images_without_meta_are_skipped() -> None:
    priors = _parse(_with_metas(None, None, {"steps": 12}))
    assert priors.steps.note == "most common of 1 image (1 vote)"
    assert priors.sampler is None and priors.cfg is None


def test_no_images_no_settings() -> None:
    priors = _parse({"modelId": 1, "baseModel": "Pony", "images": []})
    assert priors.base_type == ForeignValue("pony", "baseModel")
    assert (priors.sampler, priors.scheduler, priors.steps, priors.cfg, priors.resolution) == (None,) * 5


@pytest.mark.parametrize(
    ("base_model", "expected"),
    [
        ("SD 1.5", "sd15"),
        ("SD 1.4", "sd15"),
        ("SD 2.0", "sd2"),
        ("SD 2.1", "sd2"),
        ("SDXL 1.0", "sdxl"),
        ("SDXL 0.9", "sdxl"),
        ("SDXL Turbo", "sdxl"),
        ("SDXL Lightning", "sdxl"),
        ("Pony", "pony"),
        ("Illustrious", "illustrious"),
        ("NoobAI", "noobai"),
        ("Flux.1 D", "flux"),
        ("Flux.1 S", "flux"),
        ("SD 3", "sd3"),
        ("SD 3.5", "sd3"),
    ],
)
def test_base_model_mapping(base_model: str, expected: str) -> None:
    assert _parse({"modelId": 1, "baseModel": base_model}).base_type == ForeignValue(expected, "baseModel")


def test_unmapped_base_model_is_unknown_with_a_note() -> None:
    base_type = _parse({"modelId": 1, "baseModel": "Hunyuan Video"}).base_type
    assert base_type == ForeignValue("unknown", "baseModel", "Civitai baseModel 'Hunyuan Video' has no counterpart")


def test_empty_base_model_is_absent() -> None:
    assert _parse({"modelId": 1, "baseModel": ""}).base_type is None


def test_sha256_of_the_file_named_like_ours(civitai_version: dict[str, Any]) -> None:
    priors = _parse(civitai_version, "realvisxlV40_v40InpaintVAE.civitai.info")
    assert priors.sha256 == ForeignValue("ab" * 32, "files[1].hashes.SHA256")


def test_sha256_of_the_primary_file_when_no_name_matches(civitai_version: dict[str, Any], sha: str) -> None:
    priors = _parse(civitai_version, "renamed.civitai.info")
    assert priors.sha256 == ForeignValue(
        sha.lower(), "files[0].hashes.SHA256", "the primary file; no file named 'renamed'"
    )


def test_sha256_missing_or_empty_is_absent() -> None:
    assert _parse({"modelId": 1, "files": [{"name": "x.safetensors", "primary": True, "hashes": {}}]}).sha256 is None
    files = [{"name": "x.safetensors", "primary": True, "hashes": {"SHA256": ""}}]
    assert _parse({"modelId": 1, "files": files}).sha256 is None
    assert _parse({"modelId": 1, "files": [{"name": "notes.txt", "type": "Archive"}]}).sha256 is None


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("data", "key_path", "message"),
    [
        ({"modelId": 1, "baseModel": 15}, "baseModel", "must be a string"),
        ({"modelId": 1, "trainedWords": "a, b"}, "trainedWords", "must be an array"),
        ({"modelId": 1, "trainedWords": ["a", 2]}, "trainedWords[1]", "must be a string"),
        ({"modelId": 1, "trainedWords": ["a\x00b"]}, "trainedWords[0]", r"control character U\+0000"),
        ({"modelId": 1, "images": {"meta": {}}}, "images", "must be an array"),
        ({"modelId": 1, "images": [{}, "x.jpeg"]}, "images[1]", "must be an object"),
        ({"modelId": 1, "images": [{"meta": "Steps: 20"}]}, "images[0].meta", "must be an object"),
        ({"modelId": 1, "files": {}}, "files", "must be an array"),
        ({"modelId": 1, "files": [{"primary": True, "hashes": []}]}, "files[0].hashes", "must be an object"),
        (
            {"modelId": 1, "files": [{"primary": True, "hashes": {"SHA256": "xyz"}}]},
            "files[0].hashes.SHA256",
            "SHA-256",
        ),
        ({"modelId": 1, "files": [{"primary": True, "hashes": {"SHA256": 12}}]}, "files[0].hashes.SHA256", "SHA-256"),
        ({"modelVersions": {}}, "modelVersions", "must be an array"),
        ({"modelVersions": []}, "modelVersions", "no versions"),
        ({"modelVersions": [1]}, "modelVersions[0]", "must be an object"),
    ],
)
def test_wrong_types_name_the_key(data: dict[str, Any], key_path: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message) as caught:
        _parse(data)
    assert caught.value.key_path == key_path


def test_truncated_civitai_info(write_json: Any, civitai_version: dict[str, Any]) -> None:
    path = write_json(f"{STEM}.civitai.info", civitai_version)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(MetadataError) as caught:
        read_civitai_info(path)
    assert caught.value.path == str(path)
    assert caught.value.line is not None and caught.value.line > 1 and caught.value.column is not None
    assert str(caught.value).startswith(f"{path}:{caught.value.line}:{caught.value.column}: invalid JSON")


def test_not_utf8(write_bytes: Any) -> None:
    with pytest.raises(MetadataError, match="not valid UTF-8"):
        read_civitai_info(write_bytes("x.civitai.info", b'{"baseModel": "\xff"}'))


def test_size_cap(write_json: Any, civitai_version: dict[str, Any]) -> None:
    path = write_json("x.civitai.info", civitai_version)
    with pytest.raises(MetadataError, match="over the 100-byte limit"):
        read_civitai_info(path, max_bytes=100)


# --------------------------------------------------------------------------- whole models (SD.Next)


def _model(*versions: dict[str, Any]) -> dict[str, Any]:
    return {"id": 7, "name": "Some LoRA", "type": "LORA", "modelVersions": list(versions)}


def _version(file_name: str, base_model: str) -> dict[str, Any]:
    return {"baseModel": base_model, "trainedWords": [file_name], "files": [{"name": file_name, "primary": True}]}


def test_model_version_is_picked_by_file_name() -> None:
    data = _model(_version("eyes_v2.safetensors", "Pony"), _version("eyes_v1.safetensors", "SD 1.5"))
    priors = _parse(data, "eyes_v1.json")
    assert priors.base_type == ForeignValue("sd15", "modelVersions[1].baseModel")
    assert priors.trigger_phrases == ForeignValue(["eyes_v1.safetensors"], "modelVersions[1].trainedWords")


def test_same_file_name_in_two_versions_uses_the_first_with_a_note() -> None:
    data = _model(_version("eyes.safetensors", "Pony"), _version("eyes.safetensors", "SD 1.5"))
    priors = _parse(data, "eyes.json")
    assert priors.base_type.value == "pony"
    assert "2 versions have a file named 'eyes'" in priors.base_type.note


def test_only_version_is_used_with_a_note() -> None:
    priors = _parse(_model(_version("other.safetensors", "Illustrious")), "renamed.json")
    assert priors.base_type == ForeignValue(
        "illustrious", "modelVersions[0].baseModel", "the model's only version (no file named 'renamed')"
    )


def test_unmatched_file_among_several_versions_is_an_error() -> None:
    data = _model(_version("a.safetensors", "Pony"), _version("b.safetensors", "SD 1.5"))
    with pytest.raises(MetadataError, match=r"none of the model's 2 versions matches \(no file named 'c'\)") as caught:
        _parse(data, "c.json")
    assert caught.value.key_path == "modelVersions"


def test_whole_model_without_a_file_name_to_match() -> None:
    data = _model(_version("a.safetensors", "Pony"), _version("b.safetensors", "SD 1.5"))
    with pytest.raises(MetadataError, match="no model file name to match"):
        priors_from_civitai(data, Path("x"))
    only = priors_from_civitai(_model(_version("a.safetensors", "Pony")), Path("x"))
    assert (
        only.base_type is not None and only.base_type.note == "the model's only version (no model file name to match)"
    )


# --------------------------------------------------------------------------- property

_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
_keys = st.sampled_from(
    [
        "modelVersions",
        "baseModel",
        "trainedWords",
        "files",
        "images",
        "meta",
        "sampler",
        "steps",
        "cfgScale",
        "Size",
        "Schedule type",
        "scheduler",
        "hashes",
        "SHA256",
        "primary",
        "type",
        "name",
        "x",
    ]
)
_documents = st.recursive(
    _scalars | st.sampled_from(["DPM++ 2M Karras", "832x1216", "SDXL 1.0", "a" * 64, "Model", "x.safetensors"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=80, deadline=None)
@given(_documents)
def test_any_json_document_gives_priors_or_a_metadata_error(document: object) -> None:
    try:
        priors = _parse(document, "x.civitai.info")
    except MetadataError:
        return
    assert isinstance(priors, ForeignPriors)
