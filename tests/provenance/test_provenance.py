"""Per-leaf provenance: winners, chains, positions, and the merge laws (hypothesis)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from config_layers.documents import format_key_path
from config_layers.layers.base import Layer, mapped_layer
from config_layers.pipeline.merge import merge_layers
from config_layers.provenance.origin import LAYER_ORDER, Origin
from config_layers.provenance.report import Provenance
from config_layers.schema.config import iter_leaves
from tests.conftest import Library


def test_a_layer_is_the_source_of_what_it_declares_even_when_the_value_is_unchanged(library: Library) -> None:
    library.model("Plain")
    user = library.file("user.toml", "[txt2img]\ncfg_scale = 7.0\n")
    cfg = library.builder(user_file=user).build(model="Plain")
    entry = cfg.provenance["txt2img.cfg_scale"]
    assert entry.layer == "user_file" and entry.value == 7.0
    assert (entry.source, entry.line, entry.column) == (str(user), 2, 1)
    assert [(c.origin.layer, c.value) for c in entry.chain] == [("defaults", 7.0)]


def test_every_layer_in_order_with_env_var_names_and_preset_anchors(rich_library: Library) -> None:
    user = rich_library.file("user.toml", "\n[txt2img]\nsteps = 35\n")
    cfg = rich_library.builder(environ={"STABLENEW_TXT2IMG__STEPS": "40"}, user_file=user).build(
        model="RealVisXL_V4.0", loras=["PerfectEyesXL"], overrides={"txt2img.steps": 50}
    )
    entry = cfg.provenance["txt2img.steps"]
    assert (entry.layer, entry.source, entry.value) == ("overrides", "overrides", 50)
    chain = [(c.origin.layer, c.origin.source, c.origin.line, c.value) for c in entry.chain]
    sidecar = str(rich_library.models / "RealVisXL_V4.0.modelprofile.toml")
    assert chain == [
        ("defaults", str(rich_library.settings), _line_of(rich_library.settings, "steps = 20"), 20),
        ("model_profile", f"{sidecar}#rvxl_photoreal_default", 25, 30),
        ("user_file", str(user), 3, 35),
        ("env", "STABLENEW_TXT2IMG__STEPS", None, 40),
    ]


def test_lora_weight_provenance_names_the_rule_and_the_line(rich_library: Library) -> None:
    cfg = rich_library.builder().build(model="RealVisXL_V4.0", loras=["PerfectEyesXL", "NoProfileLora"])
    eyes = cfg.provenance["loras.PerfectEyesXL.weight"]
    assert eyes.value == 0.55 and eyes.layer == "lora_overlays"
    assert eyes.origin.rule is not None and eyes.origin.rule.startswith("preset_overlay")
    assert eyes.line == 31
    plain = cfg.provenance["loras.NoProfileLora.weight"]
    assert plain.value == 0.6 and plain.source == "default LoRA weight"


def test_explain_a_table_lists_every_leaf_below_it(rich_library: Library) -> None:
    cfg = rich_library.builder().build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"])
    text = cfg.explain("loras")
    assert "loras.PerfectEyesXL.weight = 0.55" in text and "rule  preset_overlay" in text
    text = cfg.explain("txt2img.cfg_scale")
    assert text.splitlines()[0] == "txt2img.cfg_scale = 6.5"
    assert "overrode (oldest first):" in text and "defaults, " in text


def test_unknown_key_in_provenance_suggests_the_right_one(library: Library) -> None:
    cfg = library.builder().build()
    try:
        cfg.explain("txt2img.cfg")
    except KeyError as exc:
        assert "did you mean 'txt2img.cfg_scale'" in str(exc)
    else:
        raise AssertionError("expected a KeyError")


def test_secrets_are_redacted_in_every_dump(library: Library) -> None:
    from config_layers.output import dumps

    cfg = library.builder(environ={"STABLENEW_WEBUI__PASSWORD": "hunter2"}).build()
    assert cfg.webui.password.get_secret_value() == "hunter2"
    assert "hunter2" not in dumps.to_json(cfg)
    assert "hunter2" not in dumps.to_toml(cfg)
    assert "hunter2" not in cfg.explain("webui")
    assert cfg.provenance["webui.password"].source == "STABLENEW_WEBUI__PASSWORD"


def _layer(name: Any, data: dict[str, Any]) -> Layer:
    return mapped_layer(name, data, {}, fallback=Origin(name, f"{name}-source"))


def test_whole_table_replacement_is_recorded_in_the_chain() -> None:
    layers = [
        _layer("defaults", {"a": {"b": 1, "c": 2}}),
        _layer("user_file", {"a": 5}),
    ]
    merged, history = merge_layers(layers)
    assert merged == {"a": 5}
    prov = Provenance(history, dict(iter_leaves(merged)), Origin("defaults", "schema"))
    chain = prov["a"].chain
    assert [(c.path, c.kind, c.value) for c in chain] == [("a.b", "replaced", 1), ("a.c", "replaced", 2)]
    layers = [_layer("defaults", {"a": 5}), _layer("env", {"a": {"b": 1}})]
    merged, history = merge_layers(layers)
    prov = Provenance(history, dict(iter_leaves(merged)), Origin("defaults", "schema"))
    assert [(c.path, c.kind) for c in prov["a.b"].chain] == [("a", "replaced")]


def test_deletions_are_recorded() -> None:
    base = _layer("defaults", {"loras": {"x": {"weight": 1.0}, "y": {"weight": 0.5}}})
    deleting = Layer(
        "lora_overlays",
        {},
        base.origin_of,
        removals=((("loras", "x"), Origin("lora_overlays", "stack.toml")),),
    )
    merged, history = merge_layers([base, deleting])
    assert merged == {"loras": {"y": {"weight": 0.5}}}
    prov = Provenance(history, dict(iter_leaves(merged)), Origin("defaults", "schema"))
    assert "loras.x.weight" not in prov
    text = prov.explain("loras.x")
    assert "loras.x: not in the config (deleted by lora_overlays, stack.toml)" in text


def test_keys_fold_case_the_way_dynaconf_merges_them() -> None:
    merged, history = merge_layers(
        [
            _layer("lora_overlays", {"loras": {"PerfectEyesXL": {"weight": 0.6}}}),
            _layer("env", {"loras": {"perfecteyesxl": {"weight": 0.8}}}),
        ]
    )
    assert merged == {"loras": {"PerfectEyesXL": {"weight": 0.8}}}
    assert history[("loras", "PerfectEyesXL", "weight")][-1].layer.name == "env"


# -- laws, over random layer stacks ---------------------------------------------------------

KEYS = st.sampled_from(["a", "b", "c", "A", "steps", "loras"])
SCALARS = st.one_of(st.integers(-5, 5), st.booleans(), st.text(max_size=3), st.floats(allow_nan=False, width=16))
VALUES = st.recursive(
    st.one_of(SCALARS, st.lists(SCALARS, max_size=3)),
    lambda children: st.dictionaries(KEYS, children, max_size=3),
    max_leaves=8,
)
TABLES = st.dictionaries(KEYS, VALUES, max_size=4)


def _fold_unique(data: Any) -> bool:
    """Keys of one table may not differ only in case (the merge refuses such a layer)."""
    if not isinstance(data, dict):
        return True
    folded = [k.lower() for k in data]
    return len(set(folded)) == len(folded) and all(_fold_unique(v) for v in data.values())


STACKS = st.lists(TABLES.filter(_fold_unique), min_size=1, max_size=6)


def _naive_merge(old: Any, new: Any) -> Any:
    """The documented semantics, independently: tables merge deeply (keys folding case to the
    first spelling seen), everything else is replaced whole."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return json.loads(json.dumps(new))
    out = dict(old)
    for key, value in new.items():
        existing = next((k for k in out if k.lower() == key.lower()), key)
        out[existing] = _naive_merge(out.get(existing), value) if existing in out else _naive_merge(None, value)
    return out


