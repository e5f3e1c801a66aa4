"""Priors for one model or LoRA from every source that has some, by precedence:

1. its own ``.modelprofile`` / ``.loraprofile`` sidecar;
2. foreign metadata beside the file, in this order: the A1111/Forge ``<stem>.json``
   (written by the user), ComfyUI-Lora-Manager's ``<stem>.metadata.json``, Civitai's
   ``<stem>.civitai.info`` (or SD.Next's Civitai-shaped ``<stem>.json``), the file's own
   safetensors header;
3. the profile library (the shipped ``profiles/``), matched by name, alias or hash.

A model's ``<stem>.learned.toml`` (presets learned from LearningRecords) is not one more rung of
that ladder: its presets join whichever presets won as further candidates, and never replace them.

Each aspect (a model's presets and base type; a LoRA's weights, pairings, trigger phrases and
base type) comes from the first source that has it. Pure: the builder reads the files.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import ValidationError

from config_layers.metadata import ForeignPriors, ForeignValue
from config_layers.positions import json_positions
from config_layers.profiles.models import KeyOrigin, LoraProfile, ModelPreset, ModelProfile, _Profile

if TYPE_CHECKING:
    from config_layers.learning.learned_file import LearnedProfile

P = TypeVar("P", bound=_Profile)

#: Foreign sources by precedence (most trusted first).
FOREIGN_ORDER = ("a1111_metadata", "lora_manager", "civitai_info", "safetensors_header")

#: The preset made from Civitai example images: weak evidence, so it is rated neutral.
FOREIGN_PRESET_ID = "civitai_images"


@dataclass(frozen=True)
class Candidate:
    """One source considered for a model's or LoRA's priors, and what came of it."""

    kind: str
    path: str
    status: str

    def __str__(self) -> str:
        return f"{self.kind} {self.path}: {self.status}"


@dataclass
class Priors(Generic[P]):
    """The combined profile (None when no source says anything) and every candidate considered."""

    profile: P | None
    candidates: list[Candidate] = field(default_factory=list)
    #: A checkpoint's VAE from A1111 metadata: (value, where it came from).
    vae: tuple[str, KeyOrigin] | None = None
    #: Foreign values the schema rejected: each dropped only its own aspect.
    problems: list[str] = field(default_factory=list)

    def explain(self, what: str) -> str:
        lines = [f"priors for {what}:"] + [f"  - {candidate}" for candidate in self.candidates]
        return "\n".join(lines)


def _foreign_origin(priors: ForeignPriors, value: ForeignValue) -> KeyOrigin:
    note = f" ({value.note})" if value.note else ""
    rule = f"{priors.source_kind}: {value.key}{note}"
    if priors.source_kind == "safetensors_header" or any(c in value.key for c in ".[*"):
        return KeyOrigin(str(priors.path), rule)  # no single line to point at
    return KeyOrigin(str(priors.path), rule, _JsonLocator(priors.path), (value.key,))


class _JsonLocator:
    """Positions of keys in a foreign JSON file, read only when a position is asked for."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._positions: dict[tuple[str | int, ...], tuple[int, int]] | None = None

    def __call__(self, key: tuple[str | int, ...]) -> tuple[int, int] | None:
        if self._positions is None:
            try:
                self._positions = json_positions(self.path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError):
                self._positions = {}
        return self._positions.get(key)


def _library_origin(profile: _Profile) -> KeyOrigin:
    document = profile.document
    source = str(document.path) if document else "profile library"
    return KeyOrigin(source, "profile library", document.position if document else None)


def _label(priors: ForeignPriors) -> str:
    return f"{priors.source_kind} {priors.path}"


def _ordered(foreign: Sequence[ForeignPriors]) -> list[ForeignPriors]:
    return sorted(foreign, key=lambda p: FOREIGN_ORDER.index(p.source_kind))


class _Combiner:
    """Takes each aspect from the first source that has it, remembering which source that was."""

    def __init__(self, sidecar: _Profile | None, library: _Profile | None) -> None:
        self.sidecar = sidecar
        self.library = library
        self.data: dict[str, Any] = {}
        self.origins: dict[tuple[str | int, ...], KeyOrigin] = {}
        self.used: dict[str, list[str]] = {}

    def take(self, aspect: str, *options: tuple[str, Any, KeyOrigin | None]) -> None:
        """``options``: (source label, value or None, origin or None for the sidecar), best first."""
        for label, value, origin in options:
            if value is None or value == [] or value == "unknown":
                continue
            self.data[aspect] = value
            if origin is not None:
                self.origins[(aspect,)] = origin
            self.used.setdefault(label, []).append(aspect)
            return

    def take_from(self, aspect: str, foreign: Sequence[ForeignPriors], attribute: str, convert: Any = None) -> None:
        """Take ``aspect`` from the sidecar, else the first foreign file whose ``attribute`` is
        set (converted by ``convert``, default: its value), else the library profile."""
        options: list[tuple[str, Any, KeyOrigin | None]] = [
            ("sidecar", getattr(self.sidecar, aspect) if self.sidecar else None, None)
        ]
        for priors in foreign:
            value = getattr(priors, attribute)
            if value is not None:
                taken = convert(value) if convert else value.value
                options.append((_label(priors), taken, _foreign_origin(priors, value)))
        library = self.library
        options.append(
            ("library", getattr(library, aspect) if library else None, _library_origin(library) if library else None)
        )
        self.take(aspect, *options)

    def status(self, label: str) -> str:
        aspects = self.used.get(label)
        return f"used for {', '.join(aspects)}" if aspects else "nothing used (higher-precedence sources had it)"


