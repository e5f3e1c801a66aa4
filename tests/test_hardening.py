"""Hostile and awkward input found in review: each case gets a clear error or the right value."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config_layers import ConfigError, FileError
from config_layers.atomic import write_text_atomic
from config_layers.cli import app
from config_layers.profiles import load_model_profile
from tests.conftest import MODEL_TOML, Library, write_stub_safetensors

runner = CliRunner()


def test_no_user_layer_may_set_a_lora_path(library: Library) -> None:
    library.lora("L")
    user = library.file("user.toml", '[loras.L]\npath = "../../etc/passwd"\n')
    with pytest.raises(FileError, match=r"loras\.L\.path: is resolved from the LoRA directories") as caught:
        library.builder(user_file=user).build(loras=["L"])
    assert caught.value.line == 2
    with pytest.raises(ConfigError, match="STABLENEW_LORAS__L__PATH"):
        library.builder(environ={"STABLENEW_LORAS__L__PATH": "/etc/shadow"}).build(loras=["L"])


def test_errors_cite_the_latest_assignment_above_or_below(library: Library) -> None:
    with pytest.raises(ConfigError, match=r"txt2img.steps = \{\.\.\.\} \(overrides, overrides\)"):
        library.builder().build(overrides={"txt2img.steps.x": 5})
    with pytest.raises(ConfigError, match=r"webui.password = \*+ \(env, STABLENEW_WEBUI__PASSWORD__X\)"):
        library.builder(environ={"STABLENEW_WEBUI__PASSWORD__X": "hunter2"}).build()


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


@pytest.mark.parametrize("version", ["true", "1.0", '"1"'])
def test_sidecar_version_must_be_the_integer_1(tmp_path: Path, version: str) -> None:
    path = tmp_path / "m.modelprofile.toml"
    path.write_text(MODEL_TOML.replace("version = 1", f"version = {version}"), encoding="utf-8")
    with pytest.raises(FileError, match="unsupported version"):
        load_model_profile(path)


def test_short_webui_hash_suffix(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    assert library.builder().build(model="RealVisXL_V4.0.safetensors [abc123]").model == "RealVisXL_V4.0.safetensors"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_device_and_fifo_files_are_refused_not_read(library: Library) -> None:
    fifo = library.root / "user.toml"
    os.mkfifo(fifo)
    with pytest.raises(FileError, match="not a regular file"):
        library.builder(user_file=fifo).build()
    if Path("/dev/zero").exists():
        with pytest.raises(FileError, match="not a regular file"):
            library.builder(settings_file="/dev/zero").build()


def test_set_reports_bad_files_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'prompt = "\xff"\n')
    for target, message in ((bad, "not valid UTF-8"), (tmp_path, "directory")):
        result = runner.invoke(app, ["set", "txt2img.steps", "3", "--file", str(target)])
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.stderr


def test_set_redacts_secrets(tmp_path: Path) -> None:
    result = runner.invoke(app, ["set", "webui.password", "hunter2", "--file", str(tmp_path / "u.toml")])
    assert result.exit_code == 0 and "hunter2" not in result.stdout
    assert 'password = "hunter2"' in (tmp_path / "u.toml").read_text(encoding="utf-8")


def test_new_files_get_the_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "new.toml", "x = 1\n", overwrite=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.toml").stat().st_mode) == 0o644


def test_matching_by_hash_persists_the_cache(library: Library) -> None:
    checkpoint = write_stub_safetensors(library.models / "x.safetensors", {"a": "b"})
    cache = library.root / "cache" / "sha256.json"
    library.builder(match_by_hash=True, hash_cache_file=cache).build(model="x")
    saved = json.loads(cache.read_text(encoding="utf-8"))
    assert str(checkpoint.resolve()) in saved["files"]


def test_an_empty_table_above_does_not_take_the_blame(library: Library) -> None:
    library.lora("L")
    user = library.file("user.toml", "[loras.L]\nweight = 9\n")
    with pytest.raises(ConfigError, match=r"loras.L.weight = 9 \(user_file, .*user.toml:2:1\): must be <= 5.0"):
        library.builder(user_file=user).build(loras=["L"])
