"""Sidecar versions: only the integer 1 is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from config_layers import FileError
from config_layers.profiles import load_model_profile
from tests.conftest import MODEL_TOML


@pytest.mark.parametrize("version", ["true", "1.0", '"1"'])
def test_sidecar_version_must_be_the_integer_1(tmp_path: Path, version: str) -> None:
    path = tmp_path / "m.modelprofile.toml"
    path.write_text(MODEL_TOML.replace("version = 1", f"version = {version}"), encoding="utf-8")
    with pytest.raises(FileError, match="unsupported version"):
        load_model_profile(path)
