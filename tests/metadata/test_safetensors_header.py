"""safetensors headers: hand-read with caps, priors from ModelSpec/kohya keys, tiny example files."""

from __future__ import annotations

import contextlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config_layers.metadata import (
    ForeignValue,
    MetadataError,
    parse_safetensors,
    parse_safetensors_metadata,
    priors_from_safetensors,
    read_safetensors_metadata,
    write_safetensors_header,
)

KOHYA_SDXL_LORA = {
    "modelspec.sai_model_spec": "1.0.0",
    "modelspec.architecture": "stable-diffusion-xl-v1-base/lora",
    "modelspec.implementation": "https://github.com/Stability-AI/generative-models",
    "modelspec.title": "PerfectEyesXL",
    "modelspec.resolution": "1024x1024",
    "modelspec.trigger_phrase": "perfecteyes, detailed eyes",
    "modelspec.usage_hint": "Use at 0.6",
    "ss_base_model_version": "sdxl_base_v1-0",
    "ss_output_name": "PerfectEyesXL",
    "ss_network_module": "networks.lora",
    "ss_tag_frequency": json.dumps({"1_eyes": {"perfecteyes": 40, "detailed eyes": 31}}),
}
TENSORS = {"lora_unet_down.lora_down.weight": {"dtype": "F16", "shape": [4, 4], "data_offsets": [0, 32]}}


def test_reads_only_the_header_of_a_real_layout(write_bytes: Any, safetensors_bytes: Any) -> None:
    raw = safetensors_bytes({**TENSORS, "__metadata__": KOHYA_SDXL_LORA}, b"\x00" * 32)
    path = write_bytes("PerfectEyesXL.safetensors", raw)
    assert read_safetensors_metadata(path) == KOHYA_SDXL_LORA
    # the pure parser needs no more than the 8 + N header bytes either
    header_end = 8 + struct.unpack("<Q", raw[:8])[0]
    assert parse_safetensors_metadata(raw[:header_end], path) == KOHYA_SDXL_LORA


def test_absent_metadata_is_empty(write_bytes: Any, safetensors_bytes: Any) -> None:
    assert read_safetensors_metadata(write_bytes("x.safetensors", safetensors_bytes(TENSORS, b"\0" * 32))) == {}


def test_priors_from_a_kohya_sdxl_lora(tmp_path: Path) -> None:
    path = tmp_path / "PerfectEyesXL.safetensors"
    write_safetensors_header(path, KOHYA_SDXL_LORA)
    priors = priors_from_safetensors(path)
    assert priors.source_kind == "safetensors_header" and priors.path == path
    assert priors.base_type == ForeignValue(
        "sdxl", "__metadata__.modelspec.architecture", "ss_base_model_version 'sdxl_base_v1-0' agrees"
    )
    assert priors.trigger_phrases == ForeignValue(
        ["perfecteyes", "detailed eyes"], "__metadata__.modelspec.trigger_phrase"
    )
    assert priors.resolution == ForeignValue((1024, 1024), "__metadata__.modelspec.resolution")
    assert priors.output_name == ForeignValue("PerfectEyesXL", "__metadata__.ss_output_name")
    assert priors.lora_weight is None and priors.sampler is None and priors.sha256 is None


def _priors(metadata: dict[str, str]) -> Any:
    raw = json.dumps({"__metadata__": metadata}).encode()
    return parse_safetensors(struct.pack("<Q", len(raw)) + raw, Path("x.safetensors"))


def test_modelspec_wins_over_kohya_and_says_so() -> None:
    base_type = _priors(
        {"modelspec.architecture": "stable-diffusion-v1/lora", "ss_base_model_version": "sdxl_base_v1-0"}
    ).base_type
    assert base_type.value == "sd15"
    assert base_type.note == "ss_base_model_version 'sdxl_base_v1-0' says sdxl; modelspec wins"


