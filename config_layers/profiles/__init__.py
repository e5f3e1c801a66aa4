"""Model and LoRA profile sidecars: data structures, loaders and preset suggestion.

Pure with respect to the rest of the package: nothing here knows about layers.
"""

from config_layers.profiles.families import BaseType, base_type_family, lora_compatibility
from config_layers.profiles.loading import (
    load_lora_profile,
    load_model_profile,
)
from config_layers.profiles.models import (
    LearningSummary,
    LoraOverlay,
    LoraProfile,
    LoraRecommendedPairing,
    LoraRecommendedWeight,
    ModelPreset,
    ModelProfile,
)
from config_layers.profiles.suggest import (
    DEFAULT_LORA_WEIGHT,
    CompatibilityIssue,
    LoraWeightChoice,
    SuggestedPreset,
    choose_lora_weight,
    choose_preset,
    suggest_preset_for,
)

__all__ = [
    "DEFAULT_LORA_WEIGHT",
    "BaseType",
    "CompatibilityIssue",
    "LearningSummary",
    "LoraOverlay",
    "LoraProfile",
    "LoraRecommendedPairing",
    "LoraRecommendedWeight",
    "LoraWeightChoice",
    "ModelPreset",
    "ModelProfile",
    "SuggestedPreset",
    "base_type_family",
    "choose_lora_weight",
    "choose_preset",
    "load_lora_profile",
    "load_model_profile",
    "lora_compatibility",
    "suggest_preset_for",
]
