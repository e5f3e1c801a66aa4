"""Layer 2, ``model_profile``: the chosen preset of the base model's profile sidecar."""

from __future__ import annotations

from typing import Any

from config_layers.layers.base import Layer, empty_layer, mapped_layer
from config_layers.names import split_sampler
from config_layers.profiles.models import KeyOrigin, ModelProfile, _Profile
from config_layers.profiles.suggest import SuggestedPreset
from config_layers.prompts.compose import PROMPT_SETTINGS
from config_layers.provenance.origin import KeyPath, Origin

#: A1111's scheduler choice (>= 1.9) meaning "the sampler's own default".
AUTOMATIC_SCHEDULER = "Automatic"

# config leaf below txt2img <- preset field
_FIELDS: tuple[tuple[str, str], ...] = (
    ("sampler_name", "sampler"),
    ("scheduler", "scheduler"),
    ("steps", "steps"),
    ("cfg_scale", "cfg"),
    ("clip_skip", "clip_skip"),
    ("distilled_cfg_scale", "distilled_cfg"),
)


#: StableNew V2 profile fields with a meaning here: config path <- profile field.
V2_FIELDS: tuple[tuple[tuple[str, str], str], ...] = (
    (("hires", "upscaler"), "default_hires_upscaler_id"),
    (("hires", "denoising_strength"), "default_hires_denoise"),
)
#: StableNew V2 profile fields that are StableNew's own ids: carried in the notes, never dropped.
STABLENEW_IDS = ("default_refiner_id", "style_profile_id")


def profile_source(profile: _Profile, fallback_name: str) -> str:
    """The file a profile came from, or its name when it was built in code."""
    return str(profile.document.path) if profile.document else fallback_name


def profile_origin(layer: str, profile: _Profile, source: str, key: KeyPath, rule: str | None = None) -> Origin:
    """An origin pointing into a profile's sidecar (positions looked up lazily), or into the
    foreign file or library profile a combined profile took that value from."""
    foreign = profile.key_origin(key)
    if foreign is not None:
        return Origin(
            layer,  # type: ignore[arg-type]
            foreign.source,
            foreign.key,
            rule=f"{foreign.rule}; {rule}" if rule else foreign.rule,
            _locate=foreign.locate,
        )
    document = profile.document
    return Origin(
        layer,  # type: ignore[arg-type]
        source,
        key,
        rule=rule,
        _locate=document.position if document else None,
    )


def model_profile_layer(
    profile: ModelProfile,
    suggestion: SuggestedPreset | None,
    vae: tuple[str, KeyOrigin] | None = None,
    notes: tuple[str, ...] = (),
) -> Layer:
    """The preset's settings (and a VAE named by foreign metadata) as config data, each located
    at its key in the file it came from."""
    data: dict[str, Any] = {}
    origins: dict[KeyPath, Origin] = {}
    sources: list[str] = []
    if suggestion is not None:
        preset_key: KeyPath = ("recommended_presets", suggestion.preset_index)
        source = f"{profile_source(profile, profile.model_name)}#{suggestion.preset_id}"
        # A learned preset lives in the model's .learned.toml, not in its sidecar.
        learned = profile.key_origin(preset_key)
        if learned is not None and learned.source.endswith(f"#{suggestion.preset_id}"):
            source = learned.source
        sources.append(source)
        values = {
            "sampler": suggestion.sampler,
            "scheduler": suggestion.scheduler,
            "steps": suggestion.steps,
            "cfg": suggestion.cfg,
            "clip_skip": suggestion.clip_skip,
            "distilled_cfg": suggestion.distilled_cfg,
        }
        txt2img: dict[str, Any] = {}
        for leaf, preset_field in _FIELDS:
            if values[preset_field] is not None:
                txt2img[leaf] = values[preset_field]
                origins[("txt2img", leaf)] = profile_origin(
                    "model_profile", profile, source, (*preset_key, preset_field)
                )
        if suggestion.scheduler is None and split_sampler(suggestion.sampler)[1] is None:
            # No scheduler means the sampler's own default, not whatever a lower layer says.
            txt2img["scheduler"] = AUTOMATIC_SCHEDULER
            origins[("txt2img", "scheduler")] = profile_origin(
                "model_profile",
                profile,
                source,
                (*preset_key, "sampler"),
                f"the preset names sampler {suggestion.sampler!r} and no scheduler: {AUTOMATIC_SCHEDULER!r}, "
                "the sampler's own default (A1111 >= 1.9)",
            )
        txt2img["width"], txt2img["height"] = suggestion.resolution
        for leaf in ("width", "height"):
            origins[("txt2img", leaf)] = profile_origin("model_profile", profile, source, (*preset_key, "resolution"))
        data["txt2img"] = txt2img
        preset = profile.recommended_presets[suggestion.preset_index]
        for name in PROMPT_SETTINGS:
            if getattr(preset, name) is not None:
                data[name] = getattr(preset, name)
                origins[(name,)] = profile_origin("model_profile", profile, source, (*preset_key, name))
        notes = (*notes, f"preset {suggestion.preset_id!r} ({suggestion.source}): {suggestion.explanation}")
    source = profile_source(profile, profile.model_name)
    for path, profile_field in V2_FIELDS:
        value = getattr(profile, profile_field)
        if value is not None:
            data.setdefault(path[0], {})[path[1]] = value
            origins[path] = profile_origin("model_profile", profile, source, (profile_field,), "StableNew V2 field")
            if source not in sources:
                sources.append(source)
    notes = (*notes, *_stablenew_ids(profile, source))
    if vae is not None:
        value, where = vae
        data["vae"] = value
        origins[("vae",)] = Origin("model_profile", where.source, where.key, rule=where.rule, _locate=where.locate)
        sources.append(where.source)
    return mapped_layer("model_profile", data, origins, sources=tuple(sources), notes=notes)


def _stablenew_ids(profile: ModelProfile, source: str) -> list[str]:
    ids = [
        f"{name} = {getattr(profile, name)!r} ({profile_origin('model_profile', profile, source, (name,)).where()})"
        for name in STABLENEW_IDS
        if getattr(profile, name) is not None
    ]
    return [f"StableNew profile ids (no config field; for the controller): {'; '.join(ids)}"] if ids else []


def no_model_profile_layer(reason: str) -> Layer:
    return empty_layer("model_profile", (reason,))
