"""Base types, their families, and the mapping from each foreign vocabulary."""

from __future__ import annotations

import pytest

from config_layers.metadata import (
    BASE_TYPES,
    MappedBaseType,
    base_type_family,
    from_a1111_sd_version,
    from_civitai_base_model,
    from_kohya_base_model_version,
    from_modelspec_architecture,
)


@pytest.mark.parametrize(
    ("base_type", "family"),
    [
        ("sd15", "sd15"),
        ("sd2", "sd2"),
        ("sdxl", "sdxl"),
        ("pony", "sdxl"),
        ("illustrious", "sdxl"),
        ("noobai", "sdxl"),
        ("flux", "flux"),
        ("sd3", "sd3"),
        ("unknown", "unknown"),
    ],
)
def test_base_type_family(base_type: str, family: str) -> None:
    assert base_type_family(base_type) == family


def test_every_base_type_has_a_family() -> None:
    assert {base_type_family(b) for b in BASE_TYPES} == {"sd15", "sd2", "sdxl", "flux", "sd3", "unknown"}


def test_base_type_family_rejects_other_names() -> None:
    with pytest.raises(ValueError, match=r"unknown base type 'SDXL 1\.0'"):
        base_type_family("SDXL 1.0")


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("SD1", "sd15"),
        ("SD2", "sd2"),
        ("SDXL", "sdxl"),
        ("SD3", "sd3"),
        ("Flux", "flux"),
        ("sdxl", "sdxl"),
    ],
)
def test_a1111_sd_version(label: str, expected: str) -> None:
    assert from_a1111_sd_version(label) == MappedBaseType(expected)  # type: ignore[arg-type]


def test_a1111_unknown_means_unset_and_odd_values_are_noted() -> None:
    assert from_a1111_sd_version("Unknown") is None
    assert from_a1111_sd_version("") is None
    odd = from_a1111_sd_version("SD 9")
    assert odd is not None and odd.base_type == "unknown" and "'SD 9'" in (odd.note or "")


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("SD 1.4", "sd15"),
        ("SD 1.5", "sd15"),
        ("SD 1.5 LCM", "sd15"),
        ("SD 1.5 Hyper", "sd15"),
        ("SD 2.0", "sd2"),
        ("SD 2.1", "sd2"),
        ("SD 2.1 768", "sd2"),
        ("SDXL 0.9", "sdxl"),
        ("SDXL 1.0", "sdxl"),
        ("SDXL Turbo", "sdxl"),
        ("SDXL Lightning", "sdxl"),
        ("SDXL Hyper", "sdxl"),
        ("Pony", "pony"),
        ("Illustrious", "illustrious"),
        ("NoobAI", "noobai"),
        ("Flux.1 D", "flux"),
        ("Flux.1 S", "flux"),
        ("Flux.1 Krea", "flux"),
        ("SD 3", "sd3"),
        ("SD 3.5", "sd3"),
        ("SD 3.5 Large", "sd3"),
        ("sdxl  1.0", "sdxl"),  # case and whitespace runs do not matter
    ],
)
def test_civitai_base_models(label: str, expected: str) -> None:
    assert from_civitai_base_model(label) == MappedBaseType(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(("label", "expected"), [("SDXL Something New", "sdxl"), ("SD 1.5 Turbo", "sd15")])
def test_civitai_new_variants_map_by_prefix_with_a_note(label: str, expected: str) -> None:
    mapped = from_civitai_base_model(label)
    assert mapped.base_type == expected
    assert mapped.note is not None and "prefix" in mapped.note


@pytest.mark.parametrize("label", ["Other", "Pony V7", "Flux.2 D", "Hunyuan Video", "AuraFlow", "Wan Video"])
def test_civitai_other_architectures_are_unknown_with_a_note(label: str) -> None:
    mapped = from_civitai_base_model(label)
    assert mapped.base_type == "unknown"
    assert mapped.note == f"Civitai baseModel {label!r} has no counterpart"


@pytest.mark.parametrize(
    ("architecture", "expected"),
    [
        ("stable-diffusion-v1", "sd15"),
        ("stable-diffusion-v1/lora", "sd15"),
        ("stable-diffusion-v2-512/lora", "sd2"),
        ("stable-diffusion-v2-768-v", "sd2"),
        ("stable-diffusion-xl-v1-base/lora", "sdxl"),
        ("stable-diffusion-xl-v1-refiner", "sdxl"),
        ("stable-diffusion-3-medium/lora", "sd3"),
        ("stable-diffusion-v3.5-large/lora", "sd3"),
        ("flux-1-dev/lora", "flux"),
        ("flux-1-schnell", "flux"),
        ("flux-1", "flux"),
        ("stable-diffusion-xl-v1-base/textual-inversion", "sdxl"),
    ],
)
def test_modelspec_architectures(architecture: str, expected: str) -> None:
    assert from_modelspec_architecture(architecture) == MappedBaseType(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize("architecture", ["chroma/lora", "lumina-2/lora", "stable-cascade"])
def test_modelspec_other_architectures_are_unknown(architecture: str) -> None:
    mapped = from_modelspec_architecture(architecture)
    assert mapped.base_type == "unknown" and architecture in (mapped.note or "")


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("sd_v1", "sd15"),
        ("sd_v2", "sd2"),
        ("sd_v2_v", "sd2"),
        ("sdxl_base_v1-0", "sdxl"),
        ("sd3", "sd3"),
        ("flux1", "flux"),
        ("flux2_klein_9b", "unknown"),
        ("lumina2", "unknown"),
    ],
)
def test_kohya_base_model_versions(version: str, expected: str) -> None:
    assert from_kohya_base_model_version(version).base_type == expected
