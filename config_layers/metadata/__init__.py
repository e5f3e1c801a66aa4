"""Pure readers of the metadata users already keep beside their model files.

One module per format, each with a pure ``parse_*(raw, path)`` over the file's bytes and a thin
``read_*(path)`` that size-checks and reads the file first:

| file beside ``<stem>.safetensors`` | written by | module |
| --- | --- | --- |
| ``<stem>.json`` (user metadata) | AUTOMATIC1111 / Forge | :mod:`.a1111` |
| ``<stem>.json`` (Civitai model) | SD.Next | :mod:`.a1111` dispatches to :mod:`.civitai` |
| ``<stem>.civitai.info`` | Civitai Helper and similar | :mod:`.civitai` |
| ``<stem>.metadata.json`` | ComfyUI-Lora-Manager | :mod:`.lora_manager` |
| the model file's own header | trainers (ModelSpec, kohya) | :mod:`.safetensors_header` |

Every reader returns a :class:`ForeignPriors` whose fields say where in the file each value was
found, and turns any bad input into a :class:`MetadataError` (file, key path, line/column where the
JSON parser gives them). Nothing here decides anything: mapping priors into profiles and layers is
the caller's business.
"""

from __future__ import annotations

from config_layers.errors import MetadataError
from config_layers.metadata.a1111 import (
    classify_json_sidecar,
    parse_a1111_metadata,
    parse_json_sidecar,
    priors_from_a1111,
    read_a1111_metadata,
    read_json_sidecar,
)
from config_layers.metadata.basetypes import (
    MappedBaseType,
    from_a1111_sd_version,
    from_civitai_base_model,
    from_kohya_base_model_version,
    from_modelspec_architecture,
)
from config_layers.metadata.civitai import parse_civitai_info, priors_from_civitai, read_civitai_info
from config_layers.metadata.lora_manager import parse_lora_manager, priors_from_lora_manager, read_lora_manager
from config_layers.metadata.safetensors_header import (
    parse_safetensors,
    parse_safetensors_metadata,
    priors_from_metadata,
    priors_from_safetensors,
    read_safetensors_metadata,
    write_safetensors_header,
)
from config_layers.metadata.types import ForeignPriors, ForeignValue, SourceKind
from config_layers.profiles.families import BASE_TYPES, BaseType, base_type_family

__all__ = [
    "BASE_TYPES",
    "BaseType",
    "ForeignPriors",
    "ForeignValue",
    "MappedBaseType",
    "MetadataError",
    "SourceKind",
    "base_type_family",
    "classify_json_sidecar",
    "from_a1111_sd_version",
    "from_civitai_base_model",
    "from_kohya_base_model_version",
    "from_modelspec_architecture",
    "parse_a1111_metadata",
    "parse_civitai_info",
    "parse_json_sidecar",
    "parse_lora_manager",
    "parse_safetensors",
    "parse_safetensors_metadata",
    "priors_from_a1111",
    "priors_from_civitai",
    "priors_from_lora_manager",
    "priors_from_metadata",
    "priors_from_safetensors",
    "read_a1111_metadata",
    "read_civitai_info",
    "read_json_sidecar",
    "read_lora_manager",
    "read_safetensors_metadata",
    "write_safetensors_header",
]
