"""Key positions in a TOML document, including dotted keys, inline tables and arrays of tables."""

from __future__ import annotations

import itertools
import operator
import re

from config_layers.positions._text import Scanner
from config_layers.provenance.origin import KeyPath, Position

_BLANK = re.compile(r"(?:[ \t\r\n]+|#[^\n]*)*")
_INLINE_WS = re.compile(r"[ \t]*")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR = re.compile(r"[^\s,\]\}#]+")
_DATE_THEN_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")
#: Array elements located one by one; past this index an array is skipped to its end, so a
#: 1 MiB array of 300,000 items costs a token scan rather than a position per item (an error
#: about a later item points at the array's key instead).
MAX_LOCATED_ITEMS = 1000
#: Tokens of a value the scanner skips: strings (which may hold brackets), comments, brackets
#: and runs of anything else.
_SKIP_TOKEN = re.compile(
    r'"""(?:[^\\]|\\.)*?"""(?:"{0,2})|\'\'\'[\s\S]*?\'\'\'(?:\'{0,2})|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\''
    r"|#[^\n]*|[\[\]]|[^\[\]\"'#]+"
)
_STRING_OR_COMMENT = re.compile(r"[\"'#]")
#: Bytes of a bracket run: "[" 2, "]" 0, anything else 1 (UTF-8 continuation bytes are never brackets).
_BRACKET_WEIGHTS = bytes(2 if b == ord("[") else 0 if b == ord("]") else 1 for b in range(256))
_BASIC_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)")
_SIMPLE_ESCAPES = {"b": "\b", "t": "\t", "n": "\n", "f": "\f", "r": "\r", '"': '"', "\\": "\\", "e": "\x1b"}


def toml_positions(text: str) -> dict[KeyPath, Position]:
    """Map each key path to where its key starts in ``text`` (already accepted by tomllib).

    Array-of-tables entries get their index in the path (``("presets", 0, "steps")``);
    elements of plain arrays are recorded at their own position.
    """
    scanner = _TomlScanner(text)
    scanner.document()
    return scanner.found


def _unescape(raw: str) -> str:
    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "uU" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _SIMPLE_ESCAPES.get(code, code)

    return _BASIC_ESCAPE.sub(replace, raw)


