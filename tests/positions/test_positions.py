"""Key positions in TOML and JSON: hand cases and a property over generated documents."""

from __future__ import annotations

import json
from typing import Any

import tomlkit
from hypothesis import given, settings
from hypothesis import strategies as st

from config_layers.positions import json_positions, toml_positions

TRICKY = """\
# comment with = and [brackets]
a = 1 # trailing
"quoted.key" = 'lit'
[t]
b.c = "x#y\\"z"
'q k' = [1, {z = 2},
  3]
ml = \"\"\"
line [not a table]
still = "string\"\"\"
[[arr]]
x = '''raw
'''
[[arr]]
x = 2
[arr.sub]
when = 1979-05-27 07:32:00Z
"""


def test_tricky_toml() -> None:
    found = toml_positions(TRICKY)
    assert found[("a",)] == (2, 1)
    assert found[("quoted.key",)] == (3, 1)
    assert found[("t", "b", "c")] == (5, 1)
    assert found[("t", "q k", 1, "z")] == (6, 14)
    assert found[("t", "q k", 2)] == (7, 3)
    assert found[("t", "ml")] == (8, 1)
    assert ("line",) not in found and ("still",) not in found
    assert found[("arr", 0, "x")] == (12, 1)
    assert found[("arr", 1, "x")] == (15, 1)
    assert found[("arr", 1, "sub", "when")] == (17, 1)


def test_json_positions() -> None:
    text = '{\n  "a": [1, {"b": "}"}],\n  "c": {"d": null}\n}'
    found = json_positions(text)
    assert found[("a",)] == (2, 3)
    assert found[("a", 1, "b")] == (2, 13)
    assert found[("c", "d")] == (3, 9)


NAMES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=6)
SCALARS = st.one_of(st.integers(), st.booleans(), st.text(max_size=8), st.floats(allow_nan=False, allow_infinity=False))
DATA = st.recursive(
    st.one_of(SCALARS, st.lists(SCALARS, max_size=3)),
    lambda children: st.dictionaries(NAMES, children, min_size=1, max_size=3),
    max_leaves=12,
)
DOCS = st.dictionaries(NAMES, DATA, max_size=5)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append((*prefix, key))
            out += _paths(value, (*prefix, key))
    return out


@settings(max_examples=150, deadline=None)
@given(DOCS)
def test_every_key_of_a_generated_toml_document_is_found_on_its_line(doc: dict[str, Any]) -> None:
    text = tomlkit.dumps(doc)
    lines = text.splitlines()
    found = toml_positions(text)
    for path in _paths(doc):
        assert path in found, (path, text)
        line, column = found[path]
        assert 1 <= line <= len(lines) and column >= 1


@settings(max_examples=150, deadline=None)
@given(DOCS)
def test_every_key_of_a_generated_json_document_is_found_at_its_quote(doc: dict[str, Any]) -> None:
    text = json.dumps(doc, indent=2)
    lines = text.splitlines()
    found = json_positions(text)
    for path in _paths(doc):
        line, column = found[path]
        assert lines[line - 1][column - 1] == '"'
        assert lines[line - 1][column:].startswith(json.dumps(path[-1])[1:])
