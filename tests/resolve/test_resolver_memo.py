"""The resolver remembers a clean LoRA lookup only while the LoRA's folder and the files it
read are unchanged: a sidecar added or edited later is read."""

from __future__ import annotations

import os
from pathlib import Path

from config_layers.discovery.files import FileIndex
from config_layers.resolve.resolver import Resolver
from tests.conftest import Library

PAST_NS = 1_600_000_000 * 10**9  # long settled: listings and stats may be cached


def settle(*paths: Path, later: int = 0) -> None:
    """Long-settled mtimes; ``later`` seconds after the first settling (a change moves an mtime on)."""
    for path in paths:
        os.utime(path, ns=(PAST_NS + later * 10**9, PAST_NS + later * 10**9))


def sidecar(weight: float) -> str:
    return (
        "kind = 'lora_profile'\nversion = 1\nlora_name = 'Eyes'\ntarget_base_type = 'sdxl'\n"
        f"[[recommended_weights]]\nlabel = 'd'\nweight = {weight}\nrating = 'good'\n"
    )


def test_a_sidecar_added_and_then_edited_after_a_lookup_is_read(library: Library) -> None:
    lora = library.lora("Eyes")
    settle(lora, library.loras)
    resolver = Resolver(FileIndex([library.models], "model"), [])

    first = resolver.find(None, [("Eyes", lora)], lenient=False)
    again = resolver.find(None, [("Eyes", lora)], lenient=False)
    assert first.loras["Eyes"] is None and again.lora_notes == first.lora_notes

    side = library.loras / "Eyes.loraprofile.toml"
    side.write_text(sidecar(0.4), encoding="utf-8")
    settle(side, library.loras, later=5)
    added = resolver.find(None, [("Eyes", lora)], lenient=False).loras["Eyes"]
    assert added is not None and added.recommended_weights[0].weight == 0.4

    side.write_text(sidecar(0.55), encoding="utf-8")  # a different size: a different stat
    settle(side, later=10)
    edited = resolver.find(None, [("Eyes", lora)], lenient=False).loras["Eyes"]
    assert edited is not None and edited.recommended_weights[0].weight == 0.55
