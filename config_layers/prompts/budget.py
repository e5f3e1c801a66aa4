"""Keeping the composed prompt inside its model family's budget, and saying what that cost.

- sd15 / sd2 / sdxl and its finetunes (and unknown models): the WebUI chunks the prompt into
  75-token windows; a part or trigger cut across a chunk boundary is a warning.
- flux: the CLIP-L encoder truncates at 77 tokens (75 of text): the lost text is a warning;
  the T5 encoder takes at most 512 tokens, checked on an estimate (no T5 tokenizer offline).
- ``prompt_budget`` (tokens, 0 for none) may be set in any layer. Over it, parts are dropped in
  ``EVICTION_ORDER``; the subject and trigger words never are. Every drop is a warning; with
  nothing left to drop the build fails (lenient: a warning).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from config_layers.errors import ConfigError
from config_layers.profiles.families import base_type_family
from config_layers.prompts.compose import (
    SEPARATOR,
    Composed,
    CountedPart,
    Part,
    compose,
    dedupe,
    lora_tags,
    negative_parts,
    positive_parts,
)
from config_layers.prompts.tokenizer import CHUNK_LENGTH, Tokenizer, get_tokenizer
from config_layers.provenance.origin import Origin, origin_error

if TYPE_CHECKING:
    from config_layers.schema.config import PipelineConfig

#: Parts dropped, in this order, while the prompt is over budget.
EVICTION_ORDER = ("style_prompt", "quality_prompt")
T5_LIMIT = 512
#: T5's SentencePiece splits tag-like prompts a little finer than CLIP's BPE, plus its end token.
T5_PER_CLIP_TOKEN = 1.25


def t5_estimate(clip_tokens: int) -> int:
    """An estimate of T5 tokens from the CLIP count (no T5 tokenizer is available offline)."""
    return math.ceil(clip_tokens * T5_PER_CLIP_TOKEN) + 1


@dataclass(frozen=True)
class FamilyRule:
    """How a model family's text encoder takes a prompt."""

    family: str
    chunked: bool
    description: str


def family_rule(base_type: str) -> FamilyRule:
    try:
        family: str = base_type_family(base_type)
    except ValueError:
        family = "unknown"
    if family == "flux":
        return FamilyRule(
            family,
            False,
            "flux: the CLIP-L encoder truncates at 77 tokens (75 of text); T5 takes at most 512 (estimated)",
        )
    return FamilyRule(family, True, f"{family}: the WebUI encodes 75-token chunks; BREAK starts a new chunk")


@dataclass(frozen=True)
class Drop:
    """A part left out to meet the budget, and why."""

    part: Part
    reason: str


