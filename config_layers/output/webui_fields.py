"""The payload keys the real WebUI endpoints accept, per flavor and stage.

Both WebUIs drop unknown keys silently, so "it sent" proves nothing: the tests check every key
of every payload against these lists. They ship as ``data/webui_api_fields.json`` (key names,
extracted from AUTOMATIC1111 1.10 and Forge; its ``_source`` cites the commits and files).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config_layers.schema.config import WebUIFlavor


@cache
def accepted_keys(flavor: WebUIFlavor, stage: str) -> frozenset[str]:
    """The keys the real ``/sdapi/v1/<stage>`` endpoint of ``flavor`` accepts (both WebUIs drop
    others silently), from the shipped ``data/webui_api_fields.json``, whose ``_source`` cites
    the WebUI commits they were extracted from."""
    text = files("config_layers").joinpath("data/webui_api_fields.json").read_text(encoding="utf-8")
    return frozenset(json.loads(text)[flavor][stage])
