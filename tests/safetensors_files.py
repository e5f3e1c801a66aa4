"""Synthetic safetensors files, the one way tests (and benchmarks) write them, stdlib only: ``write_lora`` (tensors
and metadata), ``write_stub_safetensors`` (metadata, no tensors: the model and LoRA files of a test library),
``safetensors_bytes`` (any header, even a broken one, as raw bytes), and small LoRA layouts for the key-format,
remap and build tests."""

from __future__ import annotations

import json
import struct
from array import array
from collections.abc import Mapping, Sequence
from pathlib import Path

SIZES = {"F32": 4, "F16": 2, "BF16": 2, "U8": 1}
Tensor = tuple[str, Sequence[int]] | tuple[str, Sequence[int], bytes]


def pattern(dtype: str, shape: Sequence[int], seed: int = 0) -> bytes:
    """Distinct element values (element i = seed * 1000 + i) in the dtype's raw bytes."""
    count = 1
    for size in shape:
        count *= size
    if dtype == "F32":
        return array("f", [float(seed * 1000 + i) for i in range(count)]).tobytes()
    if dtype in ("BF16", "F16"):
        return array("H", [(seed * 1000 + i) % 65536 for i in range(count)]).tobytes()
    return bytes((seed + i) % 256 for i in range(count))


def safetensors_bytes(header: bytes | Mapping[str, object], tensor_data: bytes = b"") -> bytes:
    """8-byte little-endian header length, the JSON header (a mapping is serialized, bytes are taken as they
    are, unpadded), then ``tensor_data``."""
    raw = header if isinstance(header, bytes) else json.dumps(header).encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw + tensor_data


def write_lora(path: Path, tensors: Mapping[str, Tensor], metadata: Mapping[str, str] | None = None) -> Path:
    """A safetensors file holding ``tensors`` (name -> (dtype, shape[, raw bytes])), data in name order."""
    header: dict[str, object] = {"__metadata__": dict(metadata or {})}
    blobs = []
    offset = 0
    for seed, (name, spec) in enumerate(sorted(tensors.items())):
        dtype, shape = spec[0], list(spec[1])
        data = spec[2] if len(spec) == 3 else pattern(dtype, shape, seed)  # type: ignore[misc]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(safetensors_bytes(raw, b"".join(blobs)))
    return path


def write_stub_safetensors(path: Path, metadata: Mapping[str, str] | None = None) -> Path:
    """A valid safetensors file with a header and no tensors."""
    return write_lora(path, {}, metadata)


def read_lora(path: Path) -> tuple[dict[str, dict[str, object]], dict[str, bytes]]:
    """(header, name -> raw bytes) of a safetensors file, read independently of the package."""
    raw = path.read_bytes()
    (length,) = struct.unpack_from("<Q", raw)
    header = json.loads(raw[8 : 8 + length])
    data = {}
    for name, entry in header.items():
        if name != "__metadata__":
            begin, end = entry["data_offsets"]
            data[name] = raw[8 + length + begin : 8 + length + end]
    return header, data


def kohya_module(prefix: str, rank: int, width_in: int, width_out: int, dtype: str = "F16") -> dict[str, Tensor]:
    """One kohya LoRA module: down (rank, in), up (out, rank), alpha."""
    return {
        f"{prefix}.lora_down.weight": (dtype, (rank, width_in)),
        f"{prefix}.lora_up.weight": (dtype, (width_out, rank)),
        f"{prefix}.alpha": ("F32", ()),
    }


def mlx_module(prefix: str, rank: int, width_in: int, width_out: int, dtype: str = "BF16") -> dict[str, Tensor]:
    """One MLX LoRA module: lora_a (in, rank), lora_b (rank, out)."""
    return {f"{prefix}.lora_a": (dtype, (width_in, rank)), f"{prefix}.lora_b": (dtype, (rank, width_out))}


def mlx_flux(rank: int = 2, width: int = 6, double: int = 1, single: int = 1, dtype: str = "BF16") -> dict[str, Tensor]:
    """An MLX flux LoRA with every one of the 13 module types at ``double`` + ``single`` blocks."""
    tensors: dict[str, Tensor] = {}
    for n in range(double):
        for side in ("img", "txt"):
            for module, out in (("attn.proj", width), ("attn.qkv", 3 * width), ("mod.lin", 6 * width)):
                tensors |= mlx_module(f"double_blocks.{n}.{side}_{module}", rank, width, out, dtype)
            tensors |= mlx_module(f"double_blocks.{n}.{side}_mlp.layers.0", rank, width, 4 * width, dtype)
            tensors |= mlx_module(f"double_blocks.{n}.{side}_mlp.layers.2", rank, 4 * width, width, dtype)
    for n in range(single):
        tensors |= mlx_module(f"single_blocks.{n}.linear1", rank, width, 7 * width, dtype)
        tensors |= mlx_module(f"single_blocks.{n}.linear2", rank, 5 * width, width, dtype)
        tensors |= mlx_module(f"single_blocks.{n}.modulation.lin", rank, width, 3 * width, dtype)
    return tensors