def combine_model_priors(
    stem: str,
    sidecar: ModelProfile | None,
    foreign: Sequence[ForeignPriors],
    library: ModelProfile | None,
    *,
    sidecar_path: str,
    learned: LearnedProfile | None = None,
) -> Priors[ModelProfile]:
    """A model's priors from its sidecar, foreign metadata and library profile, plus the
    presets of its learned file as further candidates."""
    ordered = _ordered(foreign)
    combiner = _Combiner(sidecar, library)
    lib_origin = _library_origin(library) if library else None

    preset_options: list[tuple[str, Any, KeyOrigin | None]] = [
        ("sidecar", sidecar.recommended_presets if sidecar else None, None)
    ]
    preset_origins: dict[tuple[str | int, ...], KeyOrigin] = {}
    for priors in ordered:
        preset = _foreign_preset(priors, preset_origins)
        if preset is not None:
            preset_options.append((_label(priors), [preset], None))
            break
    preset_options.append(("library", library.recommended_presets if library else None, lib_origin))
    combiner.take("recommended_presets", *preset_options)
    taken = combiner.used
    if any(label.startswith(tuple(FOREIGN_ORDER)) for label in taken):
        combiner.origins.update(preset_origins)

    combiner.take_from("base_type", ordered, "base_type")
    vae_from = next((p for p in ordered if p.vae is not None), None)
    vae = None
    if vae_from is not None and vae_from.vae is not None:
        vae = (str(vae_from.vae.value), _foreign_origin(vae_from, vae_from.vae))
        combiner.used.setdefault(_label(vae_from), []).append("vae")
    joined = _join_learned(combiner, learned) if learned is not None else None
    problems: list[str] = []
    profile = _assemble(ModelProfile, "model_profile", {"model_name": stem}, combiner, sidecar, library, problems)
    candidates = _candidates(combiner, sidecar, sidecar_path, ordered, library)
    if joined is not None:
        candidates.append(joined)
    return Priors(profile, candidates, vae, problems)


#: A model profile holds at most this many presets (ModelProfile.recommended_presets).
_MAX_PRESETS = 100


def _join_learned(combiner: _Combiner, learned: LearnedProfile) -> Candidate:
    """Append the learned presets to the presets already taken, each value located in the learned file."""
    path = str(learned.document.path) if learned.document else "learned presets"
    locate = learned.document.position if learned.document else None
    existing = list(combiner.data.get("recommended_presets", []))
    room = max(0, _MAX_PRESETS - len(existing))
    joining = learned.recommended_presets[:room]
    for offset, preset in enumerate(joining):
        summary = preset.learning_summary
        rule = f"local_learning: {summary.runs_observed} rated runs, mean rating {summary.mean_rating}"
        own: tuple[str | int, ...] = ("recommended_presets", offset)
        keys: list[tuple[str | int, ...]] = [(), *((name,) for name in ModelPreset.model_fields)]
        keys += [("lora_overlays", k, "weight") for k in range(len(preset.lora_overlays))]
        for key in keys:
            combiner.origins[("recommended_presets", len(existing) + offset, *key)] = KeyOrigin(
                f"{path}#{preset.id}", rule, locate, (*own, *key)
            )
    if joining:
        combiner.data["recommended_presets"] = existing + [p.as_model_preset() for p in joining]
        combiner.used.setdefault("learned", []).append("recommended_presets")
    status = f"{len(joining)} local_learning preset{'s' * (len(joining) != 1)} joined the candidates"
    if len(joining) < len(learned.recommended_presets):
        status += f" ({len(learned.recommended_presets) - len(joining)} more left out: a profile holds {_MAX_PRESETS})"
    return Candidate("learned", path, status)


