"""ComfyUI-Lora-Manager <stem>.metadata.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config_layers.metadata import ForeignPriors, ForeignValue, MetadataError, parse_lora_manager, read_lora_manager


def _lora_manager_file(sha: str) -> dict[str, Any]:
    """Trimmed from what Lora Manager writes after fetching a LoRA's Civitai data."""
    return {
        "file_name": "PerfectEyesXL",
        "model_name": "Perfect Eyes XL",
        "file_path": "C:/ComfyUI/models/loras/PerfectEyesXL.safetensors",
        "size": 228462816,
        "modified": 1712345678.9,
        "sha256": sha,
        "base_model": "SDXL 1.0",
        "preview_url": "C:/ComfyUI/models/loras/PerfectEyesXL.webp",
        "preview_nsfw_level": 1,
        "notes": "",
        "from_civitai": True,
        "civitai": {
            "id": 128461,
            "modelId": 118427,
            "baseModel": "SDXL 1.0",
            "trainedWords": ["perfecteyes", "detailed eyes", "perfecteyes"],
            "images": [],
        },
        "tags": ["eyes", "concept"],
        "modelDescription": "<p>Eyes.</p>",
        "civitai_deleted": False,
        "favorite": False,
        "exclude": False,
        "usage_tips": json.dumps({"strength": 0.6000000000000001, "clip_strength": 1.0}),
    }


def _parse(data: Any) -> Any:
    return parse_lora_manager(json.dumps(data).encode(), Path("PerfectEyesXL.metadata.json"))


def test_realistic_file(write_json: Any, sha: str) -> None:
    path = write_json("PerfectEyesXL.metadata.json", _lora_manager_file(sha.lower()))
    priors = read_lora_manager(path)
    assert priors.source_kind == "lora_manager" and priors.path == path
    assert priors.base_type == ForeignValue("sdxl", "base_model")
    assert priors.lora_weight == ForeignValue(0.6, "usage_tips.strength")
    assert priors.trigger_phrases == ForeignValue(["perfecteyes", "detailed eyes"], "civitai.trainedWords")
    assert priors.sha256 == ForeignValue(sha.lower(), "sha256")
    assert priors.sampler is None and priors.vae is None


@pytest.mark.parametrize("tips", ["{}", "", "  ", '{"clip_strength": 1}'])
def test_usage_tips_without_strength(sha: str, tips: str) -> None:
    assert _parse({**_lora_manager_file(sha), "usage_tips": tips}).lora_weight is None


@pytest.mark.parametrize(
    ("base_model", "expected"), [("Pony", "pony"), ("Illustrious", "illustrious"), ("Flux.1 D", "flux")]
)
def test_base_model_uses_civitai_vocabulary(base_model: str, expected: str) -> None:
    assert _parse({"base_model": base_model}).base_type == ForeignValue(expected, "base_model")


@pytest.mark.parametrize("base_model", ["Unknown", "", None])
def test_unknown_base_model_is_absent(base_model: str | None) -> None:
    assert _parse({"base_model": base_model}).base_type is None


def test_missing_civitai_data_and_empty_hash() -> None:
    priors = _parse({"civitai": None, "sha256": "", "usage_tips": "{}"})
    assert priors.trigger_phrases is None and priors.sha256 is None and priors.lora_weight is None


def test_usage_tips_with_bad_json_points_inside_the_string() -> None:
    with pytest.raises(MetadataError) as caught:
        _parse({"usage_tips": '{"strength": 0.8,'})
    assert caught.value.key_path == "usage_tips"
    assert caught.value.line is None  # the position is inside the string, not in the file
    assert "of the string" in caught.value.message


@pytest.mark.parametrize(
    ("data", "key_path", "message"),
    [
        ({"usage_tips": {"strength": 0.8}}, "usage_tips", "must be a string holding JSON"),
        ({"usage_tips": "[0.8]"}, "usage_tips", "must be an object"),
        ({"usage_tips": '{"strength": "abc"}'}, "usage_tips.strength", "must be a finite number"),
        ({"usage_tips": '{"strength": true}'}, "usage_tips.strength", "must be a finite number"),
        ({"usage_tips": '{"strength": NaN}'}, "usage_tips", "NaN"),
        ({"base_model": ["SDXL"]}, "base_model", "must be a string"),
        ({"civitai": "yes"}, "civitai", "must be an object"),
        ({"civitai": {"trainedWords": "a, b"}}, "civitai.trainedWords", "must be an array"),
        ({"civitai": {"trainedWords": [None]}}, "civitai.trainedWords[0]", "must be a string"),
        ({"sha256": "not-a-hash"}, "sha256", "SHA-256"),
        ({"sha256": 123}, "sha256", "SHA-256"),
    ],
)
def test_wrong_types_name_the_key(data: dict[str, Any], key_path: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message) as caught:
        _parse(data)
    assert caught.value.key_path == key_path


def test_truncated_file(write_bytes: Any) -> None:
    with pytest.raises(MetadataError, match="invalid JSON") as caught:
        read_lora_manager(write_bytes("x.metadata.json", b'{"sha256": "ab'))
    assert caught.value.line == 1


def test_document_must_be_an_object() -> None:
    with pytest.raises(MetadataError, match="the document must be an object"):
        parse_lora_manager(b'"x"', Path("x.metadata.json"))


_tips = st.sampled_from(["{}", '{"strength": 0.8}', '{"strength": "x"}', "{", "[]", ""]) | st.text(max_size=10)
_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10) | _tips,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["trainedWords", "strength", "x"]), inner, max_size=3)
    ),
    max_leaves=10,
)


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(st.sampled_from(["base_model", "usage_tips", "civitai", "sha256", "notes"]), _values))
def test_any_document_gives_priors_or_a_metadata_error(document: dict[str, object]) -> None:
    try:
        priors = _parse(document)
    except MetadataError:
        return
    assert isinstance(priors, ForeignPriors)
