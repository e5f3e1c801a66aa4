"""Positions (1-based line and column) of every key in a TOML or JSON document.

tomllib and json give values but no positions. These scanners run over text that the
real parser has already accepted, so they only have to find keys, not validate.
They run lazily: only when a provenance line or an error needs a position.
"""

from config_layers.positions.json import json_positions
from config_layers.positions.toml import toml_positions

__all__ = ["json_positions", "toml_positions"]
