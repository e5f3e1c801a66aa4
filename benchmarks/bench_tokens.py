"""Benchmark prompt counting: does composing and counting a 300-token prompt dominate a build?

    python benchmarks/bench_tokens.py [--rounds N]

Measures, as medians: loading the CLIP tokenizer once (its vocabulary), counting a 300-token
prompt as the WebUI chunks it, composing and budgeting a whole payload prompt (quality, a
trigger, a 300-token subject, style, LoRA tags) from a built config, and the repeated
``build()`` of the same config for scale. ``bench_tokens()`` returns the numbers so that
``bench_build.py`` can print them with its own.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MODELS = ROOT / "examples" / "models"
_COLORS = ("red", "blue", "green", "gold", "black", "white", "pink", "grey", "brown", "purple")
_THINGS = ("cat", "dog", "house", "tree", "car", "boat", "bird", "flower", "hat", "sword")
#: 300 CLIP tokens, no phrase twice (dedupe would shorten it): 100 two-word phrases, 99 commas, "knight".
SUBJECT = ", ".join(f"{color} {thing}" for color in _COLORS for thing in _THINGS) + " knight"


def _median_ms(fn: Callable[[], object], rounds: int) -> float:
    fn()
    return statistics.median(timeit.repeat(fn, number=1, repeat=rounds)) * 1000


def bench_tokens(rounds: int = 200) -> dict[str, float]:
    """Milliseconds (medians) for: ``tokenizer_load``, ``count_300`` (one 300-token part,
    chunked), ``compose_payload_prompt`` (the whole prompt of a built config), ``build``
    (the same builder building again); and ``tokens`` (the count it measured)."""
    from config_layers import ConfigBuilder
    from config_layers.prompts import prompt_report, tokenizer
    from config_layers.prompts.compose import Part, compose

    tokenizer._shared = None
    start = time.perf_counter()
    clip = tokenizer.get_tokenizer()
    load_ms = (time.perf_counter() - start) * 1000

    subject = [Part("prompt", "subject", SUBJECT)]
    counted = compose(subject, clip)
    builder = ConfigBuilder(model_dirs=[MODELS / "Stable-diffusion"], lora_dirs=[MODELS / "Lora"], environ={})
    overrides = {
        "prompt": SUBJECT,
        "quality_prompt": "masterpiece, best quality, (ultra detailed:1.2)",
        "style_prompt": "oil painting, dramatic lighting",
        "loras": {"PerfectEyesXL": {"trigger": "perfecteyes"}},
    }

    def build() -> object:
        return builder.build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"], overrides=overrides)

    config = build()
    return {
        "tokenizer_load": load_ms,
        "count_300": _median_ms(lambda: compose(subject, clip), rounds),
        "compose_payload_prompt": _median_ms(lambda: prompt_report(config, record=False), rounds),
        "build": _median_ms(build, rounds),
        "tokens": float(counted.tokens),
        "exact": float(clip.exact),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    rounds = parser.parse_args().rounds
    result = bench_tokens(rounds)
    label = "CLIP BPE" if result["exact"] else "the estimate (CLIP tokenizer not installed)"
    print(f"counting with {label}; subject of {result['tokens']:.0f} tokens; medians of {rounds} rounds")
    print(f"  load the tokenizer (once per process)   {result['tokenizer_load']:8.2f} ms")
    print(f"  count a 300-token prompt (chunked)      {result['count_300']:8.3f} ms")
    print(f"  compose + count + budget the payload    {result['compose_payload_prompt']:8.3f} ms")
    print(f"  build() the same config again           {result['build']:8.3f} ms")
    ratio = result["compose_payload_prompt"] / result["build"]
    print(f"  composing the prompt costs {ratio:.2f}x a build (and only when a payload, explain or tokens asks)")


if __name__ == "__main__":
    main()
