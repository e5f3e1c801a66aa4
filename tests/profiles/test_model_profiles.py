"""The profile layer of PR-LEARN-PROFILES-001: loaders and preset suggestion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from config_layers.errors import ConfigError, FileError
from config_layers.profiles import (
    DEFAULT_LORA_WEIGHT,
    LoraProfile,
    ModelProfile,
    choose_lora_weight,
    load_lora_profile,
    load_model_profile,
    suggest_preset_for,
)
from config_layers.profiles.suggest import check_lora_compatibility
from tests.conftest import LORA_TOML, MODEL_TOML

MODEL_JSON = {
    "kind": "model_profile",
    "version": 1,
    "model_name": "RealVisXL_V4.0",
    "base_type": "sdxl",
    "tags": ["photoreal"],
    "recommended_presets": [
        {
            "id": "rvxl_photoreal_default",
            "label": "Photoreal default",
            "rating": "best",
            "source": "internet_prior",
            "sampler": "DPM++ 2M",
            "scheduler": "Karras",
            "steps": 30,
            "cfg": 6.5,
            "resolution": [1024, 1024],
            "lora_overlays": [{"name": "PerfectEyesXL", "weight": 0.6}],
        }
    ],
    "learning_summary": {"runs_observed": 3, "mean_rating": 4.5},
}

LORA_JSON = {
    "kind": "lora_profile",
    "version": 1,
    "lora_name": "PerfectEyesXL",
    "target_base_type": "sdxl",
    "intended_use": ["eyes"],
    "trigger_phrases": ["perfecteyes"],
    "recommended_weights": [{"label": "default", "weight": 0.6, "rating": "good"}],
    "recommended_pairings": [{"model": "RealVisXL_V4.0", "preset_id": None, "rating": "best"}],
    "learning_summary": {"runs_observed": 0, "mean_rating": None},
}


def model(presets: list[dict[str, object]], **extra: object) -> ModelProfile:
    return ModelProfile.model_validate(
        {
            "kind": "model_profile",
            "version": 1,
            "model_name": "M",
            "base_type": "sdxl",
            "recommended_presets": presets,
            **extra,
        }
    )


def preset(pid: str, rating: str, **extra: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": pid,
        "label": pid,
        "rating": rating,
        "source": "internet_prior",
        "sampler": "Euler",
        "steps": 20,
        "cfg": 7.0,
        "resolution": [1024, 1024],
    }
    data.update(extra)
    return data


def lora(name: str, **extra: object) -> LoraProfile:
    return LoraProfile.model_validate(
        {"kind": "lora_profile", "version": 1, "lora_name": name, "target_base_type": "sdxl", **extra}
    )


def test_load_model_profile_from_json_success(tmp_path: Path) -> None:
    path = tmp_path / "RealVisXL_V4.0.modelprofile.json"
    path.write_text(json.dumps(MODEL_JSON), encoding="utf-8")
    profile = load_model_profile(path)
    assert profile is not None
    assert profile.model_name == "RealVisXL_V4.0"
    assert profile.base_type == "sdxl"
    (only,) = profile.recommended_presets
    assert (only.sampler, only.scheduler, only.steps, only.cfg) == ("DPM++ 2M", "Karras", 30, 6.5)
    assert only.resolution == (1024, 1024)
    assert only.lora_overlays[0].name == "PerfectEyesXL" and only.lora_overlays[0].weight == 0.6
    assert profile.learning_summary.runs_observed == 3


def test_load_lora_profile_from_json_success(tmp_path: Path) -> None:
    path = tmp_path / "PerfectEyesXL.loraprofile.json"
    path.write_text(json.dumps(LORA_JSON), encoding="utf-8")
    profile = load_lora_profile(path)
    assert profile is not None
    assert profile.lora_name == "PerfectEyesXL"
    assert profile.trigger_phrases == ["perfecteyes"]
    assert profile.recommended_weights[0].weight == 0.6
    assert profile.recommended_pairings[0].model == "RealVisXL_V4.0"
    assert profile.recommended_pairings[0].weight is None


def test_load_model_profile_from_toml_success(tmp_path: Path) -> None:
    path = tmp_path / "RealVisXL_V4.0.modelprofile.toml"
    path.write_text(MODEL_TOML, encoding="utf-8")
    profile = load_model_profile(path)
    assert profile is not None
    assert [p.id for p in profile.recommended_presets] == ["rvxl_good", "rvxl_photoreal_default"]
    assert profile.document is not None and profile.document.position(("recommended_presets", 1, "cfg")) == (
        26,
        1,
    )


def test_load_lora_profile_from_toml_success(tmp_path: Path) -> None:
    path = tmp_path / "PerfectEyesXL.loraprofile.toml"
    path.write_text(LORA_TOML, encoding="utf-8")
    profile = load_lora_profile(path)
    assert profile is not None and profile.recommended_weights[0].weight == 0.7


def test_missing_profile_file_is_none(tmp_path: Path) -> None:
    assert load_model_profile(tmp_path / "nope.modelprofile.toml") is None
    assert load_lora_profile(tmp_path / "nope.loraprofile.json") is None


def test_suggest_preset_picks_highest_rated_preset() -> None:
    profile = model([preset("a", "good"), preset("b", "best", steps=30), preset("c", "better"), preset("d", "bad")])
    suggestion = suggest_preset_for(profile, [])
    assert suggestion is not None
    assert suggestion.preset_id == "b" and suggestion.steps == 30
    assert suggestion.source == "internet_prior"


def test_suggest_preset_ties_resolve_by_file_order_and_say_so() -> None:
    profile = model([preset("first", "better"), preset("second", "better")])
    suggestion = suggest_preset_for(profile, [])
    assert suggestion is not None and suggestion.preset_id == "first"
    assert "file order" in suggestion.explanation and "'second'" in suggestion.explanation


def test_suggest_preset_honours_a_named_preset() -> None:
    profile = model([preset("a", "best"), preset("b", "bad", cfg=3.0)])
    suggestion = suggest_preset_for(profile, [], preset_id="b")
    assert suggestion is not None and suggestion.cfg == 3.0


def test_suggest_preset_unknown_preset_lists_the_available_ones() -> None:
    with pytest.raises(ConfigError, match="available: a, b"):
        suggest_preset_for(model([preset("a", "best"), preset("b", "bad")]), [], preset_id="zzz")


def test_suggest_preset_merges_lora_weights() -> None:
    profile = model([preset("p", "best", lora_overlays=[{"name": "Overlaid", "weight": 0.45}])])
    loras = [
        lora(
            "Paired",
            recommended_pairings=[{"model": "M", "rating": "good", "weight": 0.3}],
            recommended_weights=[{"label": "x", "weight": 0.9, "rating": "best"}],
        ),
        lora("Overlaid", recommended_weights=[{"label": "x", "weight": 0.9, "rating": "best"}]),
        lora(
            "Weighted",
            recommended_weights=[
                {"label": "low", "weight": 0.4, "rating": "good"},
                {"label": "high", "weight": 0.8, "rating": "better"},
            ],
        ),
        lora("Bare"),
    ]
    suggestion = suggest_preset_for(profile, loras)
    assert suggestion is not None
    assert suggestion.lora_weights == {
        "Paired": 0.3,
        "Overlaid": 0.45,
        "Weighted": 0.8,
        "Bare": DEFAULT_LORA_WEIGHT,
    }
    rules = {name: choice.rule for name, choice in suggestion.lora_weight_choices.items()}
    assert rules == {
        "Paired": "pairing",
        "Overlaid": "preset_overlay",
        "Weighted": "recommended_weight",
        "Bare": "default",
    }


def test_pairing_naming_the_chosen_preset_beats_a_general_pairing() -> None:
    profile = model([preset("p", "best"), preset("q", "good")])
    the_lora = lora(
        "L",
        recommended_pairings=[
            {"model": "M", "rating": "best", "weight": 0.2},
            {"model": "M", "preset_id": "p", "rating": "good", "weight": 0.35},
            {"model": "M", "preset_id": "q", "rating": "best", "weight": 0.9},
        ],
    )
    suggestion = suggest_preset_for(profile, [the_lora])
    assert suggestion is not None and suggestion.lora_weights["L"] == 0.35


def test_pairing_for_another_model_or_without_weight_is_ignored() -> None:
    profile = model([preset("p", "best")])
    the_lora = lora(
        "L",
        recommended_pairings=[
            {"model": "OtherModel", "rating": "best", "weight": 0.1},
            {"model": "M", "rating": "best"},
        ],
        recommended_weights=[{"label": "w", "weight": 0.75, "rating": "good"}],
    )
    choice = choose_lora_weight("L", the_lora, profile, profile.recommended_presets[0])
    assert (choice.weight, choice.rule) == (0.75, "recommended_weight")


def test_pairing_matches_model_aliases_and_webui_names() -> None:
    profile = model([preset("p", "best")], aliases=["realvis4"])
    the_lora = lora(
        "L",
        recommended_pairings=[{"model": "realvis4.safetensors [abcdef12]", "rating": "good", "weight": 0.42}],
    )
    assert choose_lora_weight("L", the_lora, profile, None).weight == 0.42


def test_suggest_preset_returns_none_if_no_presets() -> None:
    assert suggest_preset_for(model([]), [lora("L")]) is None
    assert suggest_preset_for(None, [lora("L")]) is None


def test_cross_family_lora_is_reported_and_left_out() -> None:
    profile = model([preset("p", "best")])
    sd15 = LoraProfile.model_validate(
        {"kind": "lora_profile", "version": 1, "lora_name": "Old", "target_base_type": "sd15"}
    )
    pony = LoraProfile.model_validate(
        {"kind": "lora_profile", "version": 1, "lora_name": "Ponyish", "target_base_type": "pony"}
    )
    issues = [check_lora_compatibility(p.lora_name, p.target_base_type, profile.base_type) for p in (sd15, pony)]
    suggestion = suggest_preset_for(profile, [sd15, pony], compatibility=[i for i in issues if i is not None])
    assert suggestion is not None
    assert "Old" not in suggestion.lora_weights
    assert "Ponyish" in suggestion.lora_weights
    severities = {issue.lora_name: issue.severity for issue in suggestion.compatibility}
    assert severities == {"Old": "error", "Ponyish": "warning"}
    # suggest_preset_for does not judge compatibility itself: it acts on the issues it is given.
    assert suggest_preset_for(profile, [sd15, pony]).lora_weights == {"Old": 0.6, "Ponyish": 0.6}  # type: ignore[union-attr]


def test_duplicate_preset_ids_are_rejected(tmp_path: Path) -> None:
    path = tmp_path / "m.modelprofile.json"
    data = dict(MODEL_JSON, recommended_presets=[MODEL_JSON["recommended_presets"][0]] * 2)  # type: ignore[index]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(FileError, match="used twice"):
        load_model_profile(path)
