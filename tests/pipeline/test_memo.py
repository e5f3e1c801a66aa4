"""The build memo: the pure part of a build is remembered by what the build read, a repeated
build hands out its own objects, and any change in what was read (a file, the environment, the
call, the working folder) gives a new result."""

from __future__ import annotations

import dataclasses
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config_layers.pipeline.memo import BuildMemo, Unkeyable, input_key
from config_layers.resolve.resolver import Found
from tests.conftest import LORA_TOML, MODEL_TOML, Library


def _settle(root: Path) -> None:
    """Date every file and folder 10 s back: caches then hand out the same parsed objects."""
    past = time.time() - 10
    for current, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            os.utime(os.path.join(current, name), (past, past), follow_symlinks=False)
    os.utime(root, (past, past))


@pytest.fixture
def settled(rich_library: Library) -> Library:
    rich_library.file("user.toml", "[txt2img]\nseed = 5\n")
    _settle(rich_library.root)
    return rich_library


def _counted(fn: Callable[..., Any]) -> tuple[Callable[..., Any], list[int]]:
    calls: list[int] = []

    def counted(*args: Any) -> Any:
        calls.append(1)
        return fn(*args)

    return counted, calls


class _Loaded:
    """Stands for a parsed file: one object per file version, never changed."""

    memo_by_identity: ClassVar[bool] = True


@dataclasses.dataclass
class _Plan:
    names: list[str]
    profile: _Loaded


def test_equal_inputs_are_computed_once_and_changed_inputs_again() -> None:
    memo = BuildMemo()
    fn, calls = _counted(lambda plan, env: (plan.names[:], env))
    profile = _Loaded()
    assert memo.call(fn, _Plan(["a"], profile), {"x": 1}) == (["a"], {"x": 1})
    assert memo.call(fn, _Plan(["a"], profile), {"x": 1}) == (["a"], {"x": 1})
    assert len(calls) == 1
    memo.call(fn, _Plan(["a", "b"], profile), {"x": 1})
    memo.call(fn, _Plan(["a"], profile), {"x": 2})
    memo.call(fn, _Plan(["a"], _Loaded()), {"x": 1})  # another file version: another object
    assert len(calls) == 4


def test_an_object_keyed_by_identity_is_kept_alive_with_its_entry() -> None:
    pins: list[object] = []
    loaded = _Loaded()
    key = input_key(_Plan([], loaded), pins)
    assert pins == [loaded]
    assert key == input_key(_Plan([], loaded), [])


def test_functions_are_keyed_by_their_code_and_what_they_captured() -> None:
    def make(value: object) -> Callable[[], object]:
        return lambda: value

    assert input_key(make(1), []) == input_key(make(1), [])
    assert input_key(make(1), []) != input_key(make(2), [])
    assert input_key(make(1), []) != input_key(lambda: 1, [])


def test_an_object_the_key_cannot_vouch_for_is_computed_without_the_memo() -> None:
    class Mutable:  # could change without its identity changing
        value = 1

    memo = BuildMemo()
    fn, calls = _counted(lambda thing: thing.value)
    thing = Mutable()
    memo.call(fn, thing)
    thing.value = 2
    assert memo.call(fn, thing) == 2
    assert len(calls) == 2
    with pytest.raises(Unkeyable):
        input_key(thing, [])


def test_the_memo_is_bounded() -> None:
    memo = BuildMemo(max_entries=3)
    fn, calls = _counted(lambda n: n)
    for n in (1, 2, 3, 4, 1):
        memo.call(fn, n)
    assert len(calls) == 5  # 1 was dropped when 4 came


def test_the_memo_is_bounded_by_weight_and_never_keeps_one_too_heavy() -> None:
    memo = BuildMemo(weigh=len, max_weight=5)
    fn, calls = _counted(lambda text: text)
    memo.call(fn, "abc")
    memo.call(fn, "de")
    memo.call(fn, "abc")
    assert len(calls) == 2  # both fit: 3 + 2
    memo.call(fn, "f")  # 6 > 5: the least recently used ("de") goes
    memo.call(fn, "abc")
    memo.call(fn, "de")
    assert len(calls) == 4
    memo.call(fn, "abcdef")
    memo.call(fn, "abcdef")
    assert len(calls) == 6  # heavier than the whole memo: computed each time


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)


