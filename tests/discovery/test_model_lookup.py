"""Finding the model file: a WebUI hash suffix on the name, and matching by hash with a persisted cache."""

from __future__ import annotations

import json

from tests.conftest import MODEL_TOML, Library, write_stub_safetensors


def test_short_webui_hash_suffix(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    assert library.builder().build(model="RealVisXL_V4.0.safetensors [abc123]").model == "RealVisXL_V4.0.safetensors"


def test_matching_by_hash_persists_the_cache(library: Library) -> None:
    checkpoint = write_stub_safetensors(library.models / "x.safetensors", {"a": "b"})
    cache = library.root / "cache" / "sha256.json"
    library.builder(match_by_hash=True, hash_cache_file=cache).build(model="x")
    saved = json.loads(cache.read_text(encoding="utf-8"))
    assert str(checkpoint.resolve()) in saved["files"]
