"""Resolving a stack entry's ``file`` inside the configured LoRA directories, and nowhere else."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from config_layers.errors import ConfigError, NotFoundError
from config_layers.provenance.redaction import shorten


def resolve_lora_file(file: str, directories: Sequence[Path], *, what: str = "LoRA") -> Path:
    """The real path of ``file`` below one of ``directories`` (the folders of ``what`` files).

    ``../`` escapes, absolute paths outside the directories and symlinks whose target
    leaves them are errors (ConfigError); a file in none of them is NotFoundError.
    """
    if not directories:
        raise NotFoundError("LoRA file", file, [])
    roots = [Path(d).resolve() for d in directories]
    if "\x00" in file:
        raise ConfigError("contains a NUL character, which no file name can hold")
    given = Path(file)
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    shown = shorten(repr(file))
    for candidate in candidates:
        lexical = Path(os.path.normpath(candidate))
        if not any(lexical.is_relative_to(root) for root in roots):
            raise ConfigError(f"{shown} is outside the {what} directories ({', '.join(map(str, roots))})")
        try:
            if not candidate.exists():
                continue
            real = candidate.resolve(strict=True)
            is_file = real.is_file()
        except (OSError, RuntimeError) as exc:  # a name over the OS limit, a symlink loop, no access
            raise ConfigError(f"{shown} cannot be opened: {getattr(exc, 'strerror', None) or exc}") from None
        if not any(real.is_relative_to(root) for root in roots):
            raise ConfigError(f"{shown} is a link to {real}, outside the {what} directories")
        if not is_file:
            raise ConfigError(f"{shown} is not a file")
        return real
    raise NotFoundError(f"{what} file", file, [str(root) for root in roots])
