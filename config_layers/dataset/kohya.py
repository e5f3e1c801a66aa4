"""kohya sd-scripts' dataset config (``--dataset_config``), resolved by our merge engine with provenance.

The file is TOML: ``[general]``, ``[[datasets]]`` and ``[[datasets.subsets]]``. A subset's
setting falls back subset > dataset > general > kohya's built-in default (a dataset's own
settings: dataset > general > default), which is a layered config: each level becomes one
:class:`~config_layers.layers.base.Layer` and :func:`~config_layers.pipeline.merge.merge_layers` merges
them, so every effective value knows its level and its ``file:line:col``.

Keys, types, defaults and rules follow sd-scripts' ``library/config_util.py``: unknown keys are
errors there; a subset with ``metadata_file`` is fine-tuning style, one without is DreamBooth style
(``image_dir`` required), and the two cannot share a dataset; ``caption_extension`` defaults to
``.caption``, not ``.txt``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, cast

from config_layers.documents import Document, format_key_path, read_document
from config_layers.layers.base import Layer, mapped_layer
from config_layers.pipeline.merge import merge_layers
from config_layers.provenance.origin import KeyPath, LayerName, Origin

Level = Literal["default", "general", "dataset", "subset"]
Check = Callable[[Any], bool]


def _boolean(value: Any) -> bool:
    return type(value) is bool


def _integer(value: Any) -> bool:
    return type(value) is int


def _number(value: Any) -> bool:
    return type(value) in (int, float)


def _real(value: Any) -> bool:
    return type(value) is float  # sd-scripts' schema says float: it rejects 1 where 1.0 is meant


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _resolution(value: Any) -> bool:
    return _integer(value) or (isinstance(value, list) and len(value) == 2 and all(map(_integer, value)))


def _pair(value: Any) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(map(_real, value))


_EXPECTED: Final[dict[Check, str]] = {
    _boolean: "true or false",
    _integer: "an integer",
    _number: "a number",
    _real: "a float (write 1.0, not 1)",
    _text: "a string",
    _resolution: "an integer or [width, height]",
    _pair: "a list of two floats, e.g. [0.2, 0.5]",
}

# Key groups as sd-scripts names them (config_util.ConfigSanitizer), each key with its type and default.
SUBSET_ASCENDABLE: Final[dict[str, tuple[Check, Any]]] = {
    "color_aug": (_boolean, False),
    "face_crop_aug_range": (_pair, None),
    "flip_aug": (_boolean, False),
    "num_repeats": (_integer, 1),
    "random_crop": (_boolean, False),
    "shuffle_caption": (_boolean, False),
    "keep_tokens": (_integer, 0),
    "keep_tokens_separator": (_text, None),
    "secondary_separator": (_text, None),
    "enable_wildcard": (_boolean, False),
    "token_warmup_min": (_integer, 1),
    "token_warmup_step": (_number, 0),
    "caption_prefix": (_text, None),
    "caption_suffix": (_text, None),
    "caption_dropout_every_n_epochs": (_integer, 0),
    "caption_dropout_rate": (_number, 0.0),
    "caption_tag_dropout_rate": (_number, 0.0),
}
DREAMBOOTH_ASCENDABLE: Final[dict[str, tuple[Check, Any]]] = {
    "caption_extension": (_text, ".caption"),
    "class_tokens": (_text, None),
    "cache_info": (_boolean, False),
}
DREAMBOOTH_ONLY: Final[dict[str, tuple[Check, Any]]] = {"image_dir": (_text, None), "is_reg": (_boolean, False)}
FINETUNING_ONLY: Final[dict[str, tuple[Check, Any]]] = {"metadata_file": (_text, None), "image_dir": (_text, None)}
DATASET_ASCENDABLE: Final[dict[str, tuple[Check, Any]]] = {
    "batch_size": (_integer, 1),
    "bucket_no_upscale": (_boolean, False),
    "bucket_reso_steps": (_integer, 64),
    "enable_bucket": (_boolean, False),
    "max_bucket_reso": (_integer, 1024),
    "min_bucket_reso": (_integer, 256),
    "resolution": (_resolution, None),
    "network_multiplier": (_real, 1.0),
}
#: Keys that must be at least this much.
_MINIMUM: Final[dict[str, int]] = {
    "num_repeats": 1,
    "batch_size": 1,
    "keep_tokens": 0,
    "bucket_reso_steps": 1,
    "min_bucket_reso": 1,
    "max_bucket_reso": 1,
    "token_warmup_min": 0,
    "caption_dropout_every_n_epochs": 0,
}
DEFAULT_SOURCE: Final[str] = "built-in default (kohya sd-scripts)"


@dataclass(frozen=True)
class Setting:
    """One effective value: the level that won, where it was written, and what it overrode."""

    key: str
    value: Any
    level: Level
    origin: Origin
    overridden: tuple[tuple[Level, Origin, Any], ...] = ()

    def where(self) -> str:
        return DEFAULT_SOURCE if self.level == "default" else self.origin.where()

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "level": self.level,
            "where": self.where(),
            "overrides": [{"level": lv, "where": o.where(), "value": v} for lv, o, v in self.overridden],
        }


@dataclass
class ResolvedSubset:
    """A subset's effective settings; ``key`` locates the subset in the file."""

    dataset: int
    index: int
    style: Literal["dreambooth", "finetuning"]
    key: KeyPath
    settings: dict[str, Setting]
    table: dict[str, Any]

    def value(self, key: str) -> Any:
        setting = self.settings.get(key)
        return None if setting is None else setting.value

    @property
    def label(self) -> str:
        return f"datasets[{self.dataset}].subsets[{self.index}]"


