"""KeyCasing answers as dynaconf's find_the_correct_casing does (the merge's key matcher), in O(1)."""

from __future__ import annotations

from dynaconf.utils import find_the_correct_casing
from hypothesis import given
from hypothesis import strategies as st

from config_layers.builder import _selection
from config_layers.layers.base import mapped_layer
from config_layers.layers.overrides import overrides_layer
from config_layers.merge import KeyCasing

keys = st.text(alphabet="aAbB _xX", max_size=4)


@given(st.lists(keys, max_size=8), keys)
def test_key_casing_agrees_with_dynaconf(existing: list[str], key: str) -> None:
    assert KeyCasing(existing).find(key) == find_the_correct_casing(key, tuple(existing))


@given(st.lists(keys, max_size=8), st.lists(keys, max_size=4))
def test_added_keys_are_matched_as_if_given_first(existing: list[str], added: list[str]) -> None:
    casing = KeyCasing(existing)
    for key in added:
        casing.add(key)
    for key in [*existing, *added, "A b", "a_B"]:
        assert casing.find(key) == find_the_correct_casing(key, tuple(dict.fromkeys([*existing, *added])))


def test_lora_names_are_selected_once_per_folded_spelling() -> None:
    layers = [
        mapped_layer("defaults", {"loras": {"Eyes": {}}}, {}),
        mapped_layer("user_file", {"model": "m", "loras": {"eyes": {}, "Hands": {}}}, {}),
        overrides_layer(None, None, ["HANDS", "feet", "Feet"]),
    ]
    assert _selection(layers) == ("m", ["Eyes", "Hands", "feet"])


def test_call_time_loras_join_once_per_casefolded_name() -> None:
    layer = overrides_layer({"loras": {"Eyes": {"weight": 0.5}}}, None, ["eyes", "Hands", "hands", "HANDS"])
    assert list(layer.data["loras"]) == ["Eyes", "Hands"]
