"""``learn``: LearningRecords -> one ``<checkpoint stem>.learned.toml`` per model.

A dry run by default (what would be written, and what has too little evidence); with
``write=True`` each file is written atomically beside its checkpoint (or in ``out``).
"""

from __future__ import annotations

import stat
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from config_layers.atomic import write_text_atomic
from config_layers.discovery.files import FileIndex
from config_layers.errors import ConfigError, ConfigErrors, FileError, NotFoundError
from config_layers.learning.groups import Group, Learner
from config_layers.learning.learned_file import (
    LEARNED_SUFFIX,
    TIMESTAMP_FORMAT,
    check_replaceable,
    learned_path,
    learned_text,
    regenerate_command,
)
from config_layers.learning.records import Problem, Run, Skip, read_records
from config_layers.provenance.origin import display_path

#: Bad lines and skipped records listed in a report (all are counted).
MAX_LISTED = 50
#: Counted kinds of bad lines (Problem) and of skipped records (Skip), as the report shows them.
BAD_KINDS = ("malformed", "wrong_type", "unknown_kind", "invalid_value")
SKIP_KINDS = ("unrated", "not_a_knob", "unrecoverable", "no_timestamp")


@dataclass
class LearnedModel:
    """What ``learn`` found for one model, and where its file goes."""

    model_name: str
    groups: list[Group]
    target: Path | None = None
    where_missing: str = ""
    text: str | None = None
    status: str = ""

    @property
    def presets(self) -> list[Group]:
        return [g for g in self.groups if g.enough]

    @property
    def weak(self) -> list[Group]:
        return [g for g in self.groups if not g.enough]


