"""Normalization of values as other tools write them (WebUI model names, sampler names, float noise)."""

from __future__ import annotations

import re

# The WebUI reports checkpoints as "name.safetensors [abc123def4]" (short or full hash).
_HASH_SUFFIX = re.compile(r"\s*\[[0-9a-fA-F]{8,64}\]\s*$")
_MODEL_EXTENSIONS = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf", ".sft")


def strip_model_hash(name: str) -> str:
    """Drop a WebUI ``" [hash]"`` suffix: ``"x.safetensors [abc12345]"`` -> ``"x.safetensors"``."""
    return _HASH_SUFFIX.sub("", name)


def model_stem(name: str) -> str:
    """The bare stem a WebUI model name refers to: no hash suffix, folders or known extension."""
    bare = strip_model_hash(name).replace("\\", "/").rsplit("/", 1)[-1]
    lowered = bare.lower()
    for ext in _MODEL_EXTENSIONS:
        if lowered.endswith(ext):
            return bare[: -len(ext)]
    return bare
