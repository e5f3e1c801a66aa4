"""ConfigBuilder behaviour: model names, caching, threads, logging, the shipped files."""

from __future__ import annotations

import logging
import os
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from config_layers import LAYER_ORDER, ConfigBuilder, ConfigError, PipelineConfig
from config_layers.schema.config import schema_defaults
from config_layers.shipped import default_settings_file, examples_dir
from tests.conftest import MODEL_TOML, Library


@pytest.mark.parametrize(
    "name",
    [
        "RealVisXL_V4.0",
        "RealVisXL_V4.0.safetensors",
        "RealVisXL_V4.0.safetensors [4e4b3ad5]",
        "realvisxl_v4.0",
        "RealVisXL_V4.0 [0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef]",
    ],
)
def test_webui_model_names_resolve_like_the_bare_stem(rich_library: Library, name: str) -> None:
    cfg = rich_library.builder().build(model=name)
    assert cfg.txt2img.cfg_scale == 6.5
    assert cfg.model == name.split(" [")[0]


def test_model_in_a_subfolder_by_relative_name(library: Library) -> None:
    sub = library.models / "SDXL"
    sub.mkdir()
    (library.models / "SDXL" / "x.modelprofile.toml").write_text(
        MODEL_TOML.replace('model_name = "RealVisXL_V4.0"', 'model_name = "x"'), encoding="utf-8"
    )
    from tests.conftest import write_stub_safetensors

    write_stub_safetensors(sub / "x.safetensors")
    assert library.builder().build(model="SDXL/x.safetensors [abcdef12]").txt2img.steps == 30
    write_stub_safetensors(library.root / "outside" / "y.safetensors")
    # The rule a stack's file= entry follows: an escape is refused, not merely not found.
    with pytest.raises(ConfigError, match="outside the model directories"):
        library.builder().build(model="../outside/y")


def test_two_models_with_one_stem_are_ambiguous(library: Library) -> None:
    from tests.conftest import write_stub_safetensors

    write_stub_safetensors(library.models / "a" / "same.safetensors")
    write_stub_safetensors(library.models / "b" / "same.safetensors")
    with pytest.raises(ConfigError, match="ambiguous; name it with its folder"):
        library.builder().build(model="same")
    assert library.builder().build(model="a/same").model == "a/same"


def test_model_named_in_the_user_file_gets_its_profile(rich_library: Library) -> None:
    user = rich_library.file("user.toml", 'model = "RealVisXL_V4.0"\n\n[loras.PerfectEyesXL]\n')
    cfg = rich_library.builder(user_file=user).build()
    assert cfg.txt2img.cfg_scale == 6.5 and cfg.loras["PerfectEyesXL"].weight == 0.55


def test_new_files_and_edits_are_seen_by_the_same_builder(library: Library) -> None:
    user = library.file("user.toml", "[txt2img]\nsteps = 10\n")
    builder = library.builder(user_file=user)
    assert builder.build().txt2img.steps == 10
    user.write_text("[txt2img]\nsteps = 11\n# longer now\n", encoding="utf-8")
    assert builder.build().txt2img.steps == 11
    with pytest.raises(ConfigError):
        builder.build(model="Later")
    library.model("Later", MODEL_TOML.replace('"RealVisXL_V4.0"', '"Later"'))
    assert builder.build(model="Later").txt2img.cfg_scale == 6.5


def test_repeated_builds_with_different_loras(rich_library: Library) -> None:
    builder = rich_library.builder()
    first = builder.build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"])
    second = builder.build(model="RealVisXL_V4.0", loras=["NoProfileLora"])
    assert list(first.loras) == ["PerfectEyesXL"] and list(second.loras) == ["NoProfileLora"]


def test_build_is_safe_from_many_threads(rich_library: Library) -> None:
    builder = rich_library.builder(environ={"STABLENEW_TXT2IMG__SEED": "5"})
    jobs = [(["PerfectEyesXL"], 0.55), (["NoProfileLora"], 0.6)] * 40

    def run(job: tuple[list[str], float]) -> tuple[str, float, int, str]:
        loras, _ = job
        cfg = builder.build(model="RealVisXL_V4.0", loras=loras)
        name = loras[0]
        return name, cfg.loras[name].weight, cfg.txt2img.seed, cfg.provenance["txt2img.seed"].source

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, jobs))
    for (loras, weight), (name, got, seed, source) in zip(jobs, results, strict=True):
        assert (name, got, seed, source) == (loras[0], weight, 5, "STABLENEW_TXT2IMG__SEED")


def test_info_log_names_the_preset(rich_library: Library, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="config_layers"):
        rich_library.builder().build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"])
    assert (
        "Using model profile preset rvxl_photoreal_default (source=internet_prior)"
        " for RealVisXL_V4.0 + PerfectEyesXL" in caplog.text
    )