@dataclass
class LearnReport:
    """Everything one ``learn`` call found: per model, counts, and the lines skipped."""

    records: list[str]
    min_runs: int
    models: list[LearnedModel] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    written: bool = False

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of ``learn --format json``."""
        return {
            "records": self.records,
            "min_runs": self.min_runs,
            "written": self.written,
            "counts": dict(sorted(self.counts.items())),
            "models": [
                {
                    "model": m.model_name,
                    "file": str(m.target) if m.target else None,
                    "status": m.status,
                    "presets": [_group_dict(g) for g in m.presets],
                    "not_enough_evidence": [_group_dict(g) for g in m.weak],
                }
                for m in self.models
            ],
            "problems": [{"file": p.file, "line": p.line, "kind": p.kind, "message": p.message} for p in self.problems],
            "skipped": [{"file": s.file, "line": s.line, "kind": s.kind, "message": s.message} for s in self.skips],
        }

    def render(self) -> str:
        """The report as text (``learn --format table``)."""
        c = self.counts
        bad = sum(c[k] for k in BAD_KINDS)
        skipped = sum(c[k] for k in SKIP_KINDS)
        lines = [
            f"records: {', '.join(display_path(r) for r in self.records)}",
            f"  {c['lines']} records read: {c['runs']} rated runs used ({c['thin_joined']} from thin records), "
            f"{skipped} skipped, {bad} bad lines skipped"
            + (f", {c['other_model']} for other models" if c["other_model"] else ""),
        ]
        detail = [f"{k} {c[k]}" for k in (*SKIP_KINDS, *BAD_KINDS) if c[k]]
        if detail:
            lines.append("  (" + ", ".join(detail) + ")")
        for model in self.models:
            target = display_path(model.target) if model.target else model.where_missing
            lines += ["", f"model {model.model_name} -> {target}", f"  {model.status}"]
            if model.presets:
                lines.append(f"  presets (at least {self.min_runs} runs), best first:")
                lines += [_group_line(g) for g in model.presets]
            if model.weak:
                lines.append(f"  not enough evidence (fewer than {self.min_runs} runs), not written:")
                lines += [_group_line(g) for g in model.weak]
        if self.problems:
            lines += ["", "bad lines (skipped; --strict makes them an error):"]
            lines += [f"  {p}" for p in self.problems]
        if self.skips:
            lines += ["", "records skipped:"]
            lines += [f"  {s}" for s in self.skips]
        hidden = bad - len(self.problems) + c["unlisted"]
        if hidden > 0:
            lines.append(f"  ... and {hidden} more, counted above")
        return "\n".join(lines)


def _group_dict(group: Group) -> dict[str, Any]:
    return {
        "id": group.preset_id,
        "settings": group.knobs.describe(),
        "rating": group.rating,
        "mean_rating": group.mean_rating,
        "runs_observed": group.runs,
        "experiment_runs": group.experiment_runs,
        "review_runs": group.review_runs,
        "evidence_strength": group.strength,
        "last_run": group.last_run.strftime(TIMESTAMP_FORMAT) if group.last_run else None,
        "evidence": [{"run_id": e.run_id, "file": e.file, "line": e.line} for e in group.evidence],
    }


def _group_line(group: Group) -> str:
    mean = "-" if group.mean_rating is None else f"{group.mean_rating:.2f}"
    runs = f"{group.runs} ({group.experiment_runs} exp, {group.review_runs} review)"
    rating = group.rating or "-"
    return f"    {group.preset_id}  {rating:<7} {mean:>5}  {runs:<22} {group.strength:<11} {group.knobs.describe()}"


def learn(
    records: Sequence[Path | str],
    *,
    model: str | None = None,
    min_runs: int = 3,
    out: Path | str | None = None,
    write: bool = False,
    strict: bool = False,
    half_life_days: float | None = None,
    model_dirs: Sequence[Path | str] = (),
    now: datetime | None = None,
) -> LearnReport:
    """Learn presets from LearningRecords files (never written to: opened for reading only).

    Groups rated runs by their knobs; each group with at least ``min_runs`` runs becomes a
    ``local_learning`` preset of its model. ``model`` keeps one model's runs. Files go beside
    the checkpoint found in ``model_dirs``, or into ``out``; nothing is written unless
    ``write``. ``strict`` makes any bad line an error. ``half_life_days`` weighs ratings by age
    against ``now`` (default: the clock). Raises ConfigError for bad arguments, unreadable
    files, bad lines under ``strict`` and (with ``write``) models with nowhere to go.
    """
    if min_runs < 1:
        raise ConfigError(f"--min-runs must be at least 1, got {min_runs}")
    if half_life_days is not None and not half_life_days > 0:
        raise ConfigError(f"--half-life-days must be > 0, got {half_life_days}")
    paths = list(dict.fromkeys(Path(p).resolve() for p in records))  # a file named twice is read once
    if not paths:
        raise ConfigError("no records file given")
    for path in paths:
        _check_readable(path)
    report = LearnReport([str(p) for p in paths], min_runs)
    learner = Learner(model=model, half_life_days=half_life_days, now=now or datetime.now(UTC), min_runs=min_runs)
    for path in paths:
        _read(path, learner, report)
    if strict and report.problems:
        bad = sum(report.counts[k] for k in BAD_KINDS)
        raise ConfigErrors([str(p) for p in report.problems], title=f"{bad} bad lines in the records (--strict):")
    groups, thin_skips, unlisted = learner.finish()
    for skip in thin_skips:
        _count_skip(report, skip)
    report.counts["unlisted"] += unlisted
    report.counts["unrecoverable"] += unlisted
    used = sum(g.runs for g in groups)
    report.counts["thin_joined"] = used - report.counts["runs"] + report.counts["thin"]
    report.counts["runs"] = used
    del report.counts["thin"]
    report.models = _by_model(groups)
    index = FileIndex([Path(d) for d in model_dirs], "model")
    folder = Path(out).resolve() if out is not None else None
    for learned in report.models:
        _place(learned, index, folder)
        if learned.presets and learned.target is not None:
            place = ("--out", str(folder)) if folder is not None else ("--models-dir", str(learned.target.parent))
            command = regenerate_command(report.records, learned.model_name, min_runs, half_life_days, place)
            learned.text = learned_text(learned.model_name, learned.groups, report.records, command)
    if write:
        _write_all(report)
    else:
        for learned in report.models:
            if learned.text is not None:
                learned.status = f"dry run: would write {_presets(learned)} (pass --write)"
            elif learned.presets:
                learned.status = f"dry run: {_presets(learned)} found, but nowhere to write them"
    return report


def _presets(learned: LearnedModel) -> str:
    count = len(learned.presets)
    return f"{count} preset{'s' * (count != 1)}"


def _check_readable(path: Path) -> None:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise FileError(path, "records file not found") from None
    except OSError as exc:
        raise FileError(path, f"cannot read: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise FileError(path, "is not a regular file")


def _read(path: Path, learner: Learner, report: LearnReport) -> None:
    try:
        for item in read_records(path):
            report.counts["lines"] += 1
            if isinstance(item, Run):
                skipped = learner.add(item)
                if skipped is None:
                    report.counts["runs"] += 1
                    report.counts["thin"] += item.thin
                else:
                    _count_skip(report, skipped)
            elif isinstance(item, Skip):
                _count_skip(report, item)
            else:
                report.counts[item.kind] += 1
                if len(report.problems) < MAX_LISTED:
                    report.problems.append(item)
    except OSError as exc:
        raise FileError(path, f"cannot read: {exc.strerror or exc}") from None


def _count_skip(report: LearnReport, skip: Skip) -> None:
    report.counts[skip.kind] += 1
    # Runs of other models are not a problem of these records: counted, not listed.
    if skip.kind not in ("other_model", "unrated") and len(report.skips) < MAX_LISTED:
        report.skips.append(skip)
    elif skip.kind != "other_model" and skip.kind != "unrated":
        report.counts["unlisted"] += 1


def _by_model(groups: list[Group]) -> list[LearnedModel]:
    models: dict[str, LearnedModel] = {}
    for group in groups:
        name = group.knobs.model or ""
        entry = models.get(name.casefold())
        if entry is None:
            entry = models[name.casefold()] = LearnedModel(name, [])
        elif name < entry.model_name:
            entry.model_name = name  # the same name in another case: one spelling, whatever the order
        entry.groups.append(group)
    return list(models.values())


def _place(learned: LearnedModel, index: FileIndex, out: Path | None) -> None:
    stem = learned.model_name
    try:
        checkpoint: Path | None = index.find(learned.model_name) if index.directories else None
    except NotFoundError:
        checkpoint = None
    if checkpoint is not None:
        stem = checkpoint.name[: -len(checkpoint.suffix)] if checkpoint.suffix else checkpoint.name
    if out is not None:
        learned.target = out / f"{stem}{LEARNED_SUFFIX}"
    elif checkpoint is not None:
        learned.target = learned_path(checkpoint)
    else:
        learned.where_missing = (
            "(checkpoint not found in the model folders; pass --out DIR)"
            if index.directories
            else "(no model folders given: pass --models-dir DIR or --out DIR)"
        )
    if not learned.presets:
        learned.status = "no preset has enough runs yet: nothing to write"


def _write_all(report: LearnReport) -> None:
    homeless = [m.model_name for m in report.models if m.presets and m.target is None]
    if homeless:
        raise ConfigError(
            f"nowhere to write the learned presets of {', '.join(map(repr, homeless))}: the checkpoint is not "
            "in the model folders; pass --models-dir DIR or --out DIR (or --model NAME for one model)"
        )
    for learned in report.models:
        if learned.text is None:
            continue
        assert learned.target is not None  # only placed models get a text
        check_replaceable(learned.target)
        try:
            current = learned.target.read_text(encoding="utf-8")
        except (FileNotFoundError, UnicodeDecodeError):
            current = None
        except OSError as exc:
            raise FileError(learned.target, f"cannot read: {exc.strerror or exc}") from None
        if current == learned.text:
            learned.status = f"unchanged: {_presets(learned)}"
            continue
        write_text_atomic(learned.target, learned.text, overwrite=True)
        learned.status = f"wrote {_presets(learned)}"
    report.written = True
