"""Shared fixtures: every test builds its own model library in a temp folder and passes an
environment mapping; the platform config dir is pointed at a temp folder too."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from config_layers import ConfigBuilder
from tests.safetensors_files import write_stub_safetensors  # tests import it from here too

MODEL_TOML = """\
kind = "model_profile"
version = 1
model_name = "RealVisXL_V4.0"
base_type = "sdxl"
tags = ["photoreal"]

[[recommended_presets]]
id = "rvxl_good"
label = "Good"
rating = "good"
source = "internet_prior"
sampler = "Euler"
scheduler = "Normal"
steps = 25
cfg = 5.0
resolution = [896, 1152]

[[recommended_presets]]
id = "rvxl_photoreal_default"
label = "Photoreal default"
rating = "best"
source = "internet_prior"
sampler = "DPM++ 2M"
scheduler = "Karras"
steps = 30
cfg = 6.5
resolution = [1024, 1024]

[[recommended_presets.lora_overlays]]
name = "PerfectEyesXL"
weight = 0.55
"""

LORA_TOML = """\
kind = "lora_profile"
version = 1
lora_name = "PerfectEyesXL"
target_base_type = "sdxl"
intended_use = ["eyes"]
trigger_phrases = ["perfecteyes"]

[[recommended_weights]]
label = "author"
weight = 0.7
rating = "good"
"""


class Library:
    """A model library in a temp folder: checkpoints, LoRAs and sidecars."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.models = root / "models"
        self.loras = root / "loras"
        self.models.mkdir()
        self.loras.mkdir()
        self.settings = Path(__file__).resolve().parent.parent / "settings.toml"

    def model(self, stem: str, sidecar: str | None = None, *, suffix: str = ".modelprofile.toml") -> Path:
        checkpoint = write_stub_safetensors(self.models / f"{stem}.safetensors")
        if sidecar is not None:
            (self.models / f"{stem}{suffix}").write_text(textwrap.dedent(sidecar), encoding="utf-8")
        return checkpoint

    def lora(self, stem: str, sidecar: str | None = None, *, suffix: str = ".loraprofile.toml") -> Path:
        lora = write_stub_safetensors(self.loras / f"{stem}.safetensors")
        if sidecar is not None:
            (self.loras / f"{stem}{suffix}").write_text(textwrap.dedent(sidecar), encoding="utf-8")
        return lora

    def file(self, name: str, text: str) -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def builder(self, **kwargs: Any) -> ConfigBuilder:
        """A builder over this library; an empty environment and no profile library unless given
        (``environ=None`` means the process environment)."""
        kwargs.setdefault("profile_dirs", [])
        kwargs.setdefault("environ", {})
        return ConfigBuilder(model_dirs=[self.models], lora_dirs=[self.loras], **kwargs)


@pytest.fixture(autouse=True)
def _isolated_config_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """platformdirs must never find the real ~/.config/stablenew/user.toml in a test, nor
    write kept listings or hashes to the real ~/.cache."""
    home = tmp_path_factory.mktemp("config-home")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache-home")))
    return home


@pytest.fixture
def library(tmp_path: Path) -> Library:
    return Library(tmp_path)


@pytest.fixture
def rich_library(library: Library) -> Library:
    """RealVisXL with two presets, PerfectEyesXL with a profile, a plain LoRA without one."""
    library.model("RealVisXL_V4.0", MODEL_TOML)
    library.lora("PerfectEyesXL", LORA_TOML)
    library.lora("NoProfileLora")
    return library


Write = Callable[[str, str], Path]