@pytest.mark.parametrize(
    ("version", "expected"),
    [("sd_v1", "sd15"), ("sd_v2", "sd2"), ("sdxl_base_v1-0", "sdxl"), ("flux1", "flux"), ("sd3", "sd3")],
)
def test_kohya_version_alone(version: str, expected: str) -> None:
    assert _priors({"ss_base_model_version": version}).base_type == ForeignValue(
        expected, "__metadata__.ss_base_model_version"
    )


@pytest.mark.parametrize(
    ("architecture", "expected"),
    [
        ("stable-diffusion-xl-v1-base/lora", "sdxl"),
        ("stable-diffusion-v1/lora", "sd15"),
        ("stable-diffusion-v2-768-v/lora", "sd2"),
        ("flux-1-dev/lora", "flux"),
        ("stable-diffusion-3-large/lora", "sd3"),
    ],
)
def test_modelspec_architecture_alone(architecture: str, expected: str) -> None:
    assert _priors({"modelspec.architecture": architecture}).base_type == ForeignValue(
        expected, "__metadata__.modelspec.architecture"
    )


def test_unknown_architecture_is_noted() -> None:
    base_type = _priors({"ss_base_model_version": "flux2_klein_9b"}).base_type
    assert base_type.value == "unknown" and "flux2_klein_9b" in base_type.note


def test_absent_and_placeholder_values() -> None:
    priors = _priors({"ss_output_name": "None", "modelspec.trigger_phrase": " , ", "modelspec.architecture": ""})
    assert priors.output_name is None and priors.trigger_phrases is None and priors.base_type is None


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("modelspec.resolution", "huge", "must be WIDTHxHEIGHT"),
        ("modelspec.resolution", "0x1024", "must be WIDTHxHEIGHT"),
        ("ss_output_name", "name\x1b[2J", "control character"),
        ("modelspec.trigger_phrase", "a\x00b", "control character"),
        ("modelspec.architecture", "sdxl\u202e", "control character"),
    ],
)
def test_bad_values_name_the_key(key: str, value: str, message: str) -> None:
    with pytest.raises(MetadataError, match=message) as caught:
        _priors({key: value})
    assert caught.value.key_path == f"__metadata__.{key}"


# --------------------------------------------------------------------------- broken files


def test_file_shorter_than_8_bytes(write_bytes: Any) -> None:
    path = write_bytes("short.safetensors", b"\x10\x00\x00")
    with pytest.raises(MetadataError, match="file is 3 bytes, too short for the 8-byte header length"):
        read_safetensors_metadata(path)
    with pytest.raises(MetadataError, match="too short"):
        parse_safetensors_metadata(b"", path)


def test_header_length_past_the_end_of_file(write_bytes: Any) -> None:
    path = write_bytes("cut.safetensors", struct.pack("<Q", 100) + b'{"__metadata__": {}}')
    with pytest.raises(MetadataError, match="header length 100 bytes runs past the end of the file"):
        read_safetensors_metadata(path)
    with pytest.raises(MetadataError, match="runs past the end"):
        parse_safetensors_metadata(path.read_bytes(), path)


def test_a_2gb_header_length_is_refused_before_reading(write_bytes: Any) -> None:
    path = write_bytes("huge.safetensors", struct.pack("<Q", 2 * 1024**3) + b"{}")
    with pytest.raises(MetadataError, match=r"header length 2147483648 bytes is over the 16777216-byte limit"):
        read_safetensors_metadata(path)
    with pytest.raises(MetadataError, match="over the"):
        parse_safetensors_metadata(path.read_bytes(), path)


def test_header_cap_is_configurable(write_bytes: Any, safetensors_bytes: Any) -> None:
    path = write_bytes("x.safetensors", safetensors_bytes({"__metadata__": {"a": "b" * 100}}))
    with pytest.raises(MetadataError, match="over the 64-byte limit"):
        read_safetensors_metadata(path, max_header_bytes=64)


def test_max_u64_length(write_bytes: Any) -> None:
    with pytest.raises(MetadataError, match="over the"):
        read_safetensors_metadata(write_bytes("x.safetensors", b"\xff" * 8 + b"{}"))


