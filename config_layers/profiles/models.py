"""The sidecar data structures (PR-LEARN-PROFILES-001), as strict pydantic models.

Sidecars are downloaded with models, so they are untrusted: every model here forbids
unknown keys, never coerces strings into numbers, caps string and list lengths and
rejects control characters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from config_layers.profiles.families import BaseType
from config_layers.provenance.origin import KeyPath, PositionLookup
from config_layers.schema.config import Dimension, Fraction, LoraName, LoraWeight, Name, Text

if TYPE_CHECKING:
    from config_layers.documents import Document

Rating = Literal["bad", "neutral", "good", "better", "best"]

#: Preset choice order: a higher rank wins.
RATING_RANK: dict[str, int] = {"bad": 0, "neutral": 1, "good": 2, "better": 3, "best": 4}

Identifier = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.\-]+$")]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]
AutoV2 = Annotated[str, Field(pattern=r"^[0-9a-fA-F]{10}$")]
Citations = Annotated[list[Text], Field(max_length=50)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


class LoraOverlay(_Strict):
    """A preset's own weight for one LoRA."""

    name: LoraName
    weight: LoraWeight


class ModelPreset(_Strict):
    """One recommended set of generation settings for a model."""

    id: Identifier
    label: Text
    rating: Rating
    source: Identifier = Field(description="internet_prior, local_learning, ...")
    sampler: Name
    scheduler: Name | None = None
    steps: int = Field(ge=1, le=500)
    cfg: float = Field(gt=0.0, le=50.0)
    resolution: tuple[Dimension, Dimension]
    clip_skip: int | None = Field(default=None, ge=1, le=12)
    distilled_cfg: float | None = Field(default=None, gt=0.0, le=50.0)
    lora_overlays: Annotated[list[LoraOverlay], Field(max_length=100)] = []
    sources: Citations = []
    notes: Text | None = None
    # Prompt parts this model wants (config_layers.prompts): "score_9, score_8_up" for Pony.
    quality_prompt: Text | None = None
    style_prompt: Text | None = None
    quality_negative: Text | None = None
    prompt_budget: int | None = Field(default=None, ge=0, le=10_000)

    @field_validator("resolution", mode="before")
    @classmethod
    def _array_to_pair(cls, value: Any) -> Any:
        # TOML and JSON arrays arrive as lists; strict mode wants a tuple for a fixed pair.
        return tuple(value) if isinstance(value, list) else value


class LearningSummary(_Strict):
    """A regenerable summary of LearningRecords; the records stay the source of truth."""

    runs_observed: int = Field(default=0, ge=0)
    mean_rating: float | None = None


class _Profile(_Strict):
    #: The caches hand out one object per file version and nothing changes it once loaded.
    memo_by_identity: ClassVar[bool] = True
    version: Literal[1]
    aliases: Annotated[list[Name], Field(max_length=100)] = []
    sha256: Sha256 | None = None
    autov2: AutoV2 | None = None
    learning_summary: LearningSummary = Field(default_factory=LearningSummary)

    _document: Document | None = PrivateAttr(default=None)
    _origins: dict[KeyPath, KeyOrigin] = PrivateAttr(default_factory=dict)

    @property
    def document(self) -> Document | None:
        """The file this profile was read from (None when built in code)."""
        return self._document

    def key_origin(self, key: KeyPath) -> KeyOrigin | None:
        """Where the value at ``key`` came from when it was not this profile's own file (a value
        taken from foreign metadata or the library); the longest recorded prefix of ``key`` wins."""
        for depth in range(len(key), -1, -1):
            found = self._origins.get(key[:depth])
            if found is not None:
                return found
        return None

    def with_origins(self, origins: dict[KeyPath, KeyOrigin], document: Document | None) -> Self:
        """This profile remembering ``document`` and where each key in ``origins`` came from."""
        self._document = document
        self._origins = dict(origins)
        return self


@dataclass(frozen=True)
class KeyOrigin:
    """The source of one profile value that came from another file than the profile's own."""

    source: str
    rule: str
    locate: PositionLookup | None = None
    key: KeyPath = ()


class ModelProfile(_Profile):
    """``<checkpoint stem>.modelprofile.toml`` (or ``.json``): priors for one base model.

    The ``default_*`` and ``style_profile_id`` fields are StableNew's V2 profile fields (its
    ``src/learning/model_profiles.py``): the hires ones map to ``hires.*``; the refiner and style
    ids are StableNew's own logical ids, carried in the build's notes for the controller.
    """

    kind: Literal["model_profile"]
    model_name: Name
    base_type: BaseType = "unknown"
    tags: Annotated[list[Name], Field(max_length=100)] = []
    recommended_presets: Annotated[list[ModelPreset], Field(max_length=100)] = []
    default_refiner_id: Name | None = None
    default_hires_upscaler_id: Name | None = None
    default_hires_denoise: Fraction | None = None
    style_profile_id: Name | None = None

    @model_validator(mode="after")
    def _unique_preset_ids(self) -> ModelProfile:
        seen: set[str] = set()
        for preset in self.recommended_presets:
            if preset.id in seen:
                raise ValueError(f"preset id {preset.id!r} is used twice")
            seen.add(preset.id)
        return self


class LoraRecommendedWeight(_Strict):
    label: Text
    weight: LoraWeight
    rating: Rating
    sources: Citations = []


class LoraRecommendedPairing(_Strict):
    """A model (and optionally one of its presets) this LoRA works with, and at what weight."""

    model: Name
    preset_id: Identifier | None = None
    rating: Rating
    weight: LoraWeight | None = None
    sources: Citations = []


class LoraProfile(_Profile):
    """``<lora stem>.loraprofile.toml`` (or ``.json``): priors for one LoRA."""

    kind: Literal["lora_profile"]
    lora_name: LoraName
    target_base_type: BaseType = "unknown"
    intended_use: Annotated[list[Name], Field(max_length=100)] = []
    trigger_phrases: Annotated[list[Text], Field(max_length=100)] = []
    recommended_weights: Annotated[list[LoraRecommendedWeight], Field(max_length=100)] = []
    recommended_pairings: Annotated[list[LoraRecommendedPairing], Field(max_length=100)] = []
