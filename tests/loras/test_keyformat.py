"""Key formats from the safetensors header: classification, implied family, `lora inspect`, scan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config_layers.cli import app
from config_layers.loras.inspect import inspect_lora
from config_layers.loras.keyformat import read_tensor_index
from config_layers.metadata import MetadataError
from config_layers.scan import Scanner
from tests.safetensors_files import Tensor, kohya_module, mlx_flux, write_lora

runner = CliRunner()

SD15: dict[str, Tensor] = {
    **kohya_module("lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k", 4, 768, 320),
    **kohya_module("lora_te_text_model_encoder_layers_0_self_attn_q_proj", 4, 768, 768),
}
SD2: dict[str, Tensor] = kohya_module(
    "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn2_to_k", 4, 1024, 320
)
SDXL: dict[str, Tensor] = {
    **kohya_module("lora_unet_input_blocks_4_1_transformer_blocks_0_attn1_to_q", 8, 640, 640, "BF16"),
    **kohya_module("lora_te1_text_model_encoder_layers_0_mlp_fc1", 8, 768, 3072, "BF16"),
    **kohya_module("lora_te2_text_model_encoder_layers_0_mlp_fc1", 8, 1280, 5120, "BF16"),
}
KOHYA_FLUX: dict[str, Tensor] = {
    **kohya_module("lora_unet_double_blocks_0_img_attn_proj", 4, 8, 8),
    **kohya_module("lora_unet_single_blocks_3_linear2", 4, 8, 8),
}
PEFT_FLUX: dict[str, Tensor] = {
    "transformer.single_transformer_blocks.0.attn.to_q.lora_A.weight": ("BF16", (4, 8)),
    "transformer.single_transformer_blocks.0.attn.to_q.lora_B.weight": ("BF16", (8, 4)),
}
DIFFUSERS_UNET: dict[str, Tensor] = {
    "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.down.weight": ("F16", (4, 2048)),
    "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn2.processor.to_k_lora.up.weight": ("F16", (320, 4)),
}
LOHA: dict[str, Tensor] = {
    "lora_unet_input_blocks_1_1_proj_in.hada_w1_a": ("F16", (320, 4)),
    "lora_unet_input_blocks_1_1_proj_in.hada_w1_b": ("F16", (4, 320)),
    "lora_unet_input_blocks_1_1_proj_in.alpha": ("F16", ()),
}
LOKR: dict[str, Tensor] = {
    "lora_unet_input_blocks_1_1_proj_in.lokr_w1": ("F16", (4, 4)),
    "lora_unet_input_blocks_1_1_proj_in.lokr_w2": ("F16", (80, 80)),
}
ONETRAINER: dict[str, Tensor] = {
    **kohya_module("lora_transformer_single_transformer_blocks_0_attn_to_q", 4, 8, 8),
    **kohya_module("lora_te1_text_model_encoder_layers_0_mlp_fc1", 4, 8, 8),
}
ODD: dict[str, Tensor] = {"model.layers.0.adapter.weight": ("F32", (2, 2)), "something_else": ("F32", (2,))}


@pytest.mark.parametrize(
    ("tensors", "fmt", "family", "label"),
    [
        (SD15, "kohya", "sd15", "kohya SD1.x"),
        (SD2, "kohya", "sd2", "kohya SD2.x"),
        (SDXL, "kohya", "sdxl", "kohya SDXL"),
        (KOHYA_FLUX, "kohya", "flux", "kohya Flux"),
        (PEFT_FLUX, "diffusers", "flux", "diffusers/PEFT Flux"),
        (DIFFUSERS_UNET, "diffusers", "sdxl", "diffusers/PEFT SDXL"),
        (LOHA, "lycoris", None, "LyCORIS"),
        (LOKR, "lycoris", None, "LyCORIS"),
        (ONETRAINER, "onetrainer", "flux", "OneTrainer Flux"),
        (mlx_flux(), "mlx", "flux", "MLX (mlx-examples) Flux"),
        (ODD, "unknown", None, "unknown"),
        ({}, "none", None, "no tensors"),
    ],
)
def test_each_key_format_is_recognised(
    tmp_path: Path, tensors: dict[str, Tensor], fmt: str, family: str | None, label: str
) -> None:
    report = inspect_lora(write_lora(tmp_path / "x.safetensors", tensors))
    assert (report.keys.format, report.keys.family, report.label) == (fmt, family, label)
    assert report.keys.loadable == (fmt in {"kohya", "lycoris", "onetrainer", "diffusers"})
    if fmt not in ("unknown", "none"):
        assert report.keys.matched == report.keys.tensors == len(tensors)


def test_ranks_alpha_and_dtypes_come_from_the_header(tmp_path: Path) -> None:
    report = inspect_lora(write_lora(tmp_path / "xl.safetensors", SDXL)).keys
    assert report.ranks == (8,)
    assert report.has_alpha
    assert report.dtypes == {"BF16": 6, "F32": 3}
    plain = inspect_lora(write_lora(tmp_path / "peft.safetensors", PEFT_FLUX)).keys
    assert (plain.ranks, plain.has_alpha, plain.dtypes) == ((4,), False, {"BF16": 2})
    assert inspect_lora(write_lora(tmp_path / "mlx.safetensors", mlx_flux(rank=3))).keys.ranks == (3,)


def test_keys_are_checked_against_the_header_metadata(tmp_path: Path) -> None:
    agree = write_lora(tmp_path / "a.safetensors", KOHYA_FLUX, {"ss_base_model_version": "flux1"})
    assert inspect_lora(agree).agreement.startswith("agrees with the header (flux")
    # A cross-family key set: Flux blocks in a file whose header claims SDXL.
    claim = {"modelspec.architecture": "stable-diffusion-xl-v1-base/lora"}
    disagree = inspect_lora(write_lora(tmp_path / "d.safetensors", KOHYA_FLUX, claim))
    assert disagree.keys.family == "flux"
    assert disagree.agreement == "DISAGREES: the header says sdxl (__metadata__.modelspec.architecture)"


def test_keys_outside_the_format_are_listed(tmp_path: Path) -> None:
    report = inspect_lora(write_lora(tmp_path / "x.safetensors", {**SDXL, "stray.thing": ("F32", (1,))})).keys
    assert report.format == "kohya"
    assert report.unmatched == ("stray.thing",)
    assert report.matched == 9 and round(report.matched_percent) == 90


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("nope", "a tensor entry must be an object"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}, "F32 \\[2\\] needs 8 bytes, data_offsets span 4"),
        ({"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}, "shape must be a list of non-negative"),
        ({"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}, "data_offsets must be"),
    ],
)
def test_malformed_tensor_entries_are_metadata_errors(tmp_path: Path, entry: object, message: str) -> None:
    header = json.dumps({"w.lora_down.weight": entry}).encode()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 8)
    with pytest.raises(MetadataError, match=message) as caught:
        read_tensor_index(path)
    assert str(path) in str(caught.value) and "w.lora_down.weight" in str(caught.value)


def test_inspect_cli_text_json_and_errors(tmp_path: Path) -> None:
    mlx = write_lora(tmp_path / "mlx.safetensors", mlx_flux())
    xl = write_lora(tmp_path / "xl.safetensors", SDXL)
    result = runner.invoke(app, ["lora", "inspect", str(mlx), str(xl)])
    assert result.exit_code == 0, result.output
    assert "format:   MLX (mlx-examples) Flux" in result.output
    assert "NO - no WebUI loads these keys" in result.output
    assert "format:   kohya SDXL" in result.output and "rank:     8" in result.output
    result = runner.invoke(app, ["lora", "inspect", str(xl), "--format", "json"])
    data = json.loads(result.output)[0]
    assert data["format"] == "kohya" and data["keys_family"] == "sdxl" and data["matched_percent"] == 100.0
    assert data["alpha"] is True and data["dtypes"] == {"BF16": 6, "F32": 3}
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\xff" * 16)
    result = runner.invoke(app, ["lora", "inspect", str(broken), str(xl)])
    assert result.exit_code == 2 and "broken.safetensors" in result.stderr and "kohya SDXL" in result.stdout


def test_scan_shows_the_key_format(tmp_path: Path) -> None:
    loras = tmp_path / "Lora"
    write_lora(loras / "mlx.safetensors", mlx_flux())
    write_lora(loras / "xl.safetensors", SDXL)
    entries = {e.path.name: e.summary() for e in Scanner([]).scan([tmp_path])}
    assert entries["mlx.safetensors"]["key_format"] == "MLX (mlx-examples) Flux"
    assert entries["xl.safetensors"]["key_format"] == "kohya SDXL"
    result = runner.invoke(app, ["scan", str(tmp_path), "--profiles-dir", str(tmp_path)], env={"COLUMNS": "400"})
    assert "lora (MLX (mlx-examples) Flux)" in result.output and "lora (kohya SDXL)" in result.output
