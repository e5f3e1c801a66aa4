"""Benchmark the build against its floor and peer libraries, in one run.

    python benchmarks/bench_build.py [--quick] [--rounds N] [--scan-files N]

Two workloads, each timed against its floor (parsing the same files with tomllib/json plus a
plain deep dict merge) and against the peers (dynaconf, pydantic-settings, OmegaConf):

- ``shipped``: the shipped defaults + a TOML model sidecar + two TOML LoRA sidecars + the example
  user file + three environment variables;
- ``json``: the same priors as JSON sidecars in a generated library, a 10-line user file and three
  environment variables.

Then the scaling rows (libraries of generated LoRAs with mixed metadata): repeated builds in a
small and a large library and with a name that is missing (lenient), a first build in a fresh
process on the large library, user files with 500 and 1,000 LoRA tables, ``scan`` cold and
cached, the whole ``config-layers build --format json`` process against ``import dynaconf,
pydantic``, import costs and peak memory; then counting a 300-token prompt against a build
(``bench_tokens.py``) and ``learn`` over 100,000 generated records (``bench_learning.py``).
Every target is printed last with its measured value and whether it is met. Times compared in a
ratio are taken interleaved, round by round, so the ratio holds on a noisy machine. ``--quick`` uses
smaller libraries and fewer rounds.
Peers that are not installed are skipped (``pip install -e '.[bench]'`` installs them).
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's package, not an installed one

from tests.safetensors_files import write_stub_safetensors  # noqa: E402

EXAMPLES = ROOT / "examples"
MODELS = EXAMPLES / "models" / "Stable-diffusion"
LORAS = EXAMPLES / "models" / "Lora"
SETTINGS = ROOT / "settings.toml"
USER = EXAMPLES / "user.toml"
ENV = {"STABLENEW_TXT2IMG__STEPS": "40", "STABLENEW_TXT2IMG__SEED": "7", "STABLENEW_HIRES__ENABLED": "true"}
LORA_SETS = (["PerfectEyesXL", "add-detail-xl"], ["PerfectEyesXL"], ["add-detail-xl"])
USER_10_LINES = """\
# ten lines of user overrides
negative_prompt = "blurry, lowres"
[txt2img]
steps = 32
seed = 1234
width = 1024
[hires]
enabled = true
[loras.PerfectEyesXL]
weight = 0.65
"""


@dataclass
class Workload:
    """One build's inputs, and the files its floor parses."""

    name: str
    model_dirs: list[Path]
    lora_dirs: list[Path]
    user_file: Path
    files: list[Path]
    model: str = "RealVisXL_V4.0"
    lora_sets: Sequence[list[str]] = LORA_SETS
    env: dict[str, str] = field(default_factory=lambda: dict(ENV))

    def builder(self, **extra: Any) -> Any:
        from config_layers import ConfigBuilder

        return ConfigBuilder(
            model_dirs=self.model_dirs, lora_dirs=self.lora_dirs, user_file=self.user_file, environ=self.env, **extra
        )


def shipped_workload() -> Workload:
    files = [
        SETTINGS,
        MODELS / "RealVisXL_V4.0.modelprofile.toml",
        LORAS / "PerfectEyesXL.loraprofile.toml",
        LORAS / "add-detail-xl.loraprofile.toml",
        USER,
    ]
    return Workload("shipped", [MODELS], [LORAS], USER, files)


