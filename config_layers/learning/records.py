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

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from config_layers.normalize import model_stem, round_to_precision, scheduler_label, split_sampler
from config_layers.origin import display_path

#: ``metadata.record_kind`` values StableNew writes, and how this module counts them.
RECORD_KINDS: dict[str, str] = {
    "learning_experiment_rating": "experiment",
    "review_tab_feedback": "review",
    "staged_curation_event": "review",
}
#: Records written before ``record_kind`` existed (StableNew reads them as "legacy").
LEGACY_KIND = "legacy"

#: A line longer than this is refused unparsed (a record is a few KiB).
MAX_LINE_BYTES = 1024 * 1024

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


@dataclass(frozen=True)
class Knobs:
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


def _fold(value: str | None) -> str | None:
    return value.casefold() if value is not None else None


def _shown(value: object) -> str:
    return "?" if value is None else str(value)


@dataclass(frozen=True)
class Run:
    """One rated run. ``variable`` is the knob a thin record's experiment varied (else None)."""

    run_id: str
    file: str
    line: int
    rating: float
    kind: str
    timestamp: datetime | None
    knobs: Knobs
    variable: str | None = None

    @property
    def thin(self) -> bool:
        return bool(self.knobs.missing())

    @property
    def experiment(self) -> bool:
        return RECORD_KINDS.get(self.kind) == "experiment"


@dataclass(frozen=True)
class Problem:
    """A line that is bad input (reported with file:line, skipped; ``--strict`` makes it an error)."""

    file: str
    line: int
    kind: ProblemKind
    message: str

    def __str__(self) -> str:
        return f"{display_path(self.file)}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Skip:
    """A valid record that teaches nothing about presets (counted, never an error)."""

    file: str
    line: int
    kind: SkipKind
    message: str

    def __str__(self) -> str:
        return f"{display_path(self.file)}:{self.line}: {self.message}"


