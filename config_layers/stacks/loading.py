"""Finding and reading ``<name>.lorastack.toml`` files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from config_layers.documents import DEFAULT_MAX_BYTES, read_document
from config_layers.errors import NotFoundError
from config_layers.stacks.models import StackFile, parse_stack

STACK_SUFFIX = ".lorastack.toml"


def find_stack(name: str, directories: Sequence[Path]) -> Path:
    """``<name>.lorastack.toml`` in the first directory that has it (top level only)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise NotFoundError("LoRA stack", name, [f"{d} (stack names are file stems)" for d in directories])
    for directory in directories:
        candidate = Path(directory) / f"{name}{STACK_SUFFIX}"
        if candidate.is_file():
            return candidate
    raise NotFoundError("LoRA stack", name, [f"{Path(d) / (name + STACK_SUFFIX)}" for d in directories])


def load_stack(name: str, directories: Sequence[Path]) -> StackFile:
    """Find, read and validate the stack called ``name``."""
    path = find_stack(name, directories)
    return parse_stack(name, read_document(path, max_bytes=DEFAULT_MAX_BYTES))
