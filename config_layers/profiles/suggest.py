"""Preset suggestion: model profile + LoRA profiles -> one SuggestedPreset. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from config_layers.errors import ConfigError
from config_layers.names import model_stem
from config_layers.profiles.families import lora_compatibility
from config_layers.profiles.models import RATING_RANK, LoraProfile, ModelPreset, ModelProfile
from config_layers.provenance.origin import KeyPath

#: The weight a LoRA gets when nothing recommends one.
DEFAULT_LORA_WEIGHT = 0.6

WeightRule = Literal["pairing", "preset_overlay", "recommended_weight", "default"]


@dataclass(frozen=True)
class LoraWeightChoice:
    """Which rule supplied a LoRA's weight, and from which profile key."""

    weight: float
    rule: WeightRule
    #: "model" or "lora": whose sidecar holds ``key`` (None for the default).
    profile: Literal["model", "lora"] | None
    key: KeyPath
    detail: str


@dataclass(frozen=True)
class CompatibilityIssue:
    """A LoRA whose base type does not match the model's."""

    lora_name: str
    lora_base_type: str
    model_base_type: str
    severity: Literal["error", "warning"]
    #: What says the LoRA's base type: its resolved profile, or its safetensors header when that
    #: disagrees with the profile (or there is none).
    evidence: Literal["profile", "header"] = "profile"

    @property
    def message(self) -> str:
        if self.severity == "error":
            return (
                f"LoRA {self.lora_name!r} is for {self.lora_base_type}, another architecture family "
                f"than the {self.model_base_type} model: it cannot load"
            )
        return (
            f"LoRA {self.lora_name!r} is for {self.lora_base_type}; the model is {self.model_base_type} "
            "(same family: it loads but may look off)"
        )


@dataclass
class SuggestedPreset:
    """A model preset with the LoRA weights that go with it (the spec's shape, plus how it was chosen)."""

    sampler: str
    scheduler: str | None
    steps: int
    cfg: float
    resolution: tuple[int, int]
    lora_weights: dict[str, float]
    source: str
    preset_id: str | None
    label: str = ""
    clip_skip: int | None = None
    distilled_cfg: float | None = None
    #: Index of the preset in ``recommended_presets`` (for positions in the sidecar).
    preset_index: int = 0
    lora_weight_choices: dict[str, LoraWeightChoice] = field(default_factory=dict)
    #: Cross-family LoRAs are left out of ``lora_weights``; same-family ones are warned about.
    compatibility: list[CompatibilityIssue] = field(default_factory=list)
    explanation: str = ""


#: At equal rating a preset learned from the user's own rated runs beats a prior from elsewhere.
LEARNED_SOURCE = "local_learning"


def rank_presets(presets: Sequence[ModelPreset]) -> list[int]:
    """Indexes of ``presets`` in the order ``build()`` prefers them: highest rating first; at
    equal rating ``local_learning`` before any other source; then the order listed."""
    return sorted(
        range(len(presets)),
        key=lambda i: (-RATING_RANK[presets[i].rating], presets[i].source != LEARNED_SOURCE, i),
    )


def choose_preset(profile: ModelProfile, preset_id: str | None = None) -> tuple[int, ModelPreset, str]:
    """The preset to use and a sentence saying why.

    A named preset is honoured; otherwise the first of ``rank_presets``: the highest rating
    wins (best > better > good > neutral > bad), at equal rating a ``local_learning`` preset
    beats the others, and then the one listed first wins.
    """
    presets = profile.recommended_presets
    if preset_id is not None:
        for index, preset in enumerate(presets):
            if preset.id == preset_id:
                return index, preset, f"preset {preset_id!r} was asked for"
        available = ", ".join(p.id for p in presets) or "(none)"
        raise ConfigError(
            f"preset {preset_id!r} is not in the profile of {profile.model_name!r}; available: {available}"
        )
    order = rank_presets(presets)
    index = order[0]
    preset = presets[index]
    tied = [presets[i] for i in order[1:] if presets[i].rating == preset.rating]
    why = f"preset {preset.id!r} has the highest rating ({preset.rating})"
    if tied:
        others = ", ".join(repr(p.id) for p in tied)
        if preset.source == LEARNED_SOURCE and any(p.source != LEARNED_SOURCE for p in tied):
            why += f"; tied with {others}: at equal rating local_learning wins, then the first listed"
        else:
            why += f"; tied with {others}, resolved by file order (the first listed wins)"
    return index, preset, why


def _names_model(pairing_model: str, profile: ModelProfile) -> bool:
    wanted = model_stem(pairing_model).casefold()
    names = [profile.model_name, *profile.aliases]
    return any(model_stem(name).casefold() == wanted for name in names)