def combine_lora_priors(
    stem: str,
    sidecar: LoraProfile | None,
    foreign: Sequence[ForeignPriors],
    library: LoraProfile | None,
    *,
    sidecar_path: str,
) -> Priors[LoraProfile]:
    """A LoRA's priors from its sidecar, foreign metadata and library profile."""
    ordered = _ordered(foreign)
    combiner = _Combiner(sidecar, library)
    lib_origin = _library_origin(library) if library else None

    combiner.take_from(
        "recommended_weights",
        ordered,
        "lora_weight",
        lambda v: [{"label": "preferred weight", "weight": v.value, "rating": "good"}],
    )
    combiner.take(
        "recommended_pairings",
        ("sidecar", sidecar.recommended_pairings if sidecar else None, None),
        ("library", library.recommended_pairings if library else None, lib_origin),
    )
    combiner.take_from("trigger_phrases", ordered, "trigger_phrases", lambda v: list(v.value))
    combiner.take_from("target_base_type", ordered, "base_type")
    problems: list[str] = []
    profile = _assemble(LoraProfile, "lora_profile", {"lora_name": stem}, combiner, sidecar, library, problems)
    return Priors(profile, _candidates(combiner, sidecar, sidecar_path, ordered, library), problems=problems)


def _foreign_preset(priors: ForeignPriors, origins: dict[tuple[str | int, ...], KeyOrigin]) -> dict[str, Any] | None:
    """A preset from foreign generation settings, when they give sampler, steps, cfg and size."""
    needed = (priors.sampler, priors.steps, priors.cfg, priors.resolution)
    if any(value is None for value in needed):
        return None
    preset: dict[str, Any] = {
        "id": FOREIGN_PRESET_ID,
        "label": f"Most used settings in {priors.source_kind}",
        "rating": "neutral",
        "source": "internet_prior",
    }
    for field_name, value in (
        ("sampler", priors.sampler),
        ("scheduler", priors.scheduler),
        ("steps", priors.steps),
        ("cfg", priors.cfg),
        ("resolution", priors.resolution),
    ):
        if value is not None:
            preset[field_name] = value.value
            origins[("recommended_presets", 0, field_name)] = _foreign_origin(priors, value)
    return preset


def _assemble(
    model: type[P],
    kind: str,
    identity: dict[str, Any],
    combiner: _Combiner,
    sidecar: P | None,
    library: P | None,
    problems: list[str],
) -> P | None:
    if not combiner.used:
        return None
    base = sidecar or library
    data: dict[str, Any] = base.model_dump() if base is not None else {"kind": kind, "version": 1, **identity}
    data.update(combiner.data)
    while True:
        try:
            profile = model.model_validate(data)
            break
        except ValidationError as exc:
            # A foreign value the schema rejects ("preferred weight": 7) drops only its own aspect,
            # recorded as a problem; the other aspects (its base type, say) still count.
            bad = _drop_rejected(exc, model, combiner, data, base, problems)
            if not bad:
                return base
    if not combiner.used:
        return base
    document = base.document if base is not None else None
    origins = dict(combiner.origins)
    if base is library and library is not None and sidecar is None:
        origins = {k: v for k, v in origins.items() if v.source != _library_origin(library).source}
    return profile.with_origins(origins, document)


def _drop_rejected(
    exc: ValidationError, model: type[P], combiner: _Combiner, data: dict[str, Any], base: P | None, problems: list[str]
) -> bool:
    """Drop the taken aspects ``exc`` rejects (falling back to ``base``'s value), recording why.
    False when nothing taken was at fault."""
    from config_layers.schema.messages import short_message

    dropped = False
    for error in exc.errors(include_url=False):
        aspect = str(error["loc"][0]) if error["loc"] else ""
        if aspect not in combiner.data:
            continue
        label = next((lab for lab, aspects in combiner.used.items() if aspect in aspects), "a source")
        where = ".".join(str(part) for part in error["loc"])
        problems.append(f"ignored {aspect} from {label}: {where} {short_message(error, model)}")
        del combiner.data[aspect]
        combiner.used[label].remove(aspect)
        if not combiner.used[label]:
            del combiner.used[label]
        for key in [k for k in combiner.origins if k[:1] == (aspect,)]:
            del combiner.origins[key]
        if base is not None:
            data[aspect] = base.model_dump()[aspect]
        else:
            data.pop(aspect, None)
        dropped = True
    return dropped


def _candidates(
    combiner: _Combiner,
    sidecar: _Profile | None,
    sidecar_path: str,
    foreign: Sequence[ForeignPriors],
    library: _Profile | None,
) -> list[Candidate]:
    out = [Candidate("sidecar", sidecar_path, combiner.status("sidecar") if sidecar else "absent")]
    out += [Candidate(p.source_kind, str(p.path), combiner.status(_label(p))) for p in foreign]
    if library is not None:
        path = str(library.document.path) if library.document else "profile library"
        out.append(Candidate("library", path, combiner.status("library")))
    return out
