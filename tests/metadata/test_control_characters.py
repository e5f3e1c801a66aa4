"""One control-character check (``bounds.unsafe_character``) for config fields and foreign
metadata. Names and metadata refuse every control, separator and bidi character; free text a
person writes (a prompt over several lines, in any script) keeps its tabs, line feeds and
direction marks, and refuses the other controls."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from config_layers.bounds import unsafe_character
from config_layers.errors import MetadataError
from config_layers.metadata.types import expect_text
from config_layers.schema.config import HiresStage
from tests.conftest import Library

SAMPLES = ["\x07", "\t", "\n", "\r", "\x1b[31m", "\x85", "\u2028", "\u202e", "\u2066", "\x7f"]
FREE_TEXT_KEEPS = {"\t", "\n", "\u2028", "\u202e", "\u2066"}


def prompt_refused(text: str) -> bool:
    try:
        HiresStage.model_validate({"prompt": text})
    except ValidationError:
        return True
    return False


def name_refused(text: str) -> bool:
    try:
        HiresStage.model_validate({"sampler_name": text})
    except ValidationError:
        return True
    return False


def metadata_refuses(text: str) -> bool:
    try:
        expect_text(text, Path("x.json"), "notes")
    except MetadataError:
        return True
    return False


@pytest.mark.parametrize("character", SAMPLES)
def test_names_and_metadata_refuse_every_control_and_prompts_keep_only_their_own(character: str) -> None:
    text = f"a{character}b"
    assert metadata_refuses(text) and name_refused(text)
    assert prompt_refused(text) == (character not in FREE_TEXT_KEEPS)


@given(st.text(max_size=20).map(lambda text: "a" + text))  # a name is never empty
def test_config_fields_and_metadata_use_the_one_check(text: str) -> None:
    assert metadata_refuses(text) == name_refused(text) == (unsafe_character(text) is not None)
    assert prompt_refused(text) == (unsafe_character(text, free_text=True) is not None)
    if prompt_refused(text):
        assert metadata_refuses(text)


def test_a_prompt_over_several_lines_builds(rich_library: Library) -> None:
    user = rich_library.file("user.toml", 'prompt = """a castle,\n\tat dusk"""\n')
    cfg = rich_library.builder(user_file=user).build(model="RealVisXL_V4.0")
    assert cfg.prompt == "a castle,\n\tat dusk"
