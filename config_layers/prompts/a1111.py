"""How AUTOMATIC1111 (and Forge) turn a prompt into CLIP windows, emulated for counting.

The WebUI, before the text encoder sees a prompt:

1. removes every extra-network tag ``<name:args>`` (``<lora:…>``, ``<lyco:…>``,
   ``<hypernet:…>``): they cost no tokens;
2. parses emphasis: ``(a)`` times 1.1, ``[a]`` divided by 1.1, ``(a:1.3)``, ``\\(`` for a literal bracket; the
   brackets and weights are not tokens, and ``BREAK`` (a word on its own, in capitals, outside
   brackets) becomes a chunk separator; runs of equal weight are tokenized as one text;
3. fills chunks of 75 tokens; ``BREAK`` pads the current chunk and starts the next; when a chunk
   is full and the last comma is at most ``comma_padding_backtrack`` (default 20) tokens back, the
   text after that comma moves to the next chunk so a phrase is not cut in two.

Each token keeps the character offset it came from, so a composed prompt's parts can be told
apart in the chunks. Textual-inversion embeddings, prompt editing ``[a:b:0.5]`` and ``AND``
are counted as the text they are written as.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from config_layers.prompts.tokenizer import CHUNK_LENGTH, Tokenizer

#: The WebUI's extra-network tag: any ``<word:args>``.
EXTRA_NETWORK = re.compile(r"<(\w+):([^>]+)>")
_BREAK = re.compile(r"\s*\bBREAK\b\s*", re.S)
_ATTENTION = re.compile(
    r"""
    \\[()\[\]\\]           # an escaped bracket or backslash: a literal character
    | \\                   # a lone backslash: dropped
    | [(\[]                # an opening bracket
    | :(?P<weight>[+-]?[.\d]+)\)   # ":1.3)" closes a round bracket with that weight
    | [)\]]                # a closing bracket
    | [^\\()\[\]:]+        # plain text
    | :                    # a colon that closes nothing
    """,
    re.X,
)
ROUND = 1.1
DEFAULT_BACKTRACK = 20


@dataclass
class Segment:
    """A run of prompt text with one attention weight; ``offsets[i]`` is where ``text[i]`` was
    in the prompt. A ``BREAK`` separator is the text ``BREAK`` with weight -1."""

    text: str
    weight: float
    offsets: list[int]

    @property
    def is_break(self) -> bool:
        return self.text == "BREAK" and self.weight == -1


def strip_extra_networks(text: str) -> tuple[str, list[int], list[str]]:
    """The prompt without extra-network tags, the offset of each kept character, and the tags."""
    kept: list[str] = []
    offsets: list[int] = []
    tags: list[str] = []
    position = 0
    for match in EXTRA_NETWORK.finditer(text):
        kept.append(text[position : match.start()])
        offsets += range(position, match.start())
        tags.append(match.group())
        position = match.end()
    kept.append(text[position:])
    offsets += range(position, len(text))
    return "".join(kept), offsets, tags


def parse_attention(text: str, offsets: Sequence[int] | None = None) -> list[Segment]:
    """Split ``text`` into weighted segments as the WebUI's emphasis parser does."""
    where = list(range(len(text))) if offsets is None else list(offsets)
    segments: list[Segment] = []
    round_open: list[int] = []
    square_open: list[int] = []

    def scale(start: int, factor: float) -> None:
        for segment in segments[start:]:
            segment.weight *= factor

    for match in _ATTENTION.finditer(text):
        token, start = match.group(), match.start()
        weight = match.group("weight")
        if token.startswith("\\"):
            segments.append(Segment(token[1:], 1.0, where[start + 1 : start + len(token)]))
        elif token == "(":
            round_open.append(len(segments))
        elif token == "[":
            square_open.append(len(segments))
        elif weight is not None and round_open and _is_number(weight):
            scale(round_open.pop(), float(weight))
        elif token == ")" and round_open:
            scale(round_open.pop(), ROUND)
        elif token == "]" and square_open:
            scale(square_open.pop(), 1 / ROUND)
        else:
            _plain(segments, token, where[start : match.end()])
    for opened in round_open:
        scale(opened, ROUND)
    for opened in square_open:
        scale(opened, 1 / ROUND)
    if not segments:
        return [Segment("", 1.0, [])]
    merged = [segments[0]]
    for segment in segments[1:]:
        if segment.weight == merged[-1].weight:
            merged[-1].text += segment.text
            merged[-1].offsets += segment.offsets
        else:
            merged.append(segment)
    return merged


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _plain(segments: list[Segment], text: str, offsets: list[int]) -> None:
    """Plain text, with each ``BREAK`` (and the blanks around it) turned into a separator."""
    position = 0
    for found in _BREAK.finditer(text):
        segments.append(Segment(text[position : found.start()], 1.0, offsets[position : found.start()]))
        segments.append(Segment("BREAK", -1.0, []))
        position = found.end()
    segments.append(Segment(text[position:], 1.0, offsets[position:]))


