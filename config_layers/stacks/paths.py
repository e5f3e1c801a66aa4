"""Resolving a stack entry's ``file`` inside the configured LoRA directories, and nowhere else."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from config_layers.errors import ConfigError, NotFoundError


def resolve_lora_file(file: str, directories: Sequence[Path], *, what: str = "LoRA") -> Path:
    """The real path of ``file`` below one of ``directories`` (the folders of ``what`` files).

    ``../`` escapes, absolute paths outside the directories and symlinks whose target
    leaves them are errors (ConfigError); a file in none of them is NotFoundError.
    """
    if not directories:
        raise NotFoundError("LoRA file", file, [])
    roots = [Path(d).resolve() for d in directories]
    given = Path(file)
    candidates = [given] if given.is_absolute() else [root / given for root in roots]
    for candidate in candidates:
        lexical = Path(os.path.normpath(candidate))
        if not any(lexical.is_relative_to(root) for root in roots):
            raise ConfigError(f"{file!r} is outside the {what} directories ({', '.join(map(str, roots))})")
        if not candidate.exists():
            continue
        real = candidate.resolve()
        if not any(real.is_relative_to(root) for root in roots):
            raise ConfigError(f"{file!r} is a link to {real}, outside the {what} directories")
        if not real.is_file():
            raise ConfigError(f"{file!r} is not a file")
        return real
    raise NotFoundError("LoRA file", file, [str(root) for root in roots])
