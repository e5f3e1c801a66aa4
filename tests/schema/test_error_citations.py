"""Validation errors cite the assignment that set the value: the latest one, above or below, never an empty table."""

from __future__ import annotations

import pytest

from config_layers import ConfigError
from tests.conftest import Library


def test_errors_cite_the_latest_assignment_above_or_below(library: Library) -> None:
    with pytest.raises(ConfigError, match=r"txt2img.steps = \{\.\.\.\} \(overrides, overrides\)"):
        library.builder().build(overrides={"txt2img.steps.x": 5})
    with pytest.raises(ConfigError, match=r"webui.password = \*+ \(env, STABLENEW_WEBUI__PASSWORD__X\)"):
        library.builder(environ={"STABLENEW_WEBUI__PASSWORD__X": "hunter2"}).build()


def test_an_empty_table_above_does_not_take_the_blame(library: Library) -> None:
    library.lora("L")
    user = library.file("user.toml", "[loras.L]\nweight = 9\n")
    with pytest.raises(ConfigError, match=r"loras.L.weight = 9 \(user_file, .*user.toml:2:1\): must be <= 5.0"):
        library.builder(user_file=user).build(loras=["L"])
