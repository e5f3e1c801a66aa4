"""Folder listings kept between processes: a new process reuses a settled folder's listing while
the folder is unchanged, lists it again once it changes, never trusts a damaged or edited store,
and never stores a folder whose entries can change without the folder changing (links)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from config_layers.builder import ConfigBuilder
from config_layers.discovery import listing
from config_layers.discovery.listing import ListingStore, list_folder
from tests.conftest import write_stub_safetensors

ROOT = Path(__file__).resolve().parents[2]

# One lookup in a new process, reporting what it found and which folders it listed.
_LOOKUP = """\
import json, os, sys
from pathlib import Path
from config_layers.discovery.files import FileIndex
from config_layers.discovery.listing import ListingStore
listed = []
real = os.scandir
def scandir(path):
    listed.append(os.fspath(path))
    return real(path)
os.scandir = scandir
store, library, name = sys.argv[1:4]
try:
    found = str(FileIndex([Path(library)], "LoRA", ListingStore(Path(store), keep_from_files=0)).find(name))
except Exception as exc:
    found = type(exc).__name__
print(json.dumps({"found": found, "listed": listed, "msgspec": "msgspec" in sys.modules}))
"""


def _lookup(store: Path, library: Path, name: str) -> dict[str, object]:
    """Find ``name`` in a new process (no listings in memory), with its own environment."""
    environ = {"PATH": os.defpath, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", _LOOKUP, str(store), str(library), name]
    result = subprocess.run(argv, capture_output=True, text=True, env=environ, check=True)
    out: dict[str, object] = json.loads(result.stdout)
    del out["msgspec"]
    return out


def _settle(*folders: Path) -> None:
    past = time.time() - 10
    for folder in folders:
        os.utime(folder, (past, past))


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    library = tmp_path / "Lora"
    for sub in ("a", "b"):
        (library / sub).mkdir(parents=True)
        write_stub_safetensors(library / sub / f"{sub}_one.safetensors", {})
    _settle(library, library / "a", library / "b")
    return library


def test_a_new_process_reuses_the_kept_listing_of_an_unchanged_library(tmp_path: Path, lib: Path) -> None:
    store = tmp_path / "store"
    first = _lookup(store, lib, "b_one")
    assert first["found"] == str(lib / "b" / "b_one.safetensors")
    assert sorted(first["listed"]) == sorted(str(p) for p in (lib, lib / "a", lib / "b"))  # type: ignore[arg-type]
    assert len(list(store.iterdir())) == 1

    second = _lookup(store, lib, "b_one")
    assert second == {"found": str(lib / "b" / "b_one.safetensors"), "listed": []}


def test_a_folder_that_changed_is_listed_again_and_only_it(tmp_path: Path, lib: Path) -> None:
    store = tmp_path / "store"
    _lookup(store, lib, "a_one")
    write_stub_safetensors(lib / "b" / "b_two.safetensors", {})
    _settle(lib / "b")  # its ctime still moved on: the kept listing is not trusted

    again = _lookup(store, lib, "b_two")
    assert again == {"found": str(lib / "b" / "b_two.safetensors"), "listed": [str(lib / "b")]}


def test_a_permission_change_alone_makes_a_folder_listed_again(tmp_path: Path, lib: Path) -> None:
    store = tmp_path / "store"
    _lookup(store, lib, "a_one")
    os.chmod(lib / "a", 0o755)  # ctime moves, mtime does not

    assert _lookup(store, lib, "a_one")["listed"] == [str(lib / "a")]


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda path: path.write_bytes(b"\x00garbage"), id="not msgpack"),
        pytest.param(lambda path: path.write_bytes(path.read_bytes()[:-7]), id="truncated"),
        pytest.param(lambda path: path.write_bytes(msgspec.msgpack.encode({"version": "1"})), id="wrong types"),
        pytest.param(lambda path: path.chmod(0), id="unreadable"),
    ],
)
def test_a_damaged_store_costs_a_listing_never_an_error(tmp_path: Path, lib: Path, damage: object) -> None:
    store = tmp_path / "store"
    _lookup(store, lib, "a_one")
    (kept,) = store.iterdir()
    damage(kept)  # type: ignore[operator]

    again = _lookup(store, lib, "a_one")
    assert again["found"] == str(lib / "a" / "a_one.safetensors")
    if os.geteuid() != 0 or kept.stat().st_mode & 0o444:
        assert str(lib) in again["listed"]  # type: ignore[operator]


def _edited_store(store: Path, lib: Path, folders: dict[str, object]) -> None:
    """Replace the kept listing of ``lib`` with ``folders`` (stamps taken from the real folders)."""
    (kept,) = store.iterdir()
    data = msgspec.msgpack.decode(kept.read_bytes())
    data["folders"] = folders
    kept.write_bytes(msgspec.msgpack.encode(data))


@pytest.mark.parametrize(
    ("stems", "asked"),
    [
        pytest.param({"x": ["../../x.safetensors"]}, "x", id="name leaving its folder"),
        pytest.param({"x": ["sub/x.safetensors"]}, "x", id="name with a folder"),
        pytest.param({".hidden": [".hidden.safetensors"]}, ".hidden", id="hidden name"),
        pytest.param({"x": ["x.txt"]}, "x", id="not a model file"),
        pytest.param({"y": ["x.safetensors"]}, "y", id="stem not of its name"),
    ],
)
def test_an_edited_store_cannot_name_files_the_folder_does_not_hold(
    tmp_path: Path, lib: Path, stems: dict[str, list[str]], asked: str
) -> None:
    store = tmp_path / "store"
    _lookup(store, lib, "a_one")
    st = os.stat(lib / "a")
    listed_ns = time.time_ns()
    _edited_store(
        store, lib, {str(lib): _entry(lib), str(lib / "a"): [st.st_mtime_ns, st.st_ctime_ns, listed_ns, stems, []]}
    )

    assert _lookup(store, lib, asked) == {"found": "NotFoundError", "listed": [str(lib / "b")]}


def _entry(folder: Path) -> list[object]:
    st = os.stat(folder)
    return [st.st_mtime_ns, st.st_ctime_ns, time.time_ns(), {}, sorted(os.listdir(folder))]


def test_a_stored_folder_outside_the_root_is_dropped(tmp_path: Path, lib: Path) -> None:
    store = tmp_path / "store"
    _lookup(store, lib, "a_one")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    st = os.stat(outside)
    entry = [st.st_mtime_ns, st.st_ctime_ns, time.time_ns(), {"x": ["x.safetensors"]}, []]
    _edited_store(store, lib, {str(outside): entry, str(lib) + "/../elsewhere": entry})

    assert ListingStore(store).load(str(lib)) == {}


def test_folders_with_links_or_broken_entries_and_unsettled_folders_are_not_kept(tmp_path: Path, lib: Path) -> None:
    (lib / "c").mkdir()
    os.symlink(lib / "a" / "a_one.safetensors", lib / "c" / "linked.safetensors")
    (lib / "d").mkdir()
    os.symlink("nowhere.safetensors", lib / "d" / "dangling.safetensors")
    (lib / "fresh").mkdir()
    write_stub_safetensors(lib / "fresh" / "new.safetensors", {})
    _settle(lib, lib / "c", lib / "d")
    store = tmp_path / "store"

    _lookup(store, lib, "a_one")
    kept = ListingStore(store).load(str(lib))
    assert sorted(kept) == sorted(str(p) for p in (lib, lib / "a", lib / "b"))
    now = time.time_ns()
    assert list_folder(str(lib / "c"), now, is_root=False).links == {"linked.safetensors"}  # type: ignore[union-attr]


def test_a_builder_keeps_listings_in_its_cache_dir(tmp_path: Path, lib: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listing, "KEEP_FROM_FILES", 1)
    models = tmp_path / "models"
    models.mkdir()
    write_stub_safetensors(models / "base.safetensors", {})
    _settle(models)
    builder = ConfigBuilder(model_dirs=[models], lora_dirs=[lib], profile_dirs=[], environ={}, cache_dir=tmp_path / "c")
    builder.build(model="base", loras=["a_one"])

    assert len(list((tmp_path / "c" / "listings").iterdir())) == 2
    assert _lookup(tmp_path / "c" / "listings", lib, "a_one")["listed"] == []


def test_an_unwritable_cache_dir_is_not_an_error(tmp_path: Path, lib: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert _lookup(blocker / "listings", lib, "a_one")["found"] == str(lib / "a" / "a_one.safetensors")


def test_a_small_library_is_not_kept_and_costs_no_msgspec(tmp_path: Path, lib: Path) -> None:
    script = _LOOKUP.replace("keep_from_files=0", "keep_from_files=3")
    environ = {"PATH": os.defpath, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-c", script, str(tmp_path / "store"), str(lib), "a_one"]
    out = json.loads(subprocess.run(argv, capture_output=True, text=True, env=environ, check=True).stdout)
    assert out["found"] == str(lib / "a" / "a_one.safetensors")
    assert not (tmp_path / "store").exists()
    assert out["msgspec"] is False
