"""Guards of the user layers (user file, env, overrides): what they may not set, how env text is typed, and
env names that differ only in case."""

from __future__ import annotations

import pytest

from config_layers import ConfigError, FileError
from tests.conftest import Library


def test_no_user_layer_may_set_a_lora_path(library: Library) -> None:
    library.lora("L")
    user = library.file("user.toml", '[loras.L]\npath = "../../etc/passwd"\n')
    with pytest.raises(FileError, match=r"loras\.L\.path: is resolved from the LoRA directories") as caught:
        library.builder(user_file=user).build(loras=["L"])
    assert caught.value.line == 2
    with pytest.raises(ConfigError, match="STABLENEW_LORAS__L__PATH"):
        library.builder(environ={"STABLENEW_LORAS__L__PATH": "/etc/shadow"}).build(loras=["L"])


def test_text_fields_keep_env_and_set_strings(library: Library) -> None:
    cfg = library.builder(
        environ={"STABLENEW_WEBUI__PASSWORD": "12345678", "STABLENEW_PROMPT": "true", "STABLENEW_TXT2IMG__STEPS": "7"}
    ).build()
    assert cfg.webui.password.get_secret_value() == "12345678"
    assert cfg.prompt == "true" and cfg.txt2img.steps == 7
    assert library.builder(environ={"STABLENEW_PROMPT": '"quoted"'}).build().prompt == "quoted"


def test_env_names_differing_only_in_case_are_refused(library: Library) -> None:
    with pytest.raises(ConfigError, match="set the same key"):
        library.builder(environ={"STABLENEW_TXT2IMG__STEPS": "40", "STABLENEW_txt2img__steps": "41"}).build()
