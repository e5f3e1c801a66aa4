"""A sidecar is found beside its model or LoRA file by the resolver every build uses."""

from __future__ import annotations

import json

import pytest

from config_layers.discovery.files import FileIndex
from config_layers.errors import FileError, NotFoundError
from config_layers.resolve.resolver import Resolver
from tests.conftest import LORA_TOML, MODEL_TOML, Library


def _resolver(library: Library) -> Resolver:
    return Resolver(FileIndex([library.models], "model"), [])


def test_the_profile_beside_a_checkpoint_is_found(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    profile = _resolver(library).find("RealVisXL_V4.0", [], lenient=False).model
    assert profile is not None and profile.model_name == "RealVisXL_V4.0"
    library.model("Plain")
    assert _resolver(library).find("Plain", [], lenient=False).model is None


def test_two_sidecars_for_one_checkpoint_is_an_error(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    (library.models / "RealVisXL_V4.0.modelprofile.json").write_text(
        json.dumps({"kind": "model_profile", "version": 1, "model_name": "RealVisXL_V4.0"}), encoding="utf-8"
    )
    with pytest.raises(FileError, match="two sidecars"):
        _resolver(library).find("RealVisXL_V4.0", [], lenient=False)


def test_a_lora_found_by_name_brings_its_sidecar(library: Library) -> None:
    library.lora("PerfectEyesXL", LORA_TOML)
    library.lora("Plain")
    loras = FileIndex([library.loras], "LoRA")
    named = [(name, loras.find(name)) for name in ("PerfectEyesXL", "Plain")]
    found = _resolver(library).find(None, named, lenient=False).loras
    profile = found["PerfectEyesXL"]
    assert profile is not None and profile.lora_name == "PerfectEyesXL"
    assert found["Plain"] is None
    with pytest.raises(NotFoundError, match="looked in"):
        loras.find("Missing")
