"""Benchmark `lora remap` and `lora inspect` on a full-size MLX flux-dev LoRA, against a file copy.

    python benchmarks/bench_lora_files.py [--rank 16] [--rounds 3]

Generates (in a temp folder) an MLX LoRA with flux-dev's real shapes at all 19 double and 38
single blocks (608 bf16 tensors, ~150 MB at rank 16), then prints the median time of: a plain
file copy of it (the floor: the remap must at least read and write every byte), `remap_lora`
(transposes, tiles, hashes the source, writes atomically) and `inspect_lora` of the output
(header only), with ratios to the floor and the remap's peak traced memory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import struct
import tempfile
import tracemalloc
from pathlib import Path

from bench_build import median_seconds  # the script's own folder is on sys.path

from config_layers.loras.inspect import inspect_lora
from config_layers.loras.remap import remap_lora

HIDDEN = 3072
#: (module, input width, output width) of flux-dev's LoRA-trained linears.
DOUBLE = [
    ("attn.proj", HIDDEN, HIDDEN),
    ("attn.qkv", HIDDEN, 3 * HIDDEN),
    ("mlp.layers.0", HIDDEN, 4 * HIDDEN),
    ("mlp.layers.2", 4 * HIDDEN, HIDDEN),
    ("mod.lin", HIDDEN, 6 * HIDDEN),
]
SINGLE = [("linear1", HIDDEN, 7 * HIDDEN), ("linear2", 5 * HIDDEN, HIDDEN), ("modulation.lin", HIDDEN, 3 * HIDDEN)]


def write_mlx_flux(path: Path, rank: int) -> None:
    shapes: dict[str, tuple[int, int]] = {}
    for n in range(19):
        for side in ("img", "txt"):
            for module, width_in, width_out in DOUBLE:
                shapes[f"double_blocks.{n}.{side}_{module}.lora_a"] = (width_in, rank)
                shapes[f"double_blocks.{n}.{side}_{module}.lora_b"] = (rank, width_out)
    for n in range(38):
        for module, width_in, width_out in SINGLE:
            shapes[f"single_blocks.{n}.{module}.lora_a"] = (width_in, rank)
            shapes[f"single_blocks.{n}.{module}.lora_b"] = (rank, width_out)
    header: dict[str, object] = {}
    offset = 0
    for name, shape in sorted(shapes.items()):
        size = 2 * shape[0] * shape[1]
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with path.open("wb") as stream:
        stream.write(struct.pack("<Q", len(raw)) + raw)
        for name in sorted(shapes):
            rows, cols = shapes[name]
            stream.write(os.urandom(2 * rows * cols))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source, out, copy = Path(folder) / "mlx.safetensors", Path(folder) / "kohya.safetensors", Path(folder) / "c"
        write_mlx_flux(source, args.rank)
        megabytes = source.stat().st_size / 1e6
        floor = median_seconds(lambda: shutil.copyfile(source, copy), args.rounds)
        remap = median_seconds(lambda: remap_lora(source, out, force=True), args.rounds)
        inspect = median_seconds(lambda: inspect_lora(out), args.rounds)
        tracemalloc.start()
        remap_lora(source, out, force=True)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(f"MLX flux LoRA, rank {args.rank}: 608 tensors, {megabytes:.0f} MB -> {out.stat().st_size / 1e6:.0f} MB")
        print(f"file copy (floor)   {floor * 1000:8.1f} ms")
        rate = megabytes / remap
        print(f"remap_lora          {remap * 1000:8.1f} ms  x{remap / floor:.1f} the floor, {rate:.0f} MB/s")
        print(f"inspect_lora (out)  {inspect * 1000:8.1f} ms  (header only)")
        print(f"remap peak traced memory {peak / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
