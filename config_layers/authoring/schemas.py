"""JSON Schemas for the sidecar kinds, generated from the pydantic models, for editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from config_layers.atomic import write_text_atomic
from config_layers.profiles.models import LoraProfile, ModelProfile

SCHEMA_FILES: dict[str, type[BaseModel]] = {
    "modelprofile.schema.json": ModelProfile,
    "loraprofile.schema.json": LoraProfile,
}


def sidecar_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of one sidecar kind (draft 2020-12), closed like the model itself."""
    schema = model.model_json_schema(mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def shipped_schema(kind: str) -> Path:
    """The shipped schema file of ``model`` or ``lora`` sidecars (``schemas/`` in a checkout)."""
    from config_layers.shipped import shipped_path

    return shipped_path("schemas") / f"{kind}profile.schema.json"


def schema_text(model: type[BaseModel]) -> str:
    return json.dumps(sidecar_schema(model), indent=2) + "\n"


def write_schemas(directory: Path, *, force: bool = False) -> list[Path]:
    """Write both schema files into ``directory``; refuses to replace them without ``force``."""
    written = []
    for name, model in SCHEMA_FILES.items():
        path = Path(directory) / name
        write_text_atomic(path, schema_text(model), overwrite=force)
        written.append(path)
    return written