def choose_lora_weight(
    lora_name: str,
    lora_profile: LoraProfile | None,
    model_profile: ModelProfile | None,
    preset: ModelPreset | None,
) -> LoraWeightChoice:
    """A LoRA's weight, most specific rule first.

    1. a recommended pairing for this model that carries a weight (one naming this preset
       beats one naming no preset; then higher rating; then file order);
    2. the chosen preset's own ``lora_overlays`` entry for this LoRA;
    3. the LoRA's highest-rated recommended weight (file order breaks ties);
    4. DEFAULT_LORA_WEIGHT.
    """
    if lora_profile is not None and model_profile is not None:
        candidates = [
            (index, pairing)
            for index, pairing in enumerate(lora_profile.recommended_pairings)
            if pairing.weight is not None
            and _names_model(pairing.model, model_profile)
            and (pairing.preset_id is None or (preset is not None and pairing.preset_id == preset.id))
        ]
        if candidates:
            index, pairing = min(
                candidates,
                key=lambda c: (c[1].preset_id is None, -RATING_RANK[c[1].rating], c[0]),
            )
            assert pairing.weight is not None
            target = f"{pairing.model}#{pairing.preset_id}" if pairing.preset_id else pairing.model
            return LoraWeightChoice(
                pairing.weight,
                "pairing",
                "lora",
                ("recommended_pairings", index, "weight"),
                f"recommended pairing with {target} ({pairing.rating})",
            )
    if preset is not None:
        names = {lora_name.casefold()}
        if lora_profile is not None:
            names.add(lora_profile.lora_name.casefold())
        for index, overlay in enumerate(preset.lora_overlays):
            if overlay.name.casefold() in names:
                return LoraWeightChoice(
                    overlay.weight,
                    "preset_overlay",
                    "model",
                    ("lora_overlays", index, "weight"),
                    f"lora_overlays of preset {preset.id!r}",
                )
    if lora_profile is not None and lora_profile.recommended_weights:
        weights = lora_profile.recommended_weights
        best = max(RATING_RANK[w.rating] for w in weights)
        index = next(i for i, w in enumerate(weights) if RATING_RANK[w.rating] == best)
        chosen = weights[index]
        return LoraWeightChoice(
            chosen.weight,
            "recommended_weight",
            "lora",
            ("recommended_weights", index, "weight"),
            f"highest-rated recommended weight {chosen.label!r} ({chosen.rating})",
        )
    return LoraWeightChoice(DEFAULT_LORA_WEIGHT, "default", None, (), "no recommendation found; default weight")


def check_lora_compatibility(
    lora_name: str, lora_base_type: str, model_base_type: str, evidence: Literal["profile", "header"] = "profile"
) -> CompatibilityIssue | None:
    """The one LoRA/model compatibility check: an issue when the LoRA's base type does not match
    the model's (another family: an error; another finetune of the family: a warning), else None.
    A build runs it once per LoRA and piece of evidence (``Resolver.find``); the rest use its issues."""
    verdict = lora_compatibility(lora_base_type, model_base_type)
    if verdict in ("same", "unknown"):
        return None
    severity: Literal["error", "warning"] = "error" if verdict == "incompatible" else "warning"
    return CompatibilityIssue(lora_name, lora_base_type, model_base_type, severity, evidence)


def suggest_preset_for(
    model_profile: ModelProfile | None,
    lora_profiles: Sequence[LoraProfile],
    preset_id: str | None = None,
    compatibility: Sequence[CompatibilityIssue] = (),
) -> SuggestedPreset | None:
    """The recommended preset for a model and LoRAs, or None without a profile or presets.

    LoRA weights follow ``choose_lora_weight``. ``compatibility``: the issues
    :func:`check_lora_compatibility` found (``Found.compatibility``); a LoRA whose profile is of
    another architecture family is left out of ``lora_weights``, and its issue is reported in
    ``compatibility``: never applied silently.
    """
    if model_profile is None or not model_profile.recommended_presets:
        return None
    index, preset, why = choose_preset(model_profile, preset_id)
    weights: dict[str, float] = {}
    choices: dict[str, LoraWeightChoice] = {}
    by_name = {issue.lora_name: issue for issue in compatibility if issue.evidence == "profile"}
    issues: list[CompatibilityIssue] = []
    for lora in lora_profiles:
        issue = by_name.get(lora.lora_name)
        if issue is not None:
            issues.append(issue)
            if issue.severity == "error":
                continue
        choice = choose_lora_weight(lora.lora_name, lora, model_profile, preset)
        weights[lora.lora_name] = choice.weight
        choices[lora.lora_name] = choice
    return SuggestedPreset(
        sampler=preset.sampler,
        scheduler=preset.scheduler,
        steps=preset.steps,
        cfg=preset.cfg,
        resolution=preset.resolution,
        lora_weights=weights,
        source=preset.source,
        preset_id=preset.id,
        label=preset.label,
        clip_skip=preset.clip_skip,
        distilled_cfg=preset.distilled_cfg,
        preset_index=index,
        lora_weight_choices=choices,
        compatibility=issues,
        explanation=why,
    )
