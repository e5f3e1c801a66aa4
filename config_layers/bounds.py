"""Bounds on untrusted text, checked before any parser sees it.

tomllib's memory grows with the square of a dotted key's depth (300,000 ``a.`` parts took
24 GB), nesting a few thousand brackets deep ends in RecursionError (in the parser or in our
own recursive code), and ``int()`` refuses more than 4,300 digits with a ValueError. A single
linear pass over the text finds all three and reports the first with its line and column, so
the parser only ever sees text whose cost is bounded by its size.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from itertools import accumulate, repeat
from typing import Any, Literal

from config_layers.errors import ConfigError

# Size caps on files read, in bytes: each file is checked (on the open file) before it is read.
#: Files we did not write ourselves: profile sidecars, user files, LoRA stacks.
DEFAULT_MAX_BYTES = 1024 * 1024
#: Foreign JSON metadata beside a model file; real ones are a few kB (a .civitai.info rarely 200 kB).
MAX_FOREIGN_BYTES = 4 * 1024 * 1024
#: The JSON header of a safetensors file (kohya's headers with tag frequencies stay under 1 MiB).
MAX_HEADER_BYTES = 16 * 1024 * 1024
#: The defaults layer's settings file (shipped, or another one named).
SETTINGS_MAX_BYTES = 16 * 1024 * 1024
#: The SHA-256 cache (one entry per hashed model file).
MAX_CACHE_BYTES = 64 * 1024 * 1024
#: One line of a LearningRecords JSONL file.
MAX_LINE_BYTES = 1024 * 1024

#: Deepest nesting accepted anywhere: key parts (dotted keys and table headers) plus arrays and
#: inline tables (TOML), or arrays and objects (JSON). Real files stay below 10.
MAX_DEPTH = 64

#: Most keys in one table of any layer, and most entries in one LoRA stack file. Real tables hold
#: a few dozen; the cap keeps the worst 1 MiB file inside the build's time bound (each key, and
#: above all each LoRA, costs a file lookup, a resolution, merge records and validated fields:
#: a stack of 2,000 LoRA files took 2.8 s, over the 2 s bound).
MAX_TABLE_KEYS = 1000

#: Longest digit run accepted (Python's own limit for int(); ours even when that is raised).
MAX_DIGITS = min(sys.get_int_max_str_digits() or 4300, 4300)

_DIGITS = rf"(?<![\d_])\d[\d_]{{{MAX_DIGITS},}}"
_TOML_TOKEN = re.compile(r'"""|\'\'\'|\[\[|\]\]|["\'#\[\]{}.=,\n]|' + _DIGITS)
_JSON_TOKEN = re.compile(r'["\[\]{}]|' + _DIGITS)
# String bodies after their opening quotes, possessive so that an unterminated one fails in one pass.
_BASIC = re.compile(r'(?:[^"\\\n]++|\\.)*+"')
_LITERAL = re.compile(r"[^'\n]*+'")
_ML_BASIC = re.compile(r'(?:[^"\\]++|\\[\s\S]|"(?!""))*+""""{0,2}')
_ML_LITERAL = re.compile(r"(?:[^']++|'(?!''))*+''''{0,2}")
_JSON_STRING = re.compile(r'(?:[^"\\]++|\\[\s\S])*+"')
_LINE_BLANK = re.compile(r"[ \t]*")
_LONG_DIGITS = re.compile(_DIGITS)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


#: Characters no text we read may pass on: C0/C1 controls and DEL, the line and paragraph
#: separators, and the bidi embedding/override/isolate characters that can make displayed text
#: differ from what it is ("Trojan Source"). Config fields and foreign metadata share this check.
_UNSAFE_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
#: In free text a person writes (a prompt over several lines, in any script), tabs, line feeds
#: and direction marks are the text itself: only the other C0/C1 controls and DEL are refused.
_UNSAFE_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def unsafe_character(text: str, *, free_text: bool = False) -> str | None:
    """The first character in ``text`` no text we read may pass on (as ``U+202E``, say), or
    ``None``; ``free_text`` for prompts and notes (see ``_UNSAFE_IN_TEXT``)."""
    match = (_UNSAFE_IN_TEXT if free_text else _UNSAFE_CHARACTERS).search(text)
    return None if match is None else f"U+{ord(match.group()):04X}"