class _TomlScanner(Scanner):
    space = _BLANK

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.table_arrays: dict[KeyPath, int] = {}

    def _record_all(self, path: KeyPath, offset: int) -> None:
        """Record a header's path and every table it implicitly creates on the way."""
        for depth in range(1, len(path) + 1):
            self._record(path[:depth], offset)

    def _inline_ws(self) -> None:
        self.i = _INLINE_WS.match(self.text, self.i).end()  # type: ignore[union-attr]

    def document(self) -> None:
        prefix: KeyPath = ()
        while True:
            self._space()
            if self.i >= len(self.text):
                return
            start = self.i
            if self.text.startswith("[[", self.i):
                self.i += 2
                keys = self._key()
                self.i = self.text.index("]]", self.i) + 2
                parent = self._concrete(keys[:-1])
                array_path = (*parent, keys[-1])
                index = self.table_arrays.get(array_path, 0)
                self.table_arrays[array_path] = index + 1
                prefix = (*array_path, index)
                self._record_all(prefix, start)
            elif self.text[self.i] == "[":
                self.i += 1
                keys = self._key()
                self.i = self.text.index("]", self.i) + 1
                prefix = self._concrete(keys)
                self._record_all(prefix, start)
            else:
                self._key_value(prefix, start)

    def _concrete(self, keys: KeyPath) -> KeyPath:
        """A header's path with the current index of every array of tables it passes through."""
        path: KeyPath = ()
        for key in keys:
            path = (*path, key)
            if path in self.table_arrays:
                path = (*path, self.table_arrays[path] - 1)
        return path

    def _key_value(self, prefix: KeyPath, start: int) -> None:
        keys = self._key()
        for depth in range(1, len(keys) + 1):
            self._record((*prefix, *keys[:depth]), start)
        self._inline_ws()
        self.i += 1  # "="
        self._inline_ws()
        self._value((*prefix, *keys))

    def _key(self) -> KeyPath:
        keys: list[str] = []
        while True:
            self._inline_ws()
            keys.append(self._simple_key())
            self._inline_ws()
            if self.i < len(self.text) and self.text[self.i] == ".":
                self.i += 1
                continue
            return tuple(keys)

    def _simple_key(self) -> str:
        char = self.text[self.i]
        if char == '"':
            return _unescape(self._basic_string())
        if char == "'":
            end = self.text.index("'", self.i + 1)
            key = self.text[self.i + 1 : end]
            self.i = end + 1
            return key
        match = _BARE_KEY.match(self.text, self.i)
        if match is None:  # unreachable for text tomllib accepted; never loop forever
            self.i += 1
            return ""
        self.i = match.end()
        return match.group()

    def _basic_string(self) -> str:
        """Consume a one-line basic string; return its raw (still escaped) body."""
        j = self.i + 1
        while self.text[j] != '"':
            j += 2 if self.text[j] == "\\" else 1
        raw = self.text[self.i + 1 : j]
        self.i = j + 1
        return raw

    def _value(self, path: KeyPath) -> None:
        text = self.text
        if text.startswith('"""', self.i):
            j = self.i + 3
            while not text.startswith('"""', j):
                j += 2 if text[j] == "\\" else 1
            self.i = self._past_extra_quotes(j + 3, '"')
        elif text.startswith("'''", self.i):
            self.i = self._past_extra_quotes(text.index("'''", self.i + 3) + 3, "'")
        elif text[self.i] == '"':
            self._basic_string()
        elif text[self.i] == "'":
            self.i = text.index("'", self.i + 1) + 1
        elif text[self.i] == "[":
            self._array(path)
        elif text[self.i] == "{":
            self._inline_table(path)
        else:
            if _DATE_THEN_TIME.match(text, self.i):
                self.i += 11  # a date and a time joined by a space are one value
            match = _SCALAR.match(text, self.i)
            self.i = match.end() if match else self.i + 1

    def _past_extra_quotes(self, j: int, quote: str) -> int:
        # A multi-line string may end with up to two quotes of content before its delimiter.
        extra = 0
        while extra < 2 and j < len(self.text) and self.text[j] == quote:
            j += 1
            extra += 1
        return j

    def _array(self, path: KeyPath) -> None:
        for index in self._items("]"):
            if index >= MAX_LOCATED_ITEMS:
                self._skip_to_array_end()
                return
            self._record((*path, index), self.i)
            self._value((*path, index))

    def _skip_to_array_end(self) -> None:
        depth = 1
        text = self.text
        while self.i < len(text):
            special = _STRING_OR_COMMENT.search(text, self.i)
            stop = special.start() if special else len(text)
            closed, depth = _close_brackets(text, self.i, stop, depth)
            if closed is not None:
                self.i = closed
                return
            token = _SKIP_TOKEN.match(text, stop) if special else None
            self.i = token.end() if token else stop + 1
        self.i = len(text)

    def _inline_table(self, path: KeyPath) -> None:
        for _ in self._items("}"):
            self._key_value(path, self.i)


def _close_brackets(text: str, start: int, stop: int, depth: int) -> tuple[int | None, int]:
    """Where ``depth`` open brackets close in ``text[start:stop]`` (text without strings or
    comments): the offset just past the closing bracket, or None and the depth at ``stop``.
    Counted by C-level iterators: a 1 MiB run of brackets costs milliseconds, not a Python loop."""
    raw = text[start:stop].encode()
    weights = raw.translate(_BRACKET_WEIGHTS)
    # sum(weights[:k+1]) - (k+1) is the net depth change after byte k.
    changes = map(operator.sub, itertools.accumulate(weights), itertools.count(1))
    try:
        at = operator.indexOf(changes, -depth)
    except ValueError:
        return None, depth + raw.count(b"[") - raw.count(b"]")
    return start + len(raw[: at + 1].decode()), 0