@given(_VALUES, _VALUES)
def test_plain_data_keys_are_equal_exactly_when_the_data_is(a: Any, b: Any) -> None:
    same = type(a) is type(b) and _typed(a) == _typed(b)
    assert (input_key(a, []) == input_key(b, [])) == same


def _typed(value: Any) -> Any:
    """``value`` with every leaf tagged by its type (1 == 1.0 == True to Python, not to a build)."""
    if isinstance(value, list):
        return ("list", [_typed(v) for v in value])
    if isinstance(value, dict):
        return ("dict", [(k, _typed(v)) for k, v in value.items()])
    return (type(value), value)


def test_a_repeated_build_hands_out_independent_configs(settled: Library) -> None:
    builder = settled.builder(user_file=settled.root / "user.toml")
    first = builder.build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"])
    first.txt2img.steps = 99
    first.loras["PerfectEyesXL"].weight = 0.01
    first.report.warnings.append("changed by the caller")

    second = builder.build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"])
    assert second is not first
    assert (second.txt2img.steps, second.loras["PerfectEyesXL"].weight) == (30, 0.55)
    assert "changed by the caller" not in second.report.warnings
    assert second.provenance["txt2img.steps"].source.endswith("RealVisXL_V4.0.modelprofile.toml#rvxl_photoreal_default")


def test_a_changed_sidecar_environment_or_call_gives_a_new_result(settled: Library) -> None:
    environ: dict[str, str] = {}
    builder = settled.builder(user_file=settled.root / "user.toml", environ=environ)
    assert builder.build(model="RealVisXL_V4.0").txt2img.steps == 30

    environ["STABLENEW_TXT2IMG__STEPS"] = "41"
    assert builder.build(model="RealVisXL_V4.0").txt2img.steps == 41
    assert builder.build(model="RealVisXL_V4.0", overrides={"txt2img.steps": 42}).txt2img.steps == 42
    del environ["STABLENEW_TXT2IMG__STEPS"]

    sidecar = settled.models / "RealVisXL_V4.0.modelprofile.toml"
    sidecar.write_text(MODEL_TOML.replace("steps = 30", "steps = 33"), encoding="utf-8")
    assert builder.build(model="RealVisXL_V4.0").txt2img.steps == 33
    (settled.loras / "PerfectEyesXL.loraprofile.toml").write_text(LORA_TOML.replace("perfecteyes", "eyes2"))
    built = builder.build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"])
    assert built.loras["PerfectEyesXL"].trigger == "eyes2"


def test_paths_in_notes_are_shown_from_the_working_folder_of_each_build(
    settled: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    sidecar = settled.models / "RealVisXL_V4.0.modelprofile.toml"
    sidecar.write_text(MODEL_TOML.replace('base_type = "sdxl"', 'base_type = "sdxl"\ndefault_refiner_id = "r1"'))
    _settle(settled.root)
    builder = settled.builder(user_file=settled.root / "user.toml")

    def refiner_note() -> str:
        layers = builder.build(model="RealVisXL_V4.0").report.layers
        return next(note for layer in layers for note in layer.notes if "r1" in note)

    monkeypatch.chdir(settled.root)
    assert "models/RealVisXL_V4.0.modelprofile.toml" in refiner_note()
    monkeypatch.chdir(settled.models)
    assert "models/" not in refiner_note()
    assert "RealVisXL_V4.0.modelprofile.toml" in refiner_note()


# What runs after the reads (the memo's pure part): none of it may look at the reads themselves.
_PURE_PART = ["plan.py", "layers", "pipeline", "provenance", "schema", "output", "prompts", "profiles", "learning"]


def test_the_pure_part_of_a_build_never_looks_at_the_per_build_reads() -> None:
    package = Path(__file__).resolve().parents[2] / "config_layers"
    reads = re.compile(r"\.(headers|stats|listings)\b|\bfolder_names\(")
    offending = [
        f"{path.relative_to(package)}:{number}"
        for part in _PURE_PART
        for path in ([package / part] if part.endswith(".py") else sorted((package / part).rglob("*.py")))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if reads.search(line)
    ]
    assert offending == []


def test_found_is_keyed_by_what_it_found_not_by_its_reads() -> None:
    one, two = Found(notes=["n"]), Found(notes=["n"])
    two.stats["x"] = (1, 2, 3)
    two.listings["folder"] = frozenset({"a"})
    assert input_key(one, []) == input_key(two, [])
    assert input_key(one, []) != input_key(Found(notes=["other"]), [])
