"""The config-layers command: output formats, the JSON contract, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

import pytest
from typer.testing import CliRunner

from config_layers.cli import app
from tests.conftest import Library

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), env={"STABLENEW_TXT2IMG__SEED": "11", "STABLENEW_WEBUI__PASSWORD": "pw"})
    return result.exit_code, result.stdout, result.stderr


def test_build_json_follows_the_contract() -> None:
    code, out, _ = run("build", "--model", "RealVisXL_V4.0", "--lora", "PerfectEyesXL", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert set(payload) == {"config", "provenance", "layers", "warnings"}
    assert payload["config"]["txt2img"]["cfg_scale"] == 6.5
    assert payload["config"]["webui"]["password"] == "**********"
    steps = payload["provenance"]["txt2img.steps"]
    assert set(steps) == {"value", "layer", "source", "line", "column", "rule", "chain"}
    assert steps["layer"] == "model_profile" and steps["source"].endswith(
        "RealVisXL_V4.0.modelprofile.toml#rvxl_photoreal_default"
    )
    assert isinstance(steps["line"], int)
    (first,) = steps["chain"]
    assert set(first) == {"path", "kind", "value", "layer", "source", "line", "column", "rule"}
    assert (first["layer"], first["value"], first["kind"]) == ("defaults", 20, "set")
    assert payload["provenance"]["txt2img.seed"]["source"] == "STABLENEW_TXT2IMG__SEED"
    assert [layer["name"] for layer in payload["layers"]] == [
        "defaults",
        "model_profile",
        "lora_overlays",
        "user_file",
        "env",
        "overrides",
    ]
    assert set(payload["provenance"]) >= {"loras.PerfectEyesXL.weight", "model", "txt2img.width"}


def test_build_toml_has_an_origin_comment_per_value() -> None:
    code, out, _ = run("build", "--model", "RealVisXL_V4.0", "--format", "toml", "--set", "txt2img.steps=33")
    assert code == 0
    data = tomllib.loads(out)
    assert data["txt2img"]["steps"] == 33 and data["txt2img"]["cfg_scale"] == 6.5
    assert "steps = 33 # overrides, overrides" in out
    assert "seed = 11 # env, STABLENEW_TXT2IMG__SEED" in out


def test_build_table_is_the_default() -> None:
    code, out, _ = run("build", "--model", "RealVisXL_V4.0")
    assert code == 0
    assert "txt2img.cfg_scale" in out and "model_profile" in out


def test_explain_prints_winner_and_chain() -> None:
    code, out, _ = run(
        "explain",
        "txt2img.cfg_scale",
        "loras",
        "--model",
        "RealVisXL_V4.0",
        "--lora",
        "PerfectEyesXL",
        "--set",
        "txt2img.cfg_scale=5",
    )
    assert code == 0
    assert out.startswith("txt2img.cfg_scale = 5\n  from  overrides, overrides\n  overrode (oldest first):")
    assert "loras.PerfectEyesXL.weight = 0.6" in out


def test_explain_unknown_key_exits_2() -> None:
    code, _, err = run("explain", "txt2img.cfg", "--model", "RealVisXL_V4.0")
    assert code == 2 and "did you mean 'txt2img.cfg_scale'" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "--model", "Nope"], "model 'Nope' not found"),
        (["build", "--set", "txt2img.steps=-1"], "txt2img.steps = -1 (overrides, overrides): must be >= 1"),
        (["build", "--set", "nonsense"], "expected KEY.PATH=VALUE"),
        (["build", "--model", "RealVisXL_V4.0", "--lora", "epi_noiseoffset2"], "another architecture family"),
        (
            ["build", "--model", "RealVisXL_V4.0", "--preset", "nope"],
            "available: rvxl_photoreal_default, rvxl_fast",
        ),
    ],
)
def test_bad_input_exits_2_with_a_message_and_no_traceback(args: list[str], message: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert message in err and "Traceback" not in err + out


def test_malformed_user_file_exits_2(library: Library) -> None:
    user = library.file("user.toml", "[txt2img\n")
    code, _, err = run("build", "--user-file", str(user))
    assert code == 2 and f"{user}:1:" in err and "invalid TOML" in err


def test_lenient_records_warnings() -> None:
    code, out, _ = run("build", "--model", "RealVisXL_V4.0", "--lora", "epi_noiseoffset2", "--lenient", "-f", "json")
    assert code == 0
    assert any("cannot load" in w for w in json.loads(out)["warnings"])


def test_the_console_script_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "config_layers", "build", "--model", "dreamshaper_8", "-f", "json"],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "", "PYTHONPATH": ":".join(sys.path)},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["config"]["txt2img"]["height"] == 768
