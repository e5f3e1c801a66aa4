"""Where the shipped data lives: ``settings.toml``, ``profiles/`` and ``examples/``.

From a source checkout they sit at the repository root; an installed wheel carries
them inside the package as ``config_layers/_shipped/`` (see pyproject.toml).
"""

from __future__ import annotations

import functools
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@functools.cache  # the package does not move while it runs; every builder asks
def shipped_path(name: str) -> Path:
    """The shipped ``settings.toml``, ``profiles`` or ``examples``."""
    for root in (_PACKAGE / "_shipped", _PACKAGE.parent):
        candidate = root / name
        if candidate.exists():
            return candidate
    return _PACKAGE / "_shipped" / name


def default_settings_file() -> Path:
    return shipped_path("settings.toml")


def profiles_dir() -> Path:
    return shipped_path("profiles")


def examples_dir() -> Path:
    return shipped_path("examples")
