"""Reading StableNew's LearningRecords (``learning_records.jsonl``), streamed and read-only.

One JSON object per line, appended by StableNew and never rewritten: the file is the source of
truth, so it is only ever opened for reading. Two shapes occur:

- pipeline records: ``base_config.txt2img`` / ``variant_configs[0].txt2img`` hold the knobs
  (``model``, ``sampler_name``, ``scheduler``, ``steps``, ``cfg_scale``, ``width``, ``height``,
  LoRAs as ``loras`` ``[{name, weight}]`` or names, or ``lora_strengths``
  ``[{name, strength, enabled}]``), mirrored in ``primary_*``;
- thin experiment records: ``primary_*`` may be ``""`` / ``0`` and ``base_config`` is only
  ``{prompt, stage, <variable>: value}``; ``metadata.variable_under_test`` and
  ``metadata.variant_value`` say which knob was varied and to what.

Each line becomes a Run (a rated run and the knobs it records), a Skip (a record that is fine
but cannot teach anything: unrated, or varying a knob presets do not have) or a Problem (bad
input: not JSON, truncated, a wrong type, an unknown record kind, an impossible value), each
with its file and line. Values are never guessed: a knob not recorded stays unknown.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

import msgspec

from config_layers.bounds import MAX_LINE_BYTES
from config_layers.names import model_stem, round_to_precision, scheduler_label, split_sampler
from config_layers.provenance.origin import display_path

#: ``metadata.record_kind`` values StableNew writes, and how this module counts them.
RECORD_KINDS: dict[str, str] = {
    "learning_experiment_rating": "experiment",
    "review_tab_feedback": "review",
    "staged_curation_event": "review",
}
#: Records written before ``record_kind`` existed (StableNew reads them as "legacy").
LEGACY_KIND = "legacy"

#: ``variable_under_test`` (display or internal name, any case) -> the knob it varies.
VARIABLE_KNOBS: dict[str, str] = {
    "cfg scale": "cfg",
    "steps": "steps",
    "sampler": "sampler",
    "scheduler": "scheduler",
    "model": "model",
    "lora strength": "loras",
}

REQUIRED_KNOBS = ("model", "sampler", "steps", "cfg", "width", "height")

ProblemKind = Literal["malformed", "wrong_type", "unknown_kind", "invalid_value"]
SkipKind = Literal["unrated", "not_a_knob", "unrecoverable", "no_timestamp", "other_model"]

LoraSet = tuple[tuple[str, float | None], ...]


class Knobs(NamedTuple):
    """The settings a run used, as far as its record says; None means "not recorded".

    ``loras`` is sorted by name; a weight of None is a LoRA recorded by name only.
    """

    model: str | None = None
    sampler: str | None = None
    scheduler: str | None = None
    steps: int | None = None
    cfg: float | None = None
    width: int | None = None
    height: int | None = None
    loras: LoraSet | None = None

    def missing(self) -> list[str]:
        return [name for name in REQUIRED_KNOBS if getattr(self, name) is None]

    def key(self) -> tuple[Any, ...]:
        """Identity of the preset these knobs make: names compare without case."""
        return _key(self)

    def _key(self) -> tuple[Any, ...]:
        loras = tuple((name.casefold(), weight) for name, weight in self.loras or ())
        return (
            _fold(self.model),
            _fold(self.sampler),
            _fold(self.scheduler),
            self.steps,
            self.cfg,
            self.width,
            self.height,
            loras,
        )

    def fits(self, full: Knobs) -> bool:
        """Whether every knob recorded here has the same value in ``full``."""
        mine, theirs = self.key(), full.key()
        recorded = (self.model, self.sampler, self.scheduler, self.steps, self.cfg, self.width, self.height)
        if any(value is not None and a != b for value, a, b in zip(recorded, mine, theirs, strict=False)):
            return False
        return self.loras is None or mine[-1] == theirs[-1]

    def describe(self) -> str:
        """``DPM++ 2M Karras, 30 steps, CFG 6.5, 1024x1024, + PerfectEyesXL@0.6``; unknowns as ``?``."""
        sampler = " ".join(part for part in (self.sampler, self.scheduler) if part) or "?"
        parts = [
            sampler,
            f"{_shown(self.steps)} steps",
            f"CFG {_shown(self.cfg)}",
            f"{_shown(self.width)}x{_shown(self.height)}",
        ]
        for name, weight in self.loras or ():
            parts.append(f"+ {name}@{_shown(weight)}")
        return ", ".join(parts)


# Many runs share few knob sets: their keys are memoized.
_key = lru_cache(maxsize=4096)(Knobs._key)


def _fold(value: str | None) -> str | None:
    return value.casefold() if value is not None else None


def _shown(value: object) -> str:
    return "?" if value is None else str(value)


class Run(NamedTuple):
    """One rated run. ``variable`` is the knob a thin record's experiment varied (else None).
    (A named tuple, as Knobs: one is made per record, and they are the cheapest to make.)"""

    run_id: str
    file: str
    line: int
    rating: float
    kind: str
    timestamp: datetime | None
    knobs: Knobs
    variable: str | None = None
    #: Some knob not recorded: the run joins the one complete group its knobs fit.
    thin: bool = False

    @property
    def experiment(self) -> bool:
        return RECORD_KINDS.get(self.kind) == "experiment"


@dataclass(frozen=True)
class _Finding:
    file: str
    line: int
    kind: str
    message: str

    def __str__(self) -> str:
        return f"{display_path(self.file)}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Problem(_Finding):
    """A line that is bad input (reported with file:line, skipped; ``--strict`` makes it an error)."""

    kind: ProblemKind


@dataclass(frozen=True)
class Skip(_Finding):
    """A valid record that teaches nothing about presets (counted, never an error)."""

    kind: SkipKind


class _Bad(Exception):
    def __init__(self, kind: ProblemKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


Number = int | float


class _Lora(msgspec.Struct, frozen=True):
    name: str | None = None
    weight: Number | None = None
    strength: Number | None = None
    enabled: bool = True


class _Table(msgspec.Struct, frozen=True):
    """The knob keys of a ``txt2img`` table (or of a thin record's ``base_config``)."""

    model: str | None = None
    sampler_name: str | None = None
    sampler: str | None = None
    scheduler: str | None = None
    steps: Number | None = None
    cfg_scale: Number | None = None
    width: Number | None = None
    height: Number | None = None
    loras: tuple[str | _Lora, ...] | None = None
    lora_strengths: tuple[_Lora, ...] | None = None


class _Base(_Table, frozen=True):
    txt2img: _Table | None = None


class _Variant(msgspec.Struct, frozen=True):
    txt2img: _Table | None = None


class _Metadata(msgspec.Struct):
    user_rating: Number | None = None
    record_kind: str | None = None
    variable_under_test: str | None = None
    variant_value: Any = None


class _Record(msgspec.Struct):
    """The fields of a record this module reads, typed; every other field is skipped unread."""

    run_id: str | None = None
    timestamp: str | None = None
    base_config: _Base | None = None
    variant_configs: tuple[_Variant, ...] | None = None
    primary_model: str | None = None
    primary_sampler: str | None = None
    primary_scheduler: str | None = None
    primary_steps: Number | None = None
    primary_cfg_scale: Number | None = None
    metadata: _Metadata | None = None


# msgspec decodes and type-checks a record in C, ~3x faster than the json module alone (decoding
# is the bulk of reading a records file); it refuses NaN and Infinity, which are not JSON.
_DECODER = msgspec.json.Decoder(_Record)


def read_records(path: Path) -> Iterator[Run | Skip | Problem]:
    """Every non-blank line of ``path`` as a Run, Skip or Problem, in file order.

    The file is opened for reading only and streamed line by line (memory does not grow with
    its length). A last line without its newline that does not parse is reported as truncated
    (a crash while appending). Raises OSError when the file cannot be opened.
    """
    file = str(path)
    with open(path, "rb") as handle:
        number = 0
        while True:
            raw = handle.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            number += 1
            if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):
                    raw = handle.readline(MAX_LINE_BYTES)
                yield Problem(file, number, "malformed", f"line longer than {MAX_LINE_BYTES} bytes; not read")
                continue
            if not raw.strip():
                continue
            yield parse_line(raw, file, number)


