"""Finding model and LoRA files: hostile folder layouts, names no file can have, links out of
the library, and an index that stays fresh without re-listing the whole library."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from config_layers.cli import app
from config_layers.discovery.files import FileIndex
from config_layers.errors import ConfigError, NotFoundError
from config_layers.scan import Scanner
from tests.conftest import MODEL_TOML, Library, write_stub_safetensors

runner = CliRunner()


def _settle(*folders: Path) -> None:
    """Date folders 10 s back, as a library untouched for a while is (their listings are then final)."""
    past = time.time() - 10
    for folder in folders:
        for current, dirs, _ in os.walk(folder):
            for name in [".", *dirs]:
                os.utime(os.path.join(current, name), (past, past), follow_symlinks=False)


@pytest.fixture
def counted_scandir(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every folder the index lists, in order."""
    listed: list[str] = []
    real = os.scandir

    def scandir(path: Any) -> Any:
        listed.append(os.fspath(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    return listed


@pytest.mark.parametrize(
    "make_broken",
    [
        pytest.param(lambda d: os.symlink("bad.safetensors", d / "bad.safetensors"), id="looping link"),
        pytest.param(lambda d: os.symlink("nowhere.safetensors", d / "bad.safetensors"), id="dangling link"),
        pytest.param(
            lambda d: (os.symlink("b.safetensors", d / "bad.safetensors"), os.symlink("bad.safetensors", d / "b.x")),
            id="two-link loop",
        ),
    ],
)
def test_a_broken_entry_spoils_only_itself(library: Library, make_broken: Callable[[Path], object]) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    library.lora("good")
    (library.loras / "deep" / "er").mkdir(parents=True)
    make_broken(library.loras / "deep" / "er")
    config = library.builder().build(model="RealVisXL_V4.0", loras=["good"])
    assert "good" in config.loras
    with pytest.raises(NotFoundError, match=r"bad\.safetensors: a (symlink loop|link to nothing)"):
        library.builder().build(model="RealVisXL_V4.0", loras=["bad"])
    lenient = library.builder(lenient=True).build(model="RealVisXL_V4.0", loras=["bad"])
    assert any("bad.safetensors" in warning for warning in lenient.warnings)
    entries = Scanner().scan([library.loras])
    assert [e.path.name for e in entries] == ["good.safetensors", "bad.safetensors"]
    assert entries[1].problems and "skipped" in entries[1].problems[0]


def test_a_build_names_a_broken_entry_only_when_it_is_the_file_asked_for(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    library.lora("good")
    os.symlink("bad.safetensors", library.loras / "bad.safetensors")
    lenient = library.builder(lenient=True).build(model="RealVisXL_V4.0", loras=["good", "other"])
    assert not any("bad.safetensors" in warning for warning in lenient.warnings)
    assert any("'other' not found" in warning for warning in lenient.warnings)


def test_folders_that_cannot_be_listed_or_entered_are_skipped_and_reported(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tests run as root here, where permissions do not bite: the OS answers are simulated.
    library.model("RealVisXL_V4.0", MODEL_TOML)
    library.lora("good")
    locked, shut = library.loras / "locked", library.loras / "shut"
    write_stub_safetensors(locked / "hidden.safetensors")
    write_stub_safetensors(shut / "inside.safetensors")
    real_scandir, real_access = os.scandir, os.access

    def scandir(path: Any) -> Any:
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    def access(path: Any, mode: int, **kwargs: Any) -> bool:
        return os.fspath(path) != str(shut) and real_access(path, mode, **kwargs)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "access", access)
    assert "good" in library.builder().build(model="RealVisXL_V4.0", loras=["good"]).loras
    with pytest.raises(NotFoundError, match=r"inside\.safetensors: its folder cannot be entered"):
        library.builder().build(model="RealVisXL_V4.0", loras=["inside"])
    with pytest.raises(NotFoundError, match=r"locked: folder cannot be listed"):
        library.builder().build(model="RealVisXL_V4.0", loras=["hidden"])
    problems = {e.path.name: e.problems for e in Scanner().scan([library.loras])}
    assert "cannot be entered" in problems["inside.safetensors"][0]
    assert "cannot be listed" in problems["locked"][0]
    assert problems["good.safetensors"] == []


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("a/\x00b", "contains a NUL character"),
        ("x\x00", "contains a NUL character"),
        ("d/" * 2100 + "x", "over the 4096-byte path limit"),
        ("x" * 300, "over the 255-byte file name limit"),
        ("sub/" + "y" * 256, "over the 255-byte file name limit"),
        ("\ud800", "not encodable"),
    ],
)
@pytest.mark.parametrize("what", ["model", "lora"])
def test_names_no_file_can_have_are_clear_errors(library: Library, name: str, message: str, what: str) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    kwargs: dict[str, Any] = {"model": name} if what == "model" else {"model": "RealVisXL_V4.0", "loras": [name]}
    with pytest.raises(ConfigError, match=message) as caught:
        library.builder(lenient=True).build(**kwargs)
    assert len(str(caught.value)) < 400  # a long name is shortened, not echoed whole


def test_names_over_the_os_limits_exit_2_in_the_cli(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    for args in (["--lora", "l/" * 2100], ["--model", "m" * 300]):
        result = runner.invoke(
            app, ["build", "--models-dir", str(library.models), "--loras-dir", str(library.loras), *args]
        )
        assert result.exit_code == 2, result.output
        assert "limit" in result.stderr and "Traceback" not in result.output


def test_a_relative_name_through_a_symlink_loop_is_a_clear_error(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    sub = library.loras / "sub"
    sub.mkdir()
    os.symlink("loop_a.safetensors", sub / "loop_a.safetensors")
    os.symlink("loop_b", sub / "loop_b")
    for name in ("sub/loop_a", "sub/loop_b/x"):
        with pytest.raises(NotFoundError) as caught:
            library.builder().build(model="RealVisXL_V4.0", loras=[name])
        assert name in str(caught.value)
    with pytest.raises(NotFoundError, match=r"loop_a\.safetensors: a symlink loop"):
        FileIndex([library.loras], "LoRA").find("sub/loop_a")
    result = runner.invoke(
        app, ["build", "--models-dir", str(library.models), "--loras-dir", str(library.loras), "--lora", "sub/loop_a"]
    )
    assert result.exit_code == 2 and "symlink loop" in result.stderr


def test_a_link_out_of_the_folders_is_refused_like_a_stack_file_entry(library: Library, tmp_path: Path) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    outside = write_stub_safetensors(tmp_path / "elsewhere" / "secret.safetensors")
    os.symlink(outside, library.loras / "link_out.safetensors")
    os.symlink(outside, library.models / "model_out.safetensors")
    os.symlink(library.loras / "inner_target.x", library.loras / "link_in.safetensors")
    write_stub_safetensors(library.loras / "inner_target.x")
    with pytest.raises(ConfigError, match=r"link_out\.safetensors' is a link to .*outside the LoRA directories"):
        library.builder().build(model="RealVisXL_V4.0", loras=["link_out"])
    with pytest.raises(ConfigError, match="outside the LoRA directories"):
        library.builder(lenient=True).build(model="RealVisXL_V4.0", loras=["link_out.safetensors"])
    with pytest.raises(ConfigError, match="outside the model directories"):
        library.builder().build(model="model_out")
    stack = library.loras / "s.lorastack.toml"
    stack.write_text('[[loras]]\nname = "x"\nfile = "link_out.safetensors"\nscale = 0.5\napplies_to = ["txt2img"]\n')
    with pytest.raises(ConfigError, match="outside the LoRA directories"):
        library.builder().build(model="RealVisXL_V4.0", lora_stack="s")
    config = library.builder().build(model="RealVisXL_V4.0", loras=["link_in"])
    assert config.loras["link_in"].path == str(library.loras / "link_in.safetensors")


def test_a_new_file_is_found_at_once_and_a_removed_one_is_noticed(library: Library) -> None:
    index = FileIndex([library.loras], "LoRA")
    first = library.lora("first")
    assert index.find("first") == first
    second = write_stub_safetensors(library.loras / "sub" / "second.safetensors")
    assert index.find("second") == second  # same instant: the folder is still re-listed on a miss
    moved = write_stub_safetensors(library.loras / "other" / "first.safetensors")
    first.unlink()
    assert index.find("first") == moved
    moved.unlink()
    with pytest.raises(NotFoundError):
        index.find("first")


def test_missing_names_do_not_relist_a_settled_library(library: Library, counted_scandir: list[str]) -> None:
    for index in range(30):
        write_stub_safetensors(library.loras / f"set{index % 3}" / f"l{index}.safetensors")
    _settle(library.loras)
    counted_scandir.clear()  # os.walk lists folders too
    index = FileIndex([library.loras], "LoRA")
    assert index.find("l7").name == "l7.safetensors"
    assert len(counted_scandir) == 4  # the root and its three folders, once
    for _ in range(5):
        with pytest.raises(NotFoundError):
            index.find("missing")
    assert len(counted_scandir) == 4
    added = write_stub_safetensors(library.loras / "set1" / "missing.safetensors")
    assert index.find("missing") == added
    assert counted_scandir[4:] == [str(library.loras / "set1")]  # only the folder that changed
    assert FileIndex([library.loras], "LoRA").find("l8").name == "l8.safetensors"  # shared: no new listing
    assert len(counted_scandir) == 5


def test_lookups_fold_case_and_refuse_ambiguity(library: Library) -> None:
    write_stub_safetensors(library.loras / "a" / "Same.safetensors")
    write_stub_safetensors(library.loras / "b" / "same.ckpt")
    write_stub_safetensors(library.loras / "Unique.safetensors")
    index = FileIndex([library.loras], "LoRA")
    assert index.find("unique") == library.loras / "Unique.safetensors"
    assert index.find("Same") == library.loras / "a" / "Same.safetensors"  # an exact match wins
    with pytest.raises(ConfigError, match="ambiguous"):
        index.find("SAME")
    assert index.find("b/same") == (library.loras / "b" / "same.ckpt").resolve()


def test_paths_are_spelled_below_the_folder_as_given(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    write_stub_safetensors(library.loras / "sub" / "x.safetensors")
    monkeypatch.chdir(library.root)
    assert FileIndex([Path("loras")], "LoRA").find("x") == Path("loras/sub/x.safetensors")
    assert FileIndex([library.loras], "LoRA").find("x") == library.loras / "sub" / "x.safetensors"
    assert FileIndex([Path("loras")], "LoRA").files()[0] == [Path("loras/sub/x.safetensors")]


def test_threads_share_the_index_while_files_are_added(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    library.lora("base")
    errors: list[BaseException] = []

    def build(index: int) -> None:
        try:
            for round_ in range(10):
                write_stub_safetensors(library.loras / f"t{index}" / f"new_{index}_{round_}.safetensors")
                config = library.builder().build(model="RealVisXL_V4.0", loras=["base", f"new_{index}_{round_}"])
                assert f"new_{index}_{round_}" in config.loras
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_a_folder_named_twice_is_searched_once(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    write_stub_safetensors(library.loras / "x.safetensors")
    monkeypatch.chdir(library.root)
    assert FileIndex([Path("loras"), library.loras], "LoRA").find("x") == Path("loras/x.safetensors")
    assert FileIndex([Path("loras"), library.loras], "LoRA").files()[0] == [Path("loras/x.safetensors")]


def test_a_name_found_once_is_checked_with_one_stat_until_its_file_or_folder_changes(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_stub_safetensors(library.loras / "a" / "one.safetensors")
    write_stub_safetensors(library.loras / "b" / "two.safetensors")
    _settle(library.loras)
    assert FileIndex([library.loras], "LoRA").find_entry("one") == (library.loras / "a" / "one.safetensors", False)
    stats: list[str] = []
    real = os.stat

    def counted(path: Any, *args: Any, **kwargs: Any) -> Any:
        stats.append(os.fspath(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counted)
    other = FileIndex([library.loras], "LoRA")  # another builder's index of the same folder
    assert other.find("one") == library.loras / "a" / "one.safetensors"
    assert stats == [str(library.loras / "a" / "one.safetensors")]

    (library.loras / "a" / "one.safetensors").unlink()
    moved = write_stub_safetensors(library.loras / "b" / "one.safetensors")
    assert other.find("one") == moved


def test_a_link_in_the_library_is_reported_as_one(library: Library) -> None:
    target = write_stub_safetensors(library.loras / "sub" / "real.safetensors")
    os.symlink(target, library.loras / "alias.safetensors")
    assert FileIndex([library.loras], "LoRA").find_entry("alias") == (library.loras / "alias.safetensors", True)
    assert FileIndex([library.loras], "LoRA").find_entry("sub/real")[1] is None  # a path: not looked up by name
