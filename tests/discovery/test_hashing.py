"""The sha256 cache: keyed by path, size and mtime; persisted atomically; timestamps frozen."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from freezegun import freeze_time

from config_layers.discovery.hashing import HashCache, autov2


def test_hash_is_cached_by_path_size_and_mtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"weights" * 1000)
    cache = HashCache(tmp_path / "cache" / "sha256.json")
    expected = hashlib.sha256(model.read_bytes()).hexdigest()
    assert cache.sha256(model) == expected
    calls = []
    real = hashlib.sha256
    monkeypatch.setattr(hashlib, "sha256", lambda *a: calls.append(1) or real(*a))
    assert cache.sha256(model) == expected and calls == []
    model.write_bytes(b"other" * 1000)
    os.utime(model, ns=(1, 1))
    assert cache.sha256(model) == real(b"other" * 1000).hexdigest()
    assert calls == [1]


def test_cache_persists_and_records_when(tmp_path: Path) -> None:
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"x")
    cache_file = tmp_path / "sha256.json"
    with freeze_time("2026-11-23 12:00:00"):
        HashCache(cache_file).hash_many([model])
    saved = json.loads(cache_file.read_text(encoding="utf-8"))
    (entry,) = saved["files"].values()
    assert entry["hashed_at"] == "2026-11-23T12:00:00+00:00"
    assert HashCache(cache_file).cached(model) == hashlib.sha256(b"x").hexdigest()


def test_a_damaged_cache_only_costs_rehashing(tmp_path: Path) -> None:
    cache_file = tmp_path / "sha256.json"
    cache_file.write_text("{not json", encoding="utf-8")
    model = tmp_path / "m.safetensors"
    model.write_bytes(b"x")
    assert HashCache(cache_file).sha256(model) == hashlib.sha256(b"x").hexdigest()


def test_autov2_is_the_first_ten_hex_digits() -> None:
    assert autov2("ABCDEF0123456789" + "0" * 48) == "abcdef0123"
