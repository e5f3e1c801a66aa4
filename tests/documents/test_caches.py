"""File caches: keyed by path + stat, bounded, not trusting a file changed a moment before its
reading, and shared by the builders of a process."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import config_layers.builder as builder_module
from config_layers.cache import FileCache, IdentityMemo
from config_layers.documents import read_document
from tests.conftest import MODEL_TOML, Library


def _age(path: Path, seconds: float = 10) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


def _counting(calls: list[Path]) -> FileCache[str]:
    def load(path: Path) -> str:
        calls.append(path)
        return path.read_text(encoding="utf-8")

    return FileCache(load, max_entries=2)


def test_a_settled_file_is_read_once_until_its_stat_changes(tmp_path: Path) -> None:
    calls: list[Path] = []
    cache = _counting(calls)
    path = tmp_path / "a.txt"
    path.write_text("one", encoding="utf-8")
    _age(path)
    assert cache.get(path) == cache.get(path) == "one"
    assert calls == [path]
    path.write_text("two!", encoding="utf-8")
    _age(path, 5)
    assert cache.get(path) == "two!" and len(calls) == 2


def test_a_file_changed_a_moment_ago_is_read_every_time(tmp_path: Path) -> None:
    # Within one mtime tick a rewrite of the same size keeps the stat: such a file is not kept.
    calls: list[Path] = []
    cache = _counting(calls)
    path = tmp_path / "fresh.txt"
    path.write_text("abc", encoding="utf-8")
    cache.get(path)
    path.write_text("xyz", encoding="utf-8")
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns))
    assert cache.get(path) == "xyz" and len(calls) == 2 and len(cache) == 0


def test_the_cache_is_bounded_least_recently_used_first(tmp_path: Path) -> None:
    calls: list[Path] = []
    cache = _counting(calls)
    paths = [tmp_path / f"{n}.txt" for n in range(3)]
    for path in paths:
        path.write_text(path.stem, encoding="utf-8")
        _age(path)
    cache.get(paths[0])
    cache.get(paths[1])
    cache.get(paths[0])  # 1 is now the least recently used
    cache.get(paths[2])
    assert len(cache) == 2
    calls.clear()
    cache.get(paths[0])
    cache.get(paths[1])
    assert calls == [paths[1]]


def test_a_fresh_builder_reuses_what_another_builder_parsed(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    settings = library.file("settings.toml", (library.settings).read_text(encoding="utf-8"))
    user = library.file("user.toml", "[txt2img]\nsteps = 33\n")
    for path in (settings, user, library.models / "RealVisXL_V4.0.modelprofile.toml"):
        _age(path)
    reads: list[Path] = []
    real = read_document

    def counting(path: Path, **kwargs: object) -> object:
        reads.append(path)
        return real(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builder_module, "read_document", counting)
    first = library.builder(settings_file=settings, user_file=user).build(model="RealVisXL_V4.0")
    assert sorted(reads) == sorted([settings, user])
    second = library.builder(settings_file=settings, user_file=user).build(model="RealVisXL_V4.0")
    assert second.txt2img.steps == first.txt2img.steps == 33
    assert len(reads) == 2
    user.write_text("[txt2img]\nsteps = 44\n", encoding="utf-8")
    _age(user, 5)
    assert library.builder(settings_file=settings, user_file=user).build(model="RealVisXL_V4.0").txt2img.steps == 44


def test_identity_memo_reuses_results_for_the_same_objects_only() -> None:
    calls: list[tuple[object, ...]] = []

    def combine(name: str, parts: list[object], *, extra: object = None) -> tuple[object, ...]:
        calls.append((name, *parts))
        return (name, *parts, extra)

    memo = IdentityMemo(max_entries=2)
    a, b = object(), object()
    first = memo.call(combine, "x", [a, b])
    assert memo.call(combine, "x", [a, b]) is first and len(calls) == 1
    assert memo.call(combine, "x", [b, a]) is not first  # another order, another result
    assert memo.call(combine, "x", [a, object()]) != first  # an equal-looking new object is not trusted
    assert memo.call(combine, "x", [a, b], extra=1)[-1] == 1
    assert len(calls) == 4 and len(memo._entries) == 2
