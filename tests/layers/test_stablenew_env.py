"""Running inside StableNew: its own flat STABLENEW_* variables are mapped, ignored or refused."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from config_layers.cli import app
from config_layers.errors import ConfigError
from config_layers.layers.stablenew_env import classify, env_report, stablenew_names
from config_layers.schema.config import PipelineConfig
from config_layers.schema.messages import annotation_at
from tests.conftest import MODEL_TOML, Library

#: What StableNew's own process typically has set (names from its src/config/app_config.py).
STABLENEW_PROCESS = {
    "STABLENEW_WEBUI_BASE_URL": "http://127.0.0.1:7861",
    "STABLENEW_SEED_MODE": "fixed",
    "STABLENEW_OUTPUT_DIR": "output",
    "STABLENEW_WATCHDOG_ENABLED": "1",
    "STABLENEW_MODELS_ROOT": "/sd/models",
    "STABLENEW_TRAIN_LORA_COMMAND": "python train.py",
}


@pytest.fixture
def model(library: Library) -> Library:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    return library


def test_stablenew_process_environment_builds(model: Library) -> None:
    cfg = model.builder(environ=STABLENEW_PROCESS).build(model="RealVisXL_V4.0")
    assert cfg.webui.url == "http://127.0.0.1:7861"
    winner = cfg.provenance["webui.url"].origin
    assert (winner.layer, winner.source) == ("env", "STABLENEW_WEBUI_BASE_URL")
    assert winner.rule is not None and "StableNew's legacy name STABLENEW_WEBUI_BASE_URL" in winner.rule
    [env] = [layer for layer in cfg.report.layers if layer.name == "env"]
    [note] = env.notes
    for name in ("STABLENEW_SEED_MODE", "STABLENEW_OUTPUT_DIR", "STABLENEW_WATCHDOG_ENABLED", "STABLENEW_MODELS_ROOT"):
        assert name in note
    assert "STABLENEW_WEBUI_BASE_URL" in env.sources


def test_every_mapped_name_reaches_its_field(model: Library) -> None:
    environ = {
        "STABLENEW_CORE_MODEL": "RealVisXL_V4.0",
        "STABLENEW_CORE_SAMPLER": "Euler",
        "STABLENEW_CORE_VAE": "sdxl_vae.safetensors",
        "STABLENEW_CORE_STEPS": "33",
        "STABLENEW_CORE_CFG_SCALE": "5.5",
        "STABLENEW_CORE_RESOLUTION": "832x1216",
        "STABLENEW_N_ITER": "3",
        "STABLENEW_BATCH_SIZE": "2",
        "STABLENEW_NEGATIVE_PROMPT": "blurry",
    }
    cfg = model.builder(environ=environ).build()
    t = cfg.txt2img
    assert (cfg.model, cfg.vae, cfg.negative_prompt) == ("RealVisXL_V4.0", "sdxl_vae.safetensors", "blurry")
    assert (t.sampler_name, t.steps, t.cfg_scale, t.width, t.height, t.n_iter, t.batch_size) == (
        "Euler",
        33,
        5.5,
        832,
        1216,
        3,
        2,
    )
    assert cfg.provenance["txt2img.height"].origin.source == "STABLENEW_CORE_RESOLUTION"
    assert cfg.provenance["txt2img.steps"].origin.rule == (
        "StableNew's legacy name STABLENEW_CORE_STEPS for txt2img.steps (config_layers/data/stablenew_env.toml)"
    )


def test_nested_name_wins_over_the_legacy_name_and_both_are_in_the_chain(model: Library) -> None:
    environ = {"STABLENEW_CORE_STEPS": "30", "STABLENEW_TXT2IMG__STEPS": "40"}
    cfg = model.builder(environ=environ).build(model="RealVisXL_V4.0")
    field = cfg.provenance["txt2img.steps"]
    assert cfg.txt2img.steps == 40 and field.origin.source == "STABLENEW_TXT2IMG__STEPS"
    assert [(a.origin.layer, a.origin.source, a.value) for a in field.chain][-1] == ("env", "STABLENEW_CORE_STEPS", 30)


def test_a_near_miss_flat_name_is_refused_with_did_you_mean(model: Library) -> None:
    with pytest.raises(ConfigError, match=r"STABLENEW_NEGATVE_PROMPT: unknown name; did you mean STABLENEW_NEGATIVE"):
        model.builder(environ={"STABLENEW_NEGATVE_PROMPT": "x"}).build(model="RealVisXL_V4.0")
    with pytest.raises(ConfigError, match=r"STABLENEW_CORE_STEP: unknown name; did you mean STABLENEW_CORE_STEPS"):
        model.builder(environ={"STABLENEW_CORE_STEP": "30"}).build(model="RealVisXL_V4.0")
    # nested names keep the strict rules
    with pytest.raises(ConfigError, match=r"stepz = 30 \(env, STABLENEW_TXT2IMG__STEPZ\): unknown key; did you mean"):
        model.builder(environ={"STABLENEW_TXT2IMG__STEPZ": "30"}).build(model="RealVisXL_V4.0")


def test_unknown_flat_names_far_from_any_key_are_ignored_and_noted(model: Library) -> None:
    cfg = model.builder(environ={"STABLENEW_SOME_FUTURE_SWITCH": "1"}).build(model="RealVisXL_V4.0")
    [env] = [layer for layer in cfg.report.layers if layer.name == "env"]
    assert "STABLENEW_SOME_FUTURE_SWITCH (neither a config key" in env.notes[0]


def test_empty_legacy_value_is_stablenew_unset(model: Library) -> None:
    cfg = model.builder(environ={"STABLENEW_CORE_MODEL": "", "STABLENEW_CORE_STEPS": ""}).build(model="RealVisXL_V4.0")
    assert (cfg.model, cfg.txt2img.steps) == ("RealVisXL_V4.0", 30)


def test_bad_legacy_values_name_the_variable(model: Library) -> None:
    with pytest.raises(ConfigError, match=r"STABLENEW_CORE_RESOLUTION: must be WIDTHxHEIGHT, as 1024x1024"):
        model.builder(environ={"STABLENEW_CORE_RESOLUTION": "large"}).build(model="RealVisXL_V4.0")
    with pytest.raises(ConfigError, match=r"txt2img\.steps = 'many' \(env, STABLENEW_CORE_STEPS\): must be an integer"):
        model.builder(environ={"STABLENEW_CORE_STEPS": "many"}).build(model="RealVisXL_V4.0")


def test_another_prefix_does_not_use_stablenews_table(model: Library) -> None:
    cfg = model.builder(env_prefix="MYAPP", environ={"MYAPP_CORE_STEPS": "31"}).build(model="RealVisXL_V4.0")
    assert cfg.txt2img.steps == 30


def test_the_shipped_table_names_real_fields_and_no_name_twice() -> None:
    names = stablenew_names()
    assert not set(names.mapped) & set(names.ignored)
    assert {"WEBUI_BASE_URL", "CORE_MODEL", "CORE_RESOLUTION", "N_ITER"} <= set(names.mapped)
    assert {"SEED_MODE", "OUTPUT_DIR", "WATCHDOG_ENABLED", "MODEL_ROOT", "TRAIN_LORA_COMMAND"} <= set(names.ignored)
    for legacy in names.mapped.values():
        for field in legacy.fields:
            assert annotation_at(PipelineConfig, tuple(field.split("."))) is not None, field


def test_fates() -> None:
    assert classify("STABLENEW_USER_FILE", "u.toml", "STABLENEW").fate == "read"
    assert classify("STABLENEW_PROMPT", "x", "STABLENEW").fields == ("prompt",)
    nested = classify("STABLENEW_TXT2IMG__STEPS__X", "1", "STABLENEW")
    assert (nested.fate, nested.reason) == ("refused", "txt2img.steps is a value, not a table")
    assert classify("STABLENEW_LORAS__AIDA__WEIGHT", "1", "STABLENEW").fate == "read"
    assert classify("STABLENEW_WEBUI_ROOTT", "x", "STABLENEW").fate == "refused"
    assert classify("STABLENEW_WEBUI_ROTO", "x", "STABLENEW").fate == "refused"  # neighbours swapped
    table = classify("STABLENEW_HIRES", "1", "STABLENEW")
    assert (table.fate, table.reason) == ("refused", "hires is a table; set its keys as STABLENEW_HIRES__<KEY>")
    assert classify("STABLENEW_CORE_RESOLUTION", "big", "STABLENEW").fate == "refused"


def test_env_report_lists_every_variable_with_its_fate_and_redacts_secrets() -> None:
    environ = {
        **STABLENEW_PROCESS,
        "STABLENEW_CORE_STEPS": "30",
        "STABLENEW_TXT2IMG__STEPS": "40",
        "STABLENEW_WEBUI__PASSWORD": "hunter2",
        "STABLENEW_API_TOKEN": "tok-123",
        "STABLENEW_NEGATVE_PROMPT": "x",
        "OTHER": "not listed",
    }
    report = env_report(environ)
    assert "hunter2" not in report and "tok-123" not in report and "OTHER" not in report
    assert "STABLENEW_WEBUI__PASSWORD = '********'\n    read -> webui.password" in report
    assert "STABLENEW_CORE_STEPS = '30'\n    legacy -> txt2img.steps (StableNew's name; read by" in report
    assert "overridden by STABLENEW_TXT2IMG__STEPS" in report
    assert "STABLENEW_SEED_MODE = 'fixed'\n    ignored (StableNew's seed strategy" in report
    assert "STABLENEW_NEGATVE_PROMPT = 'x'\n    refused (unknown name; did you mean STABLENEW_NEGATIVE_PROMPT" in report
    assert report.count("\n    ") == len(environ) - 1
    assert env_report({}) == "no STABLENEW_* variables set"


def test_env_command() -> None:
    result = CliRunner().invoke(app, ["env"], env={"STABLENEW_CORE_MODEL": "RealVisXL_V4.0"})
    assert result.exit_code == 0
    assert "STABLENEW_CORE_MODEL = 'RealVisXL_V4.0'\n    legacy -> model" in result.stdout


def test_only_the_first_refused_names_get_a_did_you_mean() -> None:
    from config_layers.errors import MAX_SHOWN_PROBLEMS
    from config_layers.layers.stablenew_env import classify_environment

    environ = {f"STABLENEW_TXT2IMG__SAMPLER_NAM{chr(65 + i)}X": "1" for i in range(MAX_SHOWN_PROBLEMS + 5)}
    fates = classify_environment(environ, "STABLENEW")
    assert all(v.fate == "refused" for v in fates)
    hinted = [v for v in fates if "did you mean" in (v.reason or "")]
    assert [v.name for v in hinted] == sorted(environ)[:MAX_SHOWN_PROBLEMS]
