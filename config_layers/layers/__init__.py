"""One module per layer of the stack, named as the layer appears in provenance dumps:
``defaults``, ``model_profile``, ``lora_overlays``, ``user_file``, ``env``, ``overrides``."""

from config_layers.layers.base import ConfigPath, Layer, empty_layer, file_layer, mapped_layer, nest

__all__ = ["ConfigPath", "Layer", "empty_layer", "file_layer", "mapped_layer", "nest"]
