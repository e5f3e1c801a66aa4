"""Good / Better / Best: every candidate preset of a model, ranked as ``build()`` picks them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from config_layers.layers.model_profile import profile_origin, profile_source
from config_layers.learning.learned_file import LearnedProfile
from config_layers.profiles.models import RATING_RANK, LoraProfile, ModelProfile
from config_layers.profiles.suggest import LEARNED_SOURCE, choose_lora_weight, choose_preset, rank_presets
from config_layers.provenance.origin import display_path


@dataclass(frozen=True)
class PresetCandidate:
    """One preset a build could use, where it came from, and how it ranks."""

    rank: int
    preset_id: str
    label: str
    rating: str
    source: str
    where: str
    settings: str
    chosen: bool
    why: str
    runs_observed: int | None = None
    mean_rating: float | None = None
    lora_weights: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``presets --format json``."""
        return {
            "rank": self.rank,
            "id": self.preset_id,
            "label": self.label,
            "rating": self.rating,
            "source": self.source,
            "where": self.where,
            "settings": self.settings,
            "runs_observed": self.runs_observed,
            "mean_rating": self.mean_rating,
            "lora_weights": self.lora_weights,
            "chosen": self.chosen,
            "why": self.why,
        }


def rank_candidates(
    profile: ModelProfile, loras: Sequence[LoraProfile], learned: LearnedProfile | None
) -> list[PresetCandidate]:
    """The presets of ``profile`` best first (``rank_presets``, the order ``build()`` uses)."""
    presets = profile.recommended_presets
    if not presets:
        return []
    order = rank_presets(presets)
    _, top, why_top = choose_preset(profile)
    out = []
    for rank, index in enumerate(order, 1):
        preset = presets[index]
        source = f"{profile_source(profile, profile.model_name)}#{preset.id}"
        origin = profile_origin("model_profile", profile, source, ("recommended_presets", index))
        if origin.position is None:  # presets taken from foreign metadata are located per field
            origin = profile_origin("model_profile", profile, source, ("recommended_presets", index, "sampler"))
        summary = learned.preset(preset.id) if learned is not None and preset.source == LEARNED_SOURCE else None
        weights = {lora.lora_name: choose_lora_weight(lora.lora_name, lora, profile, preset).weight for lora in loras}
        sampler = " ".join(part for part in (preset.sampler, preset.scheduler) if part)
        settings = f"{sampler}, {preset.steps} steps, CFG {preset.cfg}, {preset.resolution[0]}x{preset.resolution[1]}"
        out.append(
            PresetCandidate(
                rank=rank,
                preset_id=preset.id,
                label=preset.label,
                rating=preset.rating,
                source=preset.source,
                where=origin.where(),
                settings=settings,
                chosen=rank == 1,
                why=why_top if rank == 1 else _why_not(preset.rating, preset.source, top.rating, top.source, top.id),
                runs_observed=summary.learning_summary.runs_observed if summary else None,
                mean_rating=summary.learning_summary.mean_rating if summary else None,
                lora_weights=weights,
            )
        )
    return out


def _why_not(rating: str, source: str, top_rating: str, top_source: str, top_id: str) -> str:
    if RATING_RANK[rating] < RATING_RANK[top_rating]:
        return f"rated {rating}, below {top_rating}"
    if top_source == LEARNED_SOURCE and source != LEARNED_SOURCE:
        return f"same rating as {top_id!r}; at equal rating local_learning wins"
    return f"same rating as {top_id!r}, listed after it"


def evidence_notes(learned: LearnedProfile, preset_id: str | None, lora: str | None = None) -> list[str]:
    """A note listing the runs behind a learned preset (for ``explain``), or none for other
    presets; with ``lora``, the note is about that LoRA's weight from the preset's overlays."""
    preset = learned.preset(preset_id) if preset_id else None
    if preset is None:
        return []
    s = preset.learning_summary
    last = f", last run {s.last_run}" if s.last_run else ""
    subject = f"LoRA {lora!r}: its weight comes from preset {preset.id!r}, which" if lora else f"preset {preset.id!r}"
    head = (
        f"{subject} was learned from {s.runs_observed} rated runs "
        f"(mean {s.mean_rating}, {s.experiment_runs} experiment / {s.review_runs} review, "
        f"{s.evidence_strength} evidence{last}); evidence:"
    )
    lines = [
        f"  {display_path(e.file)}:{e.line}  run {e.run_id}  rated {e.rating:g} ({e.record_kind})"
        for e in preset.evidence
    ]
    if len(preset.evidence) < s.runs_observed:
        lines.append(f"  (the newest {len(preset.evidence)} of {s.runs_observed} runs are listed)")
    return ["\n".join([head, *lines])]


def render_candidates(model: str, candidates: Sequence[PresetCandidate]) -> str:
    """The candidates as text (``presets --format table``): best first, the one build() picks marked."""
    lines = [f"presets of {model}, best first (* = the one build() picks):"]
    for c in candidates:
        runs = f"{c.runs_observed} runs, mean {c.mean_rating}" if c.runs_observed is not None else "no runs recorded"
        lines.append(f"{'*' if c.chosen else ' '} {c.rank}. {c.preset_id}  {c.rating}  {c.source}  ({runs})")
        lines.append(f"     {c.settings}" + "".join(f", {n} {w:g}" for n, w in c.lora_weights.items()))
        lines.append(f"     from {c.where}")
        lines.append(f"     why: {c.why}")
    return "\n".join(lines)
