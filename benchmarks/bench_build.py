"""Benchmark the build against its floor and peer libraries, in one run.

    python benchmarks/bench_build.py [--rounds N] [--scan-files N]

Stack: the shipped defaults + a model sidecar + two LoRA sidecars + a user file + three
environment variables (the shipped examples). Prints the median of each measurement and its
ratio to the floor (tomllib parsing the same files plus a plain deep dict merge), the import
cost, and peak memory (tracemalloc) of one fresh build. Peers that are not installed are
skipped (``pip install -e '.[bench]'`` installs them). Last, it scans a generated library of
5,000 LoRAs with mixed metadata twice and reports files per second (cold, then cached).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
MODELS = EXAMPLES / "models" / "Stable-diffusion"
LORAS = EXAMPLES / "models" / "Lora"
SETTINGS = ROOT / "settings.toml"
USER = EXAMPLES / "user.toml"
FILES = [
    SETTINGS,
    MODELS / "RealVisXL_V4.0.modelprofile.toml",
    LORAS / "PerfectEyesXL.loraprofile.toml",
    LORAS / "add-detail-xl.loraprofile.toml",
    USER,
]
ENV = {"STABLENEW_TXT2IMG__STEPS": "40", "STABLENEW_TXT2IMG__SEED": "7", "STABLENEW_HIRES__ENABLED": "true"}
LORA_SETS = (["PerfectEyesXL", "add-detail-xl"], ["PerfectEyesXL"], ["add-detail-xl"])


def median_seconds(fn: Callable[[], object], rounds: int) -> float:
    fn()  # warm caches of the interpreter, not of the code under test
    gc.collect()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def deep_merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def floor() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for path in FILES:
        with path.open("rb") as handle:
            merged = deep_merge(merged, tomllib.load(handle))
    return merged


def fresh_build() -> object:
    from config_layers import ConfigBuilder

    builder = ConfigBuilder(model_dirs=[MODELS], lora_dirs=[LORAS], user_file=USER, environ=ENV)
    return builder.build(model="RealVisXL_V4.0", loras=LORA_SETS[0])


def make_repeated() -> Callable[[], object]:
    from config_layers import ConfigBuilder

    builder = ConfigBuilder(model_dirs=[MODELS], lora_dirs=[LORAS], user_file=USER, environ=ENV)
    counter = iter(range(10**9))

    def run() -> object:
        return builder.build(model="RealVisXL_V4.0", loras=LORA_SETS[next(counter) % len(LORA_SETS)])

    return run


def make_dynaconf() -> Callable[[], object] | None:
    try:
        from dynaconf import Dynaconf
    except ImportError:
        return None
    files = [str(p) for p in FILES]

    def run() -> object:
        settings = Dynaconf(settings_files=files, envvar_prefix="STABLENEW", environments=False, merge_enabled=True)
        return settings.as_dict()

    return run


def make_pydantic_settings(tmp: Path) -> Callable[[], object] | None:
    try:
        from pydantic_settings import (
            BaseSettings,
            PydanticBaseSettingsSource,
            SettingsConfigDict,
            TomlConfigSettingsSource,
        )
    except ImportError:
        return None
    files = [str(p) for p in FILES]

    class Peer(BaseSettings):
        model_config = SettingsConfigDict(
            env_prefix="STABLENEW_", env_nested_delimiter="__", toml_file=files, extra="allow"
        )

        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    return lambda: Peer().model_dump()


def make_omegaconf() -> Callable[[], object] | None:
    try:
        from omegaconf import OmegaConf
    except ImportError:
        return None

    def run() -> object:
        parts = []
        for path in FILES:
            with path.open("rb") as handle:
                parts.append(OmegaConf.create(tomllib.load(handle)))
        parts.append(OmegaConf.from_dotlist([f"{k[10:].lower().replace('__', '.')}={v}" for k, v in ENV.items()]))
        return OmegaConf.to_container(OmegaConf.merge(*parts))

    return run


def import_ms(statement: str, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def peak_kib(fn: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def make_lora_library(root: Path, count: int) -> None:
    """``count`` stub LoRAs with mixed metadata: A1111 .json, .civitai.info, Lora-Manager
    .metadata.json, .loraprofile.toml sidecars, bare headers, and a few broken files."""
    import json
    import struct

    def stub(path: Path, metadata: dict[str, str]) -> None:
        header = json.dumps({"__metadata__": metadata}).encode()
        header += b" " * (-len(header) % 8)
        path.write_bytes(struct.pack("<Q", len(header)) + header)

    for index in range(count):
        folder = root / f"set{index % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"lora_{index:05d}"
        stub(
            folder / f"{name}.safetensors",
            {
                "ss_network_module": "networks.lora",
                "ss_base_model_version": "sdxl_base_v1-0",
                "ss_output_name": name,
                "modelspec.trigger_phrase": f"tok{index}",
            },
        )
        kind = index % 6
        if kind == 0:
            (folder / f"{name}.json").write_text(
                json.dumps({"preferred weight": 0.7, "activation text": "a, b", "sd version": "SDXL"})
            )
        elif kind == 1:
            images = [{"meta": {"sampler": "DPM++ 2M Karras", "steps": 30, "cfgScale": 6, "Size": "832x1216"}}] * 5
            (folder / f"{name}.civitai.info").write_text(
                json.dumps({"baseModel": "SDXL 1.0", "trainedWords": ["w"], "images": images})
            )
        elif kind == 2:
            (folder / f"{name}.metadata.json").write_text(
                json.dumps({"base_model": "SDXL 1.0", "usage_tips": json.dumps({"strength": 0.8})})
            )
        elif kind == 3:
            (folder / f"{name}.loraprofile.toml").write_text(
                f'kind = "lora_profile"\nversion = 1\nlora_name = "{name}"\ntarget_base_type = "sdxl"\n'
                '[[recommended_weights]]\nlabel = "a"\nweight = 0.6\nrating = "good"\n'
            )
        elif kind == 4 and index % 60 == 4:
            (folder / f"{name}.civitai.info").write_text('{"baseModel": "SDXL 1.0", "images": [')  # truncated


def bench_scan(count: int) -> None:
    from config_layers.scan import Scanner

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_lora_library(root, count)
        scanner = Scanner([ROOT / "profiles"])
        start = time.perf_counter()
        first = scanner.scan([root])
        cold = time.perf_counter() - start
        start = time.perf_counter()
        second = scanner.scan([root])
        warm = time.perf_counter() - start
        problems = sum(1 for entry in first if entry.problems)
        assert len(first) == len(second) == count
    print(f"\nscan of {count} LoRAs with mixed metadata ({problems} with recorded problems)")
    print(f"  first scan                 {cold:7.2f}s  {count / cold:8.0f} files/s")
    print(f"  second scan (cached)       {warm:7.2f}s  {count / warm:8.0f} files/s  ({cold / warm:.1f}x faster)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--import-runs", type=int, default=15)
    parser.add_argument("--scan-files", type=int, default=5000, help="LoRAs in the generated scan library (0: skip)")
    args = parser.parse_args()
    os.environ.update(ENV)  # for the peers that only read the process environment

    rows: list[tuple[str, float]] = []
    floor_s = median_seconds(floor, args.rounds)
    rows.append(("floor: tomllib + dict deep-merge", floor_s))
    rows.append(("config_layers build(), fresh builder", median_seconds(fresh_build, args.rounds)))
    rows.append(("config_layers build(), same builder, other LoRAs", median_seconds(make_repeated(), args.rounds)))
    with tempfile.TemporaryDirectory() as tmp:
        peers = {
            "dynaconf 3.x Dynaconf(...) fresh, same files + env": make_dynaconf(),
            "pydantic-settings BaseSettings(), same files + env": make_pydantic_settings(Path(tmp)),
            "OmegaConf create+merge, same files + env": make_omegaconf(),
        }
        for label, fn in peers.items():
            if fn is None:
                print(f"skipped (not installed): {label}")
                continue
            rows.append((label, median_seconds(fn, max(args.rounds // 5, 20))))

    print(
        f"\nmedians over {args.rounds} rounds (peers over {max(args.rounds // 5, 20)}); python {sys.version.split()[0]}"
    )
    print(f"{'measurement':<52} {'median':>10} {'x floor':>8}")
    for label, seconds in rows:
        print(f"{label:<52} {seconds * 1e3:>8.3f}ms {seconds / floor_s:>8.2f}")

    base = import_ms("pass", args.import_runs)
    print(f"\nimport (median of {args.import_runs} interpreter starts, interpreter start {base:.1f}ms subtracted)")
    # `import pydantic` is itself lazy: BaseModel's machinery loads on first use, so both
    # baselines are shown, and both ways of importing config_layers.
    deps = import_ms("import dynaconf, pydantic", args.import_runs)
    deps_model = import_ms("import dynaconf; from pydantic import BaseModel", args.import_runs)
    for label, statement in (
        ("import config_layers", "import config_layers"),
        ("from config_layers import ConfigBuilder", "from config_layers import ConfigBuilder"),
        ("import config_layers.cli (the CLI)", "import config_layers.cli"),
    ):
        ours = import_ms(statement, args.import_runs)
        print(
            f"  {label:<42} {ours - base:7.1f}ms  ({ours - deps:+6.1f}ms over `import dynaconf, pydantic`, "
            f"{ours - deps_model:+6.1f}ms over `import dynaconf; from pydantic import BaseModel`)"
        )
    print(f"  {'import dynaconf, pydantic':<42} {deps - base:7.1f}ms")
    print(f"  {'import dynaconf; from pydantic import BaseModel':<42} {deps_model - base:7.1f}ms")

    print("\npeak memory of one call (tracemalloc)")
    print(f"  floor                      {peak_kib(floor):8.1f} KiB")
    print(f"  fresh build()              {peak_kib(fresh_build):8.1f} KiB")

    if args.scan_files:
        bench_scan(args.scan_files)


if __name__ == "__main__":
    main()