def parse_line(raw: bytes, file: str, line: int) -> Run | Skip | Problem:
    """One line of a records file (``raw`` with its newline, if it had one)."""
    try:
        record = _DECODER.decode(raw)
    except msgspec.ValidationError as exc:
        return Problem(file, line, "wrong_type", f"wrong type: {exc}")
    except (msgspec.DecodeError, RecursionError) as exc:
        if not raw.endswith(b"\n"):
            return Problem(file, line, "malformed", "truncated last line (no newline; a crash while appending?)")
        return Problem(file, line, "malformed", f"not JSON: {exc}")
    try:
        return _run(record, file, line)
    except _Bad as bad:
        return Problem(file, line, bad.kind, bad.message)


def _run(record: _Record, file: str, line: int) -> Run | Skip:
    metadata = record.metadata or _Metadata()
    kind = _record_kind(metadata.record_kind)
    rating = metadata.user_rating
    if rating is None:
        return Skip(file, line, "unrated", "no metadata.user_rating")
    if not 1 <= rating <= 5:
        raise _Bad("invalid_value", f"metadata.user_rating: {rating!r} is not from 1 to 5")
    run_id = record.run_id
    if not run_id or not run_id.strip():
        raise _Bad("wrong_type", "run_id: expected a non-empty string")
    timestamp = _timestamp(record.timestamp)
    variable, value, foreign = _variable(metadata)
    if foreign is not None:
        return Skip(file, line, "not_a_knob", f"varies {foreign!r}, which presets do not set")
    variant = record.variant_configs[0].txt2img if record.variant_configs else None
    primary = (
        record.primary_model,
        record.primary_sampler,
        record.primary_scheduler,
        record.primary_steps,
        record.primary_cfg_scale,
    )
    try:
        knobs = _cached_knobs(record.base_config, variant, primary, variable, value)
    except TypeError:  # an unhashable variant_value (a LoRA Strength object) is not memoized
        knobs = _knobs(record.base_config, variant, primary, variable, value)
    missing = knobs.missing()
    if missing and (variable is None or not _recorded(value)):
        return Skip(file, line, "unrecoverable", f"knobs not recorded: {', '.join(missing)}")
    return Run(run_id, file, line, float(rating), kind, timestamp, knobs, variable, bool(missing))


