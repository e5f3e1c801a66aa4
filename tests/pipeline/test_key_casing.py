"""The merge agrees with dynaconf: KeyCasing with its key matcher, merge_tables with object_merge."""

from __future__ import annotations

import copy
import json

from dynaconf.utils import find_the_correct_casing, object_merge
from hypothesis import given
from hypothesis import strategies as st

from config_layers.layers.base import mapped_layer
from config_layers.layers.overrides import overrides_layer
from config_layers.pipeline.merge import KeyCasing, merge_tables
from config_layers.plan import selection as _selection

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


scalars = st.one_of(st.integers(-3, 3), st.text(alphabet="ab", max_size=2), st.booleans(), st.none())
tables = st.recursive(
    st.dictionaries(st.sampled_from("abcd"), scalars, max_size=4),
    lambda children: st.dictionaries(
        st.sampled_from("abcd"), st.one_of(scalars, children, st.lists(scalars, max_size=2)), max_size=4
    ),
    max_leaves=12,
)


@given(tables, tables)
def test_merge_tables_is_dynaconfs_shallow_object_merge(old: dict[str, object], new: dict[str, object]) -> None:
    expected = object_merge(copy.deepcopy(old), copy.deepcopy(new), list_merge="shallow")
    merged = merge_tables(copy.deepcopy(old), copy.deepcopy(new))
    assert merged == expected
    assert json.dumps(merged) == json.dumps(expected)  # the same key order at every level
