"""One read per header and one ``stat`` per LoRA file per build; one compatibility check per
LoRA; and build and scan read through one set of caches."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import config_layers.loras.inspect as inspect_module
import config_layers.profiles.suggest as suggest_module
import config_layers.resolve.resolver as resolver_module
from config_layers.cache import FileCache
from config_layers.discovery.files import FileIndex
from config_layers.resolve.resolver import Resolver
from config_layers.scan import Scanner
from tests.conftest import MODEL_TOML, Library, write_stub_safetensors

PAST_NS = 1_600_000_000 * 10**9  # long settled: listings and stats may be cached
KOHYA_SDXL = {"ss_network_module": "networks.lora", "ss_base_model_version": "sdxl_base_v1-0"}
PONY = "kind = 'lora_profile'\nversion = 1\nlora_name = 'Pony{n}'\ntarget_base_type = 'pony'\n"


def settle(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        os.utime(path, ns=(PAST_NS, PAST_NS))


def count_header_reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Spy on the function that opens and reads a safetensors header."""
    reads: Counter[str] = Counter()
    real = inspect_module.read_header_bytes

    def spy(path: Path, **kwargs: Any) -> bytes:
        reads[Path(path).name] += 1
        return real(path, **kwargs)

    monkeypatch.setattr(inspect_module, "read_header_bytes", spy)
    return reads


def loras(library: Library, count: int) -> list[tuple[str, Path]]:
    return [(f"L{n}", write_stub_safetensors(library.loras / f"L{n}.safetensors", KOHYA_SDXL)) for n in range(count)]


def test_a_build_reads_each_lora_header_once_even_when_too_fresh_to_cache(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    library.model("Base", MODEL_TOML)
    named = loras(library, 3)  # just written: the caches do not vouch for them (RACY_NS)
    reads = count_header_reads(monkeypatch)
    library.builder().build(model="Base", loras=[name for name, _ in named])
    assert reads == Counter({"Base.safetensors": 1, **{f"L{n}.safetensors": 1 for n in range(3)}})


def test_the_resolver_stats_each_lora_file_once_per_build(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    library.model("Base", MODEL_TOML)
    named = loras(library, 4)
    settle(library.root)
    resolver = Resolver(FileIndex([library.models], "model"), [])
    stats: Counter[str] = Counter()
    real_stat = os.stat

    def spy(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        stats[str(path)] += 1
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", spy)
    for _ in range(2):  # a first build fills the caches; the second is the repeated build
        stats.clear()
        found = resolver.find("Base", named, lenient=False)
        resolver.check_loads(found, named, lenient=False)
        assert all(stats[str(path)] == 1 for _, path in named), stats


def test_the_compatibility_check_runs_once_per_lora(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    """Today's one check: ``check_lora_compatibility``; the build used to judge a LoRA's profile
    twice (in the resolver and again when suggesting the preset)."""
    library.model("Base", MODEL_TOML)  # sdxl
    for n in range(2):
        library.lora(f"Pony{n}", PONY.format(n=n))
    calls: list[tuple[str, str, str]] = []
    real: Callable[..., Any] = suggest_module.lora_compatibility

    def spy(lora: str, model: str) -> Any:
        calls.append((lora, model, "called"))
        return real(lora, model)

    monkeypatch.setattr(suggest_module, "lora_compatibility", spy)
    config = library.builder().build(model="Base", loras=["Pony0", "Pony1"])
    assert [(lora, model) for lora, model, _ in calls] == [("pony", "sdxl"), ("pony", "sdxl")]
    assert sum("same family, it loads but may look off" in w for w in config.warnings) == 2
    assert set(config.loras) == {"Pony0", "Pony1"}  # a finetune's weight is still applied


def test_scan_and_build_read_through_the_same_caches(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    library.model("Base", MODEL_TOML)
    named = loras(library, 2)
    library.lora("WithSidecar", PONY.format(n=9))
    settle(library.root)
    library.builder().build(model="Base", loras=[*(name for name, _ in named), "WithSidecar"])

    reads = count_header_reads(monkeypatch)
    sidecars: list[Path] = []
    real_get_at = FileCache.get_at

    def spying_get_at(self: FileCache[Any], path: Path, key: Any) -> Any:
        if path.name.endswith(".loraprofile.toml"):
            sidecars.append(path)
        return real_get_at(self, path, key)

    loads: list[Path] = []
    real_load = resolver_module.load_lora_profile

    def spying_load(path: Path) -> Any:
        loads.append(path)
        return real_load(path)

    monkeypatch.setattr(FileCache, "get_at", spying_get_at)
    monkeypatch.setattr(resolver_module, "load_lora_profile", spying_load)
    entries = {entry.path.name: entry for entry in Scanner([]).scan([library.loras])}
    assert reads == Counter()  # every header the build read is the scan's too
    assert sidecars and loads == []  # the sidecar is asked of the build's cache, not read again
    assert entries["WithSidecar.safetensors"].profile is not None
    assert entries["L0.safetensors"].key_format == "no tensors"