def _record_kind(kind: str | None) -> str:
    if kind is None or kind == "":
        return LEGACY_KIND
    if kind not in RECORD_KINDS:
        raise _Bad("unknown_kind", f"unknown metadata.record_kind {kind!r}; known: {', '.join(RECORD_KINDS)}")
    return kind


def _timestamp(value: str | None) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad("invalid_value", f"timestamp: {value!r} is not a date and time (%Y-%m-%dT%H:%M:%S)") from None
    # StableNew writes UTC without an offset; times are kept naive, in UTC.
    return parsed if parsed.tzinfo is None else parsed.astimezone(UTC).replace(tzinfo=None)


def _variable(metadata: _Metadata) -> tuple[str | None, Any, str | None]:
    """(the knob ``variable_under_test`` varies, its ``variant_value``, the variable's name when
    presets have no such knob)."""
    name = metadata.variable_under_test
    if name is None or name == "":
        return None, None, None
    knob = VARIABLE_KNOBS.get(" ".join(name.replace("_", " ").casefold().split()))
    if knob is None:
        return None, None, name
    return knob, metadata.variant_value, None


def _recorded(value: Any) -> bool:
    """Thin records write ``""`` and ``0`` for knobs they did not record."""
    return value is not None and value != "" and (value != 0 or value is False)


# The normalizers, memoized: a records file repeats a few names thousands of times.
_stem = lru_cache(maxsize=4096)(model_stem)
_split = lru_cache(maxsize=1024)(split_sampler)
_label = lru_cache(maxsize=256)(scheduler_label)
_round = lru_cache(maxsize=4096)(round_to_precision)

Primary = tuple[str | None, str | None, str | None, Number | None, Number | None]
_PRIMARY_NAMES = ("primary_model", "primary_sampler", "primary_scheduler", "primary_steps", "primary_cfg_scale")


def _knobs(base: _Base | None, variant: _Table | None, primary: Primary, variable: str | None, value: Any) -> Knobs:
    """The knobs of one record. Each is taken from, first hit wins: the tested variable's value,
    the primary variant's ``txt2img``, the base ``txt2img``, ``primary_*``, then ``base_config``."""
    places = [("variant_configs[0].txt2img", variant), ("base_config.txt2img", base.txt2img if base else None)]
    tables = [(where, table) for where, table in places if table is not None]
    tested = _recorded(value)

    def pick(knob: str | None, keys: tuple[str, ...], slot: int | None) -> tuple[str, Any]:
        if tested and knob is not None and variable == knob:
            text = knob in ("model", "sampler", "scheduler")
            if isinstance(value, bool) or not isinstance(value, str if text else Number):
                what = "a string" if text else "a number"
                raise _Bad("wrong_type", f"metadata.variant_value: expected {what} for {knob}, got {value!r}")
            return "metadata.variant_value", value
        for where, table in tables:
            for key in keys:
                found = getattr(table, key)
                if _recorded(found):
                    return f"{where}.{key}", found
        if slot is not None and _recorded(primary[slot]):
            return _PRIMARY_NAMES[slot], primary[slot]
        for key in keys:
            found = getattr(base, key) if base is not None else None
            if _recorded(found):
                return f"base_config.{key}", found
        return "", None

    model = _text(*pick("model", ("model",), 0))
    sampler = _text(*pick("sampler", ("sampler_name", "sampler"), 1))
    scheduler = _text(*pick("scheduler", ("scheduler",), 2))
    split: str | None = None
    if sampler is not None:
        sampler, split = _split(sampler)
    return Knobs(
        model=_stem(model) if model else None,
        sampler=sampler,
        scheduler=_label(scheduler) if scheduler else split,
        steps=_steps(*pick("steps", ("steps",), 3)),
        cfg=_cfg(*pick("cfg", ("cfg_scale",), 4)),
        width=_dimension(*pick(None, ("width",), None)),
        height=_dimension(*pick(None, ("height",), None)),
        loras=_loras(tables, value if variable == "loras" else None),
    )


