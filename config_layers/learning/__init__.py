"""The learning loop: StableNew's LearningRecords become ``local_learning`` presets.

``learn()`` reads ``learning_records.jsonl`` files (only ever for reading), groups rated runs by
the knobs that make a preset and writes one regenerable ``<checkpoint stem>.learned.toml`` per
model; the builder reads those back as one more prior source of the ``model_profile`` layer.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config_layers.learning.learn import LearnedModel as LearnedModel
    from config_layers.learning.learn import LearnReport as LearnReport
    from config_layers.learning.learn import learn as learn

__all__ = ["LearnReport", "LearnedModel", "learn"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: every build imports learning.learned_file, which must not pull in
    # the records learner (records, groups, the report) that only ``config-layers learn`` runs.
    if name not in __all__:
        raise AttributeError(f"module 'config_layers.learning' has no attribute {name!r}")
    value = getattr(import_module("config_layers.learning.learn"), name)
    globals()[name] = value
    return value
