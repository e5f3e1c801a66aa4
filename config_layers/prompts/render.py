"""The composed prompt as a person reads it: parts, sources, counts, chunks, verdict."""

from __future__ import annotations

from typing import TYPE_CHECKING

from config_layers.prompts.budget import PromptReport, prompt_report
from config_layers.prompts.compose import Composed
from config_layers.prompts.tokenizer import CHUNK_LENGTH

if TYPE_CHECKING:
    from config_layers.schema.config import PipelineConfig

_SEPARATORS = 'separators (", ")'


def render_composed(name: str, composed: Composed, report: PromptReport, *, chunks: bool = True) -> list[str]:
    """``name``'s composed text, one row per part (tokens, chunks, source), duplicates removed
    and, with ``chunks``, each chunk as the tokenizer sees it."""
    lines = [f"{name}: {composed.text!r}"]
    if not composed.text:
        return lines
    width = max([len(c.part.label) for c in composed.parts] + [len(_SEPARATORS)])
    lines.append(f"  {'tokens':>7}  {'chunks':<6}  {'part':<{width}}  source")
    for counted in composed.parts:
        part = counted.part
        if not part.text and not part.duplicates:
            continue
        where = ",".join(map(str, counted.chunks)) or "-"
        source = f"{part.origin}" if part.origin else "(built in code)"
        lines.append(f"  {report.n(counted.tokens):>7}  {where:<6}  {part.label:<{width}}  {source}")
        lines += [f"  {'':>7}  {'':<6}  {'':<{width}}  removed duplicate: {phrase}" for phrase in part.duplicates]
    lines.append(f"  {report.n(composed.separators):>7}  {'':<6}  {_SEPARATORS:<{width}}")
    total = f"total{'' if report.exact else ' (estimate)'}"
    if report.rule.chunked:
        total += f"; the WebUI counts {report.n(composed.chunked.count)} in {len(composed.chunked.chunks)} chunk(s)"
    lines.append(f"  {report.n(composed.tokens):>7}  {'':<6}  {total}")
    if chunks and report.rule.chunked and composed.tokens:
        tokenizer = report.counter
        for number, window in enumerate(composed.chunked.chunks, start=1):
            text = tokenizer.decode([t.id for t in window])
            lines.append(f"  chunk {number} ({report.n(len(window))}/{CHUNK_LENGTH}): {text}")
    return lines


def render_report(report: PromptReport) -> str:
    """The ``tokens`` command's text output."""
    lines = [f"counted with {report.tokenizer}"]
    lines.append(f"model family {report.rule.description}")
    lines += render_composed("prompt", report.prompt, report)
    lines += render_composed("negative_prompt", report.negative, report)
    for drop in report.drops:
        lines.append(f"dropped {drop.part.key} {drop.part.text!r}: {drop.reason}")
    lines.append(f"budget: {report.verdict()}")
    if report.warnings:
        lines.append("warnings:")
        lines += [f"  - {warning}" for warning in report.warnings]
    return "\n".join(line.rstrip() for line in lines)


def explain_prompt(config: PipelineConfig, key: str) -> str:
    """``explain prompt`` / ``explain negative_prompt``: the field's own provenance, then the
    composed text with each part, its source and its token count, and the budget verdict."""
    report = prompt_report(config)
    composed = report.prompt if key == "prompt" else report.negative
    name = f"composed {key} ({report.tokenizer})"
    lines = [config.report.explain(key), *render_composed(name, composed, report, chunks=False)]
    if key == "prompt":
        lines.append(f"  budget: {report.verdict()}")
    return "\n".join(line.rstrip() for line in lines)
