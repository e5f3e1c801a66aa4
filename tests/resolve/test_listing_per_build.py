"""A folder of LoRAs changed seconds ago is not cached across builds, but one build lists it once."""

from __future__ import annotations

import os

import pytest

from config_layers.discovery import neighbors
from tests.conftest import Library


def test_a_fresh_folder_is_listed_once_per_build(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    library.model("base")
    names = [f"l{i}" for i in range(12)]
    for name in names:
        library.lora(name)
    listed: list[str] = []
    real = os.listdir

    def counting(path: str) -> list[str]:
        listed.append(str(path))
        return real(path)

    monkeypatch.setattr(neighbors.os, "listdir", counting)
    library.builder(profile_dirs=[]).build(model="base", loras=names)  # the folder is under 2 s old
    assert listed.count(str(library.loras)) == 1
