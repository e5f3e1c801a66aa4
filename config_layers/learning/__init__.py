"""The learning loop: StableNew's LearningRecords become ``local_learning`` presets.

``learn()`` reads ``learning_records.jsonl`` files (only ever for reading), groups rated runs by
the knobs that make a preset and writes one regenerable ``<checkpoint stem>.learned.toml`` per
model; the builder reads those back as one more prior source of the ``model_profile`` layer.
"""

from __future__ import annotations

from config_layers.learning.learn import LearnedModel, LearnReport, learn

__all__ = ["LearnReport", "LearnedModel", "learn"]
