"""config_layers: a layered, provenance-tracking configuration builder for Stable Diffusion.

    from config_layers import ConfigBuilder
    cfg = ConfigBuilder(model_dirs=[...], lora_dirs=[...]).build(model="RealVisXL_V4.0")
    cfg.provenance["txt2img.cfg_scale"].layer    # "model_profile"
    print(cfg.explain("txt2img.cfg_scale"))

Public names are imported on first use (PEP 562), so ``import config_layers`` alone is cheap;
``from config_layers import ConfigBuilder`` loads the builder, pydantic models included.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # For type checkers only (``X as X`` marks a re-export); tests/test_public_api.py checks these
    # names are exactly _EXPORTS.
    from config_layers.adapter import (
        build_pipeline_config_with_profiles as build_pipeline_config_with_profiles,
    )
    from config_layers.builder import (
        ConfigBuilder as ConfigBuilder,
    )
    from config_layers.errors import (
        ConfigError as ConfigError,
    )
    from config_layers.errors import (
        ConfigErrors as ConfigErrors,
    )
    from config_layers.errors import (
        FileError as FileError,
    )
    from config_layers.errors import (
        MetadataError as MetadataError,
    )
    from config_layers.errors import (
        NotFoundError as NotFoundError,
    )
    from config_layers.errors import (
        PayloadError as PayloadError,
    )
    from config_layers.errors import (
        ProvenanceKeyError as ProvenanceKeyError,
    )
    from config_layers.provenance.origin import (
        LAYER_ORDER as LAYER_ORDER,
    )
    from config_layers.provenance.origin import (
        Origin as Origin,
    )
    from config_layers.provenance.report import (
        BuildReport as BuildReport,
    )
    from config_layers.provenance.report import (
        FieldProvenance as FieldProvenance,
    )
    from config_layers.provenance.report import (
        Provenance as Provenance,
    )
    from config_layers.schema.config import (
        PipelineConfig as PipelineConfig,
    )
    from config_layers.stacks.models import (
        STAGES as STAGES,
    )
    from config_layers.stacks.models import (
        Stage as Stage,
    )

#: The one list of public names: name -> the module defining it. Drives ``__all__`` and the loader.
_EXPORTS = {
    "build_pipeline_config_with_profiles": "config_layers.adapter",
    "ConfigBuilder": "config_layers.builder",
    "ConfigError": "config_layers.errors",
    "ConfigErrors": "config_layers.errors",
    "FileError": "config_layers.errors",
    "MetadataError": "config_layers.errors",
    "NotFoundError": "config_layers.errors",
    "PayloadError": "config_layers.errors",
    "ProvenanceKeyError": "config_layers.errors",
    "LAYER_ORDER": "config_layers.provenance.origin",
    "Origin": "config_layers.provenance.origin",
    "BuildReport": "config_layers.provenance.report",
    "FieldProvenance": "config_layers.provenance.report",
    "Provenance": "config_layers.provenance.report",
    "PipelineConfig": "config_layers.schema.config",
    "STAGES": "config_layers.stacks.models",
    "Stage": "config_layers.stacks.models",
}

__all__ = sorted(_EXPORTS)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'config_layers' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
