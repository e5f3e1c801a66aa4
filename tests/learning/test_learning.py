"""The learning loop, records side: reading LearningRecords, grouping, labels, learned files."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from freezegun import freeze_time
from hypothesis import given
from hypothesis import strategies as st

from config_layers import ConfigError, FileError
from config_layers.learning import learn
from config_layers.learning.groups import EVIDENCE_LIMIT, RATING_LABELS, Group
from config_layers.learning.learned_file import GENERATED_MARK, load_learned_profile, toml_value
from config_layers.learning.records import Knobs, Problem, Run, Skip, read_records
from tests.conftest import Library
from tests.learning_records import pipeline, thin, write_records

EYES = [{"name": "PerfectEyesXL", "weight": 0.5}]


def fixture_records(tmp_path: Path) -> Path:
    """Both shapes: 4 experiment records for one knob set, 2 review records for another, one
    thin record, one unrated, one unknown kind, one non-JSON line and a truncated last line."""
    cfg_test = {"variable_under_test": "CFG Scale", "variant_value": 6.0}
    records: list[dict[str, object] | str] = [
        pipeline("e1", 5, loras=EYES, **cfg_test),  # line 1
        pipeline("e2", 4, loras=EYES, **cfg_test),  # line 2
        pipeline("e3", 5, loras=EYES, **cfg_test),  # line 3
        pipeline("r1", 3, kind="review_tab_feedback", sampler="Euler a", steps=20, cfg=7.0),  # line 4
        pipeline("r2", 2, kind="review_tab_feedback", sampler="Euler a", steps=20, cfg=7.0),  # line 5
        thin("t1", 5, "CFG Scale", 6.0, model="RealVisXL_V4.0"),  # line 6
        pipeline("u1", None, kind="staged_curation_event"),  # line 7
        pipeline("k1", 4, kind="auto_score_v3"),  # line 8
        "{not json at all",  # line 9
        pipeline("e4", 4, loras=EYES, **cfg_test),  # line 10
    ]
    tail = json.dumps(pipeline("x1", 5), sort_keys=True)[:90]  # line 11: a crash while appending
    return write_records(tmp_path / "learning_records.jsonl", records, tail)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the fixture: groups, labels, skipped lines ---------------------------------------------


def test_fixture_groups_labels_and_skipped_lines(tmp_path: Path) -> None:
    records = fixture_records(tmp_path)
    report = learn([records])
    (model,) = report.models
    assert model.model_name == "RealVisXL_V4.0"
    (best,) = model.presets
    assert best.knobs == Knobs("RealVisXL_V4.0", "DPM++ 2M", "Karras", 28, 6.0, 1024, 1024, (("PerfectEyesXL", 0.5),))
    assert best.runs == 5 and best.experiment_runs == 5  # e1-e4 and the thin t1
    assert best.mean_rating == 4.6 and best.rating == "best"
    assert best.strength == "strong"
    assert [(e.run_id, e.line) for e in best.evidence] == [("e1", 1), ("e2", 2), ("e3", 3), ("t1", 6), ("e4", 10)]
    (weak,) = model.weak
    assert weak.runs == 2 and weak.strength == "review_only" and weak.rating == "good"
    assert [(p.line, p.kind) for p in report.problems] == [(8, "unknown_kind"), (9, "malformed"), (11, "malformed")]
    assert "truncated" in report.problems[2].message
    c = report.counts
    assert (c["lines"], c["runs"], c["thin_joined"], c["unrated"]) == (11, 7, 1, 1)
    text = report.render()
    assert f"{records.name}:8: unknown metadata.record_kind 'auto_score_v3'" in text
    assert f"{records.name}:9: not JSON" in text
    assert f"{records.name}:11: truncated last line" in text
    assert "not enough evidence (fewer than 3 runs), not written" in text
    assert "dry run: 1 preset found, but nowhere to write them" in text
    assert "(no model folders given: pass --models-dir DIR or --out DIR)" in text
    elsewhere = learn([records], model_dirs=[tmp_path]).render()
    assert "(checkpoint not found in the model folders; pass --out DIR)" in elsewhere


def test_records_file_is_only_read(tmp_path: Path, library: Library) -> None:
    library.model("RealVisXL_V4.0")
    records = fixture_records(tmp_path)
    records.chmod(stat.S_IRUSR)  # read-only: any attempt to open it for writing fails
    before = sha256(records), records.stat().st_mtime_ns
    learn([records], model_dirs=[library.models], write=True)
    learn([records], model_dirs=[library.models], write=True)
    assert (sha256(records), records.stat().st_mtime_ns) == before


def test_write_is_byte_identical_and_atomic(tmp_path: Path, library: Library) -> None:
    library.model("RealVisXL_V4.0")
    records = fixture_records(tmp_path)
    first = learn([records], model_dirs=[library.models], write=True)
    target = library.models / "RealVisXL_V4.0.learned.toml"
    assert first.models[0].target == target and first.models[0].status == "wrote 1 preset"
    data = target.read_bytes()
    again = learn([records], model_dirs=[library.models], write=True)
    assert again.models[0].status == "unchanged: 1 preset"
    assert target.read_bytes() == data
    out = tmp_path / "elsewhere"
    learn([records], out=out, write=True)
    elsewhere = (out / "RealVisXL_V4.0.learned.toml").read_bytes()
    assert elsewhere.replace(b"--out " + str(out).encode(), b"--models-dir " + str(library.models).encode()) == data
    assert sorted(p.name for p in library.models.iterdir()) == [
        "RealVisXL_V4.0.learned.toml",
        "RealVisXL_V4.0.safetensors",
    ]  # no temporary file left behind


def test_learned_file_header_and_content(tmp_path: Path, library: Library) -> None:
    library.model("RealVisXL_V4.0")
    records = fixture_records(tmp_path)
    learn([records], model_dirs=[library.models], write=True)
    path = library.models / "RealVisXL_V4.0.learned.toml"
    text = path.read_text(encoding="utf-8")
    assert text.startswith(GENERATED_MARK)
    assert f"# Records: {records.resolve()}" in text
    command = f"config-layers learn {records.resolve()} --model RealVisXL_V4.0 --min-runs 3"
    assert f"# Regenerate: {command} --models-dir {library.models} --write\n" in text
    profile = load_learned_profile(path)
    assert profile is not None
    (preset,) = profile.recommended_presets
    assert (preset.source, preset.rating, preset.sampler, preset.scheduler) == (
        "local_learning",
        "best",
        "DPM++ 2M",
        "Karras",
    )
    assert preset.learning_summary.runs_observed == 5
    assert preset.learning_summary.mean_rating == 4.6
    assert preset.learning_summary.last_run == "2026-11-03T10:00:00"
    first = preset.evidence[0]
    assert (first.run_id, first.file, first.line) == ("e1", str(records.resolve()), 1)
    assert [o.name for o in preset.lora_overlays] == ["PerfectEyesXL"]


def test_dry_run_writes_nothing(tmp_path: Path, library: Library) -> None:
    library.model("RealVisXL_V4.0")
    report = learn([fixture_records(tmp_path)], model_dirs=[library.models])
    assert not (library.models / "RealVisXL_V4.0.learned.toml").exists()
    assert report.models[0].text is not None and report.models[0].text.startswith(GENERATED_MARK)


def test_write_needs_a_place(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere to write the learned presets of 'RealVisXL_V4\.0'"):
        learn([fixture_records(tmp_path)], write=True)


def test_hand_written_file_is_not_replaced(tmp_path: Path, library: Library) -> None:
    library.model("RealVisXL_V4.0")
    mine = library.models / "RealVisXL_V4.0.learned.toml"
    mine.write_text("# my notes\n", encoding="utf-8")
    with pytest.raises(FileError, match="was not written by `config-layers learn`"):
        learn([fixture_records(tmp_path)], model_dirs=[library.models], write=True)
    assert mine.read_text(encoding="utf-8") == "# my notes\n"


def test_strict_makes_bad_lines_an_error(tmp_path: Path) -> None:
    records = fixture_records(tmp_path)
    with pytest.raises(ConfigError) as caught:
        learn([records], strict=True)
    message = str(caught.value)
    assert "3 bad lines in the records (--strict)" in message
    assert f"{records.name}:8:" in message and f"{records.name}:9:" in message and f"{records.name}:11:" in message


def test_several_records_files(tmp_path: Path) -> None:
    first = write_records(tmp_path / "a.jsonl", [pipeline("a1", 5), pipeline("a2", 5)])
    second = write_records(tmp_path / "b.jsonl", [pipeline("b1", 4)])
    report = learn([first, second, first])  # a file named twice is read once
    (group,) = report.models[0].presets
    assert group.runs == 3
    assert [(Path(e.file).name, e.line) for e in group.evidence] == [("a.jsonl", 1), ("a.jsonl", 2), ("b.jsonl", 1)]


@given(
    st.recursive(
        st.text() | st.integers(-(2**62), 2**62) | st.floats(allow_nan=False, allow_infinity=False) | st.booleans(),
        lambda inner: st.lists(inner, max_size=4),
        max_leaves=8,
    )
)
def test_toml_values_read_back_as_written(value: object) -> None:
    assert tomllib.loads(f"v = {toml_value(value)}")["v"] == value


def test_missing_records_file(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="records file not found"):
        learn([tmp_path / "nope.jsonl"])


# -- the reader ------------------------------------------------------------------------------


def read(tmp_path: Path, *records: dict[str, object] | str) -> list[Run | Skip | Problem]:
    return list(read_records(write_records(tmp_path / "r.jsonl", list(records))))


@pytest.mark.parametrize(
    ("change", "kind", "text"),
    [
        ({"metadata": {"user_rating": "five"}}, "wrong_type", "got `str` - at `$.metadata.user_rating`"),
        ({"metadata": {"user_rating": 7}}, "invalid_value", "metadata.user_rating: 7 is not from 1 to 5"),
        ({"metadata": []}, "wrong_type", "got `array` - at `$.metadata`"),
        ({"primary_steps": "30", "base_config": {}}, "wrong_type", "got `str` - at `$.primary_steps`"),
        ({"run_id": 12}, "wrong_type", "got `int` - at `$.run_id`"),
        ({"run_id": " "}, "wrong_type", "run_id: expected a non-empty string"),
        ({"timestamp": "yesterday"}, "invalid_value", "timestamp: 'yesterday' is not a date and time"),
        ({"base_config": {"txt2img": {"width": 1001}}}, "invalid_value", "base_config.txt2img.width: 1001 is not"),
        ({"base_config": {"txt2img": {"cfg_scale": -1}}}, "invalid_value", "CFG -1 is outside"),
        ({"base_config": {"txt2img": {"loras": "x"}}}, "wrong_type", "at `$.base_config.txt2img.loras`"),
        ({"metadata": {"variable_under_test": "Steps", "variant_value": "x"}}, "wrong_type", "expected a number"),
    ],
)
def test_bad_values_are_problems_with_line(tmp_path: Path, change: dict[str, object], kind: str, text: str) -> None:
    record = pipeline("a", 4)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(record.get(key), dict) and value:
            merged = dict(record[key])  # type: ignore[arg-type]
            for k, v in value.items():
                merged[k] = {**merged.get(k, {}), **v} if isinstance(v, dict) else v
            record[key] = merged
        else:
            record[key] = value
    good, bad = read(tmp_path, pipeline("ok", 4), record)
    assert isinstance(good, Run)
    assert isinstance(bad, Problem) and (bad.line, bad.kind) == (2, kind)
    assert text in bad.message


def test_json_that_is_not_an_object(tmp_path: Path) -> None:
    (item,) = read(tmp_path, "[1, 2]")
    assert isinstance(item, Problem) and item.kind == "wrong_type" and "Expected `object`, got `array`" in item.message


def test_blank_lines_are_ignored_but_counted_in_numbering(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("\n" + json.dumps(pipeline("a", 4)) + "\n\n" + "nan\n", encoding="utf-8")
    run, problem = read_records(path)
    assert isinstance(run, Run) and run.line == 2
    assert isinstance(problem, Problem) and problem.line == 4


def test_model_names_normalize_into_one_group(tmp_path: Path) -> None:
    names = ["RealVisXL_V4.0.safetensors [4e4b3ad5]", "SDXL/RealVisXL_V4.0.safetensors", "realvisxl_v4.0"]
    runs = read(tmp_path, *(pipeline(f"r{i}", 4, model=name) for i, name in enumerate(names)))
    assert {r.knobs.key() for r in runs if isinstance(r, Run)} == {runs[0].knobs.key()}  # type: ignore[union-attr]
    report = learn([tmp_path / "r.jsonl"])
    assert len(report.models) == 1 and report.models[0].presets[0].runs == 3


def test_combined_sampler_is_split_and_explicit_scheduler_kept(tmp_path: Path) -> None:
    combined, explicit = read(
        tmp_path,
        pipeline("a", 4, sampler="DPM++ 2M Karras"),
        pipeline("b", 4, sampler="DPM++ 2M", scheduler="karras"),
    )
    assert isinstance(combined, Run) and isinstance(explicit, Run)
    assert (combined.knobs.sampler, combined.knobs.scheduler) == ("DPM++ 2M", "Karras")
    assert combined.knobs.key() == explicit.knobs.key()


def test_lora_shapes(tmp_path: Path) -> None:
    strengths = pipeline("s", 4)
    strengths["base_config"]["txt2img"]["lora_strengths"] = [  # type: ignore[index]
        {"name": "PerfectEyesXL", "strength": 0.6, "enabled": True},
        {"name": "film_grain", "strength": 0.3, "enabled": False},
    ]
    named = pipeline("n", 4, loras=["add-detail-xl.safetensors"])
    variant = pipeline("v", 4, loras=[{"name": "A", "weight": 1.0}])
    variant["variant_configs"] = [{"txt2img": {"loras": [{"name": "B", "weight": 0.25}], "steps": 35}}]
    a, b, c = read(tmp_path, strengths, named, variant)
    assert isinstance(a, Run) and a.knobs.loras == (("PerfectEyesXL", 0.6),)
    assert isinstance(b, Run) and b.knobs.loras == (("add-detail-xl", None),)
    assert isinstance(c, Run) and c.knobs.loras == (("B", 0.25),) and c.knobs.steps == 35


def test_lora_strength_experiment_sets_the_weight(tmp_path: Path) -> None:
    record = pipeline("a", 4, loras=EYES, variable_under_test="LoRA Strength")
    record["metadata"]["variant_value"] = {"name": "PerfectEyesXL", "strength": 0.8}  # type: ignore[index]
    (run,) = read(tmp_path, record)
    assert isinstance(run, Run) and run.knobs.loras == (("PerfectEyesXL", 0.8),)


def test_skips_are_counted_not_errors(tmp_path: Path) -> None:
    items = read(
        tmp_path,
        pipeline("u", None),
        pipeline("d", 4, variable_under_test="Denoise Strength", variant_value=0.4),
        thin("t", 4, "prompt_style", "x"),
        {"run_id": "e", "metadata": {"user_rating": 4}},
    )
    assert [(type(i).__name__, getattr(i, "kind", "")) for i in items] == [
        ("Skip", "unrated"),
        ("Skip", "not_a_knob"),
        ("Skip", "not_a_knob"),
        ("Skip", "unrecoverable"),
    ]
    assert "knobs not recorded: model, sampler, steps, cfg, width, height" in items[3].message  # type: ignore[union-attr]
    learn([tmp_path / "r.jsonl"], strict=True)  # skips are not bad lines


def test_thin_record_that_fits_no_or_several_groups_is_skipped(tmp_path: Path) -> None:
    records = write_records(
        tmp_path / "r.jsonl",
        [
            pipeline("a", 4, cfg=6.0),
            pipeline("b", 4, cfg=6.0, steps=40),
            thin("none", 5, "CFG Scale", 9.0),
            thin("both", 5, "CFG Scale", 6.0),
            thin("one", 5, "Steps", 40),
        ],
    )
    report = learn([records], min_runs=1)
    by_steps = {g.knobs.steps: g for g in report.models[0].groups}
    assert by_steps[40].runs == 2 and by_steps[28].runs == 1
    skipped = {s.line: s.message for s in report.skips}
    assert "no group has the knobs it records" in skipped[3]
    assert "2 groups have the knobs it records" in skipped[4]
    assert report.counts["unrecoverable"] == 2


def test_model_filter(tmp_path: Path) -> None:
    records = write_records(
        tmp_path / "r.jsonl", [pipeline(f"a{i}", 4) for i in range(3)] + [pipeline("b", 4, model="other")]
    )
    report = learn([records], model="realvisxl_v4.0.safetensors")
    assert [m.model_name for m in report.models] == ["RealVisXL_V4.0"]
    assert report.counts["other_model"] == 1


def test_min_runs(tmp_path: Path) -> None:
    records = write_records(tmp_path / "r.jsonl", [pipeline(f"a{i}", 4) for i in range(2)])
    assert learn([records]).models[0].presets == []
    assert len(learn([records], min_runs=2).models[0].presets) == 1
    with pytest.raises(ConfigError, match="--min-runs must be at least 1"):
        learn([records], min_runs=0)


# -- ratings, weights, recency ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("mean", "label"),
    [(1.0, "bad"), (1.49, "bad"), (1.5, "neutral"), (2.5, "good"), (3.49, "good"), (3.5, "better"), (4.5, "best")],
)
def test_rating_labels_round_half_up(mean: float, label: str) -> None:
    group = Group("learned_000000000000", Knobs(), 3, 3, mean, None, (), True)
    assert group.rating == label


@given(st.floats(min_value=1.0, max_value=5.0))
def test_rating_label_is_nearest_whole_rating(mean: float) -> None:
    label = Group("learned_000000000000", Knobs(), 3, 3, mean, None, (), True).rating
    assert label is not None
    assert abs(RATING_LABELS.index(label) + 1 - mean) <= 0.5


def test_review_runs_weigh_half_an_experiment_run(tmp_path: Path) -> None:
    records = write_records(
        tmp_path / "r.jsonl",
        [pipeline(f"e{i}", 1) for i in range(3)] + [pipeline(f"r{i}", 5, kind="review_tab_feedback") for i in range(3)],
    )
    (group,) = learn([records]).models[0].presets
    assert group.mean_rating == pytest.approx((3 * 1 + 0.5 * 3 * 5) / 4.5, abs=0.005)  # 2.33, unweighted 3.0
    assert group.rating == "neutral"
    assert (group.experiment_runs, group.review_runs, group.strength) == (3, 3, "strong")


@freeze_time("2026-12-31T00:00:00")
def test_recency_weighting_against_the_clock(tmp_path: Path) -> None:
    records = write_records(
        tmp_path / "r.jsonl",
        [
            pipeline("old1", 1, timestamp="2026-11-01T00:00:00"),  # 60 days old: weight 1/4
            pipeline("old2", 1, timestamp="2026-11-01T00:00:00"),
            pipeline("new", 5, timestamp="2026-12-31T00:00:00"),
        ],
    )
    (plain,) = learn([records]).models[0].presets
    assert plain.mean_rating == pytest.approx(2.33, abs=0.01)
    (recent,) = learn([records], half_life_days=30).models[0].presets
    assert recent.mean_rating == pytest.approx((0.25 + 0.25 + 5) / 1.5, abs=0.005)  # 3.67
    assert recent.rating == "better" and plain.rating == "neutral"
    (halved,) = learn([records], half_life_days=60, now=datetime(2027, 3, 1, tzinfo=UTC)).models[0].presets
    assert halved.mean_rating < recent.mean_rating  # an explicit clock is used as given


def test_recency_skips_runs_without_a_timestamp(tmp_path: Path) -> None:
    records = write_records(tmp_path / "r.jsonl", [pipeline("a", 4, timestamp="")])
    assert learn([records], half_life_days=10, min_runs=1).counts["no_timestamp"] == 1
    assert learn([records], min_runs=1).counts["runs"] == 1


def test_evidence_keeps_the_newest_runs(tmp_path: Path) -> None:
    count = EVIDENCE_LIMIT + 5
    records = write_records(tmp_path / "r.jsonl", [pipeline(f"r{i}", 4) for i in range(count)])
    (group,) = learn([records]).models[0].presets
    assert group.runs == count
    assert [e.run_id for e in group.evidence] == [f"r{i}" for i in range(5, count)]


# -- learned files read back: untrusted input ------------------------------------------------


def written(tmp_path: Path, library: Library) -> Path:
    library.model("RealVisXL_V4.0")
    learn([fixture_records(tmp_path)], model_dirs=[library.models], write=True)
    return library.models / "RealVisXL_V4.0.learned.toml"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('source = "local_learning"', 'source = "internet_prior"', "source: must be one of"),
        ("steps = 28", 'steps = "28"', "steps: must be an integer"),
        ('model_name = "RealVisXL_V4.0"', 'model_name = "Other"', "is 'Other', but the file is named for"),
        ("mean_rating = 4.6\nlast_run", "mean_rating = 4.6\nbogus = 1\nlast_run", "bogus: unknown key"),
    ],
)
def test_learned_file_is_validated_strictly(tmp_path: Path, library: Library, old: str, new: str, message: str) -> None:
    path = written(tmp_path, library)
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(FileError, match=message) as caught:
        load_learned_profile(path)
    assert caught.value.path == str(path) and caught.value.line is not None


def test_learned_file_size_is_capped(tmp_path: Path, library: Library) -> None:
    path = written(tmp_path, library)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("#" * (1024 * 1024) + "\n")
    with pytest.raises(FileError, match="over the 1048576-byte limit"):
        load_learned_profile(path)


def test_records_file_never_opened_for_writing(
    tmp_path: Path, library: Library, monkeypatch: pytest.MonkeyPatch
) -> None:
    library.model("RealVisXL_V4.0")
    records = fixture_records(tmp_path)
    opened: list[tuple[str, str]] = []
    real_open = open

    def spy(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        opened.append((os.fspath(file) if isinstance(file, str | Path) else str(file), mode))  # type: ignore[arg-type]
        return real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr("builtins.open", spy)
    learn([records], model_dirs=[library.models], write=True)
    modes = [mode for name, mode in opened if name == str(records.resolve())]
    assert modes == ["rb"]


def test_overlong_line_is_refused_unread(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("config_layers.learning.records.MAX_LINE_BYTES", 64)
    path = tmp_path / "r.jsonl"
    path.write_text('{"run_id": "' + "x" * 200 + '"}\n' + json.dumps(pipeline("a", 4))[:60] + "\n", encoding="utf-8")
    long, short = read_records(path)
    assert isinstance(long, Problem) and long.line == 1 and "longer than 64 bytes" in long.message
    assert isinstance(short, Problem) and short.line == 2 and short.message.startswith("not JSON")


def test_records_path_that_is_a_folder(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="is not a regular file"):
        learn([tmp_path])