@dataclass
class ResolvedDataset:
    """A dataset's own effective settings and its subsets."""

    index: int
    style: Literal["dreambooth", "finetuning"]
    settings: dict[str, Setting]
    subsets: list[ResolvedSubset] = field(default_factory=list)


@dataclass
class ResolvedConfig:
    """The whole file resolved, plus every problem its keys and values have (empty when valid)."""

    document: Document
    datasets: list[ResolvedDataset]
    problems: list[str]


def load_dataset_config(path: Path) -> ResolvedConfig:
    """Read, validate and resolve a kohya dataset TOML. A syntax error raises FileError; every
    other problem (unknown keys, wrong types, broken rules) is collected in ``problems``."""
    document = read_document(path)
    return resolve(document)


def resolve(document: Document) -> ResolvedConfig:
    """Resolve a parsed dataset config (pure: reads no file)."""
    problems: list[str] = []

    def problem(key: KeyPath, message: str) -> None:
        problems.append(str(document.error(key, message)))

    data = document.data
    for key in data:
        if key not in ("general", "datasets"):
            problem((key,), "unknown key; the top level holds [general] and [[datasets]] only")
    general = data.get("general", {})
    if not isinstance(general, dict):
        problem(("general",), "must be a table")
        general = {}
    general_keys = {**SUBSET_ASCENDABLE, **DREAMBOOTH_ASCENDABLE, **DATASET_ASCENDABLE}
    _check_table(general, ("general",), general_keys, problem)
    datasets = data.get("datasets", [])
    if not isinstance(datasets, list) or not all(isinstance(d, dict) for d in datasets):
        problem(("datasets",), "must be an array of tables: [[datasets]]")
        datasets = []
    if not datasets and isinstance(data.get("datasets", []), list):
        problem(("datasets",) if "datasets" in data else (), "no [[datasets]]: nothing to train on")
    resolved = [_dataset(document, general, index, dataset, problem) for index, dataset in enumerate(datasets)]
    for dataset in resolved:
        _bucket_rules(dataset, problems)
    return ResolvedConfig(document, resolved, problems)


def _check_table(
    table: Mapping[str, Any], key: KeyPath, allowed: Mapping[str, tuple[Check, Any]], problem: Callable[..., None]
) -> None:
    for name, value in table.items():
        if name == "subsets" and len(key) == 2:
            continue
        spec = allowed.get(name)
        if spec is None:
            problem((*key, name), _unknown(name, key))
            continue
        check = spec[0]
        if not check(value):
            problem((*key, name), f"must be {_EXPECTED[check]}, not {value!r}")
        elif name in _MINIMUM and _integer(value) and value < _MINIMUM[name]:
            problem((*key, name), f"must be >= {_MINIMUM[name]}")
        elif name == "resolution" and any(v <= 0 for v in (value if isinstance(value, list) else [value])):
            problem((*key, name), "must be positive")
        elif name == "caption_extension" and not value.startswith("."):
            problem((*key, name), f"must start with a dot (kohya appends it to the file stem): {'.' + value!r}")


def _unknown(name: str, key: KeyPath) -> str:
    if name == "conditioning_data_dir":
        return "ControlNet subsets are not checked by this tool"
    levels = {
        "image_dir": "[[datasets.subsets]]",
        "is_reg": "[[datasets.subsets]]",
        "metadata_file": "[[datasets.subsets]]",
        **dict.fromkeys(DATASET_ASCENDABLE, "[general] or [[datasets]]"),
    }
    where = levels.get(name)
    return f"not allowed here; it belongs in {where}" if where else "unknown key (kohya rejects unknown keys)"