@pytest.mark.parametrize(
    ("header", "message", "key_path"),
    [
        (b'{"__metadata__": {"a": "caf\xe9"}}', "not valid UTF-8", None),
        (b'{"__metadata__": {"a": "b"}', "invalid JSON", None),
        (b'{"__metadata__": {"a": NaN}}', "invalid JSON", None),
        (b"[1, 2, 3]", "the JSON header must be an object, not an array", None),
        (b'"just a string"', "must be an object, not a string", None),
        (b'{"__metadata__": ["a"]}', "must be an object of strings", "__metadata__"),
        (b'{"__metadata__": null}', "must be an object of strings, not null", "__metadata__"),
        (b'{"__metadata__": {"ss_epoch": 10}}', "must be a string, not a number", "__metadata__.ss_epoch"),
        (b'{"__metadata__": {"ss_tag_frequency": {"a": 1}}}', "must be a string", "__metadata__.ss_tag_frequency"),
        (b"", "invalid JSON", None),
    ],
)
def test_malformed_headers(write_bytes: Any, header: bytes, message: str, key_path: str | None) -> None:
    path = write_bytes("bad.safetensors", struct.pack("<Q", len(header)) + header + b"\0" * 16)
    with pytest.raises(MetadataError, match=message) as caught:
        read_safetensors_metadata(path)
    assert caught.value.key_path == key_path
    assert caught.value.path == str(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="cannot read file"):
        read_safetensors_metadata(tmp_path / "absent.safetensors")
    with pytest.raises(MetadataError):
        read_safetensors_metadata(tmp_path)


# --------------------------------------------------------------------------- writing example files


def test_written_file_layout(tmp_path: Path) -> None:
    path = tmp_path / "tiny.safetensors"
    metadata = {"modelspec.architecture": "flux-1-dev/lora", "modelspec.title": "Ünïcode ✓"}
    write_safetensors_header(path, metadata)
    raw = path.read_bytes()
    (length,) = struct.unpack("<Q", raw[:8])
    assert len(raw) == 8 + length  # no tensor data
    assert length % 8 == 0
    header = raw[8:]
    assert header.startswith(b"{") and header.rstrip(b" ").endswith(b"}")
    assert json.loads(header) == {"__metadata__": metadata}
    assert read_safetensors_metadata(path) == metadata
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.safetensors"]  # no temporary left behind


def test_rewriting_replaces_and_keeps_permissions(tmp_path: Path) -> None:
    path = tmp_path / "x.safetensors"
    write_safetensors_header(path, {"a": "1"})
    os.chmod(path, 0o640)
    write_safetensors_header(path, {"b": "2"})
    assert read_safetensors_metadata(path) == {"b": "2"}
    assert path.stat().st_mode & 0o777 == 0o640


def test_writing_refuses_non_string_values(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        write_safetensors_header(tmp_path / "x.safetensors", {"ss_epoch": 10})  # type: ignore[dict-item]
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- properties


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_random_bytes_raise_only_metadata_errors(raw: bytes) -> None:
    try:
        result = parse_safetensors(raw, Path("fuzz.safetensors"))
    except MetadataError:
        return
    assert result.source_kind == "safetensors_header"


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
_headers = st.one_of(
    st.binary(max_size=48),
    _json.map(lambda value: json.dumps(value).encode()),
    st.dictionaries(
        st.sampled_from(
            [
                "modelspec.architecture",
                "modelspec.resolution",
                "modelspec.trigger_phrase",
                "ss_output_name",
                "ss_base_model_version",
                "other",
            ]
        ),
        st.text(max_size=12) | _json,
        max_size=5,
    ).map(lambda meta: json.dumps({"__metadata__": meta}).encode()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_headers, st.integers(min_value=-8, max_value=8))
def test_length_prefixed_garbage_raises_only_metadata_errors(header: bytes, skew: int) -> None:
    # a plausible length (off by a little), so the JSON and value checks are reached too
    raw = struct.pack("<Q", max(0, len(header) + skew)) + header
    with contextlib.suppress(MetadataError):
        parse_safetensors(raw, Path("fuzz.safetensors"))