class _Bad(Exception):
    def __init__(self, kind: ProblemKind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


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
        data = _DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return Problem(file, line, "malformed", f"not UTF-8 (byte {exc.start})")
    except (ValueError, RecursionError) as exc:
        if not raw.endswith(b"\n"):
            return Problem(file, line, "malformed", "truncated last line (no newline; a crash while appending?)")
        return Problem(file, line, "malformed", f"not JSON: {exc}")
    if not isinstance(data, dict):
        return Problem(file, line, "wrong_type", f"a record must be a JSON object, not {_type(data)}")
    try:
        return _run(data, file, line)
    except _Bad as bad:
        return Problem(file, line, bad.kind, bad.message)


def _type(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _Bad("wrong_type", f"{where}{key}: expected an object, got {_type(value)}")
    return value


def _run(data: Mapping[str, Any], file: str, line: int) -> Run | Skip:
    metadata = _table(data, "metadata", "")
    kind = _record_kind(metadata)
    rating = metadata.get("user_rating")
    if rating is None:
        return Skip(file, line, "unrated", "no metadata.user_rating")
    if isinstance(rating, bool) or not isinstance(rating, int | float):
        raise _Bad("wrong_type", f"metadata.user_rating: expected a number from 1 to 5, got {_type(rating)}")
    if not 1 <= rating <= 5:
        raise _Bad("invalid_value", f"metadata.user_rating: {rating!r} is not from 1 to 5")
    run_id = data.get("run_id")
    if not isinstance(run_id, str) or not run_id.strip():
        raise _Bad("wrong_type", "run_id: expected a non-empty string")
    timestamp = _timestamp(data.get("timestamp"))
    variable, value, foreign = _variable(metadata)
    if foreign is not None:
        return Skip(file, line, "not_a_knob", f"varies {foreign!r}, which presets do not set")
    knobs = _knobs(data, variable, value)
    if knobs.missing() and (variable is None or not _recorded(value)):
        return Skip(file, line, "unrecoverable", f"knobs not recorded: {', '.join(knobs.missing())}")
    return Run(run_id, file, line, float(rating), kind, timestamp, knobs, variable)


def _record_kind(metadata: Mapping[str, Any]) -> str:
    kind = metadata.get("record_kind")
    if kind is None or kind == "":
        return LEGACY_KIND
    if not isinstance(kind, str):
        raise _Bad("wrong_type", f"metadata.record_kind: expected a string, got {_type(kind)}")
    if kind not in RECORD_KINDS:
        raise _Bad("unknown_kind", f"unknown metadata.record_kind {kind!r}; known: {', '.join(RECORD_KINDS)}")
    return kind


def _timestamp(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _Bad("wrong_type", f"timestamp: expected a string, got {_type(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _Bad("invalid_value", f"timestamp: {value!r} is not a date and time (%Y-%m-%dT%H:%M:%S)") from None
    # StableNew writes UTC without an offset.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _variable(metadata: Mapping[str, Any]) -> tuple[str | None, Any, str | None]:
    """(the knob ``variable_under_test`` varies, its ``variant_value``, the variable's name when
    presets have no such knob)."""
    name = metadata.get("variable_under_test")
    if name is None or name == "":
        return None, None, None
    if not isinstance(name, str):
        raise _Bad("wrong_type", f"metadata.variable_under_test: expected a string, got {_type(name)}")
    knob = VARIABLE_KNOBS.get(" ".join(name.replace("_", " ").casefold().split()))
    if knob is None:
        return None, None, name
    return knob, metadata.get("variant_value"), None


class _Sources:
    """Where a knob is looked up, first hit wins: the tested variable's value, the primary
    variant's ``txt2img``, the base ``txt2img``, ``primary_*``, then ``base_config`` itself."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        base = _table(data, "base_config", "")
        variants = data.get("variant_configs")
        if variants is not None and not isinstance(variants, list):
            raise _Bad("wrong_type", f"variant_configs: expected an array, got {_type(variants)}")
        first: Mapping[str, Any] = {}
        if variants:
            if not isinstance(variants[0], dict):
                raise _Bad("wrong_type", f"variant_configs[0]: expected an object, got {_type(variants[0])}")
            first = variants[0]
        self.places: list[tuple[str, Mapping[str, Any]]] = [
            ("variant_configs[0].txt2img.", _table(first, "txt2img", "variant_configs[0].")),
            ("base_config.txt2img.", _table(base, "txt2img", "base_config.")),
        ]
        self.primary = data
        self.base = base

    def get(self, keys: tuple[str, ...], primary: str | None) -> tuple[str, Any]:
        for where, table in self.places:
            for key in keys:
                if _recorded(table.get(key)):
                    return where + key, table[key]
        if primary is not None and _recorded(self.primary.get(primary)):
            return primary, self.primary[primary]
        for key in keys:
            if _recorded(self.base.get(key)):
                return "base_config." + key, self.base[key]
        return "", None


def _recorded(value: Any) -> bool:
    """Thin records write ``""`` and ``0`` for knobs they did not record."""
    return value is not None and value != "" and not (value == 0 and not isinstance(value, bool))


def _knobs(data: Mapping[str, Any], variable: str | None, value: Any) -> Knobs:
    sources = _Sources(data)

    def pick(knob: str, keys: tuple[str, ...], primary: str | None) -> tuple[str, Any]:
        if variable == knob and _recorded(value):
            return "metadata.variant_value", value
        return sources.get(keys, primary)

    model = _text(*pick("model", ("model",), "primary_model"))
    sampler = _text(*pick("sampler", ("sampler_name", "sampler"), "primary_sampler"))
    scheduler = _text(*pick("scheduler", ("scheduler",), "primary_scheduler"))
    split: str | None = None
    if sampler is not None:
        sampler, split = split_sampler(sampler)
    return Knobs(
        model=model_stem(model) if model else None,
        sampler=sampler,
        scheduler=scheduler_label(scheduler) if scheduler else split,
        steps=_steps(*pick("steps", ("steps",), "primary_steps")),
        cfg=_cfg(*pick("cfg", ("cfg_scale",), "primary_cfg_scale")),
        width=_dimension(*sources.get(("width",), None)),
        height=_dimension(*sources.get(("height",), None)),
        loras=_loras(sources, value if variable == "loras" else None),
    )


def _text(where: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Bad("wrong_type", f"{where}: expected a string, got {_type(value)}")
    return " ".join(value.split()) or None


def _number(where: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Bad("wrong_type", f"{where}: expected a number, got {_type(value)}")
    return float(value)


def _integer(where: str, value: Any) -> int | None:
    number = _number(where, value)
    if number is None:
        return None
    if not number.is_integer():
        raise _Bad("invalid_value", f"{where}: {value!r} is not a whole number")
    return int(number)


def _steps(where: str, value: Any) -> int | None:
    steps = _integer(where, value)
    if steps is not None and not 1 <= steps <= 500:
        raise _Bad("invalid_value", f"{where}: {steps} steps is outside 1-500")
    return steps


def _cfg(where: str, value: Any) -> float | None:
    cfg = _number(where, value)
    if cfg is None:
        return None
    if not 0 < cfg <= 50:
        raise _Bad("invalid_value", f"{where}: CFG {value!r} is outside (0, 50]")
    return round_to_precision(cfg, 4)


def _dimension(where: str, value: Any) -> int | None:
    size = _integer(where, value)
    if size is not None and not (64 <= size <= 8192 and size % 8 == 0):
        raise _Bad("invalid_value", f"{where}: {size} is not a multiple of 8 in 64-8192")
    return size


def _lora_weight(where: str, value: Any) -> float | None:
    weight = _number(where, value)
    if weight is not None and not -5 <= weight <= 5:
        raise _Bad("invalid_value", f"{where}: LoRA weight {value!r} is outside -5..5")
    return None if weight is None else round_to_precision(weight, 4)


def _loras(sources: _Sources, tested: Any) -> LoraSet | None:
    """The LoRA set (``loras`` entries, then ``lora_strengths`` ones, which win for a name in
    both; disabled ones left out). None when no place records LoRAs at all."""
    found: dict[str, tuple[str, float | None]] = {}
    recorded = False
    for where, table in sources.places:
        for key in ("loras", "lora_strengths"):
            entries = table.get(key)
            if entries is None:
                continue
            if not isinstance(entries, list):
                raise _Bad("wrong_type", f"{where}{key}: expected an array, got {_type(entries)}")
            recorded = True
            for index, entry in enumerate(entries):
                name, weight = _lora_entry(f"{where}{key}[{index}]", entry)
                if name is not None:
                    found[name.casefold()] = (name, weight)
        if recorded:
            break  # the primary variant's LoRAs replace the base config's
    if tested is not None:
        name, weight = _lora_entry("metadata.variant_value", tested)
        if name is None or weight is None:
            raise _Bad("wrong_type", "metadata.variant_value: a LoRA Strength value needs a name and a weight")
        found[name.casefold()] = (name, weight)
        recorded = True
    if not recorded:
        # A record with a txt2img table and no LoRAs used none; a thin record did not say.
        return () if any(table for _, table in sources.places) else None
    return tuple(sorted(found.values(), key=lambda item: item[0].casefold()))


def _lora_entry(where: str, entry: Any) -> tuple[str | None, float | None]:
    if isinstance(entry, str):
        return model_stem(entry.strip()) or None, None
    if not isinstance(entry, dict):
        raise _Bad("wrong_type", f"{where}: expected a name or an object, got {_type(entry)}")
    enabled = entry.get("enabled", True)
    if not isinstance(enabled, bool):
        raise _Bad("wrong_type", f"{where}.enabled: expected true or false, got {_type(enabled)}")
    name = _text(f"{where}.name", entry.get("name"))
    if name is None:
        raise _Bad("wrong_type", f"{where}.name: expected a LoRA name")
    key = "strength" if "strength" in entry else "weight"
    weight = _lora_weight(f"{where}.{key}", entry.get(key))
    return (model_stem(name), weight) if enabled else (None, None)
