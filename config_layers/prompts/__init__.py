"""Prompts composed from parts with provenance, counted with CLIP's tokenizer, kept in budget.

``prompt_report(config)`` composes the payload prompt (quality, triggers, subject, style, LoRA
tags) and the negative, counts them as the WebUI will, and applies the model family's budget.
Nothing here runs during ``build()``: only a payload, ``explain prompt`` and ``tokens`` pay for it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config_layers.prompts.budget import EVICTION_ORDER as EVICTION_ORDER
    from config_layers.prompts.budget import PromptReport as PromptReport
    from config_layers.prompts.budget import prompt_report as prompt_report
    from config_layers.prompts.compose import PART_FIELDS as PART_FIELDS
    from config_layers.prompts.compose import PROMPT_SETTINGS as PROMPT_SETTINGS
    from config_layers.prompts.compose import Part as Part
    from config_layers.prompts.compose import split_phrases as split_phrases
    from config_layers.prompts.render import explain_prompt as explain_prompt
    from config_layers.prompts.render import render_report as render_report
    from config_layers.prompts.tokenizer import get_tokenizer as get_tokenizer
    from config_layers.schema.config import PipelineConfig

#: Public name -> the module defining it, loaded on first use (PEP 562): every build imports
#: ``prompts.compose`` for its setting names, and must not pay for the budget and the report.
_EXPORTS = {
    "EVICTION_ORDER": "config_layers.prompts.budget",
    "PromptReport": "config_layers.prompts.budget",
    "prompt_report": "config_layers.prompts.budget",
    "PART_FIELDS": "config_layers.prompts.compose",
    "PROMPT_SETTINGS": "config_layers.prompts.compose",
    "Part": "config_layers.prompts.compose",
    "split_phrases": "config_layers.prompts.compose",
    "explain_prompt": "config_layers.prompts.render",
    "render_report": "config_layers.prompts.render",
    "get_tokenizer": "config_layers.prompts.tokenizer",
}

__all__ = sorted([*_EXPORTS, "payload_prompts"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'config_layers.prompts' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def payload_prompts(config: PipelineConfig, *, triggers: bool = True) -> tuple[str, str]:
    """The composed (prompt, negative_prompt) for a WebUI payload; drops and warnings go to the
    build's warnings."""
    from config_layers.prompts.budget import prompt_report  # the budget loads with its first use (see _EXPORTS)

    report = prompt_report(config, triggers=triggers)
    return report.prompt.text, report.negative.text
