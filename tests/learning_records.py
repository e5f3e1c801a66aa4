"""Building LearningRecords lines as StableNew writes them (one JSON object per line, sorted keys)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def pipeline(
    run_id: str,
    rating: float | None,
    *,
    kind: str | None = "learning_experiment_rating",
    model: str = "RealVisXL_V4.0",
    sampler: str = "DPM++ 2M Karras",
    scheduler: str = "",
    steps: int = 28,
    cfg: float = 6.0,
    width: int = 1024,
    height: int = 1024,
    loras: list[Any] | None = None,
    timestamp: str = "2026-11-02T09:00:00",
    **metadata: Any,
) -> dict[str, Any]:
    """A pipeline record: knobs in base_config.txt2img, mirrored in primary_*."""
    txt2img: dict[str, Any] = {
        "model": model,
        "sampler_name": sampler,
        "scheduler": scheduler,
        "steps": steps,
        "cfg_scale": cfg,
        "width": width,
        "height": height,
    }
    if loras is not None:
        txt2img["loras"] = loras
    meta: dict[str, Any] = {"rating_schema_version": 2, **metadata}
    if rating is not None:
        meta["user_rating"] = rating
    if kind is not None:
        meta["record_kind"] = kind
    return {
        "run_id": run_id,
        "timestamp": timestamp,
        "base_config": {"prompt": "portrait", "txt2img": txt2img},
        "variant_configs": [],
        "primary_model": model,
        "primary_sampler": sampler,
        "primary_scheduler": scheduler,
        "primary_steps": steps,
        "primary_cfg_scale": cfg,
        "metadata": meta,
        "rating_schema_version": 2,
    }


def thin(
    run_id: str, rating: float, variable: str, value: Any, *, model: str = "", timestamp: str = "2026-11-03T10:00:00"
) -> dict[str, Any]:
    """A thin experiment record: primary_* empty, base_config only {prompt, stage, <variable>: value}."""
    key = {"CFG Scale": "cfg_scale", "Steps": "steps", "Sampler": "sampler_name"}.get(variable, variable)
    return {
        "run_id": run_id,
        "timestamp": timestamp,
        "base_config": {"prompt": "portrait", "stage": "txt2img", key: value},
        "variant_configs": [],
        "primary_model": model,
        "primary_sampler": "",
        "primary_scheduler": "",
        "primary_steps": 0,
        "primary_cfg_scale": 0.0,
        "metadata": {
            "user_rating": rating,
            "record_kind": "learning_experiment_rating",
            "variable_under_test": variable,
            "variant_value": value,
        },
    }


def write_records(path: Path, records: list[dict[str, Any] | str], tail: str = "") -> Path:
    """One line per record (a str is written as is), then ``tail`` without a newline."""
    lines = [r if isinstance(r, str) else json.dumps(r, sort_keys=True) for r in records]
    path.write_text("".join(line + "\n" for line in lines) + tail, encoding="utf-8")
    return path
