"""Writing files for users: atomic writes, user-file edits that keep comments, JSON Schemas."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config_layers import ConfigError, FileError
from config_layers.atomic import write_text_atomic
from config_layers.authoring.schemas import write_schemas
from config_layers.authoring.user_edit import set_value
from config_layers.cli import app
from config_layers.profiles import load_model_profile
from tests.conftest import MODEL_TOML

USER = """\
# my settings — keep this comment
negative_prompt = "blurry"   # inline comment

[txt2img]
steps = 32  # more steps
"""


def test_set_keeps_comments_and_layout(tmp_path: Path) -> None:
    path = tmp_path / "user.toml"
    path.write_text(USER, encoding="utf-8")
    set_value(path, "txt2img.cfg_scale", 5.5)
    set_value(path, "txt2img.steps", 40)
    set_value(path, "hires.enabled", True)
    text = path.read_text(encoding="utf-8")
    assert text.startswith('# my settings — keep this comment\nnegative_prompt = "blurry"   # inline comment\n')
    assert "steps = 40  # more steps" in text
    assert "cfg_scale = 5.5" in text and "[hires]\nenabled = true" in text


def test_set_creates_the_file_and_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "new" / "user.toml"
    set_value(path, "loras.PerfectEyesXL.weight", 0.4)
    assert "[loras.PerfectEyesXL]\nweight = 0.4" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("txt2img.cfg", 5, "did you mean 'txt2img.cfg_scale'"),
        ("txt2img.steps", 0, "must be >= 1"),
        ("txt2img.width", 1001, "multiple of 8"),
        ("txt2imgg.steps", 3, "did you mean 'txt2img'"),
    ],
)
def test_set_refuses_bad_keys_and_values_without_touching_the_file(
    tmp_path: Path, key: str, value: object, message: str
) -> None:
    path = tmp_path / "user.toml"
    path.write_text(USER, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        set_value(path, key, value)
    assert path.read_text(encoding="utf-8") == USER


def test_set_on_a_malformed_file_is_located(tmp_path: Path) -> None:
    path = tmp_path / "user.toml"
    path.write_text("[txt2img\n", encoding="utf-8")
    with pytest.raises(FileError, match="invalid TOML") as caught:
        set_value(path, "txt2img.steps", 3)
    assert caught.value.line == 1


def test_atomic_write_refuses_to_replace_without_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "a.modelprofile.toml"
    path.write_text("original", encoding="utf-8")
    with pytest.raises(FileError, match="already exists; pass --force"):
        write_text_atomic(path, "new", overwrite=False)
    assert path.read_text(encoding="utf-8") == "original"
    os.chmod(path, 0o640)
    write_text_atomic(path, "new", overwrite=True)
    assert path.read_text(encoding="utf-8") == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.modelprofile.toml"]  # no temporary left behind


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "user.toml"
    path.write_text("old", encoding="utf-8")

    def broken(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(FileError, match="cannot write: disk full"):
        write_text_atomic(path, "new", overwrite=True)
    assert path.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["user.toml"]


def test_schemas_validate_what_the_loader_accepts(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    written = write_schemas(tmp_path)
    assert [p.name for p in written] == ["modelprofile.schema.json", "loraprofile.schema.json"]
    schema = json.loads(written[0].read_text(encoding="utf-8"))
    sidecar = tmp_path / "m.modelprofile.toml"
    sidecar.write_text(MODEL_TOML, encoding="utf-8")
    profile = load_model_profile(sidecar)
    assert profile is not None
    import tomllib

    jsonschema.validate(tomllib.loads(MODEL_TOML), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**tomllib.loads(MODEL_TOML), "typo": 1}, schema)
    with pytest.raises(FileError):
        write_schemas(tmp_path)
    assert write_schemas(tmp_path, force=True)


def test_cli_set_and_schema(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "user.toml"
    result = runner.invoke(app, ["set", "txt2img.steps", "44", "--file", str(path)])
    assert result.exit_code == 0 and "steps = 44" in path.read_text(encoding="utf-8")
    result = runner.invoke(app, ["set", "txt2img.cfg", "4", "--file", str(path)])
    assert result.exit_code == 2 and "did you mean" in result.stderr
    result = runner.invoke(app, ["schema", "--out", str(tmp_path)])
    assert result.exit_code == 0 and (tmp_path / "loraprofile.schema.json").exists()
    result = runner.invoke(app, ["schema", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--force" in result.stderr