def test_profile_library_matches_by_alias(library: Library) -> None:
    shelf = library.root / "shelf"
    shelf.mkdir()
    (shelf / "rv.modelprofile.toml").write_text(
        MODEL_TOML.replace('tags = ["photoreal"]', 'tags = ["photoreal"]\naliases = ["realvisxlV40_v40Bakedvae"]'),
        encoding="utf-8",
    )
    library.model("realvisxlV40_v40Bakedvae")
    cfg = library.builder(profile_dirs=[shelf]).build(model="realvisxlV40_v40Bakedvae")
    assert cfg.txt2img.cfg_scale == 6.5
    assert cfg.provenance["txt2img.cfg_scale"].source == f"{shelf / 'rv.modelprofile.toml'}#rvxl_photoreal_default"


def test_own_sidecar_beats_the_library(library: Library) -> None:
    shelf = library.root / "shelf"
    shelf.mkdir()
    (shelf / "rv.modelprofile.toml").write_text(MODEL_TOML, encoding="utf-8")
    library.model("RealVisXL_V4.0", MODEL_TOML.replace("cfg = 6.5", "cfg = 4.5"))
    assert library.builder(profile_dirs=[shelf]).build(model="RealVisXL_V4.0").txt2img.cfg_scale == 4.5


def test_layer_names_are_the_public_contract(rich_library: Library) -> None:
    assert LAYER_ORDER == ("defaults", "model_profile", "lora_overlays", "user_file", "env", "overrides")
    cfg = rich_library.builder().build(model="RealVisXL_V4.0")
    assert [s.name for s in cfg.report.layers] == list(LAYER_ORDER)


def test_shipped_settings_match_the_schema_defaults_and_stablenew() -> None:
    with default_settings_file().open("rb") as handle:
        shipped = tomllib.load(handle)
    defaults = schema_defaults()
    defaults.pop("model"), defaults.pop("loras")
    # Unset optional hires fields (None: not sent) have no TOML spelling.
    defaults["hires"] = {key: value for key, value in defaults["hires"].items() if value is not None}
    assert shipped == defaults
    t = PipelineConfig().txt2img
    assert (t.steps, t.sampler_name, t.scheduler, t.cfg_scale, t.width, t.height, t.seed, t.clip_skip) == (
        20,
        "Euler a",
        "Normal",
        7.0,
        512,
        512,
        -1,
        2,
    )


def test_the_shipped_examples_build_every_model() -> None:
    models = examples_dir() / "models"
    builder = ConfigBuilder(
        model_dirs=[models / "Stable-diffusion"],
        lora_dirs=[models / "Lora"],
        environ={},
        user_file=examples_dir() / "user.toml",
    )
    for checkpoint in sorted((models / "Stable-diffusion").glob("*.safetensors")):
        cfg = builder.build(model=checkpoint.stem)
        assert cfg.txt2img.steps == 32  # examples/user.toml
    cfg = builder.build(model="RealVisXL_V4.0", loras=["PerfectEyesXL", "add-detail-xl"])
    assert cfg.loras["PerfectEyesXL"].weight == 0.6 and cfg.loras["add-detail-xl"].weight == 1.0


def test_a_build_never_reads_the_process_environment_when_given_a_mapping(
    library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STABLENEW_TXT2IMG__STEPS", "99")
    assert library.builder(environ={}).build().txt2img.steps == 20
    assert ConfigBuilder(environ=None, profile_dirs=[]).build().txt2img.steps == 99
    assert os.environ["STABLENEW_TXT2IMG__STEPS"] == "99"


def test_settings_file_can_be_replaced(library: Library) -> None:
    settings = library.file("s.toml", "[txt2img]\nsteps = 8\n")
    cfg = library.builder(settings_file=settings).build()
    assert cfg.txt2img.steps == 8
    assert cfg.provenance["txt2img.cfg_scale"].source == "built-in default (config_layers.schema)"


def test_a_config_not_made_by_the_builder_says_so() -> None:
    with pytest.raises(AttributeError, match="not made by ConfigBuilder"):
        _ = PipelineConfig().provenance


def test_paths_are_shown_relative_to_the_working_directory(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    user = library.file("user.toml", "[txt2img]\nsteps = 3\n")
    monkeypatch.chdir(library.root)
    cfg = library.builder(user_file=Path("user.toml")).build()
    assert cfg.provenance["txt2img.steps"].origin.where() == "user.toml:2:1"
    assert user.exists()


def test_the_walkthrough_runs() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(examples_dir() / "walkthrough.py")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "rule  pairing: recommended pairing with RealVisXL_V4.0#rvxl_fast" in done.stdout
    assert "did you mean 'cfg_scale'?" in done.stdout
