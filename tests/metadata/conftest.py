"""Fixtures for the metadata readers: realistic sample files written into tmp_path."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import safetensors_files

SHA = "4D4C5A6E0F9B8C7D6E5F4A3B2C1D0E9F8A7B6C5D4E3F2A1B0C9D8E7F6A5B4C3D"

WriteJson = Callable[[str, Any], Path]
WriteBytes = Callable[[str, bytes], Path]


@pytest.fixture
def write_json(tmp_path: Path) -> WriteJson:
    """Write ``data`` as pretty JSON (as the WebUIs do) to ``tmp_path / name``."""

    def write(name: str, data: Any) -> Path:
        path = tmp_path / name
        path.write_text(json.dumps(data, indent=4, ensure_ascii=False), encoding="utf-8")
        return path

    return write


@pytest.fixture
def write_bytes(tmp_path: Path) -> WriteBytes:
    def write(name: str, raw: bytes) -> Path:
        path = tmp_path / name
        path.write_bytes(raw)
        return path

    return write


SafetensorsBytes = Callable[..., bytes]


@pytest.fixture
def safetensors_bytes() -> SafetensorsBytes:
    """``(header, tensor_data=b"")`` -> a safetensors file: 8-byte little-endian length, the JSON
    header (a dict is serialized, bytes are taken as they are), then the tensor bytes."""
    return safetensors_files.safetensors_bytes


@pytest.fixture
def sha() -> str:
    """An uppercase SHA-256, as Civitai writes them."""
    return SHA


@pytest.fixture
def civitai_version() -> dict[str, Any]:
    """A model version as Civitai's API returns it (trimmed), as saved to <stem>.civitai.info."""
    return {
        "id": 361593,
        "modelId": 139562,
        "name": "V4.0 (BakedVAE)",
        "createdAt": "2024-02-28T10:33:51.734Z",
        "baseModel": "SDXL 1.0",
        "baseModelType": "Standard",
        "trainedWords": ["photorealistic", "  ", "raw photo, film grain"],
        "description": "<p>V4.0</p>",
        "model": {"name": "RealVisXL V4.0", "type": "Checkpoint", "nsfw": False},
        "files": [
            {
                "id": 1,
                "name": "realvisxlV40_v40Bakedvae.safetensors",
                "type": "Model",
                "primary": True,
                "sizeKB": 6775430.4,
                "metadata": {"fp": "fp16", "size": "pruned", "format": "SafeTensor"},
                "hashes": {"AutoV2": "F5E1B4A3C2", "SHA256": SHA, "CRC32": "D1E2F3A4"},
            },
            {
                "id": 2,
                "name": "realvisxlV40_v40InpaintVAE.safetensors",
                "type": "Model",
                "primary": False,
                "hashes": {"SHA256": "ab" * 32},
            },
        ],
        "images": [
            {
                "url": "https://image.civitai.com/1.jpeg",
                "nsfw": "None",
                "width": 832,
                "height": 1216,
                "meta": {
                    "Size": "832x1216",
                    "seed": 1234567890,
                    "Model": "RealVisXL_V4.0",
                    "steps": 30,
                    "prompt": "a photo of a lighthouse at dusk",
                    "sampler": "DPM++ 2M Karras",
                    "cfgScale": 6.499999999999998,
                    "Clip skip": 1,
                },
            },
            {"url": "https://image.civitai.com/2.jpeg", "meta": None},
            {
                "url": "https://image.civitai.com/3.jpeg",
                "meta": {
                    "Size": "832x1216",
                    "steps": 30,
                    "sampler": "DPM++ 2M",
                    "Schedule type": "Karras",
                    "cfgScale": 6.5,
                },
            },
            {
                "url": "https://image.civitai.com/4.jpeg",
                "meta": {"Size": "1024x1024", "steps": "25", "sampler": "Euler a", "cfgScale": 7},
            },
            {
                "url": "https://image.civitai.com/5.jpeg",
                "meta": {"Size": "832x1216", "steps": 40, "sampler": "DPM++ 2M SDE Karras", "cfgScale": 5},
            },
        ],
    }