@dataclass
class PromptReport:
    """The composed prompt and negative with their counts, the budget verdict and the warnings.

    ``count`` is what the budget is compared with: the WebUI's own count for chunked families
    (a chunk closed early by ``BREAK`` counts 75), the text tokens for flux. ``notes`` are per
    config path (``style_prompt``: why it was dropped) and go to the build's provenance.
    """

    base_type: str
    rule: FamilyRule
    tokenizer: str
    exact: bool
    prompt: Composed
    negative: Composed
    budget: int
    budget_origin: Origin | None
    count: int
    t5: int | None = None
    drops: list[Drop] = field(default_factory=list)
    over: list[str] = field(default_factory=list)
    lost: str = ""
    warnings: list[str] = field(default_factory=list)
    notes: dict[str, list[str]] = field(default_factory=dict)
    counter: Tokenizer = field(default_factory=get_tokenizer, repr=False)

    def n(self, count: int) -> str:
        """A count as printed: ``~`` marks an estimate."""
        return str(count) if self.exact else f"~{count}"

    @property
    def within_budget(self) -> bool:
        return not self.over

    def verdict(self) -> str:
        """One line: the budget, the count against it, and the outcome."""
        estimate = "" if self.exact else " (estimate)"
        if self.rule.chunked:
            chunks = len(self.prompt.chunked.chunks)
            measured = f"{self.n(self.count)} tokens in {chunks} chunk{'s' * (chunks != 1)}{estimate}"
        else:
            measured = f"CLIP-L {self.n(self.count)} of {CHUNK_LENGTH} tokens{estimate}"
            measured += f"; T5 ~{self.t5} of {T5_LIMIT} (estimate)"
        if self.budget:
            where = f" ({self.budget_origin})" if self.budget_origin else ""
            limit = f"prompt_budget {self.budget}{where}"
        else:
            limit = "no prompt_budget"
        outcome = "over budget: " + "; ".join(self.over) if self.over else "within budget"
        dropped = f" after dropping {', '.join(d.part.key for d in self.drops)}" if self.drops else ""
        return f"{measured}; {limit}: {outcome}{dropped}"

    def to_dict(self) -> dict[str, Any]:
        """The ``tokens --format json`` shape."""
        return {
            "tokenizer": self.tokenizer,
            "estimate": not self.exact,
            "base_type": self.base_type,
            "family": self.rule.family,
            "rule": self.rule.description,
            "prompt": _composed_dict(self.prompt, self),
            "negative_prompt": _composed_dict(self.negative, self),
            "budget": {
                "prompt_budget": self.budget or None,
                "source": str(self.budget_origin) if self.budget_origin and self.budget else None,
                "count": self.count,
                "t5_estimate": self.t5,
                "t5_limit": T5_LIMIT if self.t5 is not None else None,
                "within_budget": self.within_budget,
                "over": list(self.over),
                "verdict": self.verdict(),
            },
            "dropped": [{"key": d.part.key, "text": d.part.text, "reason": d.reason} for d in self.drops],
            "lost": self.lost or None,
            "warnings": list(self.warnings),
        }


def _composed_dict(composed: Composed, report: PromptReport) -> dict[str, Any]:
    tokenizer = report.counter
    return {
        "text": composed.text,
        "tokens": composed.tokens,
        "webui_count": composed.chunked.count,
        "separators": composed.separators,
        "parts": [
            {
                "key": counted.part.key,
                "label": counted.part.label,
                "text": counted.part.text,
                "tokens": counted.tokens,
                "chunks": list(counted.chunks),
                "layer": counted.part.origin.layer if counted.part.origin else None,
                "source": counted.part.origin.where() if counted.part.origin else None,
                "duplicates_removed": list(counted.part.duplicates),
            }
            for counted in composed.parts
        ],
        "chunks": (
            [
                {"tokens": len(window), "text": tokenizer.decode([t.id for t in window])}
                for window in composed.chunked.chunks
            ]
            if report.rule.chunked
            else []
        ),
    }


def prompt_report(
    config: PipelineConfig, *, triggers: bool = True, tokenizer: Tokenizer | None = None, record: bool = True
) -> PromptReport:
    """Compose, count and budget the prompt and negative of a built ``config``.

    With ``record``, the warnings join the build's warnings (once) and the notes its
    provenance. Over budget with nothing left to drop raises ConfigError naming where the
    budget was set, unless the build was lenient (then it is a warning too).
    """
    build = config._report
    tok = tokenizer or get_tokenizer()

    def origin_of(key: str) -> Origin | None:
        if build is None or key not in build.provenance:
            return None
        return build.provenance[key].origin

    base_type = build.base_type if build is not None else "unknown"
    rule = family_rule(base_type)
    budget = config.prompt_budget
    budget_origin = origin_of("prompt_budget")
    candidates = positive_parts(config, origin_of, triggers=triggers)
    drops: list[Drop] = []
    while True:
        parts = dedupe([p for p in candidates if p.key not in {d.part.key for d in drops}])
        text = SEPARATOR.join(p.text for p in parts if p.text)
        parts += lora_tags(config, text, origin_of)
        prompt = compose(parts, tok, chunked=rule.chunked)
        count = prompt.chunked.count if rule.chunked else prompt.tokens
        t5 = None if rule.chunked else t5_estimate(prompt.tokens)
        over = _over(count, budget, budget_origin, t5, tok.exact)
        victim = next((p for key in EVICTION_ORDER for p in parts if p.key == key and p.text), None)
        if not over or victim is None:
            break
        drops.append(Drop(victim, "; ".join(over)))
    negative = compose(dedupe(negative_parts(config, origin_of)), tok, chunked=rule.chunked)
    report = PromptReport(
        base_type,
        rule,
        tok.name,
        tok.exact,
        prompt,
        negative,
        budget,
        budget_origin,
        count,
        t5,
        drops,
        over,
        counter=tok,
    )
    _explain_findings(report, tok)
    if over:
        message = (
            f"the prompt is over budget ({'; '.join(over)}) with nothing left to drop "
            f"(the subject and trigger words are never dropped); shorten the subject or raise prompt_budget"
        )
        if not (build is not None and build.lenient):
            if budget and budget_origin is not None and any("prompt_budget" in o for o in over):
                raise origin_error(
                    budget_origin, "prompt_budget", message + " (lenient mode records this as a warning)"
                )
            raise ConfigError(message + " (lenient mode records this as a warning)")
        _note(report, "prompt", message)
    if record and build is not None:
        for warning in report.warnings:
            if warning not in build.warnings:
                build.warnings.append(warning)
        for key, notes in report.notes.items():
            kept = build.field_notes.setdefault(key, [])
            kept += [note for note in notes if note not in kept]
    return report


