"""Prompts composed from parts with provenance, counted with CLIP's tokenizer, kept in budget.

``prompt_report(config)`` composes the payload prompt (quality, triggers, subject, style, LoRA
tags) and the negative, counts them as the WebUI will, and applies the model family's budget.
Nothing here runs during ``build()``: only a payload, ``explain prompt`` and ``tokens`` pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from config_layers.prompts.budget import EVICTION_ORDER, PromptReport, prompt_report
from config_layers.prompts.compose import PART_FIELDS, PROMPT_SETTINGS, Part, split_phrases
from config_layers.prompts.render import explain_prompt, render_report
from config_layers.prompts.tokenizer import get_tokenizer

if TYPE_CHECKING:
    from config_layers.schema.config import PipelineConfig

__all__ = [
    "EVICTION_ORDER",
    "PART_FIELDS",
    "PROMPT_SETTINGS",
    "Part",
    "PromptReport",
    "explain_prompt",
    "get_tokenizer",
    "payload_prompts",
    "prompt_report",
    "render_report",
    "split_phrases",
]


def payload_prompts(config: PipelineConfig, *, triggers: bool = True) -> tuple[str, str]:
    """The composed (prompt, negative_prompt) for a WebUI payload; drops and warnings go to the
    build's warnings."""
    report = prompt_report(config, triggers=triggers)
    return report.prompt.text, report.negative.text
