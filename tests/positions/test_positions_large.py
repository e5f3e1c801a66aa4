"""Long arrays: items past MAX_LOCATED_ITEMS are skipped to the array's end, not located one by one."""

from __future__ import annotations

import tomllib

from config_layers.positions.toml import MAX_LOCATED_ITEMS, toml_positions


def test_items_past_the_cap_are_not_located_and_later_keys_still_are() -> None:
    tricky = ['"a ] b"', "'[['", '"""x ] "y"""""', "'''z [ '''''", "[1, [2, ']']]", "{ k = ']' }"]
    items = ", ".join(tricky[i % len(tricky)] for i in range(MAX_LOCATED_ITEMS + 50))
    text = f"arr = [ # ] a comment with a bracket\n  {items}\n]\n[after]\nkey = 1\n"
    tomllib.loads(text)  # the scanner only reads text tomllib accepted
    found = toml_positions(text)
    assert ("arr", 0) in found and ("arr", MAX_LOCATED_ITEMS - 1) in found
    assert ("arr", MAX_LOCATED_ITEMS) not in found
    assert found[("after", "key")] == (5, 1)


def test_a_huge_array_of_empty_arrays_is_scanned_to_its_end() -> None:
    text = "k = [" + "[]," * 300_000 + "]\nlast = 2\n"
    found = toml_positions(text)
    assert found[("last",)] == (2, 1)
    assert len(found) == MAX_LOCATED_ITEMS + 2
