"""`config-layers lora remap`: MLX flux LoRA -> kohya Flux keys by the shipped, versioned keymap."""

from __future__ import annotations

import hashlib
import struct
from array import array
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from config_layers import ConfigError
from config_layers.cli import app
from config_layers.loras.inspect import inspect_lora
from config_layers.loras.keyformat import DTYPE_SIZES, TensorInfo
from config_layers.loras.remap import SHIPPED_KEYMAP, Rule, _move, load_keymap, remap_lora
from tests.safetensors_files import mlx_flux, read_lora, write_lora

runner = CliRunner()
RANK, WIDTH = 2, 6
MODULES = [
    *(
        f"lora_unet_double_blocks_0_{side}_{module}"
        for side in ("img", "txt")
        for module in ("attn_proj", "attn_qkv", "mlp_0", "mlp_2", "mod_lin")
    ),
    "lora_unet_single_blocks_0_linear1",
    "lora_unet_single_blocks_0_linear2",
    "lora_unet_single_blocks_0_modulation_lin",
]
FORMAT = {"BF16": "H", "F32": "f"}


def elements(raw: bytes, dtype: str) -> list[float] | list[int]:
    return array(FORMAT[dtype], raw).tolist()


def transposed(values: list[float] | list[int], rows: int, cols: int) -> list[float] | list[int]:
    return [values[r * cols + c] for c in range(cols) for r in range(rows)]


@pytest.fixture
def mlx(tmp_path: Path) -> Path:
    return write_lora(tmp_path / "mlx.safetensors", mlx_flux(RANK, WIDTH))


def test_the_shipped_keymap_has_26_rules_for_13_module_types() -> None:
    keymap, rules = load_keymap()
    assert (keymap.keymap.name, keymap.keymap.version, keymap.keymap.alpha) == ("mlx-flux-to-kohya", 1, "rank")
    assert len(rules) == 26
    assert {r.rule.tile for r in rules if "qkv" in r.rule.source and r.role == "down"} == {3}
    assert [r.rule.tile for r in rules if "linear1" in r.rule.source and r.role == "down"] == [4]
    assert all(r.rule.transpose for r in rules)


def test_names_alpha_and_metadata(mlx: Path, tmp_path: Path) -> None:
    out = tmp_path / "kohya.safetensors"
    result = remap_lora(mlx, out)
    header, _ = read_lora(out)
    metadata = header.pop("__metadata__")
    expected = {f"{m}.{part}" for m in MODULES for part in ("lora_down.weight", "lora_up.weight", "alpha")}
    assert set(header) == expected
    assert (result.tensors_in, result.tensors_out, result.modules, result.ranks) == (26, 39, 13, (RANK,))
    assert isinstance(metadata, dict)
    assert metadata["config_layers.keymap"] == "mlx-flux-to-kohya"
    assert metadata["config_layers.keymap_version"] == "1"
    assert metadata["config_layers.source_sha256"] == hashlib.sha256(mlx.read_bytes()).hexdigest()
    assert metadata["ss_network_dim"] == metadata["ss_network_alpha"] == str(RANK)
    assert metadata["ss_base_model_version"] == "flux1"
    report = inspect_lora(out)
    assert report.label == "kohya Flux" and report.keys.matched_percent == 100.0 and report.keys.ranks == (RANK,)


@pytest.mark.parametrize("dtype", ["BF16", "F32"])
def test_values_are_transposed_and_fused_downs_tiled(tmp_path: Path, dtype: str) -> None:
    source = write_lora(tmp_path / "mlx.safetensors", mlx_flux(RANK, WIDTH, dtype=dtype))
    out = tmp_path / "kohya.safetensors"
    remap_lora(source, out)
    _, before = read_lora(source)
    header, after = read_lora(out)
    # Plain module: lora_a (in, rank) -> down (rank, in); lora_b (rank, out) -> up (out, rank).
    a = elements(before["double_blocks.0.img_attn.proj.lora_a"], dtype)
    b = elements(before["double_blocks.0.img_attn.proj.lora_b"], dtype)
    down = "lora_unet_double_blocks_0_img_attn_proj.lora_down.weight"
    up = "lora_unet_double_blocks_0_img_attn_proj.lora_up.weight"
    assert header[down]["shape"] == [RANK, WIDTH] and header[up]["shape"] == [WIDTH, RANK]
    assert elements(after[down], dtype) == transposed(a, WIDTH, RANK)
    assert elements(after[up], dtype) == transposed(b, RANK, WIDTH)
    assert header[down]["dtype"] == header[up]["dtype"] == dtype
    # Fused layers: the transposed down tiled along axis 0, so each of the 3 (4) chunks is the shared matrix.
    for source_key, target, chunks in (
        ("double_blocks.0.txt_attn.qkv.lora_a", "lora_unet_double_blocks_0_txt_attn_qkv.lora_down.weight", 3),
        ("single_blocks.0.linear1.lora_a", "lora_unet_single_blocks_0_linear1.lora_down.weight", 4),
    ):
        shared = transposed(elements(before[source_key], dtype), WIDTH, RANK)
        tiled = elements(after[target], dtype)
        assert header[target]["shape"] == [chunks * RANK, WIDTH]
        size = RANK * WIDTH
        assert [tiled[i * size : (i + 1) * size] for i in range(chunks)] == [shared] * chunks
    # alpha = rank, for every module.
    for module in MODULES:
        assert header[f"{module}.alpha"]["shape"] == []
        assert struct.unpack("<f", after[f"{module}.alpha"]) == (float(RANK),)