def _over(count: int, budget: int, origin: Origin | None, t5: int | None, exact: bool) -> list[str]:
    shown = f"{count} tokens" if exact else f"~{count} tokens (estimate)"
    over = []
    if budget and count > budget:
        over.append(f"{shown} > prompt_budget {budget}" + (f" ({origin})" if origin else ""))
    if t5 is not None and t5 > T5_LIMIT:
        over.append(f"T5 ~{t5} tokens (estimate) > {T5_LIMIT}")
    return over


def _note(report: PromptReport, key: str, message: str) -> None:
    report.warnings.append(message)
    report.notes.setdefault(key, []).append(message)


def _explain_findings(report: PromptReport, tokenizer: Tokenizer) -> None:
    """Warnings and notes for every drop, straddled chunk boundary and truncated token."""
    for drop in report.drops:
        where = f" (from {drop.part.origin})" if drop.part.origin else ""
        _note(
            report,
            drop.part.key,
            f"prompt over budget ({drop.reason}): dropped {drop.part.key} {drop.part.text!r}{where}",
        )
    if report.rule.chunked:
        for counted in report.prompt.parts:
            if counted.cuts:
                _note(report, counted.part.key, _straddle(counted))
        return
    lost = report.prompt.chunked.tokens[CHUNK_LENGTH:]
    if lost:
        report.lost = tokenizer.decode([token.id for token in lost])
        hit = _lost_parts(report.prompt)
        _note(
            report,
            "prompt",
            f"flux: the CLIP-L encoder truncates at 77 tokens; {report.n(len(lost))} token(s) of "
            f"{', '.join(hit) or 'the separators'} are lost to it: {report.lost!r} (T5 still reads them)",
        )


_CUT = {"comma": "at a comma: the backtrack moved the rest on", "full": "mid-phrase"}


def _straddle(counted: CountedPart) -> str:
    what = "trigger" if counted.part.kind == "trigger" else counted.part.label
    where = "; ".join(f"chunks {number} and {number + 1} ({_CUT[why]})" for number, why in counted.cuts)
    return (
        f"{what} {counted.part.text!r} ({counted.part.key}) straddles {where}: the WebUI encodes each 75-token "
        "chunk on its own, so it is cut in two; put BREAK before it or shorten what comes first"
    )


def _lost_parts(prompt: Composed) -> list[str]:
    """Each part with tokens past the CLIP window: ``subject (5 of 30 tokens)``."""
    lost: dict[int, int] = {}
    for owner in prompt.owners[CHUNK_LENGTH:]:
        if owner >= 0:
            lost[owner] = lost.get(owner, 0) + 1
    return [
        f"{prompt.parts[index].part.label} ({count} of {prompt.parts[index].tokens} tokens)"
        for index, count in sorted(lost.items())
    ]
