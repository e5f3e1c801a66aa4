"""Normalization of values as other tools write them (WebUI model names, sampler names, float noise)."""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal, localcontext

# The WebUI reports checkpoints as "name.safetensors [abc123def4]" (short or full hash). Matched
# on the right-stripped text, anchored at a "[": a leading \s* would make the search quadratic in
# a run of spaces (100k spaces took 8 s).
_HASH_SUFFIX = re.compile(r"\[[0-9a-fA-F]{6,64}\]$")
#: The file extensions a checkpoint or LoRA file has (the one list; discovery/files.py uses it).
MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")


def strip_model_hash(name: str) -> str:
    """Drop a WebUI ``" [hash]"`` suffix: ``"x.safetensors [abc12345]"`` -> ``"x.safetensors"``."""
    stripped = name.rstrip()
    bracket = stripped.rfind("[")
    if bracket < 0 or _HASH_SUFFIX.fullmatch(stripped, bracket) is None:
        return name
    return stripped[:bracket].rstrip()


def model_stem(name: str) -> str:
    """The bare stem a WebUI model name refers to: no hash suffix, folders or known extension."""
    bare = strip_model_hash(name).replace("\\", "/").rsplit("/", 1)[-1]
    lowered = bare.lower()
    for ext in MODEL_EXTENSIONS:
        if lowered.endswith(ext):
            return bare[: -len(ext)]
    return bare


# AUTOMATIC1111's scheduler table (modules/sd_schedulers.py, v1.9+): (label, name, aliases).
# Before 1.9 the scheduler was part of the sampler name ("DPM++ 2M Karras"); 1.9+ splits such
# names with these labels, and so do we.
_SCHEDULERS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Automatic", "automatic", ()),
    ("Uniform", "uniform", ()),
    ("Karras", "karras", ()),
    ("Exponential", "exponential", ()),
    ("Polyexponential", "polyexponential", ()),
    ("SGM Uniform", "sgm_uniform", ("SGMUniform",)),
    ("KL Optimal", "kl_optimal", ()),
    ("Align Your Steps", "align_your_steps", ()),
    ("Simple", "simple", ()),
    ("Normal", "normal", ()),
    ("DDIM", "ddim", ()),
    ("Beta", "beta", ()),
)
# Every spelling (lowercased) -> label.
_SCHEDULER_SPELLINGS: dict[str, str] = {
    spelling.lower(): label for label, name, aliases in _SCHEDULERS for spelling in (label, name, *aliases)
}
# Longest spelling first, so "SGM Uniform" is tried before "Uniform" (A1111 walks its table in
# order and would leave "Euler SGM" behind; the longest match is what the names mean).
_SUFFIXES = sorted(_SCHEDULER_SPELLINGS, key=len, reverse=True)


def scheduler_label(name: str) -> str:
    """The A1111 label of a scheduler spelled any known way (``"karras"`` -> ``"Karras"``,
    ``"sgm_uniform"`` -> ``"SGM Uniform"``); an unknown name comes back stripped, unchanged."""
    bare = " ".join(name.split())
    return _SCHEDULER_SPELLINGS.get(bare.lower(), bare)


def split_sampler(name: str) -> tuple[str, str | None]:
    """Split a combined A1111 sampler name into ``(sampler, scheduler label or None)``.

    ``"DPM++ 2M Karras"`` -> ``("DPM++ 2M", "Karras")``, ``"DPM++ 2M SDE Exponential"`` ->
    ``("DPM++ 2M SDE", "Exponential")``, ``"Euler a"`` -> ``("Euler a", None)``. A suffix counts
    only after a space (the sampler "DDIM" stays whole), in any letter case, by label, internal
    name or alias. Whitespace runs are collapsed; at most one suffix is split off.
    """
    bare = " ".join(name.split())
    lowered = bare.lower()
    for suffix in _SUFFIXES:
        if lowered.endswith(" " + suffix):
            return bare[: -len(suffix) - 1].rstrip(), _SCHEDULER_SPELLINGS[suffix]
    return bare, None


def round_to_precision(value: float, digits: int) -> float:
    """Round away float noise: ``round_to_precision(6.499999999999998, 2) == 6.5``.

    Works on the shortest decimal form of ``value`` (its ``repr``) and rounds half up, so
    ``2.675`` gives ``2.68`` as a person expects (plain ``round`` gives 2.67, because the binary
    double is slightly below 2.675). NaN and infinities come back unchanged.
    """
    if digits < 0:
        raise ValueError(f"digits must be >= 0, got {digits}")
    if not math.isfinite(value):
        return value
    with localcontext() as ctx:
        ctx.prec = 330 + digits  # room for every digit of any double (up to ~1e308)
        quantum = Decimal(1).scaleb(-digits)
        rounded = float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))
    return rounded + 0.0  # -0.0 -> 0.0: a rounded-away tiny negative is plain zero
