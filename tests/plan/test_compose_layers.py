"""compose_layers puts the layers in LAYER_ORDER, whatever order they are handed over in."""

from __future__ import annotations

import pytest

from config_layers.layers.base import empty_layer
from config_layers.layers.compose import compose_layers
from config_layers.plan import make_plan
from config_layers.provenance.origin import LAYER_ORDER
from config_layers.resolve.lora_files import LoraPlan
from config_layers.resolve.resolver import Found


def test_the_stack_follows_layer_order() -> None:
    plan = make_plan(Found(), LoraPlan(), None, "txt2img", None, None)
    env = [empty_layer("env", ("legacy",)), empty_layer("env", ("own",))]
    layers = compose_layers(
        empty_layer("defaults", ()), empty_layer("user_file", ()), env, empty_layer("overrides", ()), plan
    )
    names = [layer.name for layer in layers]
    assert list(dict.fromkeys(names)) == list(LAYER_ORDER)
    assert [layer.notes for layer in layers if layer.name == "env"] == [("legacy",), ("own",)]


def test_a_layer_handed_over_in_the_wrong_place_is_refused() -> None:
    plan = make_plan(Found(), LoraPlan(), None, "txt2img", None, None)
    with pytest.raises(ValueError, match="layer 'env' was composed in the place of 'user_file'"):
        compose_layers(empty_layer("defaults", ()), empty_layer("env", ()), [], empty_layer("overrides", ()), plan)
