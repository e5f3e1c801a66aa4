"""The env layer: prefix, nesting with __, TOML typing, and the user-file location rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from config_layers.layers.env import env_layer, parse_value
from tests.conftest import Library


@pytest.mark.parametrize(
    ("raw", "typed"),
    [
        ("40", 40),
        ("6.5", 6.5),
        ("true", True),
        ("[1, 2]", [1, 2]),
        ('"40"', "40"),
        ("Euler a", "Euler a"),
        ("DPM++ 2M", "DPM++ 2M"),
        ("@format {env[HOME]}", "@format {env[HOME]}"),
        ("1\n[evil]\nx = 1", "1\n[evil]\nx = 1"),
        ("", ""),
    ],
)
def test_values_are_typed_as_toml(raw: str, typed: object) -> None:
    assert parse_value(raw) == typed


def test_only_prefixed_variables_are_read() -> None:
    layer = env_layer(
        {"STABLENEW_TXT2IMG__STEPS": "40", "TXT2IMG__STEPS": "1", "STABLENEWX_A": "2", "HOME": "/h"},
        "STABLENEW",
    )
    assert layer.data == {"txt2img": {"steps": 40}}
    assert layer.sources == ("STABLENEW_TXT2IMG__STEPS",)
    assert layer.origin_of(("txt2img", "steps")).source == "STABLENEW_TXT2IMG__STEPS"


def test_the_prefix_is_configurable(library: Library) -> None:
    cfg = library.builder(
        environ={"MYAPP_TXT2IMG__STEPS": "41", "STABLENEW_TXT2IMG__STEPS": "5"}, env_prefix="MYAPP"
    ).build()
    assert cfg.txt2img.steps == 41


def test_env_steps_is_the_integer_40(library: Library) -> None:
    cfg = library.builder(environ={"STABLENEW_TXT2IMG__STEPS": "40"}).build()
    assert cfg.txt2img.steps == 40 and isinstance(cfg.txt2img.steps, int)
    assert cfg.provenance["txt2img.steps"].source == "STABLENEW_TXT2IMG__STEPS"


def test_env_var_reaches_a_lora_whatever_its_case(rich_library: Library) -> None:
    cfg = rich_library.builder(environ={"STABLENEW_LORAS__PERFECTEYESXL__WEIGHT": "0.25"}).build(
        model="RealVisXL_V4.0", loras=["PerfectEyesXL"]
    )
    assert list(cfg.loras) == ["PerfectEyesXL"]
    assert cfg.loras["PerfectEyesXL"].weight == 0.25
    assert cfg.provenance["loras.PerfectEyesXL.weight"].layer == "env"


def test_env_var_that_is_both_a_value_and_a_table(library: Library) -> None:
    from config_layers import ConfigError

    with pytest.raises(ConfigError, match=r"set one or the other|already set to a value|txt2img is a table"):
        library.builder(environ={"STABLENEW_TXT2IMG": "1", "STABLENEW_TXT2IMG__STEPS": "2"}).build()


def test_user_file_from_the_env_variable(library: Library) -> None:
    user = library.file("mine.toml", "[txt2img]\nsteps = 44\n")
    cfg = library.builder(environ={"STABLENEW_USER_FILE": str(user)}).build()
    assert cfg.txt2img.steps == 44 and cfg.provenance["txt2img.steps"].source == str(user)


def test_explicit_user_file_beats_the_env_variable(library: Library) -> None:
    explicit = library.file("explicit.toml", "[txt2img]\nsteps = 45\n")
    named = library.file("named.toml", "[txt2img]\nsteps = 46\n")
    cfg = library.builder(environ={"STABLENEW_USER_FILE": str(named)}, user_file=explicit).build()
    assert cfg.txt2img.steps == 45


def test_user_file_from_the_platform_config_dir(library: Library, _isolated_config_home: Path) -> None:
    folder = _isolated_config_home / "stablenew"
    folder.mkdir()
    (folder / "user.toml").write_text("[txt2img]\nsteps = 47\n", encoding="utf-8")
    cfg = library.builder().build()
    assert cfg.txt2img.steps == 47
    assert cfg.provenance["txt2img.steps"].source == str(folder / "user.toml")


def test_no_user_file_is_noted(library: Library, _isolated_config_home: Path) -> None:
    cfg = library.builder().build()
    (summary,) = [s for s in cfg.report.layers if s.name == "user_file"]
    assert summary.notes == (f"no user file; looked at {_isolated_config_home / 'stablenew' / 'user.toml'}",)
