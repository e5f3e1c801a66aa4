"""Offset to line/column arithmetic shared by the scanners."""

from __future__ import annotations

import re
from bisect import bisect_right

from config_layers.provenance.origin import Position

_NEWLINE = re.compile("\n")


class LineIndex:
    """Maps a string offset to a 1-based (line, column)."""

    def __init__(self, text: str) -> None:
        self._starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]

    def position(self, offset: int) -> Position:
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1
