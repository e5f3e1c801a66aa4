"""A1111 / Forge user metadata (<stem>.json) and the <stem>.json dispatch (A1111 vs SD.Next)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from config_layers.errors import FileError
from config_layers.metadata import (
    ForeignPriors,
    ForeignValue,
    MetadataError,
    classify_json_sidecar,
    parse_a1111_metadata,
    parse_json_sidecar,
    read_a1111_metadata,
    read_json_sidecar,
)

LORA_JSON = {
    "description": "Sharper, more detailed eyes.",
    "sd version": "SDXL",
    "activation text": "perfecteyes, detailed eyes,  ",
    "preferred weight": 0.6000000000000001,
    "negative text": "blurry",
    "notes": "Works at 0.6 on RealVisXL.",
}
CHECKPOINT_JSON = {"description": "RealVisXL V4.0", "notes": "", "vae": "sdxl_vae.safetensors"}


def _parse(data: Any, name: str = "x.json") -> Any:
    return parse_a1111_metadata(json.dumps(data).encode(), Path(name))


def test_lora_metadata(write_json: Any) -> None:
    path = write_json("PerfectEyesXL.json", LORA_JSON)
    priors = read_a1111_metadata(path)
    assert priors.source_kind == "a1111_metadata"
    assert priors.path == path
    assert priors.lora_weight == ForeignValue(0.6, "preferred weight")
    assert priors.trigger_phrases == ForeignValue(["perfecteyes", "detailed eyes"], "activation text")
    assert priors.base_type == ForeignValue("sdxl", "sd version")
    assert priors.vae is None and priors.sampler is None and priors.sha256 is None


def test_checkpoint_metadata(write_json: Any) -> None:
    priors = read_a1111_metadata(write_json("RealVisXL_V4.0.json", CHECKPOINT_JSON))
    assert priors.vae == ForeignValue("sdxl_vae.safetensors", "vae")
    assert priors.lora_weight is None and priors.base_type is None and priors.trigger_phrases is None


@pytest.mark.parametrize(("vae", "expected"), [("Automatic", None), ("", None), ("automatic", None)])
def test_vae_without_a_preference(vae: str, expected: None) -> None:
    assert _parse({"vae": vae}).vae is expected


def test_vae_none_is_kept_with_a_note() -> None:
    vae = _parse({"vae": "None"}).vae
    assert vae is not None and vae.value == "None" and "no separate VAE" in (vae.note or "")


@pytest.mark.parametrize(
    ("version", "expected"),
    [("SD1", "sd15"), ("SD2", "sd2"), ("SDXL", "sdxl"), ("SD3", "sd3"), ("Flux", "flux")],
)
def test_sd_version_mapping(version: str, expected: str) -> None:
    assert _parse({"sd version": version}).base_type == ForeignValue(expected, "sd version")


def test_sd_version_unknown_is_unset_and_odd_values_noted() -> None:
    assert _parse({"sd version": "Unknown"}).base_type is None
    odd = _parse({"sd version": "SD4"}).base_type
    assert odd is not None and odd.value == "unknown" and "SD4" in (odd.note or "")


@pytest.mark.parametrize(
    ("weight", "expected"),
    [(0, None), (0.0, None), ("0", None), (None, None), (0.8, 0.8), ("0.75", 0.75), (-0.5, -0.5), (1, 1.0)],
)
def test_preferred_weight(weight: object, expected: float | None) -> None:
    lora_weight = _parse({"preferred weight": weight}).lora_weight
    assert (lora_weight and lora_weight.value) == expected


@pytest.mark.parametrize("weight", ["abc", True, [0.6], {"w": 1}, "nan", "inf"])
def test_preferred_weight_of_the_wrong_type(weight: object) -> None:
    with pytest.raises(MetadataError) as caught:
        _parse({"preferred weight": weight}, "bad.json")
    assert caught.value.key_path == "preferred weight"
    assert str(caught.value).startswith("bad.json: preferred weight: must be a finite number")


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ("a, b,, c", ["a", "b", "c"]),
        ("one phrase", ["one phrase"]),
        ("a,\nb\r\nc", ["a", "b", "c"]),
        ("  spaced   out ,a,a", ["spaced out", "a"]),
        ("", None),
        (" , ,", None),
    ],
)
def test_activation_text_is_split_on_commas(text: str, phrases: list[str] | None) -> None:
    trigger = _parse({"activation text": text}).trigger_phrases
    assert (trigger and trigger.value) == phrases


@pytest.mark.parametrize("text", ["bell\x07", "esc\x1b[31m", "tab\tinside", "rtl\u202eoverride"])
def test_activation_text_with_control_characters_is_rejected(text: str) -> None:
    with pytest.raises(MetadataError, match="control character") as caught:
        _parse({"activation text": text})
    assert caught.value.key_path == "activation text"


@pytest.mark.parametrize(("key", "value"), [("activation text", 5), ("sd version", ["SDXL"]), ("vae", False)])
def test_wrong_types_name_the_key(key: str, value: object) -> None:
    with pytest.raises(MetadataError, match="must be a string") as caught:
        _parse({key: value})
    assert caught.value.key_path == key


def test_ignored_keys_are_not_checked() -> None:
    priors = _parse({"description": "<b>\x07</b>", "notes": 12, "negative text": None, "preferred weight": 1})
    assert priors.lora_weight == ForeignValue(1.0, "preferred weight")


def test_metadata_error_is_a_file_error() -> None:
    assert issubclass(MetadataError, FileError)


# --------------------------------------------------------------------------- bad files


def test_truncated_json_gives_line_and_column(write_bytes: Any) -> None:
    path = write_bytes("x.json", b'{\n    "preferred weight": 0.6,\n    "activation')
    with pytest.raises(MetadataError) as caught:
        read_a1111_metadata(path)
    assert caught.value.line == 3 and caught.value.column is not None
    assert "invalid JSON" in caught.value.message


def test_non_utf8_bytes_are_located(write_bytes: Any) -> None:
    path = write_bytes("x.json", b'{\n  "notes": "caf\xe9"\n}')
    with pytest.raises(MetadataError, match="not valid UTF-8") as caught:
        read_a1111_metadata(path)
    assert (caught.value.line, caught.value.column) == (2, 16)


def test_byte_order_mark_is_accepted(write_bytes: Any) -> None:
    path = write_bytes("x.json", b'\xef\xbb\xbf{"preferred weight": 0.5}')
    assert read_a1111_metadata(path).lora_weight == ForeignValue(0.5, "preferred weight")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b'{"preferred weight": NaN}', "NaN"),
        (b'{"vae": "a", "vae": "b"}', "duplicate key 'vae'"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"notes": ' + b"9" * 5000 + b"}", "invalid JSON"),
        (b"", "invalid JSON"),
    ],
)
def test_hostile_json_is_refused(raw: bytes, message: str) -> None:
    with pytest.raises(MetadataError, match=message):
        parse_a1111_metadata(raw, Path("x.json"))


@pytest.mark.parametrize("data", [[], "SDXL", 3, None])
def test_document_must_be_an_object(data: object) -> None:
    with pytest.raises(MetadataError, match="the document must be an object"):
        _parse(data)


def test_file_over_the_size_cap_is_not_read(write_bytes: Any) -> None:
    path = write_bytes("big.json", b'{"notes": "' + b"x" * 2000 + b'"}')
    with pytest.raises(MetadataError, match="over the 1000-byte limit"):
        read_a1111_metadata(path, max_bytes=1000)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="cannot read file"):
        read_a1111_metadata(tmp_path / "absent.json")
    with pytest.raises(MetadataError, match="not a regular file"):
        read_a1111_metadata(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_not_read(tmp_path: Path) -> None:
    fifo = tmp_path / "x.json"
    os.mkfifo(fifo)
    with pytest.raises(MetadataError, match="not a regular file"):
        read_a1111_metadata(fifo)  # would block forever if it were opened for reading


# --------------------------------------------------------------------------- <stem>.json dispatch

SDNEXT_MODEL = {
    "id": 4384,
    "name": "DreamShaper",
    "description": "<p>DreamShaper</p>",
    "type": "Checkpoint",
    "modelVersions": [
        {
            "id": 128713,
            "name": "8",
            "baseModel": "SD 1.5",
            "trainedWords": [],
            "files": [{"name": "dreamshaper_8.safetensors", "primary": True, "hashes": {"SHA256": "cd" * 32}}],
            "images": [{"meta": {"sampler": "DPM++ SDE Karras", "steps": 25, "cfgScale": 7, "Size": "512x768"}}],
        },
        {
            "id": 109123,
            "name": "7",
            "baseModel": "SD 1.5",
            "files": [{"name": "dreamshaper_7.safetensors", "hashes": {"SHA256": "ef" * 32}}],
        },
    ],
}


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (LORA_JSON, "a1111_metadata"),
        (CHECKPOINT_JSON, "a1111_metadata"),
        ({"description": ""}, "a1111_metadata"),
        (SDNEXT_MODEL, "civitai_info"),
        ({"modelId": 1, "baseModel": "Pony", "description": "x"}, "civitai_info"),
        ({"baseModel": "Pony", "preferred weight": 1}, None),  # both shapes at once
        ({"something": "else"}, None),
        ({}, None),
        ([LORA_JSON], None),
        ("SDXL", None),
    ],
)
def test_classify_json_sidecar(data: object, kind: str | None) -> None:
    assert classify_json_sidecar(data) == kind


def test_read_json_sidecar_reads_a1111(write_json: Any) -> None:
    priors = read_json_sidecar(write_json("PerfectEyesXL.json", LORA_JSON))
    assert priors.source_kind == "a1111_metadata" and priors.lora_weight is not None


def test_read_json_sidecar_reads_sdnext_civitai_model(write_json: Any) -> None:
    priors = read_json_sidecar(write_json("dreamshaper_8.json", SDNEXT_MODEL))
    assert priors.source_kind == "civitai_info"
    assert priors.base_type == ForeignValue("sd15", "modelVersions[0].baseModel")
    assert priors.sha256 == ForeignValue("cd" * 32, "modelVersions[0].files[0].hashes.SHA256")
    assert priors.sampler is not None and priors.sampler.value == "DPM++ SDE"
    assert priors.scheduler is not None and priors.scheduler.value == "Karras"
    assert priors.resolution is not None and priors.resolution.value == (512, 768)
    # the second version is picked by the file name
    older = read_json_sidecar(write_json("dreamshaper_7.json", SDNEXT_MODEL))
    assert older.sha256 == ForeignValue("ef" * 32, "modelVersions[1].files[0].hashes.SHA256")


def test_json_of_neither_shape_says_what_was_expected(write_json: Any) -> None:
    path = write_json("x.json", {"title": "x", "weight": 1})
    with pytest.raises(MetadataError) as caught:
        read_json_sidecar(path)
    message = caught.value.message
    assert "neither shape" in message and "'preferred weight'" not in message
    assert "activation text" in message and "modelVersions" in message and "'title'" in message


def test_json_mixing_both_shapes_is_refused() -> None:
    with pytest.raises(MetadataError, match="mixes keys of both shapes"):
        parse_json_sidecar(b'{"baseModel": "Pony", "activation text": "x"}', Path("x.json"))


def test_json_sidecar_that_is_not_an_object() -> None:
    with pytest.raises(MetadataError, match="must be an object"):
        parse_json_sidecar(b"[1, 2]", Path("x.json"))


_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
)
_keys = st.sampled_from([*LORA_JSON, "vae", "modelVersions", "baseModel", "trainedWords", "other"])


@settings(max_examples=80, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=6) | _values)
def test_any_json_sidecar_gives_priors_or_a_metadata_error(document: object) -> None:
    try:
        priors = parse_json_sidecar(json.dumps(document).encode(), Path("x.json"))
    except MetadataError:
        return
    assert isinstance(priors, ForeignPriors)