def test_bf16_bytes_are_moved_not_converted(mlx: Path, tmp_path: Path) -> None:
    """Every source byte pair reappears unchanged (no float round trip), here with values numpy cannot hold."""
    out = tmp_path / "kohya.safetensors"
    remap_lora(mlx, out)
    _, before = read_lora(mlx)
    header, after = read_lora(out)
    raw = before["single_blocks.0.modulation.lin.lora_b"]
    pairs = sorted(raw[i : i + 2] for i in range(0, len(raw), 2))
    moved = after["lora_unet_single_blocks_0_modulation_lin.lora_up.weight"]
    assert sorted(moved[i : i + 2] for i in range(0, len(moved), 2)) == pairs
    assert {entry["dtype"] for name, entry in header.items() if name.endswith("weight")} == {"BF16"}


def test_unmatched_keys_are_all_listed_and_nothing_is_written(tmp_path: Path) -> None:
    tensors = mlx_flux(RANK, WIDTH)
    tensors["double_blocks.0.img_attn.norm.lora_a"] = ("BF16", (WIDTH, RANK))
    tensors["final_layer.linear.lora_b"] = ("BF16", (RANK, WIDTH))
    source = write_lora(tmp_path / "mlx.safetensors", tensors)
    out = tmp_path / "out.safetensors"
    with pytest.raises(ConfigError) as caught:
        remap_lora(source, out)
    message = str(caught.value)
    assert "2 keys no rule of" in message and "(nothing written)" in message
    assert "double_blocks.0.img_attn.norm.lora_a" in message and "final_layer.linear.lora_b" in message
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["mlx.safetensors"]  # no temporary file left either


def test_a_module_missing_its_up_half_is_an_error(tmp_path: Path) -> None:
    tensors = mlx_flux(RANK, WIDTH)
    del tensors["single_blocks.0.linear2.lora_b"]
    source = write_lora(tmp_path / "mlx.safetensors", tensors)
    with pytest.raises(ConfigError, match="module lora_unet_single_blocks_0_linear2 has no up half"):
        remap_lora(source, tmp_path / "out.safetensors")
    assert not (tmp_path / "out.safetensors").exists()


