"""Grouping rated runs by the knobs that make a preset, and weighing their ratings.

A group is one model + sampler + scheduler + steps + CFG + width x height + LoRA set with
weights. Its mean rating is a weighted mean:

- a ``learning_experiment_rating`` run (one knob varied against a fixed baseline) weighs 1.0;
  ``review_tab_feedback``, ``staged_curation_event`` and legacy runs without a kind are
  observations, not controlled tests, and weigh 0.5 (``KIND_WEIGHTS``);
- with a half-life, a run ``age`` days old is also weighted by ``0.5 ** (age / half_life)``
  against the clock at the start of the run (runs dated in the future count as new);
- a group with at least ``STRONG_EXPERIMENT_RUNS`` (3) experiment runs is ``strong`` evidence,
  as StableNew treats it; with fewer, ``sparse``; without any, ``review_only``.

``runs_observed`` and ``--min-runs`` count runs, not weights. Thin experiment records (which
record only some knobs) are tallied by the knobs they do record and join the one complete
group those knobs fit; none or several fitting groups means the runs are skipped and counted.
Memory is bounded by the number of groups, not of runs: each group keeps running sums and its
newest ``EVIDENCE_LIMIT`` runs as evidence.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from config_layers.learning.learned_file import EVIDENCE_LIMIT
from config_layers.learning.records import RECORD_KINDS, Knobs, Run, Skip
from config_layers.names import model_stem, round_to_precision

KIND_WEIGHTS: dict[str, float] = {"experiment": 1.0, "review": 0.5}
LEGACY_WEIGHT = 0.5
_WEIGHTS = {kind: KIND_WEIGHTS[counted] for kind, counted in RECORD_KINDS.items()}
STRONG_EXPERIMENT_RUNS = 3
#: Mean ratings 1..5, rounded half up, name the preset's rating.
RATING_LABELS = ("bad", "neutral", "good", "better", "best")


class Evidence(NamedTuple):
    """One run behind a preset: its id, and the records file and line it was read from."""

    run_id: str
    file: str
    line: int
    rating: float
    kind: str
    seq: int


@dataclass(slots=True)
class Tally:
    """Running sums of one group's runs."""

    knobs: Knobs
    runs: int = 0
    experiment_runs: int = 0
    weight: float = 0.0
    weighted: float = 0.0
    last_run: datetime | None = None
    evidence: deque[Evidence] = field(default_factory=lambda: deque(maxlen=EVIDENCE_LIMIT))

    def add(self, run: Run, weight: float, seq: int) -> None:
        self.runs += 1
        self.experiment_runs += run.experiment
        self.weight += weight
        self.weighted += weight * run.rating
        if run.timestamp is not None and (self.last_run is None or run.timestamp > self.last_run):
            self.last_run = run.timestamp
        self.evidence.append(Evidence(run.run_id, run.file, run.line, run.rating, run.kind, seq))

    def absorb(self, other: Tally) -> None:
        """Add a thin tally's runs to this group (evidence stays the newest, in reading order)."""
        self.runs += other.runs
        self.experiment_runs += other.experiment_runs
        self.weight += other.weight
        self.weighted += other.weighted
        if other.last_run is not None and (self.last_run is None or other.last_run > self.last_run):
            self.last_run = other.last_run
        merged = sorted([*self.evidence, *other.evidence], key=lambda e: e.seq)
        self.evidence = deque(merged, maxlen=EVIDENCE_LIMIT)


@dataclass(frozen=True)
class Group:
    """A finished group: what becomes (or, with too few runs, does not become) a preset."""

    preset_id: str
    knobs: Knobs
    runs: int
    experiment_runs: int
    mean_rating: float | None
    last_run: datetime | None
    evidence: tuple[Evidence, ...]
    enough: bool

    @property
    def review_runs(self) -> int:
        return self.runs - self.experiment_runs

    @property
    def rating(self) -> str | None:
        if self.mean_rating is None:
            return None
        return RATING_LABELS[min(5, max(1, int(round_to_precision(self.mean_rating, 0)))) - 1]

    @property
    def strength(self) -> str:
        if self.experiment_runs >= STRONG_EXPERIMENT_RUNS:
            return "strong"
        return "sparse" if self.experiment_runs else "review_only"


