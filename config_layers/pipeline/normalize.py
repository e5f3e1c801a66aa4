"""The normalization pass: values as other tools write them, made canonical, with provenance.

Runs on the merged data before validation. Each change is recorded as one more assignment
from the same origin with a ``normalized: ...`` rule, so the chain keeps the raw value:

- a WebUI ``" [hash]"`` suffix on ``model`` and ``refiner.checkpoint`` is dropped;
- a combined sampler name (``"DPM++ 2M Karras"``) is split into ``sampler_name`` and
  ``scheduler`` as AUTOMATIC1111 >= 1.9 does (the scheduler is taken only when the combined
  name was declared after any explicit scheduler);
- float noise (``6.499999999999998``) is rounded away: a float is rounded to
  ``FLOAT_DIGITS`` decimals only when that changes it by less than 1e-9.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from config_layers.layers.base import ConfigPath
from config_layers.names import round_to_precision, split_sampler, strip_model_hash
from config_layers.provenance.history import History
from config_layers.schema.config import iter_leaves

FLOAT_DIGITS = 4
_NOISE = 1e-9


def normalize_config(merged: dict[str, Any], history: History) -> None:
    """Normalize ``merged`` in place, recording each change in ``history``."""
    pass_ = _Pass(merged, history)
    for name_path in (("model",), ("refiner", "checkpoint")):
        name = pass_.get(name_path)
        if isinstance(name, str) and strip_model_hash(name) != name:
            pass_.rewrite(name_path, strip_model_hash(name), f"dropped the WebUI hash suffix of {name!r}")
    sampler = pass_.get(("txt2img", "sampler_name"))
    if isinstance(sampler, str):
        bare, scheduler = split_sampler(sampler)
        if scheduler is not None:
            takes_scheduler = pass_.declared_after(("txt2img", "sampler_name"), ("txt2img", "scheduler"))
            pass_.rewrite(("txt2img", "sampler_name"), bare, f"split {sampler!r} into sampler and scheduler")
            if takes_scheduler:
                pass_.rewrite(
                    ("txt2img", "scheduler"),
                    scheduler,
                    f"scheduler from the combined sampler name {sampler!r}",
                    like=("txt2img", "sampler_name"),
                )
    for path, value in list(iter_leaves(merged)):
        if isinstance(value, float) and not isinstance(value, bool):
            rounded = round_to_precision(value, FLOAT_DIGITS)
            if rounded != value and abs(rounded - value) < _NOISE:
                pass_.rewrite(path, rounded, f"float noise {value!r} rounded to {rounded!r}")


class _Pass:
    def __init__(self, merged: dict[str, Any], history: History) -> None:
        self.merged = merged
        self.history = history

    def get(self, path: ConfigPath) -> Any:
        data: Any = self.merged
        for part in path:
            if not isinstance(data, dict):
                return None
            data = data.get(part)
        return data

    def declared_after(self, path: ConfigPath, other: ConfigPath) -> bool:
        mine, theirs = self.history.get(path), self.history.get(other)
        return bool(mine) and (not theirs or mine[-1].seq > theirs[-1].seq)  # type: ignore[index]

    def rewrite(self, path: ConfigPath, value: Any, why: str, *, like: ConfigPath | None = None) -> None:
        """Set ``path`` to ``value`` as a normalization of the winner at ``like`` (default: itself)."""
        winner = self.history[like or path][-1]
        origin = dataclasses.replace(winner.origin, rule=f"normalized: {why}")
        self.history.record(path, value, winner.layer, winner.key, origin=origin)
        target = self.merged
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
