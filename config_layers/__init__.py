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
    from config_layers.adapter import build_pipeline_config_with_profiles
    from config_layers.builder import ConfigBuilder
    from config_layers.errors import ConfigError, ConfigErrors, FileError, NotFoundError
    from config_layers.provenance.origin import LAYER_ORDER, Origin
    from config_layers.provenance.report import BuildReport, FieldProvenance, Provenance
    from config_layers.schema.config import PipelineConfig

_EXPORTS = {
    "build_pipeline_config_with_profiles": "config_layers.adapter",
    "ConfigBuilder": "config_layers.builder",
    "ConfigError": "config_layers.errors",
    "ConfigErrors": "config_layers.errors",
    "FileError": "config_layers.errors",
    "NotFoundError": "config_layers.errors",
    "LAYER_ORDER": "config_layers.provenance.origin",
    "Origin": "config_layers.provenance.origin",
    "BuildReport": "config_layers.provenance.report",
    "FieldProvenance": "config_layers.provenance.report",
    "Provenance": "config_layers.provenance.report",
    "PipelineConfig": "config_layers.schema.config",
}

__all__ = [
    "LAYER_ORDER",
    "BuildReport",
    "ConfigBuilder",
    "ConfigError",
    "ConfigErrors",
    "FieldProvenance",
    "FileError",
    "NotFoundError",
    "Origin",
    "PipelineConfig",
    "Provenance",
    "build_pipeline_config_with_profiles",
]
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
