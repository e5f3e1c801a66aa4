"""Where a value came from: one small value object, printed the same way by dumps and errors."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from config_layers.errors import ConfigError, FileError

LayerName = Literal["defaults", "model_profile", "lora_overlays", "user_file", "env", "overrides"]

#: The layer stack, lowest precedence first. These names are a public contract.
LAYER_ORDER: tuple[LayerName, ...] = (
    "defaults",
    "model_profile",
    "lora_overlays",
    "user_file",
    "env",
    "overrides",
)

KeyPath = tuple[str | int, ...]  # ints index arrays (recommended_presets[0])
Position = tuple[int, int]  # 1-based line and column
PositionLookup = Callable[[KeyPath], Position | None]


def display_path(path: Path | str) -> str:
    """A path as a person wants to read it: relative to the working directory when below it."""
    text = str(path)
    try:
        rel = os.path.relpath(text)
    except ValueError:  # another drive on Windows
        return text
    return text if rel.startswith("..") else rel


@dataclass(frozen=True)
class Origin:
    """The origin of one assignment: its layer, its source and, for files, its position.

    ``source`` is a file path, ``path#preset_id`` for a preset, the exact environment
    variable name, or ``overrides``. ``key`` is the key path inside the source file (it can
    differ from the config path, e.g. a preset's ``cfg`` feeding ``txt2img.cfg_scale``);
    the line and column are looked up from it only when asked for, so builds that never
    print provenance never pay for positions.
    """

    layer: LayerName
    source: str
    key: KeyPath = ()
    rule: str | None = None
    _locate: PositionLookup | None = field(default=None, compare=False, repr=False)

    @property
    def position(self) -> Position | None:
        return self._locate(self.key) if self._locate is not None else None

    @property
    def line(self) -> int | None:
        pos = self.position
        return pos[0] if pos else None

    @property
    def column(self) -> int | None:
        pos = self.position
        return pos[1] if pos else None

    def where(self) -> str:
        """``source:line:col`` (or just the source when it has no position)."""
        pos = self.position
        head, sep, anchor = self.source.partition("#")
        shown = display_path(head) if _looks_like_path(head) else head
        if sep:
            shown += f"#{anchor}"
        return f"{shown}:{pos[0]}:{pos[1]}" if pos else shown

    def __str__(self) -> str:
        return f"{self.layer}, {self.where()}"


def _looks_like_path(text: str) -> bool:
    return os.sep in text or "/" in text or text.endswith((".toml", ".json"))


def origin_error(origin: Origin, key_path: str, message: str) -> ConfigError:
    """An error about ``key_path`` located at ``origin``: a FileError when it came from a file."""
    pos = origin.position
    head = origin.source.partition("#")[0]
    if pos is not None or _looks_like_path(head):
        return FileError(
            head,
            message,
            key_path=key_path,
            line=pos[0] if pos else None,
            column=pos[1] if pos else None,
        )
    return ConfigError(f"{origin.source}: {key_path}: {message}")