def _dataset(
    document: Document, general: dict[str, Any], index: int, dataset: dict[str, Any], problem: Callable[..., None]
) -> ResolvedDataset:
    key: KeyPath = ("datasets", index)
    subsets = dataset.get("subsets", [])
    if not isinstance(subsets, list) or not all(isinstance(s, dict) for s in subsets):
        problem((*key, "subsets"), "must be an array of tables: [[datasets.subsets]]")
        subsets = []
    if not subsets:
        problem(key, "has no [[datasets.subsets]]")
    finetuning = ["metadata_file" in s for s in subsets]
    style: Literal["dreambooth", "finetuning"] = "finetuning" if finetuning and all(finetuning) else "dreambooth"
    if any(finetuning) and not all(finetuning):
        problem(
            key,
            "mixes DreamBooth-style subsets (image_dir, captions beside images) with fine-tuning subsets "
            "(metadata_file); kohya cannot mix them in one dataset: split them into two [[datasets]]",
        )
    caption_keys = DREAMBOOTH_ASCENDABLE if style == "dreambooth" else {}
    _check_table(dataset, key, {**SUBSET_ASCENDABLE, **caption_keys, **DATASET_ASCENDABLE}, problem)
    own = _merge(document, DATASET_ASCENDABLE, [("general", general, ("general",)), ("dataset", dataset, key)])
    out = ResolvedDataset(index, style, own)
    for position, subset in enumerate(subsets):
        subset_key: KeyPath = (*key, "subsets", position)
        fine = "metadata_file" in subset
        distinct = FINETUNING_ONLY if fine else DREAMBOOTH_ONLY
        spec = {**SUBSET_ASCENDABLE, **({} if fine else DREAMBOOTH_ASCENDABLE), **distinct}
        _check_table(subset, subset_key, spec, problem)
        if not fine and "image_dir" not in subset:
            problem(subset_key, "image_dir is required in a DreamBooth-style subset (one without metadata_file)")
        levels: list[tuple[Level, dict[str, Any], KeyPath]] = [
            ("general", general, ("general",)),
            ("dataset", dataset, key),
            ("subset", subset, subset_key),
        ]
        settings = _merge(document, spec, levels)
        out.subsets.append(
            ResolvedSubset(index, position, "finetuning" if fine else "dreambooth", subset_key, settings, subset)
        )
    return out


def _merge(
    document: Document,
    spec: Mapping[str, tuple[Check, Any]],
    levels: list[tuple[Level, dict[str, Any], KeyPath]],
) -> dict[str, Setting]:
    """The effective value of every key of ``spec``: our merge engine over default < general < dataset < subset."""
    defaults = {name: default for name, (_, default) in spec.items() if default is not None}
    layers = [mapped_layer(_as_layer("default"), defaults, {}, fallback=Origin(_as_layer("default"), DEFAULT_SOURCE))]
    level_of: dict[int, Level] = {id(layers[0]): "default"}
    for level, table, prefix in levels:
        data = {name: value for name, value in table.items() if name in spec}
        layer = _file_level(document, level, data, prefix)
        layers.append(layer)
        level_of[id(layer)] = level
    merged, history = merge_layers(layers)
    out: dict[str, Setting] = {}
    for name in spec:
        if name not in merged:
            continue
        assignments = history[(name,)]
        winner = assignments[-1]
        out[name] = Setting(
            name,
            merged[name],
            level_of[id(winner.layer)],
            winner.origin,
            tuple((level_of[id(a.layer)], a.origin, a.value) for a in assignments[:-1]),
        )
    return out


def _as_layer(level: Level) -> LayerName:
    # kohya's levels are not our config layers; the engine only carries the name through.
    return cast(LayerName, level)


def _file_level(document: Document, level: Level, data: dict[str, Any], prefix: KeyPath) -> Layer:
    source = str(document.path)

    def origin_of(key: KeyPath) -> Origin:
        return Origin(_as_layer(level), source, (*prefix, *key), _locate=document.position)

    return Layer(_as_layer(level), data, origin_of, sources=(source,))


def _bucket_rules(dataset: ResolvedDataset, problems: list[str]) -> None:
    """With bucketing on, min/max_bucket_reso must be multiples of bucket_reso_steps and min <= max."""
    settings = dataset.settings
    if not settings["enable_bucket"].value:
        return
    steps = settings["bucket_reso_steps"]
    for name in ("min_bucket_reso", "max_bucket_reso"):
        setting = settings[name]
        if _integer(setting.value) and _integer(steps.value) and steps.value > 0 and setting.value % steps.value:
            blamed = steps if setting.level == "default" else setting
            problems.append(
                _located(
                    blamed,
                    f"{name} = {setting.value} ({setting.level}) is not a multiple of "
                    f"bucket_reso_steps = {steps.value} ({steps.level})",
                )
            )
    low, high = settings["min_bucket_reso"], settings["max_bucket_reso"]
    if _integer(low.value) and _integer(high.value) and low.value > high.value:
        problems.append(_located(low, f"min_bucket_reso {low.value} is above max_bucket_reso {high.value}"))


def _located(setting: Setting, message: str) -> str:
    return f"{setting.where()}: {format_key_path(setting.origin.key) or setting.key}: {message}"
