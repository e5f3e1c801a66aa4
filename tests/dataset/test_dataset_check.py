"""`config-layers dataset check`: kohya dataset TOML resolved with provenance, and the image preflight."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from config_layers.cli import app
from config_layers.dataset.check import CheckOptions, check_config, check_folder, write_jsonl
from config_layers.dataset.kohya import load_dataset_config, resolve
from config_layers.documents import parse_document
from config_layers.errors import ConfigError

runner = CliRunner()
NO_FLOOR = CheckOptions(min_images=0)


def images(folder: Path, count: int, ext: str | None = ".txt", caption: str = "a photo", prefix: str = "img") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        (folder / f"{prefix}{i:03}.png").write_bytes(b"\x89PNG")
        if ext is not None:
            (folder / f"{prefix}{i:03}{ext}").write_text(f"{caption}\n", encoding="utf-8")


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "dataset.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


LAYERED = """\
[general]
num_repeats = 2
shuffle_caption = true
caption_extension = ".txt"

[[datasets]]
resolution = [1024, 1024]
num_repeats = 5
keep_tokens = 1

  [[datasets.subsets]]
  image_dir = "a"
  num_repeats = 10

  [[datasets.subsets]]
  image_dir = "b"
"""


def test_overrides_at_all_three_levels_carry_level_and_position(tmp_path: Path) -> None:
    images(tmp_path / "a", 2)
    images(tmp_path / "b", 2)
    config = load_dataset_config(toml(tmp_path, LAYERED))
    assert config.problems == []
    first, second = config.datasets[0].subsets
    repeats = first.settings["num_repeats"]
    assert (repeats.value, repeats.level, repeats.origin.position) == (10, "subset", (13, 3))
    assert [(level, origin.position, value) for level, origin, value in repeats.overridden] == [
        ("default", None, 1),
        ("general", (2, 1), 2),
        ("dataset", (8, 1), 5),
    ]
    assert (second.settings["num_repeats"].value, second.settings["num_repeats"].level) == (5, "dataset")
    shuffle = second.settings["shuffle_caption"]
    assert (shuffle.value, shuffle.level, shuffle.where()) == (True, "general", f"{tmp_path / 'dataset.toml'}:3:1")
    assert second.settings["keep_tokens"].level == "dataset"
    flip = second.settings["flip_aug"]
    assert (flip.value, flip.level, flip.where()) == (False, "default", "built-in default (kohya sd-scripts)")
    resolution = config.datasets[0].settings["resolution"]
    assert (resolution.value, resolution.level, resolution.origin.position) == ([1024, 1024], "dataset", (7, 1))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(1, 50)), min_size=3, max_size=3))
def test_the_most_specific_level_wins(values: list[int | None]) -> None:
    general, dataset, subset = values
    lines = ["[general]"] + ([f"num_repeats = {general}"] if general else [])
    lines += ["[[datasets]]"] + ([f"num_repeats = {dataset}"] if dataset else [])
    lines += ["[[datasets.subsets]]", 'image_dir = "x"'] + ([f"num_repeats = {subset}"] if subset else [])
    document = parse_document(Path("d.toml"), "\n".join(lines).encode(), "toml")
    setting = resolve(document).datasets[0].subsets[0].settings["num_repeats"]
    order = [("default", 1), ("general", general), ("dataset", dataset), ("subset", subset)]
    declared = [(name, value) for name, value in order if value]
    assert (setting.level, setting.value) == declared[-1]
    assert [(level, value) for level, _, value in setting.overridden] == declared[:-1]


def test_the_caption_default_is_flagged_when_captions_are_txt(tmp_path: Path) -> None:
    images(tmp_path / "imgs", 3, ".txt")
    path = toml(tmp_path, '[[datasets]]\n[[datasets.subsets]]\nimage_dir = "imgs"\n')
    report = check_config(path, NO_FLOOR)
    assert report.problems == [
        f"{path}:3:1: datasets[0].subsets[0].image_dir: caption_extension is kohya's default '.caption' "
        '(no level sets it), but 3 images have .txt captions: set caption_extension = ".txt"'
    ]


def test_unpaired_images_and_captions_are_listed(tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    images(folder, 2, ".caption")
    (folder / "lonely.jpg").write_bytes(b"x")
    (folder / "LOUD.WEBP").write_bytes(b"x")
    (folder / "ghost.caption").write_text("a ghost", encoding="utf-8")
    (folder / "img001.caption").write_text("  \n", encoding="utf-8")
    report = check_config(toml(tmp_path, '[[datasets]]\n[[datasets.subsets]]\nimage_dir = "imgs"\n'), NO_FLOOR)
    problems = "\n".join(report.problems)
    assert "2 images without a .caption caption: LOUD.WEBP, lonely.jpg" in problems
    assert "1 .caption captions without an image: ghost.caption" in problems
    assert "1 empty captions: img001.caption" in problems
    assert report.folders[0].images == 4 and len(report.folders[0].pairs) == 1


def test_mixing_dreambooth_and_finetuning_subsets_is_an_error(tmp_path: Path) -> None:
    images(tmp_path / "a", 1, ".caption")
    (tmp_path / "meta.json").write_text("{}", encoding="utf-8")
    path = toml(
        tmp_path,
        """\
        [[datasets]]
        [[datasets.subsets]]
        image_dir = "a"
        [[datasets.subsets]]
        metadata_file = "meta.json"
        """,
    )
    problems = check_config(path, NO_FLOOR).problems
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:1:1: datasets[0]: mixes DreamBooth-style subsets")


def test_unknown_and_misplaced_keys_and_bad_types_are_located(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        """\
        [general]
        image_dir = "x"
        [[datasets]]
        batch_sizee = 2
        [[datasets.subsets]]
          image_dir = "imgs"
          num_repeats = "3"
          caption_extension = "txt"
          resolution = 512
          face_crop_aug_range = [1, 2]
        """,
    )
    problems = load_dataset_config(path).problems
    assert problems == [
        f"{path}:2:1: general.image_dir: not allowed here; it belongs in [[datasets.subsets]]",
        f"{path}:4:1: datasets[0].batch_sizee: unknown key (kohya rejects unknown keys)",
        f"{path}:7:3: datasets[0].subsets[0].num_repeats: must be an integer, not '3'",
        f"{path}:8:3: datasets[0].subsets[0].caption_extension: must start with a dot "
        "(kohya appends it to the file stem): '.txt'",
        f"{path}:9:3: datasets[0].subsets[0].resolution: not allowed here; it belongs in [general] or [[datasets]]",
        f"{path}:10:3: datasets[0].subsets[0].face_crop_aug_range: must be a list of two floats, e.g. [0.2, 0.5], "
        "not [1, 2]",
    ]


def test_bucket_resolutions_must_be_multiples_of_the_step(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        """\
        [general]
        enable_bucket = true
        bucket_reso_steps = 64
        [[datasets]]
        min_bucket_reso = 320
        max_bucket_reso = 1000
        [[datasets.subsets]]
        image_dir = "x"
        """,
    )
    problems = load_dataset_config(path).problems
    assert problems == [
        f"{path}:6:1: datasets[0].max_bucket_reso: max_bucket_reso = 1000 (dataset) is not a multiple of "
        "bucket_reso_steps = 64 (general)"
    ]


TWO_TXT_SUBSETS = """\
[general]
caption_extension = ".txt"
[[datasets]]
[[datasets.subsets]]
image_dir = "{first}"
[[datasets.subsets]]
image_dir = "{second}"
{extra}"""


def test_style_purity_min_images_and_a_missing_folder(tmp_path: Path) -> None:
    images(tmp_path / "imgs", 3, ".txt", caption="mystyle")
    (tmp_path / "imgs" / "img001.txt").write_text("mystyle, a cat", encoding="utf-8")
    path = toml(tmp_path, TWO_TXT_SUBSETS.format(first="imgs", second="gone", extra=""))
    report = check_config(path, CheckOptions(min_images=150, style_trigger="mystyle"))
    assert report.problems == [
        f"{path}:7:1: datasets[0].subsets[1].image_dir: {tmp_path / 'gone'} is not a folder",
        f"{path}: 3 training images, fewer than the minimum of 150 (--min-images)",
        "datasets[0].subsets[0]: style LoRA: 1 captions are not exactly the trigger 'mystyle': "
        "img001.png ('mystyle, a cat')",
    ]


def test_regularisation_images_may_rely_on_class_tokens_and_do_not_count(tmp_path: Path) -> None:
    images(tmp_path / "train", 2, ".txt")
    images(tmp_path / "reg", 5, None)
    extra = 'is_reg = true\nclass_tokens = "woman"\n'
    path = toml(tmp_path, TWO_TXT_SUBSETS.format(first="train", second="reg", extra=extra))
    report = check_config(path, CheckOptions(min_images=2))
    assert report.problems == [] and report.training_images == 2


def test_a_plain_folder_and_the_jsonl(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    images(folder, 3, ".txt", caption="mystyle")
    report = check_folder(folder, CheckOptions(min_images=3, style_trigger="mystyle"))
    assert report.problems == []
    out = folder / "train.jsonl"
    assert write_jsonl(report, out, force=False) == 3
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert lines == [{"image": f"img00{i}.png", "prompt": "mystyle"} for i in range(3)]
    elsewhere = tmp_path / "other" / "train.jsonl"
    write_jsonl(report, elsewhere, force=False)
    first = json.loads(elsewhere.read_text(encoding="utf-8").splitlines()[0])
    assert first["image"] == (folder / "img000.png").resolve().as_posix()
    with pytest.raises(ConfigError, match="already exists"):
        write_jsonl(report, out, force=False)


def test_the_cli_lists_every_problem_and_writes_nothing_then(tmp_path: Path) -> None:
    images(tmp_path / "imgs", 2, ".txt")
    (tmp_path / "imgs" / "extra.png").write_bytes(b"x")
    path = toml(tmp_path, '[[datasets]]\nflip = true\n[[datasets.subsets]]\nimage_dir = "imgs"\n')
    out = tmp_path / "train.jsonl"
    result = runner.invoke(app, ["dataset", "check", str(path), "--emit-jsonl", str(out)])
    assert result.exit_code == 2
    assert "config-layers: error: 4 problems:" in result.stderr
    assert "datasets[0].flip: unknown key" in result.stderr
    assert "caption_extension is kohya's default '.caption'" in result.stderr
    assert "1 images without a .caption caption: extra.png" in result.stderr
    assert "fewer than the minimum of 150" in result.stderr
    assert 'caption_extension = ".caption"  [default]' in result.stdout
    assert not out.exists()


def test_the_cli_writes_the_jsonl_when_all_passes(tmp_path: Path) -> None:
    images(tmp_path / "imgs", 2, ".txt", caption="tok")
    path = toml(
        tmp_path, '[general]\ncaption_extension = ".txt"\n[[datasets]]\n[[datasets.subsets]]\nimage_dir = "imgs"\n'
    )
    out = tmp_path / "train.jsonl"
    args = ["dataset", "check", str(path), "--min-images", "2", "--style-trigger", "tok", "--emit-jsonl", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"wrote {out} (2 lines)" in result.stdout
    assert '"prompt": "tok"' in out.read_text(encoding="utf-8")
    assert "[general] " in result.stdout  # caption_extension came from [general]
    data = json.loads(
        runner.invoke(app, ["dataset", "check", str(tmp_path / "imgs"), "--min-images", "2", "-f", "json"]).stdout
    )
    assert data["training_images"] == 2 and data["problems"] == []


def test_finetuning_subsets_need_their_metadata_file(tmp_path: Path) -> None:
    path = toml(
        tmp_path, '[[datasets]]\ncaption_extension = ".txt"\n[[datasets.subsets]]\nmetadata_file = "meta.json"\n'
    )
    report = check_config(path, NO_FLOOR)
    assert report.problems == [
        f"{path}:2:1: datasets[0].caption_extension: unknown key (kohya rejects unknown keys)",
        f"{path}:4:1: datasets[0].subsets[0].metadata_file: {tmp_path / 'meta.json'} does not exist",
    ]
    assert report.config is not None and report.config.datasets[0].style == "finetuning"


def test_the_top_level_holds_general_and_datasets_only(tmp_path: Path) -> None:
    path = toml(tmp_path, 'seed = 1\ndatasets = "x"\n')
    assert load_dataset_config(path).problems == [
        f"{path}:1:1: seed: unknown key; the top level holds [general] and [[datasets]] only",
        f"{path}:2:1: datasets: must be an array of tables: [[datasets]]",
    ]


def test_a_missing_or_broken_file_exits_2(tmp_path: Path) -> None:
    result = runner.invoke(app, ["dataset", "check", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2 and "nope.toml: file not found" in result.stderr
    broken = toml(tmp_path, "[[datasets]\n")
    result = runner.invoke(app, ["dataset", "check", str(broken)])
    assert result.exit_code == 2 and "dataset.toml:1:" in result.stderr and "invalid TOML" in result.stderr
