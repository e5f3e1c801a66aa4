"""Can each LoRA load? Only the safetensors header is read; bad headers are clear errors."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import pytest

from config_layers import ConfigError
from tests.conftest import Library, write_stub_safetensors

SDXL = {"modelspec.architecture": "stable-diffusion-xl-v1-base"}
SD15_LORA = {"modelspec.architecture": "stable-diffusion-v1/lora", "ss_base_model_version": "sd_v1"}
PONY_LORA = {"ss_base_model_version": "sdxl_base_v1-0", "modelspec.architecture": "stable-diffusion-xl-v1-base/lora"}


@pytest.fixture
def headers(library: Library) -> Library:
    write_stub_safetensors(library.models / "Base.safetensors", SDXL)
    return library


def test_cross_family_lora_by_header_raises(headers: Library) -> None:
    write_stub_safetensors(headers.loras / "Old.safetensors", SD15_LORA)
    with pytest.raises(
        ConfigError,
        match=r"'Old' is sd15 \(by safetensors_header: .*\) and the model is sdxl \(by safetensors_header.*cannot load",
    ):
        headers.builder().build(model="Base", loras=["Old"])
    cfg = headers.builder(lenient=True).build(model="Base", loras=["Old"])
    assert any("cannot load" in w for w in cfg.warnings) and "Old" in cfg.loras


def test_same_family_lora_by_header_loads(headers: Library) -> None:
    write_stub_safetensors(headers.loras / "Fine.safetensors", PONY_LORA)
    cfg = headers.builder().build(model="Base", loras=["Fine"])
    assert cfg.warnings == []


def test_the_model_profile_base_type_is_the_model_side(headers: Library) -> None:
    headers.model("Flux", 'kind = "model_profile"\nversion = 1\nmodel_name = "Flux"\nbase_type = "flux"\n')
    write_stub_safetensors(headers.loras / "XL.safetensors", PONY_LORA)
    with pytest.raises(ConfigError, match=r"the model is flux \(by the profile .*Flux.modelprofile.toml\)"):
        headers.builder().build(model="Flux", loras=["XL"])


def raw_lora(library: Library, name: str, data: bytes) -> Path:
    path = library.loras / f"{name}.safetensors"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x01\x02", "too short for the 8-byte header length"),
        (struct.pack("<Q", 4096) + b"{}", "runs past the end of the file"),
        (struct.pack("<Q", 2 * 1024**3) + b"{}", "over the"),
        (struct.pack("<Q", 8) + b"{not js}", "JSON"),
        (struct.pack("<Q", 8) + b'{"a":"\xff"}', "UTF-8"),
    ],
)
def test_malformed_headers_are_clear_errors(headers: Library, data: bytes, message: str) -> None:
    path = raw_lora(headers, "Broken", data)
    with pytest.raises(ConfigError) as caught:
        headers.builder().build(model="Base", loras=["Broken"])
    text = str(caught.value)
    assert message in text and str(path) in text
    cfg = headers.builder(lenient=True).build(model="Base", loras=["Broken"])
    assert any(message in w for w in cfg.warnings)


def test_only_the_header_is_read(headers: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_stub_safetensors(headers.loras / "Big.safetensors", PONY_LORA)
    with path.open("ab") as handle:
        handle.write(b"\0" * (4 * 1024 * 1024))  # "tensor data" after the header
    reads: list[int] = []
    real_open = Path.open

    class Counting:
        def __init__(self, handle: object) -> None:
            self._handle = handle

        def read(self, size: int = -1) -> bytes:
            data = self._handle.read(size)  # type: ignore[attr-defined]
            reads.append(len(data))
            return data

        def __getattr__(self, name: str) -> object:
            return getattr(self._handle, name)

        def __enter__(self) -> Counting:
            return self

        def __exit__(self, *exc: object) -> None:
            self._handle.close()  # type: ignore[attr-defined]

    def counting_open(self: Path, mode: str = "r", *args: object, **kwargs: object) -> object:
        handle = real_open(self, mode, *args, **kwargs)  # type: ignore[call-overload]
        return Counting(handle) if str(self) == str(path) and "b" in mode else handle

    # The header reader uses os-level reads: count the bytes read from descriptors of the file too.
    descriptors: set[int] = set()
    real_os_open, real_os_read = os.open, os.read

    def spying_os_open(file: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        descriptor = real_os_open(file, flags, *args, **kwargs)
        if str(file) == str(path):
            descriptors.add(descriptor)
        return descriptor

    def spying_os_read(descriptor: int, size: int) -> bytes:
        data = real_os_read(descriptor, size)
        if descriptor in descriptors:
            reads.append(len(data))
        return data

    monkeypatch.setattr(Path, "open", counting_open)
    monkeypatch.setattr(os, "open", spying_os_open)
    monkeypatch.setattr(os, "read", spying_os_read)
    headers.builder().build(model="Base", loras=["Big"])
    assert descriptors
    assert 0 < sum(reads) < 4096