class Token(NamedTuple):
    """One CLIP token of the prompt and the prompt offset of the text it came from (a tuple: a
    300-token prompt makes 300 of them per count)."""

    id: int
    weight: float
    offset: int


@dataclass
class Chunked:
    """A prompt as the WebUI's CLIP windows hold it. ``count`` is the WebUI's own token count
    (each chunk closed early by ``BREAK`` or the backtrack counts as 75)."""

    chunks: list[list[Token]] = field(default_factory=list)
    count: int = 0
    #: Why each chunk ended: ``"BREAK"``, ``"full"``, ``"comma"`` (the backtrack moved the text
    #: after the last comma on) or ``"end"``.
    ends: list[str] = field(default_factory=list)

    @property
    def tokens(self) -> list[Token]:
        return [token for chunk in self.chunks for token in chunk]


def tokenize(segments: Sequence[Segment], tokenizer: Tokenizer, boundaries: Sequence[int] = ()) -> list[list[Token]]:
    """Each segment's tokens (a ``BREAK`` gives an empty list). ``boundaries`` are sorted prompt
    offsets where a new part starts: the tokens before one are told apart from those after it by
    tokenizing the text up to it (a part boundary sits between two words, where CLIP's
    pre-tokenizer splits anyway)."""
    out: list[list[Token]] = []
    for segment in segments:
        if segment.is_break or not segment.offsets:
            out.append([])
            continue
        ids = tokenizer.encode(segment.text)
        stretches = _stretches(segment, tokenizer, boundaries, len(ids))
        weight = segment.weight
        tokens: list[Token] = []
        # Stretches are sorted by their first token: each takes the tokens up to the next one's.
        for (first, offset), (end, _) in zip(stretches, [*stretches[1:], (len(ids), 0)], strict=True):
            tokens += [Token(token_id, weight, offset) for token_id in ids[first:end]]
        out.append(tokens)
    return out


def _stretches(segment: Segment, tokenizer: Tokenizer, boundaries: Sequence[int], total: int) -> list[tuple[int, int]]:
    """(first token index, prompt offset) of each stretch of ``segment`` between part boundaries."""
    stretches = [(0, segment.offsets[0])]
    first, last = segment.offsets[0], segment.offsets[-1]
    for boundary in boundaries[bisect.bisect_right(boundaries, first) : bisect.bisect_right(boundaries, last)]:
        char = bisect.bisect_left(segment.offsets, boundary)  # offsets only grow along a segment
        if 0 < char < len(segment.offsets) and segment.offsets[char] != stretches[-1][1]:
            before = len(tokenizer.encode(segment.text[:char]))
            stretches.append((min(max(before, stretches[-1][0]), total), segment.offsets[char]))
    return stretches


def chunk(
    token_lists: Sequence[list[Token]], segments: Sequence[Segment], backtrack: int = DEFAULT_BACKTRACK, *, comma: int
) -> Chunked:
    """Fill 75-token chunks as the WebUI does (``BREAK``, the comma backtrack)."""
    result = Chunked()
    current: list[Token] = []
    last_comma = -1

    def close(why: str) -> None:
        nonlocal current, last_comma
        result.count += len(current) if why == "end" else CHUNK_LENGTH
        result.chunks.append(current)
        result.ends.append(why)
        current, last_comma = [], -1

    for tokens, segment in zip(token_lists, segments, strict=True):
        if segment.is_break:
            close("BREAK")
            continue
        for token in tokens:
            if token.id == comma:
                last_comma = len(current)
            elif (
                backtrack
                and len(current) == CHUNK_LENGTH
                and last_comma != -1
                and len(current) - last_comma <= backtrack
            ):
                moved = current[last_comma + 1 :]
                current = current[: last_comma + 1]
                close("comma")
                current = moved
            if len(current) == CHUNK_LENGTH:
                close("full")
            current.append(token)
    if current or not result.chunks:
        close("end")
    return result