def test_no_overwrite_without_force(mlx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.safetensors"
    out.write_bytes(b"keep me")
    with pytest.raises(ConfigError, match="already exists; pass --force"):
        remap_lora(mlx, out)
    assert out.read_bytes() == b"keep me"
    remap_lora(mlx, out, force=True)
    assert inspect_lora(out).keys.format == "kohya"
    with pytest.raises(ConfigError, match="is the source file"):
        remap_lora(mlx, mlx, force=True)


def test_another_keymap_is_used_and_recorded(mlx: Path, tmp_path: Path) -> None:
    text = SHIPPED_KEYMAP.read_text(encoding="utf-8").replace("version = 1", "version = 7")
    keymap = tmp_path / "mine.toml"
    keymap.write_text(text, encoding="utf-8")
    out = tmp_path / "out.safetensors"
    remap_lora(mlx, out, keymap_path=keymap)
    header, _ = read_lora(out)
    assert header["__metadata__"]["config_layers.keymap_version"] == "7"  # type: ignore[index]


def test_a_bad_keymap_is_located(mlx: Path, tmp_path: Path) -> None:
    keymap = tmp_path / "bad.toml"
    keymap.write_text(
        '[keymap]\nname = "x"\nversion = 1\nfrom = "mlx"\nto = "kohya"\nalpha = "rank"\n\n'
        '[[rules]]\nsource = "a.lora_a"\ntarget = "b.lora_down.weight"\ntile = "3"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"bad\.toml:11:1: rules\[0\]\.tile: must be an integer"):
        remap_lora(mlx, tmp_path / "out.safetensors", keymap_path=keymap)
    keymap.write_text(keymap.read_text().replace('tile = "3"', 'target2 = "x"'), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.toml:11:1: rules\[0\]\.target2"):
        remap_lora(mlx, tmp_path / "out.safetensors", keymap_path=keymap)


def test_remap_cli(mlx: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.safetensors"
    result = runner.invoke(app, ["lora", "remap", str(mlx), str(out)])
    assert result.exit_code == 0, result.output
    assert "alpha = rank (2) written for every module" in result.output
    assert "keymap mlx-flux-to-kohya v1" in result.output
    result = runner.invoke(app, ["lora", "remap", str(mlx), str(out)])
    assert result.exit_code == 2 and "already exists" in result.stderr
    inspected = runner.invoke(app, ["lora", "inspect", str(out)])
    assert "format:   kohya Flux" in inspected.output and "39 matched (100 %)" in inspected.output


def test_a_file_already_in_the_target_format_is_refused(tmp_path: Path) -> None:
    kohya = tmp_path / "kohya.safetensors"
    remap_lora(write_lora(tmp_path / "mlx.safetensors", mlx_flux(RANK, WIDTH)), kohya)
    with pytest.raises(ConfigError, match="its keys are kohya keys already; nothing to remap"):
        remap_lora(kohya, tmp_path / "again.safetensors")


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 7), st.integers(1, 7), st.sampled_from(["U8", "BF16", "F32", "F64"]), st.integers(1, 4))
def test_moving_elements_is_an_exact_transpose(rows: int, cols: int, dtype: str, tile: int) -> None:
    size = DTYPE_SIZES[dtype]
    data = bytes(range(256)) * (rows * cols * size // 256 + 1)
    data = data[: rows * cols * size]
    tensor = TensorInfo("t", dtype, (rows, cols), 0, len(data))
    moved = _move(data, tensor, Rule(source="a", target="b.lora_down.weight", transpose=True, tile=tile))
    element = [data[i * size : (i + 1) * size] for i in range(rows * cols)]
    expected = b"".join(element[r * cols + c] for c in range(cols) for r in range(rows))
    assert moved == expected * tile
    back = _move(
        moved[: len(data)],
        TensorInfo("t", dtype, (cols, rows), 0, len(data)),
        Rule(source="a", target="b.lora_down.weight", transpose=True),
    )
    assert back == data


def test_the_tiled_layout_is_flagged_and_the_untiled_keymap_is_shipped(mlx: Path, tmp_path: Path) -> None:
    """The default keymap tiles fused downs (mflux's split layout); loaders that compute up @ down
    cannot multiply those, so inspect and the build say so. The untiled keymap writes plain kohya."""
    tiled, plain = tmp_path / "tiled.safetensors", tmp_path / "plain.safetensors"
    assert "tiled, the split layout mflux reads" in remap_lora(mlx, tiled).render()
    report = inspect_lora(tiled)
    assert report.keys.rank_mismatches == (
        f"lora_unet_double_blocks_0_img_attn_qkv (down {3 * RANK}, up {RANK})",
        f"lora_unet_double_blocks_0_txt_attn_qkv (down {3 * RANK}, up {RANK})",
        f"lora_unet_single_blocks_0_linear1 (down {4 * RANK}, up {RANK})",
    )
    assert "shapes:   3 modules whose down half has another rank" in report.render()
    result = remap_lora(mlx, plain, keymap_path=Path("mlx-flux-to-kohya-untiled"))
    assert result.keymap == "mlx-flux-to-kohya-untiled" and result.tiled == 0
    assert "note:" not in result.render()
    header, after = read_lora(plain)
    _, before = read_lora(mlx)
    down = "lora_unet_double_blocks_0_img_attn_qkv.lora_down.weight"
    assert header[down]["shape"] == [RANK, WIDTH]
    assert elements(after[down], "BF16") == transposed(
        elements(before["double_blocks.0.img_attn.qkv.lora_a"], "BF16"), WIDTH, RANK
    )
    assert inspect_lora(plain).keys.rank_mismatches == ()
