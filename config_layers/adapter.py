"""The controller-level adapter the original profile spec names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from config_layers.builder import ConfigBuilder
from config_layers.schema.config import PipelineConfig


def build_pipeline_config_with_profiles(
    base_model_name: str,
    lora_names: Sequence[str],
    user_overrides: Mapping[str, Any],
    *,
    builder: ConfigBuilder | None = None,
) -> PipelineConfig:
    """Defaults, then the model's suggested preset and LoRA weights, then ``user_overrides``
    (which always win). Without profiles the result is the defaults plus overrides.

    A thin adapter over ``ConfigBuilder.build``; pass the controller's builder (its model
    and LoRA directories), or get one reading the shipped example library.
    """
    if builder is None:
        from config_layers.shipped import examples_dir

        library = examples_dir() / "models"
        builder = ConfigBuilder(model_dirs=[library / "Stable-diffusion"], lora_dirs=[library / "Lora"])
    return builder.build(model=base_model_name, loras=list(lora_names), overrides=user_overrides)
