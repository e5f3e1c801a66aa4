"""The mapping from each foreign vocabulary to our base types (defined with their architecture
families in :mod:`config_layers.profiles.families`).

Every mapper returns a :class:`MappedBaseType`: the base type plus a note whenever the mapping was
not a plain one-to-one name (an ``unknown`` always says which foreign value had no counterpart).
Matching is case-insensitive and ignores runs of whitespace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from config_layers.profiles.families import BaseType


@dataclass(frozen=True)
class MappedBaseType:
    """A foreign base-model label translated to ours; ``note`` explains anything not one-to-one."""

    base_type: BaseType
    note: str | None = None


def _key(value: str) -> str:
    return " ".join(value.split()).lower()


# --------------------------------------------------------------------------- A1111 / Forge

_A1111: Final[dict[str, BaseType]] = {"sd1": "sd15", "sd2": "sd2", "sdxl": "sdxl", "sd3": "sd3", "flux": "flux"}


def from_a1111_sd_version(value: str) -> MappedBaseType | None:
    """A1111/Forge user-metadata ``"sd version"`` (SD1, SD2, SDXL, SD3, Forge's Flux).

    ``"Unknown"`` (and an empty string) is the editor's default, meaning "not set", so it maps to
    ``None``, not to ``unknown``; any other unlisted value maps to ``unknown`` with a note.
    """
    key = _key(value)
    if key in ("", "unknown"):
        return None
    if key in _A1111:
        return MappedBaseType(_A1111[key])
    return MappedBaseType("unknown", f"A1111 sd version {value!r} has no counterpart")


# --------------------------------------------------------------------------- Civitai

# Civitai's baseModel vocabulary (as listed by its model filters and ComfyUI-Lora-Manager).
_CIVITAI: Final[dict[str, BaseType]] = {
    "sd 1.4": "sd15",
    "sd 1.5": "sd15",
    "sd 1.5 lcm": "sd15",
    "sd 1.5 hyper": "sd15",
    "sd 2.0": "sd2",
    "sd 2.0 768": "sd2",
    "sd 2.1": "sd2",
    "sd 2.1 768": "sd2",
    "sd 2.1 unclip": "sd2",
    "sdxl 0.9": "sdxl",
    "sdxl 1.0": "sdxl",
    "sdxl 1.0 lcm": "sdxl",
    "sdxl turbo": "sdxl",
    "sdxl lightning": "sdxl",
    "sdxl hyper": "sdxl",
    "sdxl distilled": "sdxl",
    "pony": "pony",
    "illustrious": "illustrious",
    "noobai": "noobai",
    "flux.1 d": "flux",
    "flux.1 s": "flux",
    "flux.1 krea": "flux",
    "flux.1 kontext": "flux",
    "sd 3": "sd3",
    "sd 3.5": "sd3",
    "sd 3.5 medium": "sd3",
    "sd 3.5 large": "sd3",
    "sd 3.5 large turbo": "sd3",
}
# Labels that look like a family but are another architecture: Pony V7 is AuraFlow-based, and
# FLUX.2 is not FLUX.1 (its LoRAs do not load on FLUX.1).
_CIVITAI_NOT_FAMILY: Final[tuple[str, ...]] = ("pony v7", "flux.2")
# New variants Civitai adds over time, recognized by prefix (noted, since it is a guess).
_CIVITAI_PREFIXES: Final[tuple[tuple[str, BaseType], ...]] = (
    ("sd 1.", "sd15"),
    ("sd1.", "sd15"),
    ("sd 2.", "sd2"),
    ("sd2.", "sd2"),
    ("sdxl", "sdxl"),
    ("sd 3", "sd3"),
    ("sd3", "sd3"),
    ("flux.1", "flux"),
    ("illustrious", "illustrious"),
    ("noobai", "noobai"),
)


def from_civitai_base_model(value: str) -> MappedBaseType:
    """Civitai ``baseModel`` ("SD 1.5", "SDXL 1.0", "Pony", "Illustrious", "Flux.1 D", "SD 3.5"…).

    Exact labels map silently; a new variant of a known family ("SDXL Something") maps by prefix
    with a note; anything else ("Other", "Hunyuan Video", "Pony V7", "Flux.2 D") is ``unknown``.
    """
    key = _key(value)
    if key in _CIVITAI:
        return MappedBaseType(_CIVITAI[key])
    if not key.startswith(_CIVITAI_NOT_FAMILY):
        for prefix, base_type in _CIVITAI_PREFIXES:
            if key.startswith(prefix):
                return MappedBaseType(base_type, f"Civitai baseModel {value!r} mapped by its prefix {prefix!r}")
    return MappedBaseType("unknown", f"Civitai baseModel {value!r} has no counterpart")


# --------------------------------------------------------------------------- safetensors headers

# SAI ModelSpec architecture ids (as written by kohya sd-scripts and others), without the
# "/lora" or "/textual-inversion" adapter suffix.
_MODELSPEC_PREFIXES: Final[tuple[tuple[str, BaseType], ...]] = (
    ("stable-diffusion-xl-", "sdxl"),
    ("stable-diffusion-v1", "sd15"),
    ("stable-diffusion-v2", "sd2"),
    ("stable-diffusion-3", "sd3"),
    ("stable-diffusion-v3", "sd3"),
    ("flux-1", "flux"),
)


def from_modelspec_architecture(value: str) -> MappedBaseType:
    """ModelSpec ``modelspec.architecture``: ``"stable-diffusion-xl-v1-base/lora"`` -> sdxl,
    ``"stable-diffusion-v1/lora"`` -> sd15, ``"flux-1-dev/lora"`` -> flux; others ``unknown``
    (e.g. ``"chroma"``, a FLUX.1 derivative of another shape)."""
    key = _key(value)
    arch = key.split("/", 1)[0]
    for prefix, base_type in _MODELSPEC_PREFIXES:
        if arch == prefix.rstrip("-") or arch.startswith(prefix):
            return MappedBaseType(base_type)
    return MappedBaseType("unknown", f"modelspec.architecture {value!r} has no counterpart")


# kohya's ss_base_model_version: sd_v1, sd_v2 (+ "_v" for v-prediction), sdxl_base_v1-0, sd3*, flux1.
_KOHYA: Final[tuple[tuple[re.Pattern[str], BaseType], ...]] = (
    (re.compile(r"sd_v1(_v)?"), "sd15"),
    (re.compile(r"sd_v2(_v)?"), "sd2"),
    (re.compile(r"sdxl.*"), "sdxl"),
    (re.compile(r"sd3.*"), "sd3"),
    (re.compile(r"flux1.*|flux\.1.*"), "flux"),
)


def from_kohya_base_model_version(value: str) -> MappedBaseType:
    """kohya ``ss_base_model_version``: ``sd_v1`` -> sd15, ``sd_v2`` -> sd2, ``sdxl_base_v1-0`` ->
    sdxl, ``sd3…`` -> sd3, ``flux1`` -> flux; others (``flux2_klein_9b``, ``lumina2``…) ``unknown``."""
    key = _key(value)
    for pattern, base_type in _KOHYA:
        if pattern.fullmatch(key):
            return MappedBaseType(base_type)
    return MappedBaseType("unknown", f"ss_base_model_version {value!r} has no counterpart")
