"""The learning loop, profile side: learned presets as candidates of the model_profile layer,
the local_learning tie-break, explain's evidence, and Good / Better / Best listings."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from config_layers import ConfigError, FileError
from config_layers.cli import app
from config_layers.learning import learn
from config_layers.profiles.models import ModelPreset, ModelProfile
from config_layers.profiles.suggest import choose_preset, rank_presets
from tests.conftest import LORA_TOML, MODEL_TOML, Library
from tests.learning_records import pipeline, write_records

runner = CliRunner()
EYES = [{"name": "PerfectEyesXL", "weight": 0.45}]


def learned(library: Library, rating: float, runs: int = 3) -> Path:
    """Rated runs of one knob set (Euler a, 24 steps, CFG 5.5, 1024x1024, PerfectEyesXL 0.45),
    learned into RealVisXL_V4.0.learned.toml beside the checkpoint; returns the records file."""
    records = write_records(
        library.root / "learning_records.jsonl",
        [pipeline(f"run-{i}", rating, sampler="Euler a", steps=24, cfg=5.5, loras=EYES) for i in range(runs)],
    )
    learn([records], model_dirs=[library.models], write=True)
    return records


def with_top_rating(rating: str) -> str:
    return MODEL_TOML.replace('rating = "best"', f'rating = "{rating}"')


def test_learned_preset_wins_when_it_out_rates_the_prior(library: Library) -> None:
    library.model("RealVisXL_V4.0", with_top_rating("better"))
    library.lora("PerfectEyesXL", LORA_TOML)
    records = learned(library, 5)
    config = library.builder().build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"])
    assert (config.txt2img.sampler_name, config.txt2img.steps, config.txt2img.cfg_scale) == ("Euler a", 24, 5.5)
    assert config.loras["PerfectEyesXL"].weight == 0.45
    cfg = config.provenance["txt2img.cfg_scale"]
    path = library.models / "RealVisXL_V4.0.learned.toml"
    assert cfg.layer == "model_profile" and cfg.source.startswith(f"{path}#learned_")
    lines = path.read_text(encoding="utf-8").splitlines()
    assert cfg.line is not None and lines[cfg.line - 1] == "cfg = 5.5"
    assert cfg.origin.rule == "local_learning: 3 rated runs, mean rating 5.0"
    weight = config.provenance["loras.PerfectEyesXL.weight"]
    assert weight.source.startswith(f"{path}#learned_") and weight.line is not None
    assert lines[weight.line - 1] == "weight = 0.45"
    explained = config.explain("txt2img.cfg_scale")
    assert "was learned from 3 rated runs" in explained
    assert f"{records.name}:1  run run-0  rated 5 (learning_experiment_rating)" in explained
    assert "learned " + str(path) + ": 1 local_learning preset joined the candidates" in explained
    explained = config.explain("loras.PerfectEyesXL.weight")
    assert "LoRA 'PerfectEyesXL': its weight comes from preset 'learned_" in explained
    assert f"{records.name}:3  run run-2  rated 5" in explained


def test_prior_stays_when_it_rates_higher_and_is_never_edited(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    sidecar = library.models / "RealVisXL_V4.0.modelprofile.toml"
    before = hashlib.sha256(sidecar.read_bytes()).hexdigest()
    learned(library, 3)  # "good": below the sidecar's best
    builder = library.builder()
    config = builder.build(model="RealVisXL_V4.0")
    assert config.provenance["txt2img.cfg_scale"].source == f"{sidecar}#rvxl_photoreal_default"
    ranked = builder.presets("RealVisXL_V4.0")
    assert [(c.rating, c.source) for c in ranked] == [
        ("best", "internet_prior"),
        ("good", "local_learning"),  # equal rating with rvxl_good: local_learning first
        ("good", "internet_prior"),
    ]
    assert ranked[1].runs_observed == 3 and ranked[1].mean_rating == 3.0
    assert ranked[2].why == "rated good, below best"
    assert hashlib.sha256(sidecar.read_bytes()).hexdigest() == before


def test_equal_rating_local_learning_beats_internet_prior(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    learned(library, 5)  # best, as the sidecar's rvxl_photoreal_default
    config = library.builder().build(model="RealVisXL_V4.0")
    assert config.txt2img.sampler_name == "Euler a"
    notes = [note for layer in config._report.layers for note in layer.notes]  # type: ignore[union-attr]
    assert any("tied with 'rvxl_photoreal_default': at equal rating local_learning wins" in n for n in notes)


def test_presets_rank_as_build_picks(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    library.lora("PerfectEyesXL", LORA_TOML)
    builder = library.builder()
    for rating in (1, 3, 5):
        learned(library, rating)
        ranked = builder.presets("RealVisXL_V4.0", ["PerfectEyesXL"])
        config = builder.build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"])
        assert ranked[0].chosen and not any(c.chosen for c in ranked[1:])
        assert config.provenance["txt2img.steps"].source.endswith(f"#{ranked[0].preset_id}")
        assert config.loras["PerfectEyesXL"].weight == ranked[0].lora_weights["PerfectEyesXL"]
        for candidate in ranked:  # every listed preset can be built by id
            assert builder.build(model="RealVisXL_V4.0", preset_id=candidate.preset_id).txt2img.steps > 0


_PRESET = st.builds(
    lambda rating, learned: (rating, "local_learning" if learned else "internet_prior"),
    st.sampled_from(["bad", "neutral", "good", "better", "best"]),
    st.booleans(),
)


@given(st.lists(_PRESET, min_size=1, max_size=8))
def test_ranking_and_choice_agree(presets: list[tuple[str, str]]) -> None:
    profile = ModelProfile(
        kind="model_profile",
        version=1,
        model_name="m",
        recommended_presets=[
            ModelPreset(
                id=f"p{i}", label="", rating=r, source=s, sampler="Euler", steps=20, cfg=7.0, resolution=(512, 512)
            )  # type: ignore[arg-type]
            for i, (r, s) in enumerate(presets)
        ],
    )
    order = rank_presets(profile.recommended_presets)
    index, _, _ = choose_preset(profile)
    assert order[0] == index
    ranks = [{"bad": 0, "neutral": 1, "good": 2, "better": 3, "best": 4}[presets[i][0]] for i in order]
    assert ranks == sorted(ranks, reverse=True)


def test_learned_file_alone_is_a_profile(library: Library) -> None:
    library.model("RealVisXL_V4.0")
    learned(library, 4)
    config = library.builder().build(model="RealVisXL_V4.0")
    assert config.txt2img.steps == 24
    assert ".learned.toml#learned_" in config.provenance["txt2img.steps"].source


def test_bad_learned_file_fails_the_build_with_its_line(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    learned(library, 4)
    path = library.models / "RealVisXL_V4.0.learned.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("steps = 24", "steps = 0"), encoding="utf-8")
    with pytest.raises(FileError) as caught:
        library.builder().build(model="RealVisXL_V4.0")
    assert caught.value.path == str(path) and caught.value.line is not None
    assert "recommended_presets[0].steps" in str(caught.value)


def test_presets_without_a_profile(library: Library) -> None:
    library.model("plainModel")
    with pytest.raises(ConfigError, match="'plainModel' has no profile"):
        library.builder().presets("plainModel")


# -- the CLI ---------------------------------------------------------------------------------


def test_cli_learn_dry_run_write_and_json(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    records = write_records(library.root / "r.jsonl", [pipeline(f"r{i}", 4) for i in range(3)], "{trunc")
    args = ["learn", str(records), "--models-dir", str(library.models)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "dry run: would write 1 preset" in result.output and "r.jsonl:4: truncated last line" in result.output
    assert not (library.models / "RealVisXL_V4.0.learned.toml").exists()
    result = runner.invoke(app, [*args, "--format", "json"])
    data = json.loads(result.output)
    assert data["models"][0]["presets"][0]["runs_observed"] == 3 and data["problems"][0]["line"] == 4
    assert runner.invoke(app, [*args, "--format", "toml"]).output.startswith("# Generated by `config-layers learn`")
    result = runner.invoke(app, [*args, "--write"])
    assert result.exit_code == 0 and (library.models / "RealVisXL_V4.0.learned.toml").is_file()
    strict = runner.invoke(app, [*args, "--strict"])
    assert strict.exit_code == 2 and "r.jsonl:4: truncated last line" in strict.stderr
    assert "Traceback" not in strict.output


def test_cli_presets(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    library.lora("PerfectEyesXL", LORA_TOML)
    learned(library, 5)
    args = ["presets", "--model", "RealVisXL_V4.0", "--lora", "PerfectEyesXL"]
    args += [
        "--models-dir",
        str(library.models),
        "--loras-dir",
        str(library.loras),
        "--profiles-dir",
        str(library.root),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[1]
    assert first.startswith("* 1. learned_") and "best  local_learning  (3 runs, mean 5.0)" in first
    assert "why: preset 'learned_" in result.output and "PerfectEyesXL 0.45" in result.output
    data = json.loads(runner.invoke(app, [*args, "--format", "json"]).output)
    assert [c["chosen"] for c in data] == [True, False, False]
    where, line, _ = data[0]["where"].rsplit(":", 2)
    assert where == f"{library.models / 'RealVisXL_V4.0.learned.toml'}#{data[0]['id']}"
    text = (library.models / "RealVisXL_V4.0.learned.toml").read_text(encoding="utf-8")
    assert text.splitlines()[int(line) - 1] == "[[recommended_presets]]"
    missing = runner.invoke(app, ["presets", "--model", "nope", "--models-dir", str(library.models)])
    assert missing.exit_code == 2 and "not found" in missing.stderr


def test_learned_presets_join_a_library_profile(library: Library) -> None:
    shelf = library.root / "shelf"
    shelf.mkdir()
    (shelf / "RealVisXL_V4.0.modelprofile.toml").write_text(with_top_rating("good"), encoding="utf-8")
    library.model("RealVisXL_V4.0")  # no sidecar: the library profile supplies the priors
    learned(library, 4)
    config = library.builder(profile_dirs=[shelf]).build(model="RealVisXL_V4.0")
    steps = config.provenance["txt2img.steps"]
    assert config.txt2img.steps == 24 and ".learned.toml#learned_" in steps.source
    (summary,) = [layer for layer in config._report.layers if layer.name == "model_profile"]  # type: ignore[union-attr]
    assert summary.sources == (steps.source,)
    ranked = library.builder(profile_dirs=[shelf]).presets("RealVisXL_V4.0")
    assert [c.source for c in ranked] == ["local_learning", "internet_prior", "internet_prior"]
    assert ranked[1].where.startswith(str(shelf / "RealVisXL_V4.0.modelprofile.toml"))
