"""Every build checks its LoRAs' key formats: no silent no-op LoRA reaches the WebUI."""

from __future__ import annotations

from pathlib import Path

import pytest

from config_layers import ConfigError
from config_layers.loras.remap import remap_lora
from tests.conftest import MODEL_TOML, Library
from tests.loras.test_keyformat import KOHYA_FLUX, ODD, SDXL
from tests.safetensors_files import kohya_module, mlx_flux, write_lora

FLUX_MODEL = 'kind = "model_profile"\nversion = 1\nmodel_name = "FluxDev"\nbase_type = "flux"\n'


@pytest.fixture
def flux(library: Library) -> Library:
    library.model("FluxDev", FLUX_MODEL)
    library.model("RealVisXL_V4.0", MODEL_TOML)
    return library


def test_an_mlx_lora_fails_the_build_with_the_remedy(flux: Library) -> None:
    path = write_lora(flux.loras / "StyleMLX.safetensors", mlx_flux())
    with pytest.raises(ConfigError) as caught:
        flux.builder().build(model="FluxDev", loras=["StyleMLX"])
    message = str(caught.value)
    assert str(path) in message
    assert "double_blocks.0.img_attn.proj.lora_a" in message  # a sample key
    assert f"config-layers lora remap {path} OUT.safetensors" in message


def test_lenient_builds_record_it_as_a_warning(flux: Library) -> None:
    write_lora(flux.loras / "StyleMLX.safetensors", mlx_flux())
    cfg = flux.builder(lenient=True).build(model="FluxDev", loras=["StyleMLX"])
    assert any("MLX keys" in w and "lora remap" in w for w in cfg.warnings)
    assert "StyleMLX" in cfg.loras


def test_unknown_keys_fail_the_build(flux: Library) -> None:
    write_lora(flux.loras / "Odd.safetensors", ODD)
    with pytest.raises(ConfigError, match=r"'Odd' .* has keys in no format A1111/Forge load \(e\.g\. model\.layers"):
        flux.builder().build(model="FluxDev", loras=["Odd"])


def test_keys_of_another_family_fail_the_build(flux: Library) -> None:
    write_lora(flux.loras / "FluxStyle.safetensors", KOHYA_FLUX)
    with pytest.raises(ConfigError, match=r"'FluxStyle' .*its keys imply flux .*the model is sdxl.*cannot load"):
        flux.builder().build(model="RealVisXL_V4.0", loras=["FluxStyle"])
    # The same file on a Flux model is fine, and the layer notes say what was checked.
    cfg = flux.builder().build(model="FluxDev", loras=["FluxStyle"])
    notes = next(s for s in cfg.report.layers if s.name == "lora_overlays").notes
    assert any("keys kohya Flux, 6/6 matched" in note for note in notes)


def test_keys_the_loader_would_skip_fail_the_build(flux: Library) -> None:
    write_lora(flux.loras / "Mixed.safetensors", {**SDXL, "stray.thing": ("F32", (1,))})
    with pytest.raises(ConfigError, match=r"1 of 10 keys do not follow its kohya format \(e\.g\. stray\.thing\)"):
        flux.builder().build(model="RealVisXL_V4.0", loras=["Mixed"])


def test_a_matching_kohya_lora_builds_clean(flux: Library) -> None:
    write_lora(flux.loras / "Eyes.safetensors", SDXL)
    cfg = flux.builder().build(model="RealVisXL_V4.0", loras=["Eyes"])
    assert cfg.warnings == [] and "Eyes" in cfg.loras


def test_a_header_without_tensors_is_noted_not_judged(flux: Library) -> None:
    flux.lora("Standin")
    cfg = flux.builder().build(model="FluxDev", loras=["Standin"])
    notes = next(s for s in cfg.report.layers if s.name == "lora_overlays").notes
    assert any("'Standin'" in n and "lists no tensors" in n and "not checked" in n for n in notes)


def test_the_family_check_needs_the_model_side(flux: Library) -> None:
    """With no model selected only the format is judged (the keys' family has nothing to compare with)."""
    write_lora(flux.loras / "XL.safetensors", kohya_module("lora_te2_text_model_encoder_layers_0_mlp_fc1", 4, 8, 8))
    cfg = flux.builder().build(loras=["XL"])
    assert cfg.warnings == []


def test_a_pickle_lora_is_noted_as_unchecked(flux: Library) -> None:
    (flux.loras / "Old.pt").write_bytes(b"not read")
    cfg = flux.builder().build(model="FluxDev", loras=["Old"])
    notes = next(s for s in cfg.report.layers if s.name == "lora_overlays").notes
    assert "LoRA 'Old': key format not checked (not a .safetensors file)" in notes


def test_a_tiled_remap_warns_and_the_untiled_one_builds_clean(flux: Library) -> None:
    source = write_lora(flux.root / "mlx.safetensors", mlx_flux())
    remap_lora(source, flux.loras / "Tiled.safetensors")
    cfg = flux.builder().build(model="FluxDev", loras=["Tiled"])
    assert any("3 modules whose down half has another rank" in w and "untiled" in w for w in cfg.warnings)
    remap_lora(source, flux.loras / "Plain.safetensors", keymap_path=Path("mlx-flux-to-kohya-untiled"))
    assert flux.builder().build(model="FluxDev", loras=["Plain"]).warnings == []
