"""Key positions in a JSON document."""

from __future__ import annotations

import re
from json.decoder import scanstring  # type: ignore[attr-defined]

from config_layers.positions._text import Scanner
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


class _JsonScanner(Scanner):
    space = _WS

    def value(self, path: KeyPath) -> None:
        self._space()
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
        for _ in self._items("}"):
            start = self.i
            key, self.i = scanstring(self.text, self.i + 1)
            self._record((*path, key), start)
            self._space()
            self.i += 1  # the colon
            self.value((*path, key))

    def _array(self, path: KeyPath) -> None:
        for index in self._items("]"):
            self._record((*path, index), self.i)
            self.value((*path, index))
