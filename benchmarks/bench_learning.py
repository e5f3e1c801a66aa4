"""Benchmark ``learn`` over generated LearningRecords: records per second and peak memory.

    python benchmarks/bench_learning.py [--records N] [--rounds N]

Generates N records (default 100,000) in a temp folder: pipeline records over 5 models and
a few dozen knob sets, with thin experiment records, unrated ones and bad lines mixed in, as a
long-lived StableNew install accumulates them. Times a dry-run ``learn()`` (median of the
rounds) and measures its peak traced memory (tracemalloc, a separate run) for N and for N/10
records: memory should stay flat in the number of records (target >= 50,000 records/s). The
reader's bounded caches and each group's newest-runs evidence fill up over the first few
thousand records, then memory stays where it is.

``bench_learning()`` returns the numbers, for other benchmark scripts to call.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config_layers.learning import learn  # noqa: E402
from tests.learning_records import pipeline, thin  # noqa: E402

MODELS = ["RealVisXL_V4.0", "juggernautXL_v9", "ponyDiffusionV6XL", "dreamshaper_8", "sd_xl_base_1.0"]
SAMPLERS = ["DPM++ 2M Karras", "Euler a", "DPM++ SDE", "DDIM"]
KINDS = ["learning_experiment_rating", "review_tab_feedback", "staged_curation_event"]


def _record(rng: random.Random, index: int) -> dict[str, Any]:
    """A record as StableNew writes them (the shapes the tests use): mostly pipeline records,
    1 in 20 a thin CFG experiment, 3 in 100 unrated."""
    model, cfg = rng.choice(MODELS), rng.choice([5.0, 6.5, 7.0])
    stamp = f"2026-{1 + index % 12:02d}-{1 + index % 28:02d}T12:00:00"
    rating = rng.randint(1, 5) if rng.random() > 0.03 else None
    if rng.random() < 0.05:
        return thin(f"run-{index:07d}", rating or 3, "CFG Scale", cfg, model=model, timestamp=stamp)
    return pipeline(
        f"run-{index:07d}",
        rating,
        kind=rng.choice(KINDS),
        model=f"{model}.safetensors [4e4b3ad5]",
        sampler=rng.choice(SAMPLERS),
        steps=rng.choice([20, 28, 30]),
        cfg=cfg,
        loras=[{"name": "PerfectEyesXL", "weight": rng.choice([0.5, 0.6])}] if rng.random() < 0.5 else [],
        timestamp=stamp,
        subscores={"anatomy": 4, "composition": 3, "prompt_adherence": 5},
    )


def generate_records(path: Path, count: int, seed: int = 7) -> Path:
    """``count`` lines of records (about 1 in 500 a bad line) written to ``path``."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as handle:
        for index in range(count):
            if rng.random() < 0.002:
                handle.write("{not json\n")
            else:
                handle.write(json.dumps(_record(rng, index), sort_keys=True) + "\n")
    return path


def _peak_bytes(path: Path) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        learn([path])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _floor(path: Path) -> None:
    """The least any reader does: split the file into lines and json-decode each one."""
    with path.open("rb") as handle:
        for line in handle:
            try:
                json.loads(line)
            except ValueError:
                continue


def _median_seconds(run: Any, rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        gc.collect()
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench_learning(records: int = 100_000, rounds: int = 3) -> dict[str, float]:
    """Time a dry-run ``learn`` over ``records`` generated records, and the floor (``json.loads``
    of every line) on the same machine; peak memory for them and for a tenth as many. Returns
    records, seconds (median), records_per_s, floor_records_per_s, peak_mib, peak_mib_tenth."""
    with tempfile.TemporaryDirectory() as tmp:
        big = generate_records(Path(tmp) / "learning_records.jsonl", records)
        small = generate_records(Path(tmp) / "small.jsonl", max(1, records // 10))
        seconds = _median_seconds(lambda: learn([big]), rounds)
        floor = _median_seconds(lambda: _floor(big), rounds)
        return {
            "records": float(records),
            "seconds": seconds,
            "records_per_s": records / seconds,
            "floor_records_per_s": records / floor,
            "peak_mib": _peak_bytes(big) / 2**20,
            "peak_mib_tenth": _peak_bytes(small) / 2**20,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    result = bench_learning(args.records, args.rounds)
    tenth = max(1, args.records // 10)
    print(f"learn (dry run), {args.records:,} generated records")
    print(f"  time           {result['seconds']:.3f} s (median of {args.rounds})")
    print(f"  throughput     {result['records_per_s']:,.0f} records/s (target >= 50,000)")
    floor = result["floor_records_per_s"]
    ratio = floor / result["records_per_s"]
    print(f"  floor          {floor:,.0f} records/s: json.loads of each line, nothing else (learn: {ratio:.1f}x it)")
    print(f"  peak memory    {result['peak_mib']:.2f} MiB for {args.records:,} records")
    print(f"                 {result['peak_mib_tenth']:.2f} MiB for {tenth:,} records (flat = about the same)")


if __name__ == "__main__":
    main()
