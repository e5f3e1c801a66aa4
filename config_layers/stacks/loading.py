"""Finding ``<name>.lorastack.toml`` files (reading one is ``read_document`` + ``parse_stack``)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from config_layers.errors import ConfigError, NotFoundError
from config_layers.provenance.redaction import shorten

STACK_SUFFIX = ".lorastack.toml"
_NAME_MAX = 255  # bytes in one file name on the common file systems


def find_stack(name: str, directories: Sequence[Path]) -> Path:
    """``<name>.lorastack.toml`` in the first directory that has it (top level only)."""
    if not name or "/" in name or "\\" in name or name.startswith(".") or "\x00" in name:
        raise NotFoundError("LoRA stack", name, [f"{d} (stack names are file stems)" for d in directories])
    if len(os.fsencode(name + STACK_SUFFIX)) > _NAME_MAX:
        raise ConfigError(f"LoRA stack name {shorten(name)!r} is too long for a file name ({_NAME_MAX} bytes at most)")
    for directory in directories:
        candidate = Path(directory) / f"{name}{STACK_SUFFIX}"
        try:
            found = candidate.is_file()
        except OSError as exc:  # a folder that cannot be entered, a path over the OS limit
            raise ConfigError(
                f"LoRA stack {shorten(name)!r}: cannot look in {directory}: {exc.strerror or exc}"
            ) from None
        if found:
            return candidate
    raise NotFoundError("LoRA stack", name, [f"{Path(d) / (name + STACK_SUFFIX)}" for d in directories])
