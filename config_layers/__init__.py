"""config_layers: a layered, provenance-tracking configuration builder for Stable Diffusion.

from config_layers import ConfigBuilder
cfg = ConfigBuilder(model_dirs=[...], lora_dirs=[...]).build(model="RealVisXL_V4.0")
cfg.provenance["txt2img.cfg_scale"].layer    # "model_profile"
print(cfg.explain("txt2img.cfg_scale"))
"""

from config_layers.adapter import build_pipeline_config_with_profiles
from config_layers.builder import ConfigBuilder
from config_layers.errors import ConfigError, ConfigErrors, FileError, NotFoundError
from config_layers.origin import LAYER_ORDER, Origin
from config_layers.provenance import BuildReport, FieldProvenance, Provenance
from config_layers.schema import PipelineConfig

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
