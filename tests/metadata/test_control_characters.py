"""One control-character check (``bounds.unsafe_character``) for config fields and foreign
metadata: a string one refuses, the other refuses too."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from config_layers.errors import MetadataError
from config_layers.metadata.types import expect_text
from config_layers.schema.config import HiresStage

SAMPLES = ["\x07", "\t", "\n", "\x1b[31m", "\x85", "\u2028", "\u202e", "\u2066", "\x7f"]


def config_refuses(text: str) -> bool:
    try:
        HiresStage.model_validate({"prompt": text})
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
def test_every_character_either_side_refused_is_refused_by_both(character: str) -> None:
    text = f"a{character}b"
    assert config_refuses(text) and metadata_refuses(text)


@given(st.text(max_size=20))
def test_config_fields_and_metadata_agree(text: str) -> None:
    assert config_refuses(text) == metadata_refuses(text)
