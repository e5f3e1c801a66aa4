"""The payload prompt, composed from its parts in one documented order and counted.

Order: ``quality_prompt``, each LoRA's ``trigger`` (in LoRA order), ``prompt`` (the subject),
``style_prompt``, then a ``<lora:name:weight>`` tag for each LoRA the text does not load yet.
Parts are joined with ``", "``; a phrase (text between top-level commas) already present earlier
is removed, case-insensitively, keeping the first; ``BREAK`` is kept wherever it is. The
negative prompt is ``quality_negative`` then ``negative_prompt``, composed the same way.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from config_layers.names import model_stem
from config_layers.output.payload import lora_token
from config_layers.prompts.a1111 import (
    DEFAULT_BACKTRACK,
    Chunked,
    parse_attention,
    strip_extra_networks,
    tokenize,
)
from config_layers.prompts.a1111 import chunk as chunk_tokens
from config_layers.prompts.tokenizer import Tokenizer
from config_layers.provenance.origin import Origin

if TYPE_CHECKING:
    from config_layers.schema.config import PipelineConfig

#: The prompt parts besides ``prompt`` and ``negative_prompt``, settable from any layer.
PART_FIELDS = ("quality_prompt", "style_prompt", "quality_negative")
#: What a model profile preset or a LoRA stack file may set for the prompt.
PROMPT_SETTINGS = (*PART_FIELDS, "prompt_budget")

SEPARATOR = ", "
_KEEP = "BREAK"


@dataclass(frozen=True)
class Part:
    """One part of a composed prompt: the config path it came from, how it is labelled, its text
    as composed (duplicates removed), where it came from, and the phrases removed as duplicates."""

    key: str
    label: str
    text: str
    origin: Origin | None = None
    duplicates: tuple[str, ...] = ()
    kind: str = "text"


@dataclass(frozen=True)
class CountedPart:
    """A part with its tokens in the composed prompt, the (1-based) chunks they land in, and
    the chunk boundaries that cut it other than its own ``BREAK``: (chunk, why it ended)."""

    part: Part
    tokens: int
    chunks: tuple[int, ...]
    cuts: tuple[tuple[int, str], ...] = ()


@dataclass
class Composed:
    """One composed prompt, counted: its text, its parts, the tokens of the ", " separators, and
    the prompt as the WebUI chunks it."""

    text: str
    parts: list[CountedPart]
    separators: int
    chunked: Chunked
    #: For each token (in chunk order) the index of its part in ``parts``, -1 for a separator.
    owners: list[int]

    @property
    def tokens(self) -> int:
        """Text tokens (no padding; extra-network tags and emphasis syntax cost none)."""
        return len(self.chunked.tokens)


def split_phrases(text: str) -> list[str]:
    """The phrases of ``text``: split at commas outside brackets (``(a, b:1.2)`` stays one),
    stripped, empty ones left out."""
    if not any(char in text for char in "([\\"):
        return [phrase.strip() for phrase in text.split(",") if phrase.strip()]
    phrases: list[str] = []
    depth = 0
    start = 0
    escaped = False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth = max(depth - 1, 0)
        elif char == "," and depth == 0:
            phrases.append(text[start:index])
            start = index + 1
    phrases.append(text[start:])
    return [phrase.strip() for phrase in phrases if phrase.strip()]


def dedupe(parts: Sequence[Part]) -> list[Part]:
    """Each part with the phrases an earlier part (or itself) already has removed."""
    seen: dict[str, str] = {}
    out = []
    for part in parts:
        kept: list[str] = []
        removed: list[str] = []
        for phrase in split_phrases(part.text):
            folded = phrase.casefold()
            if phrase != _KEEP and folded in seen:
                removed.append(f"{phrase} (already in {seen[folded]})")
                continue
            seen.setdefault(folded, part.label)
            kept.append(phrase)
        out.append(Part(part.key, part.label, SEPARATOR.join(kept), part.origin, tuple(removed), part.kind))
    return out


OriginOf = Callable[[str], Origin | None]


def positive_parts(config: PipelineConfig, origin_of: OriginOf, *, triggers: bool = True) -> list[Part]:
    """The candidate parts of the positive prompt, in order, before dedupe (no LoRA tags yet).
    A trigger the subject already holds (any case) is not added a second time."""
    subject = config.prompt
    parts = [Part("quality_prompt", "quality", config.quality_prompt, origin_of("quality_prompt"), kind="quality")]
    added: list[str] = []
    if triggers:
        for name, lora in config.loras.items():
            trigger = (lora.trigger or "").strip()
            folded = trigger.casefold()
            if not trigger or folded in subject.casefold() or folded in added:
                continue
            added.append(folded)
            key = f"loras.{name}.trigger"
            parts.append(Part(key, f"trigger ({name})", trigger, origin_of(key), kind="trigger"))
    parts.append(Part("prompt", "subject", subject, origin_of("prompt"), kind="subject"))
    parts.append(Part("style_prompt", "style", config.style_prompt, origin_of("style_prompt"), kind="style"))
    return parts


def negative_parts(config: PipelineConfig, origin_of: OriginOf) -> list[Part]:
    return [
        Part("quality_negative", "quality negative", config.quality_negative, origin_of("quality_negative")),
        Part("negative_prompt", "negative", config.negative_prompt, origin_of("negative_prompt")),
    ]


def lora_tags(config: PipelineConfig, text: str, origin_of: OriginOf) -> list[Part]:
    """A ``<lora:…>`` tag for each LoRA ``text`` does not load yet (at any weight). The WebUI
    finds a LoRA by its file's stem, which a stack entry's name need not be."""
    tags = []
    for key, lora in config.loras.items():
        name = model_stem(lora.path) if lora.path else key
        if re.search(rf"<lora:{re.escape(name)}:[^>]*>", text, flags=re.IGNORECASE):
            continue
        token = lora_token(name, lora.weight)
        tags.append(Part(f"loras.{key}.weight", token, token, origin_of(f"loras.{key}.weight"), kind="lora_tag"))
    return tags


def compose(
    parts: Sequence[Part],
    tokenizer: Tokenizer,
    *,
    chunked: bool = True,
    backtrack: int = DEFAULT_BACKTRACK,
) -> Composed:
    """Join the non-empty parts with ", " and count them; ``chunked=False`` keeps all tokens in
    one window (an encoder that truncates instead of chunking)."""
    texts: list[str] = []
    spans: list[tuple[int, int]] = []
    position = 0
    for part in parts:
        if not part.text:
            spans.append((position, position))
            continue
        if texts:
            position += len(SEPARATOR)
        texts.append(part.text)
        spans.append((position, position + len(part.text)))
        position += len(part.text)
    text = SEPARATOR.join(texts)
    stripped, offsets, _ = strip_extra_networks(text)
    segments = parse_attention(stripped, offsets)
    boundaries = sorted({edge for span in spans for edge in span})
    token_lists = tokenize(segments, tokenizer, boundaries)
    if chunked:
        result = chunk_tokens(token_lists, segments, backtrack, comma=tokenizer.comma)
    else:
        flat = [token for tokens in token_lists for token in tokens]
        result = Chunked([flat], len(flat))
    starts = [start for start, _ in spans]
    counts = [0] * len(parts)
    where: list[set[int]] = [set() for _ in parts]
    owners: list[int] = []
    owner, low, high = -1, 0, 0  # the part whose span [low, high) the last token fell in
    for number, window in enumerate(result.chunks, start=1):
        for token in window:
            offset = token.offset
            if not low <= offset < high:
                # An empty part's span starts where the next begins or the previous ends: it owns nothing.
                index = bisect.bisect_right(starts, offset) - 1
                if index >= 0 and spans[index][0] <= offset < spans[index][1]:
                    owner, (low, high) = index, spans[index]
                else:
                    owner, low, high = -1, 0, 0
            if owner >= 0:
                counts[owner] += 1
                where[owner].add(number)
            owners.append(owner)
    counted = []
    for index, part in enumerate(parts):
        chunks = tuple(sorted(where[index]))
        cuts = (
            tuple(
                (number, result.ends[number - 1])
                for number in range(chunks[0], chunks[-1])
                if result.ends[number - 1] != "BREAK"
            )
            if chunks
            else ()
        )
        counted.append(CountedPart(part, counts[index], chunks, cuts))
    return Composed(text, counted, owners.count(-1), result, owners)