def _get(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@settings(max_examples=300, deadline=None)
@given(STACKS)
def test_recorded_winner_equals_merged_value_for_every_leaf(stack: list[dict[str, Any]]) -> None:
    names = LAYER_ORDER[-len(stack) :]
    layers = [_layer(name, data) for name, data in zip(names, stack, strict=True)]
    merged, history = merge_layers(layers)
    expected: Any = {}
    for data in stack:
        expected = _naive_merge(expected, data)
    assert json.dumps(merged, sort_keys=True) == json.dumps(expected, sort_keys=True)
    leaves = dict(iter_leaves(merged))
    prov = Provenance(history, leaves, Origin("defaults", "schema"))
    declared = [{tuple(k.lower() for k in path) for path, _ in iter_leaves(data)} for data in stack]
    for path, value in leaves.items():
        entry = prov[format_key_path(path, plain=True)]
        assert json.dumps(entry.value) == json.dumps(value)
        assert json.dumps(_get(merged, path)) == json.dumps(entry.value)
        folded = tuple(k.lower() for k in path)
        expected = max(i for i, leaves_of in enumerate(declared) if folded in leaves_of)
        assert entry.layer == names[expected], (path, entry.layer, names[expected])
        assert all(c.origin.layer in names for c in entry.chain)


@settings(max_examples=200, deadline=None)
@given(STACKS, TABLES.filter(_fold_unique))
def test_overrides_always_win(stack: list[dict[str, Any]], overrides: dict[str, Any]) -> None:
    names = LAYER_ORDER[-len(stack) - 1 : -1] if len(stack) < 6 else LAYER_ORDER[:5]
    layers = [_layer(name, data) for name, data in zip(names, stack[:5], strict=False)]
    layers.append(_layer("overrides", overrides))
    merged, history = merge_layers(layers)
    prov = Provenance(history, dict(iter_leaves(merged)), Origin("defaults", "schema"))
    for path, value in iter_leaves(overrides):
        canonical = format_key_path(path, plain=True)
        matches = [key for key in prov if key.lower() == canonical.lower()]
        if isinstance(value, dict) and not value:
            continue  # an empty table declares no leaf
        assert len(matches) == 1, (canonical, list(prov))
        entry = prov[matches[0]]
        assert entry.layer == "overrides"
        assert entry.value == value


def _line_of(path: Path, text: str) -> int:
    """The 1-based line of ``text`` in ``path`` (the shipped settings file grows)."""
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if line.startswith(text))
