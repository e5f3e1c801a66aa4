"""Layer 2, ``model_profile``: the chosen preset of the base model's profile sidecar."""

from __future__ import annotations

from typing import Any

from config_layers.layers.base import Layer, empty_layer, mapped_layer
from config_layers.origin import KeyPath, Origin
from config_layers.profiles.models import ModelProfile, _Profile
from config_layers.profiles.suggest import SuggestedPreset

# config leaf below txt2img <- preset field
_FIELDS: tuple[tuple[str, str], ...] = (
    ("sampler_name", "sampler"),
    ("scheduler", "scheduler"),
    ("steps", "steps"),
    ("cfg_scale", "cfg"),
    ("clip_skip", "clip_skip"),
    ("distilled_cfg_scale", "distilled_cfg"),
)


def profile_source(profile: _Profile, fallback_name: str) -> str:
    """The file a profile came from, or its name when it was built in code."""
    return str(profile.document.path) if profile.document else fallback_name


def profile_origin(layer: str, profile: _Profile, source: str, key: KeyPath, rule: str | None = None) -> Origin:
    """An origin pointing into a profile's sidecar (positions looked up lazily)."""
    document = profile.document
    return Origin(
        layer,  # type: ignore[arg-type]
        source,
        key,
        rule=rule,
        _locate=document.position if document else None,
    )


def model_profile_layer(profile: ModelProfile, suggestion: SuggestedPreset) -> Layer:
    """The preset's settings as config data, each located at its key in the sidecar."""
    source = f"{profile_source(profile, profile.model_name)}#{suggestion.preset_id}"
    preset_key: KeyPath = ("recommended_presets", suggestion.preset_index)
    values = {
        "sampler": suggestion.sampler,
        "scheduler": suggestion.scheduler,
        "steps": suggestion.steps,
        "cfg": suggestion.cfg,
        "clip_skip": suggestion.clip_skip,
        "distilled_cfg": suggestion.distilled_cfg,
    }
    txt2img: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    for leaf, preset_field in _FIELDS:
        if values[preset_field] is not None:
            txt2img[leaf] = values[preset_field]
            origins[("txt2img", leaf)] = profile_origin("model_profile", profile, source, (*preset_key, preset_field))
    width, height = suggestion.resolution
    txt2img["width"], txt2img["height"] = width, height
    for leaf in ("width", "height"):
        origins[("txt2img", leaf)] = profile_origin("model_profile", profile, source, (*preset_key, "resolution"))
    note = f"preset {suggestion.preset_id!r} ({suggestion.source}): {suggestion.explanation}"
    return mapped_layer("model_profile", {"txt2img": txt2img}, origins, sources=(source,), notes=(note,))


def no_model_profile_layer(reason: str) -> Layer:
    return empty_layer("model_profile", (reason,))
