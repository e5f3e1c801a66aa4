"""Named LoRA stacks: base stacks, derived stacks (``extends`` with ``exclude``/``add``),
stage filtering, the legacy flat ``lora``/``lora_scale`` keys, and safe file resolution."""

from config_layers.discovery.confine import resolve_lora_file
from config_layers.stacks.compose import ComposedStack, Exclusion, StackStep, compose_stack, load_chain, stack_for
from config_layers.stacks.loading import STACK_SUFFIX, find_stack
from config_layers.stacks.models import (
    LEGACY_KEYS,
    STAGES,
    LocatedEntry,
    StackEntry,
    StackFile,
    Stage,
    parse_stack,
    promote_legacy,
)

__all__ = [
    "LEGACY_KEYS",
    "STACK_SUFFIX",
    "STAGES",
    "ComposedStack",
    "Exclusion",
    "LocatedEntry",
    "StackEntry",
    "StackFile",
    "StackStep",
    "Stage",
    "compose_stack",
    "find_stack",
    "load_chain",
    "parse_stack",
    "promote_legacy",
    "resolve_lora_file",
    "stack_for",
]