_cached_knobs = lru_cache(maxsize=1024)(_knobs)


def _text(where: str, value: str | None) -> str | None:
    return (" ".join(value.split()) or None) if value is not None else None


def _integer(where: str, value: Number | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and not value.is_integer():
        raise _Bad("invalid_value", f"{where}: {value!r} is not a whole number")
    return int(value)


def _steps(where: str, value: Number | None) -> int | None:
    steps = _integer(where, value)
    if steps is not None and not 1 <= steps <= 500:
        raise _Bad("invalid_value", f"{where}: {steps} steps is outside 1-500")
    return steps


def _cfg(where: str, value: Number | None) -> float | None:
    if value is None:
        return None
    if not 0 < value <= 50:
        raise _Bad("invalid_value", f"{where}: CFG {value!r} is outside (0, 50]")
    return _round(float(value), 4)


def _dimension(where: str, value: Number | None) -> int | None:
    size = _integer(where, value)
    if size is not None and not (64 <= size <= 8192 and size % 8 == 0):
        raise _Bad("invalid_value", f"{where}: {size} is not a multiple of 8 in 64-8192")
    return size


def _lora_weight(where: str, value: Number | None) -> float | None:
    if value is None:
        return None
    if not -5 <= value <= 5:
        raise _Bad("invalid_value", f"{where}: LoRA weight {value!r} is outside -5..5")
    return _round(float(value), 4)


def _loras(tables: Sequence[tuple[str, _Table]], tested: Any) -> LoraSet | None:
    """The LoRA set (``loras`` entries, then ``lora_strengths`` ones, which win for a name in
    both; disabled ones left out). None when the record has no txt2img table at all."""
    found: dict[str, tuple[str, float | None]] = {}
    for where, table in tables:
        if table.loras is None and table.lora_strengths is None:
            continue
        for key, entries in (("loras", table.loras or ()), ("lora_strengths", table.lora_strengths or ())):
            for index, entry in enumerate(entries):
                name, weight = _lora_entry(f"{where}.{key}[{index}]", entry)
                if name is not None:
                    found[name.casefold()] = (name, weight)
        break  # the primary variant's LoRAs replace the base config's
    if tested is not None:
        name, weight = _tested_lora(tested)
        found[name.casefold()] = (name, weight)
    elif not tables:
        return None  # a thin record did not say which LoRAs it used
    return tuple(sorted(found.values(), key=lambda item: item[0].casefold()))


def _lora_entry(where: str, entry: str | _Lora) -> tuple[str | None, float | None]:
    if isinstance(entry, str):
        return _stem(entry.strip()) or None, None
    name = _text(f"{where}.name", entry.name)
    if name is None:
        raise _Bad("wrong_type", f"{where}.name: expected a LoRA name")
    key, value = ("strength", entry.strength) if entry.strength is not None else ("weight", entry.weight)
    weight = _lora_weight(f"{where}.{key}", value)
    return (_stem(name), weight) if entry.enabled else (None, None)


def _tested_lora(value: Any) -> tuple[str, float]:
    """A LoRA Strength experiment's ``variant_value``: ``{name, weight}`` or ``{name, strength}``."""
    weight = value.get("strength", value.get("weight")) if isinstance(value, dict) else None
    name = value.get("name") if isinstance(value, dict) else None
    if not isinstance(name, str) or not name.strip() or isinstance(weight, bool) or not isinstance(weight, Number):
        raise _Bad("wrong_type", "metadata.variant_value: a LoRA Strength value needs a name and a numeric weight")
    checked = _lora_weight("metadata.variant_value.weight", weight)
    assert checked is not None
    return _stem(name.strip()), checked