class BoundsError(ValueError):
    """Text beyond a bound: ``message`` with the 1-based ``line`` and ``column`` where it starts."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def _error(text: str, offset: int, message: str) -> BoundsError:
    line = text.count("\n", 0, offset) + 1
    return BoundsError(message, line, offset - text.rfind("\n", 0, offset))


def _too_deep(text: str, offset: int) -> BoundsError:
    return _error(text, offset, f"nested too deeply: more than {MAX_DEPTH} levels (keys, tables and arrays count)")


def _too_long(text: str, offset: int, token: str) -> BoundsError:
    return _error(
        text, offset, f"a number with {len(token.replace('_', ''))} digits; at most {MAX_DIGITS} are accepted"
    )


def check_text(text: str, fmt: Literal["toml", "json"]) -> None:
    """Raise BoundsError when ``text`` nests deeper than MAX_DEPTH or holds a number with more
    than MAX_DIGITS digits. Text that is not valid TOML/JSON is left for the parser to report."""
    long_number = _LONG_DIGITS.search(text)
    if long_number is None and _surely_shallow(text, fmt):
        return  # the exact scan below costs about a second per MiB of brackets; most text needs none
    if fmt == "json":
        _check_json(text)
    else:
        _check_toml(text)


def _surely_shallow(text: str, fmt: Literal["toml", "json"]) -> bool:
    """A cheap upper bound (C loops only) on the depth: brackets counted even inside strings, and for
    TOML every bracket level and table charged with the most dots on any one line (a key cannot
    span lines). When that bound is within MAX_DEPTH, the exact scan cannot fail."""
    brackets = _NOT_BRACKET.sub("", text)
    deepest = max(accumulate(map(_STEP.__getitem__, brackets)), default=0)
    if fmt == "json":
        return deepest <= MAX_DEPTH
    parts = 1 + max(map(str.count, text.splitlines() or [""], repeat(".")))
    return (deepest + 2) * parts <= MAX_DEPTH


_SKIP = {'"': _BASIC, "'": _LITERAL, '"""': _ML_BASIC, "'''": _ML_LITERAL}


def _check_json(text: str) -> None:
    depth = 0
    i = 0
    while (match := _JSON_TOKEN.search(text, i)) is not None:
        token, i = match.group(), match.end()
        if token == '"':
            end = _JSON_STRING.match(text, i)
            if end is None:
                return  # unterminated: the parser says where
            i = end.end()
        elif token in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise _too_deep(text, match.start())
        elif token in "]}":
            depth -= 1
        else:
            raise _too_long(text, match.start(), token)


def _check_toml(text: str) -> None:
    # ``table``: key parts of the current table header; ``stack``: the depth of each open array or
    # inline table; ``key_parts``: parts of the key before "=" (a value nests below them); ``dots``:
    # dots since the last separator; ``header``: 1 or 2 while a [table] or [[array]] header is read.
    table = 0
    stack: list[int] = []
    key_parts = dots = header = 0
    line_start = 0
    i = 0
    while (match := _TOML_TOKEN.search(text, i)) is not None:
        token, start, i = match.group(), match.start(), match.end()
        skip = _SKIP.get(token)
        if skip is not None:
            end = skip.match(text, i)
            if end is None:
                return  # unterminated: the parser says where
            i = end.end()
        elif token == "#":
            newline = text.find("\n", i)
            i = len(text) if newline < 0 else newline
        elif token == ".":
            dots += 1
            depth = header + dots if header else (stack[-1] if stack else table) + key_parts + dots + 1
            if depth > MAX_DEPTH:
                raise _too_deep(text, start)
        elif token == "=":
            key_parts, dots = dots + 1, 0
        elif token in ",\n":
            key_parts = dots = 0
            if token == "\n":
                line_start = i
        elif token[0] in "[{":
            if not stack and not header and token[0] == "[" and _LINE_BLANK.match(text, line_start).end() == start:  # type: ignore[union-attr]
                header, dots = len(token), 0
                continue
            depth = (stack[-1] if stack else table) + (key_parts or 1)
            if depth + len(token) - 1 > MAX_DEPTH:
                raise _too_deep(text, start)
            stack += [depth, depth + 1][: len(token)]
            key_parts = dots = 0
        elif token[0] in "]}":
            if header and not stack:
                table, header = dots + header, 0
            elif len(stack) >= len(token):
                del stack[-len(token) :]
            else:
                return  # not TOML: the parser says where
            key_parts = dots = 0
        else:
            raise _too_long(text, start, token)


def check_depth(data: Any, what: str) -> None:
    """Refuse (ConfigError) plain data nested deeper than MAX_DEPTH (call-time overrides), without recursion."""
    pending: list[tuple[Any, int]] = [(data, 0)]
    while pending:
        value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(f"{what}: nested too deeply (more than {MAX_DEPTH} levels)")
        if isinstance(value, Mapping):
            pending.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list | tuple):
            pending.extend((child, depth + 1) for child in value)