def json_workload(root: Path) -> Workload:
    """The shipped priors rewritten as JSON sidecars beside copies of the stub model files."""
    models, loras = root / "Stable-diffusion", root / "Lora"
    models.mkdir(parents=True)
    loras.mkdir(parents=True)
    sidecars = []
    for folder, stem, suffix in (
        (models, "RealVisXL_V4.0", ".modelprofile"),
        (loras, "PerfectEyesXL", ".loraprofile"),
        (loras, "add-detail-xl", ".loraprofile"),
    ):
        source = (MODELS if folder is models else LORAS) / stem
        (folder / f"{stem}.safetensors").write_bytes(source.with_name(f"{stem}.safetensors").read_bytes())
        with source.with_name(f"{stem}{suffix}.toml").open("rb") as handle:
            data = tomllib.load(handle)
        sidecar = folder / f"{stem}{suffix}.json"
        sidecar.write_text(json.dumps(data, indent=2))
        sidecars.append(sidecar)
    user = root / "user.toml"
    user.write_text(USER_10_LINES)
    return Workload("json", [models], [loras], user, [SETTINGS, *sidecars, user])


def median_seconds(fn: Callable[[], object], rounds: int) -> float:
    fn()  # warm caches of the interpreter, not of the code under test
    gc.collect()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def interleaved_medians(fns: Sequence[Callable[[], object]], rounds: int) -> list[float]:
    """The median time of each of ``fns``, run in turn within every round: a ratio between two
    of them is then taken over the same moments of a noisy machine, not over two stretches."""
    for fn in fns:
        fn()
    gc.collect()
    samples: list[list[float]] = [[] for _ in fns]
    for _ in range(rounds):
        for fn, times in zip(fns, samples, strict=True):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return [statistics.median(times) for times in samples]


