"""What the TOML and JSON scanners share: offset to line/column arithmetic and the walk over a
bracketed list."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator

from config_layers.provenance.origin import KeyPath, Position

_NEWLINE = re.compile("\n")


class LineIndex:
    """Maps a string offset to a 1-based (line, column)."""

    def __init__(self, text: str) -> None:
        self._starts = [0, *(m.end() for m in _NEWLINE.finditer(text))]

    def position(self, offset: int) -> Position:
        line = bisect_right(self._starts, offset)
        return line, offset - self._starts[line - 1] + 1


class Scanner:
    """A walk over text the real parser accepted: the offset reached and the key positions found."""

    #: What may stand between tokens (TOML: also newlines and comments).
    space: re.Pattern[str]

    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.lines = LineIndex(text)
        self.found: dict[KeyPath, Position] = {}

    def _record(self, path: KeyPath, offset: int) -> None:
        self.found.setdefault(path, self.lines.position(offset))

    def _space(self) -> None:
        self.i = self.space.match(self.text, self.i).end()  # type: ignore[union-attr]

    def _items(self, close: str) -> Iterator[int]:
        """From an opening bracket: each item's index, with ``self.i`` at the item (the caller
        consumes it); ends past ``close``."""
        self.i += 1
        index = 0
        while True:
            self._space()
            if self.i >= len(self.text) or self.text[self.i] == close:
                self.i += 1
                return
            if self.text[self.i] == ",":
                self.i += 1
                index += 1
                continue
            yield index
