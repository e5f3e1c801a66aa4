"""Key positions in a JSON document."""

from __future__ import annotations

import re
from json.decoder import scanstring  # type: ignore[attr-defined]

from config_layers.positions._text import LineIndex
from config_layers.provenance.origin import KeyPath, Position

_WS = re.compile(r"[ \t\r\n]*")
_SCALAR = re.compile(r"[^\s,\]\}]+")


def json_positions(text: str) -> dict[KeyPath, Position]:
    """Map each key path (object keys and array indices) to where it starts in ``text``.

    ``text`` must already be valid JSON.
    """
    scanner = _JsonScanner(text)
    scanner.value(())
    return scanner.found


class _JsonScanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.i = 0
        self.lines = LineIndex(text)
        self.found: dict[KeyPath, Position] = {}

    def _ws(self) -> None:
        self.i = _WS.match(self.text, self.i).end()  # type: ignore[union-attr]

    def _record(self, path: KeyPath, offset: int) -> None:
        self.found.setdefault(path, self.lines.position(offset))

    def value(self, path: KeyPath) -> None:
        self._ws()
        if self.i >= len(self.text):
            return
        char = self.text[self.i]
        if char == "{":
            self._object(path)
        elif char == "[":
            self._array(path)
        elif char == '"':
            _, self.i = scanstring(self.text, self.i + 1)
        else:
            match = _SCALAR.match(self.text, self.i)
            self.i = match.end() if match else self.i + 1

    def _object(self, path: KeyPath) -> None:
        self.i += 1
        while True:
            self._ws()
            if self.i >= len(self.text) or self.text[self.i] == "}":
                self.i += 1
                return
            if self.text[self.i] == ",":
                self.i += 1
                continue
            start = self.i
            key, self.i = scanstring(self.text, self.i + 1)
            self._record((*path, key), start)
            self._ws()
            self.i += 1  # the colon
            self.value((*path, key))

    def _array(self, path: KeyPath) -> None:
        self.i += 1
        index = 0
        while True:
            self._ws()
            if self.i >= len(self.text) or self.text[self.i] == "]":
                self.i += 1
                return
            if self.text[self.i] == ",":
                self.i += 1
                index += 1
                continue
            self._record((*path, index), self.i)
            self.value((*path, index))