def deep_merge(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def make_floor(work: Workload) -> Callable[[], object]:
    def run() -> object:
        merged: dict[str, Any] = {}
        for path in work.files:
            with path.open("rb") as handle:
                data = tomllib.load(handle) if path.suffix == ".toml" else json.load(handle)
            merged = deep_merge(merged, data)
        return merged

    return run


def make_fresh(work: Workload) -> Callable[[], object]:
    return lambda: work.builder().build(model=work.model, loras=work.lora_sets[0])


def make_repeated(work: Workload, **extra: Any) -> Callable[[], object]:
    builder = work.builder(**extra)
    counter = iter(range(10**9))

    def run() -> object:
        return builder.build(model=work.model, loras=work.lora_sets[next(counter) % len(work.lora_sets)])

    return run


def make_dynaconf(work: Workload) -> Callable[[], object] | None:
    try:
        from dynaconf import Dynaconf
    except ImportError:
        return None
    files = [str(p) for p in work.files]

    def run() -> object:
        settings = Dynaconf(settings_files=files, envvar_prefix="STABLENEW", environments=False, merge_enabled=True)
        return settings.as_dict()

    return run


def make_pydantic_settings(work: Workload) -> Callable[[], object] | None:
    try:
        from pydantic_settings import (
            BaseSettings,
            JsonConfigSettingsSource,
            PydanticBaseSettingsSource,
            SettingsConfigDict,
            TomlConfigSettingsSource,
        )
    except ImportError:
        return None
    tomls = [str(p) for p in work.files if p.suffix == ".toml"]
    jsons = [str(p) for p in work.files if p.suffix == ".json"]

    class Peer(BaseSettings):
        model_config = SettingsConfigDict(
            env_prefix="STABLENEW_", env_nested_delimiter="__", toml_file=tomls, json_file=jsons or None, extra="allow"
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
            sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
            sources.append(TomlConfigSettingsSource(settings_cls))
            if jsons:
                sources.append(JsonConfigSettingsSource(settings_cls))
            return tuple(sources)

    return lambda: Peer().model_dump()


def make_omegaconf(work: Workload) -> Callable[[], object] | None:
    try:
        from omegaconf import OmegaConf
    except ImportError:
        return None

    def run() -> object:
        parts = []
        for path in work.files:
            with path.open("rb") as handle:
                parts.append(OmegaConf.create(tomllib.load(handle) if path.suffix == ".toml" else json.load(handle)))
        dotlist = [f"{k[10:].lower().replace('__', '.')}={v}" for k, v in work.env.items()]
        parts.append(OmegaConf.from_dotlist(dotlist))
        return OmegaConf.to_container(OmegaConf.merge(*parts))

    return run


def process_ms(argv: list[str], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def import_ms(statement: str, runs: int) -> float:
    return process_ms([sys.executable, "-c", statement], runs)


def peak_kib(fn: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def make_lora_library(root: Path, count: int, *, prefix: str = "lora", metadata: bool = True) -> None:
    """``count`` stub LoRAs in 20 folders; with ``metadata``, mixed sidecars: A1111 .json,
    .civitai.info, Lora-Manager .metadata.json, .loraprofile.toml, bare headers, a few broken."""
    for index in range(count):
        folder = root / f"set{index % 20:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{prefix}_{index:05d}"
        write_stub_safetensors(
            folder / f"{name}.safetensors",
            {
                "ss_network_module": "networks.lora",
                "ss_base_model_version": "sdxl_base_v1-0",
                "ss_output_name": name,
                "modelspec.trigger_phrase": f"tok{index}",
            },
        )
        kind = index % 6 if metadata else -1
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


def scan_rates(root: Path, count: int) -> tuple[float, float, int]:
    from config_layers.scan import Scanner

    scanner = Scanner([ROOT / "profiles"])
    start = time.perf_counter()
    first = scanner.scan([root])
    cold = time.perf_counter() - start
    start = time.perf_counter()
    second = scanner.scan([root])
    warm = time.perf_counter() - start
    assert len(first) == len(second) == count, (len(first), len(second), count)
    return count / cold, count / warm, sum(1 for entry in first if entry.problems)


_FIRST_BUILD = """\
import sys, time
from config_layers import ConfigBuilder
start = time.perf_counter()
models, library, loras, cache_dir = sys.argv[1:5]
builder = ConfigBuilder(model_dirs=[models], lora_dirs=[library, loras], environ={}, cache_dir=cache_dir)
builder.build(model="RealVisXL_V4.0", loras=["PerfectEyesXL", "lora_00007"])
print(time.perf_counter() - start)
"""


def first_build_ms(library: Path, runs: int, cache_dir: Path, *, kept: bool) -> float:
    """A first build in a fresh process (imports done before the clock starts). ``kept``: an
    earlier process left its folder listings in ``cache_dir`` (the usual case: the user cache
    dir); else every run starts with an empty one (the first run after installing)."""
    samples = []
    for run in range(runs + kept):
        where = cache_dir if kept else cache_dir / f"cold{run}"
        argv = [sys.executable, "-c", _FIRST_BUILD, str(MODELS), str(library), str(LORAS), str(where)]
        samples.append(float(subprocess.run(argv, check=True, capture_output=True, text=True).stdout))
    return statistics.median(samples[kept:]) * 1000


def user_file_with_loras(root: Path, count: int) -> Path:
    path = root / f"user_{count}.toml"
    path.write_text("".join(f"[loras.many_{i:05d}]\nweight = 0.5\n" for i in range(count)))
    return path


class Report:
    def __init__(self) -> None:
        self.targets: list[tuple[str, str, float, str, bool]] = []

    def target(self, label: str, value: float, unit: str, limit: float, *, at_least: bool = False) -> None:
        met = value >= limit if at_least else value <= limit
        self.targets.append((label, f"{value:,.2f}{unit}", limit, ">=" if at_least else "<=", met))

    def print_targets(self) -> None:
        print("\ntargets (issue 9)")
        print(f"  {'target':<62} {'measured':>14} {'limit':>12}  met")
        for label, shown, limit, op, met in self.targets:
            print(f"  {label:<62} {shown:>14} {op + f'{limit:,g}':>12}  {'yes' if met else 'NO'}")


def bench_workload(work: Workload, rounds: int, report: Report) -> float:
    floor_s, fresh, repeated = interleaved_medians([make_floor(work), make_fresh(work), make_repeated(work)], rounds)
    rows = [("floor: tomllib/json + dict deep-merge", floor_s)]
    rows += [("config_layers build(), fresh builder", fresh), ("config_layers build(), same builder", repeated)]
    peer_rounds = max(rounds // 5, 20)
    for label, fn in (
        ("dynaconf Dynaconf(...) fresh, same files + env", make_dynaconf(work)),
        ("pydantic-settings BaseSettings(), same files + env", make_pydantic_settings(work)),
        ("OmegaConf create+merge, same files + env", make_omegaconf(work)),
    ):
        if fn is None:
            print(f"skipped (not installed): {label}")
            continue
        rows.append((label, median_seconds(fn, peer_rounds)))
    print(f"\nworkload {work.name!r}: medians over {rounds} rounds (peers over {peer_rounds})")
    print(f"  {'measurement':<52} {'median':>10} {'x floor':>8}")
    for label, seconds in rows:
        print(f"  {label:<52} {seconds * 1e3:>8.3f}ms {seconds / floor_s:>8.2f}")
    report.target(f"{work.name}: repeated build / floor", repeated / floor_s, "x", 1.5)
    report.target(f"{work.name}: fresh builder / floor", fresh / floor_s, "x", 3.0)
    return floor_s


def make_inputs(tmp: Path, small: int, large: int, scan_files: int) -> Workload:
    """Every generated file, written before any timing: a folder or file changed in the last 2 s
    is read again on each use (its mtime may not show a second change yet), and real libraries
    are not written a moment before a build."""
    started = time.monotonic()
    work = json_workload(tmp / "json")
    for count in (small, large):
        make_lora_library(tmp / f"library_{count}", count)
    make_lora_library(tmp / "many", 1000, prefix="many", metadata=False)
    for count in (500, 1000):
        user_file_with_loras(tmp, count)
    if scan_files:
        make_lora_library(tmp / "scan", scan_files)
    time.sleep(max(0.0, 2.5 - (time.monotonic() - started)))
    return work


def bench_libraries(tmp: Path, small: int, large: int, rounds: int, report: Report) -> None:
    shipped = shipped_workload()
    libraries = {count: tmp / f"library_{count}" for count in (small, large)}

    def repeated(count: int, loras: list[str], lenient: bool = False) -> Callable[[], object]:
        work = Workload("library", [MODELS], [libraries[count], LORAS], shipped.user_file, [])
        work.lora_sets = [loras]
        return make_repeated(work, lenient=lenient)

    found = ["PerfectEyesXL", "lora_00007"]
    missing = ["PerfectEyesXL", "no_such_lora"]
    builds = [repeated(small, found), repeated(large, found)]
    builds += [repeated(small, missing, True), repeated(large, missing, True)]
    t_small, t_large, m_small, m_large = interleaved_medians(builds, rounds)
    first = first_build_ms(libraries[large], 3, tmp / "cache-kept", kept=True)
    first_cold = first_build_ms(libraries[large], 3, tmp / "cache-cold", kept=False)
    print(f"\nLoRA libraries of {small:,} and {large:,} files (mixed metadata), medians over {rounds} rounds")
    print(f"  repeated build, {small:>6,} files                    {t_small * 1e3:8.3f}ms")
    print(f"  repeated build, {large:>6,} files                    {t_large * 1e3:8.3f}ms  ({t_large / t_small:.2f}x)")
    print(f"  repeated build naming a missing LoRA, {small:>6,} files {m_small * 1e3:8.3f}ms")
    ratio = m_large / t_small
    print(f"  repeated build naming a missing LoRA, {large:>6,} files {m_large * 1e3:8.3f}ms  ({ratio:.2f}x)")
    print(f"  first build in a fresh process, {large:>6,} files    {first:8.1f}ms  (listings kept by an earlier run)")
    print(f"  first build in a fresh process, {large:>6,} files    {first_cold:8.1f}ms  (none kept: a first run)")
    report.target(f"repeated build, library {large:,} / {small:,} files", t_large / t_small, "x", 1.2)
    report.target(f"missing-name build, {large:,} files / found-name, {small:,}", m_large / t_small, "x", 1.2)
    report.target(f"first build in a fresh process, {large:,}-file library", first, "ms", 100)


def bench_many_loras(tmp: Path, rounds: int, report: Report) -> None:
    from config_layers import ConfigBuilder

    library = tmp / "many"
    builds: list[Callable[[], object]] = []
    for count in (500, 1000):
        builder = ConfigBuilder(
            model_dirs=[MODELS], lora_dirs=[library], user_file=tmp / f"user_{count}.toml", environ={}
        )
        builds.append(functools.partial(builder.build, model="RealVisXL_V4.0"))
    by_name = ConfigBuilder(model_dirs=[MODELS], lora_dirs=[library], environ={})
    names = [f"many_{i:05d}" for i in range(1000)]
    builds.append(lambda: by_name.build(model="RealVisXL_V4.0", loras=names))
    five_hundred, thousand, by_call = interleaved_medians(builds, rounds)
    rows = {500: five_hundred, 1000: thousand}
    print(f"\nmany LoRAs, medians over {rounds} rounds (same builder)")
    print(f"  user file with 500 LoRA tables              {rows[500] * 1e3:8.1f}ms")
    print(f"  user file with 1,000 LoRA tables            {rows[1000] * 1e3:8.1f}ms  ({rows[1000] / rows[500]:.2f}x)")
    print(f"  build(loras=<1,000 names>)                  {by_call * 1e3:8.1f}ms")
    report.target("user file with 1,000 LoRA tables", rows[1000] * 1e3, "ms", 20)
    # 1,000 is the most LoRAs one layer may name (config_layers.bounds.MAX_TABLE_KEYS).
    report.target("user file 1,000 / 500 LoRA tables (linear: ~2)", rows[1000] / rows[500], "x", 2.4)


def bench_process(runs: int, report: Report) -> None:
    base = import_ms("pass", runs)
    deps = import_ms("import dynaconf, pydantic", runs)
    deps_model = import_ms("import dynaconf; from pydantic import BaseModel", runs)
    cli = [sys.executable, "-m", "config_layers", "build", "--format", "json", "--model", "RealVisXL_V4.0"]
    cli += ["--lora", "PerfectEyesXL", "--user-file", str(USER)]
    whole = process_ms(cli, runs)
    print(f"\nprocesses (median of {runs} starts; interpreter start {base:.1f}ms subtracted below)")
    print(f"  {'config-layers build --format json (whole process)':<52} {whole:7.1f}ms  ({whole / deps:.2f}x)")
    label = 'python -c "import dynaconf, pydantic"'
    print(f"  {label:<52} {deps:7.1f}ms")
    for label, statement in (
        ("import config_layers", "import config_layers"),
        ("from config_layers import ConfigBuilder", "from config_layers import ConfigBuilder"),
        ("import config_layers.cli (the CLI)", "import config_layers.cli"),
    ):
        ours = import_ms(statement, runs)
        print(
            f"  {label:<52} {ours - base:7.1f}ms  ({ours - deps:+6.1f}ms over `import dynaconf, pydantic`, "
            f"{ours - deps_model:+6.1f}ms over `... from pydantic import BaseModel`)"
        )
    print(f"  {'import dynaconf, pydantic':<52} {deps - base:7.1f}ms")
    print(f"  {'import dynaconf; from pydantic import BaseModel':<52} {deps_model - base:7.1f}ms")
    report.target("config-layers build --format json / python -c 'import dynaconf, pydantic'", whole / deps, "x", 1.5)


def bench_prompts_and_learning(quick: bool, report: Report) -> None:
    """Prompt counting (issue 11) against a build, and ``learn`` over generated records (issue 10)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_learning import bench_learning
    from bench_tokens import bench_tokens

    tokens = bench_tokens(rounds=50 if quick else 200)
    exact = "CLIP BPE" if tokens["exact"] else "estimate"
    print(f"\nprompt tokens ({exact}, {tokens['tokens']:.0f}-token subject)")
    print(f"  load the tokenizer (once)  {tokens['tokenizer_load']:8.2f} ms")
    print(f"  count the subject          {tokens['count_300']:8.3f} ms")
    print(f"  compose a payload prompt   {tokens['compose_payload_prompt']:8.3f} ms")
    print(f"  repeated build()           {tokens['build']:8.3f} ms (counts nothing)")
    report.target("count a 300-token prompt / repeated build", tokens["count_300"] / tokens["build"], "x", 1.0)

    records = 100_000
    learned = bench_learning(records=records, rounds=1 if quick else 3)
    print(f"\nlearn (dry run) over {records:,} generated records")
    print(f"  throughput                 {learned['records_per_s']:10,.0f} records/s")
    print(f"  floor (json.loads a line)  {learned['floor_records_per_s']:10,.0f} records/s")
    print(
        f"  peak memory                {learned['peak_mib']:8.2f} MiB ({learned['peak_mib_tenth']:.2f} MiB for a tenth)"
    )
    report.target(f"learn, {records:,} records", learned["records_per_s"], " records/s", 50_000, at_least=True)
    report.target(
        "learn peak memory, all / a tenth of the records (flat: ~1)",
        learned["peak_mib"] / learned["peak_mib_tenth"],
        "x",
        1.5,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller libraries and fewer rounds")
    parser.add_argument("--rounds", type=int, help="rounds of the workload rows (default 300, quick 60)")
    parser.add_argument("--import-runs", type=int, help="process starts per row (default 15, quick 5)")
    parser.add_argument("--scan-files", type=int, help="LoRAs in the scan library (default 5000, quick 1000; 0 skips)")
    parser.add_argument("--library", type=int, help="files in the large library (default 50000, quick 10000)")
    args = parser.parse_args()
    rounds = args.rounds or (60 if args.quick else 300)
    runs = args.import_runs or (5 if args.quick else 15)
    scan_files = args.scan_files if args.scan_files is not None else (1000 if args.quick else 5000)
    large = args.library or (10000 if args.quick else 50000)
    os.environ.update(ENV)  # for the peers that only read the process environment
    # Kept folder listings go to a cache dir of this run, not the user's (children inherit it).
    user_cache = tempfile.TemporaryDirectory()
    os.environ["XDG_CACHE_HOME"] = user_cache.name
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs{', --quick' if args.quick else ''}")
    report = Report()
    shipped = shipped_workload()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        json_work = make_inputs(tmp, 1000, large, scan_files)
        floor_s = bench_workload(shipped, rounds, report)
        bench_workload(json_work, rounds, report)

        print("\npeak memory of one call (tracemalloc)")
        print(f"  floor                      {peak_kib(make_floor(shipped)):8.1f} KiB")
        print(f"  fresh build()              {peak_kib(make_fresh(shipped)):8.1f} KiB")

        bench_libraries(tmp, 1000, large, max(rounds // 6, 10), report)
        bench_many_loras(tmp, 5 if args.quick else 10, report)
        if scan_files:
            cold, warm, problems = scan_rates(tmp / "scan", scan_files)
            print(f"\nscan of {scan_files:,} LoRAs with mixed metadata ({problems} with recorded problems)")
            print(f"  first scan                 {cold:10,.0f} files/s")
            print(f"  second scan (cached)       {warm:10,.0f} files/s")
            report.target("scan, cold", cold, " files/s", 5000, at_least=True)
            report.target("scan, cached", warm, " files/s", 50000, at_least=True)
    bench_process(runs, report)
    bench_prompts_and_learning(args.quick, report)
    print(f"\n(floor of the shipped workload: {floor_s * 1e3:.3f}ms)")
    report.print_targets()


if __name__ == "__main__":
    main()
