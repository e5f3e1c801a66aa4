"""The one key-path formatter: files' locators and provenance names come from it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from config_layers.documents import format_key_path

_parts = st.lists(st.text(alphabet=st.characters(blacklist_characters="."), min_size=1), min_size=1, max_size=5)


def test_file_locator_indexes_arrays_and_quotes_odd_keys() -> None:
    assert format_key_path(("recommended_presets", 0, "name")) == "recommended_presets[0].name"
    assert format_key_path(("loras", "Perfect Eyes", "weight")) == 'loras."Perfect Eyes".weight'
    assert format_key_path(()) == ""


def test_plain_names_a_config_field_as_written() -> None:
    assert format_key_path(("loras", "Perfect Eyes", "weight"), plain=True) == "loras.Perfect Eyes.weight"
    assert format_key_path(("presets", 0), plain=True) == "presets.0"


@given(_parts)
def test_plain_splits_back_into_its_parts(parts: list[str]) -> None:
    assert format_key_path(parts, plain=True).split(".") == parts