def preset_id(knobs: Knobs) -> str:
    """A stable id for the preset these knobs make (the same knobs give the same id)."""
    digest = hashlib.sha256(json.dumps(knobs.key()).encode()).hexdigest()
    return f"learned_{digest[:12]}"


class Learner:
    """Tallies runs into groups; ``finish`` resolves thin runs and returns the groups."""

    def __init__(
        self,
        *,
        model: str | None = None,
        half_life_days: float | None = None,
        now: datetime | None = None,
        min_runs: int = 3,
    ) -> None:
        if half_life_days is not None and not half_life_days > 0:
            raise ValueError("half_life_days must be > 0")
        if half_life_days is not None and now is None:
            raise ValueError("weighting by age needs the current time")
        self.model = model_stem(model).casefold() if model else None
        self.half_life_days = half_life_days
        # Record times are naive UTC.
        self.now = now.astimezone(UTC).replace(tzinfo=None) if now is not None and now.tzinfo else now
        self.min_runs = min_runs
        self._full: dict[tuple[object, ...], Tally] = {}
        self._thin: dict[tuple[object, ...], Tally] = {}
        self._seq = 0

    def add(self, run: Run) -> Skip | None:
        """Tally ``run``, or say why it is skipped."""
        if self.model is not None and run.knobs.model is not None and run.knobs.model.casefold() != self.model:
            return Skip(run.file, run.line, "other_model", f"model {run.knobs.model!r}")
        weight = _WEIGHTS.get(run.kind, LEGACY_WEIGHT)
        if self.half_life_days is not None and self.now is not None:
            if run.timestamp is None:
                return Skip(run.file, run.line, "no_timestamp", "no timestamp to weigh its age by")
            age_days = max(0.0, (self.now - run.timestamp).total_seconds() / 86400)
            weight *= 0.5 ** (age_days / self.half_life_days)
        groups = self._thin if run.thin else self._full
        key = run.knobs.key()
        tally = groups.get(key)
        if tally is None:
            tally = groups[key] = Tally(run.knobs)
        self._seq += 1
        tally.add(run, weight, self._seq)
        return None

    def finish(self) -> tuple[list[Group], list[Skip], int]:
        """The groups (sorted by model, then best first), the thin runs that fit no single group,
        and how many more such runs there were beyond the evidence kept (no line to show)."""
        skipped: list[Skip] = []
        unlisted = 0
        for partial in self._thin.values():
            fits = [tally for tally in self._full.values() if partial.knobs.fits(tally.knobs)]
            if len(fits) == 1:
                fits[0].absorb(partial)
                continue
            why = "no group has" if not fits else f"{len(fits)} groups have"
            message = f"thin record ({partial.knobs.describe()}): {why} the knobs it records"
            skipped += [Skip(e.file, e.line, "unrecoverable", message) for e in partial.evidence]
            unlisted += partial.runs - len(partial.evidence)
        groups = [self._group(tally) for tally in self._full.values()]
        groups.sort(key=_order)
        return groups, skipped, unlisted

    def _group(self, tally: Tally) -> Group:
        mean = tally.weighted / tally.weight if tally.weight > 0 else None
        return Group(
            preset_id=preset_id(tally.knobs),
            knobs=tally.knobs,
            runs=tally.runs,
            experiment_runs=tally.experiment_runs,
            mean_rating=None if mean is None else round_to_precision(mean, 2),
            last_run=tally.last_run,
            evidence=tuple(tally.evidence),
            enough=tally.runs >= self.min_runs and mean is not None,
        )


def _order(group: Group) -> tuple[object, ...]:
    model = (group.knobs.model or "").casefold()
    return (model, -(group.mean_rating or 0.0), -group.runs, group.preset_id)
