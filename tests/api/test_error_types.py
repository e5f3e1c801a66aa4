"""The error types: structured fields, the kept error objects, and the dual-base subclasses."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from config_layers.cli import app
from config_layers.errors import (
    MAX_SHOWN_PROBLEMS,
    ConfigError,
    ConfigErrors,
    FileError,
    MetadataError,
    PayloadError,
    ProvenanceKeyError,
)
from tests.conftest import Library


def test_config_errors_keep_the_error_objects_and_their_strings() -> None:
    first = FileError("a.toml", "bad value", key_path="txt2img.steps", line=3)
    errors = ConfigErrors([first, "a plain problem"], title="two problems")
    assert errors.errors[0] is first
    assert errors.errors[0].line == 3 and errors.errors[0].key_path == "txt2img.steps"
    assert isinstance(errors.errors[1], ConfigError) and str(errors.errors[1]) == "a plain problem"
    assert errors.problems == ["a.toml:3: txt2img.steps: bad value", "a plain problem"]
    assert str(errors) == "two problems\n  - a.toml:3: txt2img.steps: bad value\n  - a plain problem"


def test_config_errors_show_the_first_problems_and_count_the_rest() -> None:
    many = [FileError("a.toml", f"problem {i}", line=i + 1) for i in range(MAX_SHOWN_PROBLEMS + 5)]
    errors = ConfigErrors(many, title="many")
    assert len(errors.errors) == len(errors.problems) == MAX_SHOWN_PROBLEMS
    assert errors.total == MAX_SHOWN_PROBLEMS + 5
    assert str(errors).endswith("  ... and 5 more problems")


def test_every_config_error_has_the_structured_fields() -> None:
    plain = ConfigError("something")
    assert (plain.path, plain.key_path, plain.line, plain.column) == (None, None, None, None)
    located = MetadataError("x.civitai.info", "not JSON", line=2, column=5)
    assert isinstance(located, FileError)
    assert (located.path, located.line, located.column) == ("x.civitai.info", 2, 5)


def test_metadata_error_is_one_class_wherever_it_is_imported_from() -> None:
    from config_layers.metadata import MetadataError as from_package
    from config_layers.metadata.types import MetadataError as from_types

    assert from_package is from_types is MetadataError


def test_an_unknown_provenance_key_is_a_config_error_and_a_key_error(rich_library: Library) -> None:
    cfg = rich_library.builder().build(model="RealVisXL_V4.0")
    for lookup in (lambda: cfg.provenance["txt2img.stepz"], lambda: cfg.explain("txt2img.stepz")):
        with pytest.raises(ProvenanceKeyError) as caught:
            lookup()
        assert isinstance(caught.value, KeyError) and isinstance(caught.value, ConfigError)
        assert str(caught.value) == "'txt2img.stepz' is not a leaf of the config; did you mean 'txt2img.steps'?"
        assert caught.value.key_path == "txt2img.stepz"


def test_the_cli_reports_an_unknown_key_like_any_config_error() -> None:
    result = CliRunner().invoke(app, ["explain", "txt2img.stepz", "--model", "RealVisXL_V4.0"], env={})
    assert result.exit_code == 2
    assert result.stderr.startswith("config-layers: error: 'txt2img.stepz' is not a leaf of the config")


def test_payload_refusals_are_config_errors_and_value_errors(rich_library: Library) -> None:
    cfg = rich_library.builder().build(model="RealVisXL_V4.0")
    with pytest.raises(PayloadError, match="no WebUI payload for stage 'upscale'") as caught:
        cfg.to_webui_payload("upscale")
    assert isinstance(caught.value, ValueError) and isinstance(caught.value, ConfigError)
    lenient = rich_library.builder(lenient=True).build(model="RealVisXL_V4.0", loras=["ghost"])
    with pytest.raises(PayloadError, match="'ghost' has no resolved file"):
        _ = lenient.lora_paths
