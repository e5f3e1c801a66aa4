"""``scan`` reads each safetensors header once: the one read classifies the file, gives its
priors and its key format."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import config_layers.loras.inspect as inspect_module
from config_layers.discovery.files import FileIndex
from config_layers.resolve.resolver import Resolver
from config_layers.scan import Scanner
from tests.safetensors_files import write_lora, write_stub_safetensors

KOHYA = {
    "lora_unet_a.lora_down.weight": ("F16", (2, 4)),
    "lora_unet_a.lora_up.weight": ("F16", (4, 2)),
    "lora_te2_b.lora_down.weight": ("F16", (2, 4)),
    "lora_te2_b.lora_up.weight": ("F16", (4, 2)),
}


def test_each_header_is_read_once_per_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loras = tmp_path / "Lora"
    loras.mkdir()
    write_lora(loras / "keys.safetensors", KOHYA, {"ss_network_module": "networks.lora"})
    write_stub_safetensors(loras / "stub.safetensors", {"modelspec.architecture": "stable-diffusion-xl-v1-base/lora"})
    write_stub_safetensors(tmp_path / "ckpt.safetensors", {"modelspec.architecture": "stable-diffusion-xl-v1-base"})
    (loras / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}      ")
    reads: Counter[str] = Counter()
    real = inspect_module.read_header_bytes

    def spy(path: Path, **kwargs: Any) -> bytes:
        reads[path.name] += 1
        return real(path, **kwargs)

    monkeypatch.setattr(inspect_module, "read_header_bytes", spy)
    # Files written just now are not cached across reads (RACY_NS): only reading once avoids a second read.
    entries = {entry.path.name: entry for entry in Scanner([]).scan([tmp_path])}
    assert reads == Counter(
        {"keys.safetensors": 1, "stub.safetensors": 1, "ckpt.safetensors": 1, "broken.safetensors": 1}
    )
    assert entries["keys.safetensors"].kind == "lora" and entries["keys.safetensors"].key_format == "kohya SDXL"
    assert entries["stub.safetensors"].key_format == "no tensors"
    assert entries["ckpt.safetensors"].kind == "model" and entries["ckpt.safetensors"].key_format is None
    assert entries["broken.safetensors"].key_format is None and entries["broken.safetensors"].problems


def test_a_scanner_reads_through_the_resolver_it_is_given(tmp_path: Path) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "Shelf.loraprofile.toml").write_text(
        "kind = 'lora_profile'\nversion = 1\nlora_name = 'Shelf'\ntarget_base_type = 'sd15'\n", encoding="utf-8"
    )
    loras = tmp_path / "Lora"
    loras.mkdir()
    write_stub_safetensors(loras / "Shelf.safetensors")
    resolver = Resolver(FileIndex([], "model"), [profiles])
    scanner = Scanner(resolver=resolver)
    (entry,) = scanner.scan([loras])
    assert scanner.resolver is resolver
    assert entry.profile is not None and entry.candidates[-1].kind == "library"
