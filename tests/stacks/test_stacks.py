"""LoRA stacks: composition, stage filter, legacy keys, safe paths, outputs and provenance."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from config_layers import ConfigError, FileError, NotFoundError
from config_layers.builder import ConfigBuilder
from tests.conftest import MODEL_TOML, Library, write_stub_safetensors

BASE = """\
[[loras]]
name = "film_grain"
file = "film_grain.safetensors"
scale = 0.8
applies_to = ["txt2img", "hires"]
trigger = "film grain"

[[loras]]
name = "western_style"
file = "styles/western_style.safetensors"
scale = 0.7
applies_to = ["txt2img", "img2img"]
"""


@pytest.fixture
def stacks(library: Library) -> Library:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    for name in ("film_grain", "dusty_light", "extra", "styles/western_style"):
        write_stub_safetensors(library.loras / f"{name}.safetensors")
    stack(library, "western", BASE)
    return library


def stack(library: Library, name: str, text: str) -> Path:
    path = library.loras / f"{name}.lorastack.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def build(library: Library, name: str | None, stage: str = "txt2img", **kwargs: object) -> object:
    return library.builder().build(model="RealVisXL_V4.0", lora_stack=name, stage=stage, **kwargs)  # type: ignore[arg-type]


def test_base_stack_entries_in_order_with_paths_scales_and_triggers(stacks: Library) -> None:
    cfg = build(stacks, "western")
    assert list(cfg.loras) == ["film_grain", "western_style"]
    assert cfg.lora_scales == [0.8, 0.7]
    assert cfg.lora_paths == [
        str((stacks.loras / "film_grain.safetensors").resolve()),
        str((stacks.loras / "styles" / "western_style.safetensors").resolve()),
    ]
    assert cfg.loras["film_grain"].trigger == "film grain"
    entry = cfg.provenance["loras.film_grain.weight"]
    assert (entry.layer, entry.source, entry.line) == ("lora_overlays", str(stacks.loras / "western.lorastack.toml"), 4)


def test_derived_stack_inherits_without_overrides(stacks: Library) -> None:
    stack(stacks, "same", 'extends = "western"\n')
    assert list(build(stacks, "same").loras) == ["film_grain", "western_style"]


def test_exclude_drops_an_inherited_entry_and_explain_says_which_file(stacks: Library) -> None:
    derived = stack(stacks, "dusk", 'extends = "western"\n[loras]\nexclude = ["film_grain"]\n')
    cfg = build(stacks, "dusk")
    assert list(cfg.loras) == ["western_style"]
    text = cfg.explain("loras.film_grain")
    assert f"deleted by lora_overlays, {derived}:3:" in text
    assert "western.lorastack.toml:4:1" in text


def test_add_appends_after_the_inherited_entries(stacks: Library) -> None:
    stack(
        stacks,
        "dusk",
        """\
        extends = "western"
        [loras]
        exclude = ["film_grain"]
        [[loras.add]]
        name = "dusty_light"
        file = "dusty_light.safetensors"
        scale = 0.6
        applies_to = ["txt2img"]
        [[loras.add]]
        name = "extra"
        file = "extra.safetensors"
        scale = 0.3
        applies_to = ["txt2img"]
        """,
    )
    cfg = build(stacks, "dusk")
    assert list(cfg.loras) == ["western_style", "dusty_light", "extra"]
    assert cfg.lora_scales == [0.7, 0.6, 0.3]


def test_chains_of_stacks(stacks: Library) -> None:
    stack(
        stacks,
        "mid",
        'extends = "western"\n[[loras.add]]\nname = "extra"\nfile = "extra.safetensors"\n'
        'scale = 0.3\napplies_to = ["txt2img"]\n',
    )
    stack(stacks, "top", 'extends = "mid"\n[loras]\nexclude = ["western_style"]\n')
    assert list(build(stacks, "top").loras) == ["film_grain", "extra"]


def test_stage_filter_skips_entries_for_other_stages(stacks: Library) -> None:
    assert list(build(stacks, "western", stage="img2img").loras) == ["western_style"]
    assert list(build(stacks, "western", stage="hires").loras) == ["film_grain"]
    cfg = build(stacks, "western", stage="upscale")
    assert cfg.loras == {}
    (overlays,) = [s for s in cfg.report.layers if s.name == "lora_overlays"]
    assert any("does not hold stage 'upscale'" in note for note in overlays.notes)


def test_add_reusing_an_inherited_name_raises(stacks: Library) -> None:
    path = stack(
        stacks,
        "bad",
        'extends = "western"\n[[loras.add]]\nname = "film_grain"\nfile = "extra.safetensors"\n'
        'scale = 0.3\napplies_to = ["txt2img"]\n',
    )
    with pytest.raises(FileError, match="reuses an inherited name; exclude it first") as caught:
        build(stacks, "bad")
    assert caught.value.path == str(path) and caught.value.line == 3


def test_add_after_excluding_the_same_name_replaces_it(stacks: Library) -> None:
    stack(
        stacks,
        "swap",
        'extends = "western"\n[loras]\nexclude = ["film_grain"]\n[[loras.add]]\nname = "film_grain"\n'
        'file = "extra.safetensors"\nscale = 0.2\napplies_to = ["txt2img"]\n',
    )
    cfg = build(stacks, "swap")
    assert list(cfg.loras) == ["western_style", "film_grain"] and cfg.loras["film_grain"].weight == 0.2


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ('file = "a.safetensors"\nscale = 1\napplies_to = ["txt2img"]', r"loras\[0\]\.name: entry: is required"),
        ('name = "a"\nscale = 1\napplies_to = ["txt2img"]', r"loras\[0\]\.file: entry 'a': is required"),
        ('name = "a"\nfile = "a.safetensors"\napplies_to = ["txt2img"]', r"loras\[0\]\.scale: entry 'a': is required"),
        ('name = "a"\nfile = "a.safetensors"\nscale = 1', r"loras\[0\]\.applies_to: entry 'a': is required"),
        ('name = "a"\nfile = "a.safetensors"\nscale = 1\napplies_to = []', r"applies_to: entry 'a': needs at least 1"),
        (
            'name = "a"\nfile = "a.safetensors"\nscale = 1\napplies_to = "txt2img"',
            r"applies_to: entry 'a': must be a list",
        ),
        ('name = "a"\nfile = "a.safetensors"\nscale = 1\napplies_to = ["txt2img", "final"]', r"'final' is not a stage"),
        (
            'name = "a"\nfile = "a.safetensors"\nscale = "0.5"\napplies_to = ["txt2img"]',
            r"scale: entry 'a': must be a number",
        ),
        (
            'name = "a"\nfile = "a.safetensors"\nscale = 8.0\napplies_to = ["txt2img"]',
            r"scale: entry 'a': must be <= 5.0",
        ),
        (
            'name = "a"\nfile = "a.safetensors"\nscale = 1\napplies_to = ["txt2img"]\nweight = 1',
            r"weight: entry 'a': unknown key",
        ),
    ],
)
def test_malformed_entries_name_the_file_entry_and_field(stacks: Library, entry: str, message: str) -> None:
    path = stack(stacks, "bad", f"[[loras]]\n{entry}\n")
    with pytest.raises(FileError, match=message) as caught:
        build(stacks, "bad")
    assert caught.value.path == str(path) and caught.value.line is not None


def test_a_name_twice_in_one_list_raises(stacks: Library) -> None:
    stack(
        stacks,
        "twice",
        BASE + '\n[[loras]]\nname = "Film_Grain"\nfile = "x.safetensors"\nscale = 1\napplies_to = ["txt2img"]\n',
    )
    with pytest.raises(FileError, match="'Film_Grain' appears twice in loras"):
        build(stacks, "twice")


def test_list_form_derived_stack_raises(stacks: Library) -> None:
    stack(stacks, "legacy_list", 'extends = "western"\n' + BASE)
    with pytest.raises(FileError, match="not a list of entries \\(the legacy form\\)"):
        build(stacks, "legacy_list")


def test_exclude_naming_nothing_inherited_is_an_error_or_a_lenient_warning(stacks: Library) -> None:
    stack(stacks, "odd", 'extends = "western"\n[loras]\nexclude = ["nothing_here"]\n')
    with pytest.raises(FileError, match="exclude 'nothing_here' names nothing inherited from 'western'"):
        build(stacks, "odd")
    cfg = build(stacks, "odd", lenient=True)
    assert any("nothing_here" in w for w in cfg.warnings)
    assert list(cfg.loras) == ["film_grain", "western_style"]


def test_cycles_and_missing_parents(stacks: Library) -> None:
    stack(stacks, "a", 'extends = "b"\n')
    stack(stacks, "b", 'extends = "a"\n')
    with pytest.raises(ConfigError, match=r"cycle: a \(.*a\.lorastack\.toml\) -> b \(.*b\.lorastack\.toml\) -> a \("):
        build(stacks, "a")
    stack(stacks, "orphan", 'extends = "ghost"\n')
    with pytest.raises(NotFoundError, match="LoRA stack 'ghost' not found"):
        build(stacks, "orphan")


def test_legacy_keys_promote_to_a_one_entry_stack_with_scale_1(stacks: Library) -> None:
    user = stacks.file("user.toml", '# old style\nlora = "film_grain.safetensors"\n\n[txt2img]\nsteps = 12\n')
    cfg = stacks.builder(user_file=user).build(model="RealVisXL_V4.0")
    assert list(cfg.loras) == ["film_grain"] and cfg.loras["film_grain"].weight == 1.0
    entry = cfg.provenance["loras.film_grain.weight"]
    assert entry.origin.rule is not None and "legacy" in entry.origin.rule and entry.source == str(user)
    assert cfg.txt2img.steps == 12


def test_legacy_scale_is_used_and_located(stacks: Library) -> None:
    user = stacks.file("user.toml", 'lora = "film_grain.safetensors"\nlora_scale = 0.35\n')
    cfg = stacks.builder(user_file=user).build(model="RealVisXL_V4.0")
    assert cfg.loras["film_grain"].weight == 0.35
    assert cfg.provenance["loras.film_grain.weight"].line == 2


def test_legacy_keys_with_a_stack_raise(stacks: Library) -> None:
    user = stacks.file("user.toml", 'lora = "film_grain.safetensors"\n')
    with pytest.raises(FileError, match="pick one schema"):
        stacks.builder(user_file=user).build(model="RealVisXL_V4.0", lora_stack="western")
    stack(stacks, "mixed", 'lora = "film_grain.safetensors"\n' + BASE)
    with pytest.raises(FileError, match="pick one schema"):
        build(stacks, "mixed")


def test_legacy_stack_file(stacks: Library) -> None:
    stack(stacks, "old", 'lora = "dusty_light.safetensors"\nlora_scale = 0.4\n')
    cfg = build(stacks, "old")
    assert cfg.loras["dusty_light"].weight == 0.4


def test_a_lora_named_both_ways_is_one_entry_and_both_show(stacks: Library) -> None:
    cfg = build(stacks, "western", loras=["FILM_GRAIN"], overrides={"loras": {"film_grain": {"weight": 0.1}}})
    assert list(cfg.loras) == ["film_grain", "western_style"]
    entry = cfg.provenance["loras.film_grain.weight"]
    assert entry.layer == "overrides" and entry.value == 0.1
    assert [c.origin.layer for c in entry.chain] == ["lora_overlays", "lora_overlays"]
    assert entry.chain[-1].origin.source.endswith("western.lorastack.toml")
    (overlays,) = [s for s in cfg.report.layers if s.name == "lora_overlays"]
    assert any("named by a layer and by the stack: one entry" in note for note in overlays.notes)


def test_stack_scale_beats_profile_priors_and_the_chain_shows_both(stacks: Library) -> None:
    stacks.lora(
        "film_grain",
        'kind = "lora_profile"\nversion = 1\nlora_name = "film_grain"\ntarget_base_type = "sdxl"\n'
        '[[recommended_weights]]\nlabel = "a"\nweight = 0.45\nrating = "best"\n',
    )
    cfg = build(stacks, "western")
    entry = cfg.provenance["loras.film_grain.weight"]
    assert entry.value == 0.8
    assert [(c.value, c.origin.rule.split(":")[0] if c.origin.rule else None) for c in entry.chain] == [
        (0.45, "recommended_weight")
    ]


@pytest.mark.parametrize("file", ["../outside.safetensors", "styles/../../outside.safetensors"])
def test_paths_escaping_the_lora_directories_raise(stacks: Library, file: str) -> None:
    write_stub_safetensors(stacks.root / "outside.safetensors")
    stack(stacks, "escape", f'[[loras]]\nname = "x"\nfile = "{file}"\nscale = 1\napplies_to = ["txt2img"]\n')
    with pytest.raises(FileError, match="outside the LoRA directories") as caught:
        build(stacks, "escape")
    assert caught.value.key_path == "loras[0].file"


def test_absolute_path_outside_raises_and_inside_is_fine(stacks: Library) -> None:
    outside = write_stub_safetensors(stacks.root / "outside.safetensors")
    stack(stacks, "abs", f'[[loras]]\nname = "x"\nfile = "{outside}"\nscale = 1\napplies_to = ["txt2img"]\n')
    with pytest.raises(FileError, match="outside the LoRA directories"):
        build(stacks, "abs")
    inside = stacks.loras / "extra.safetensors"
    stack(stacks, "abs_ok", f'[[loras]]\nname = "x"\nfile = "{inside}"\nscale = 1\napplies_to = ["txt2img"]\n')
    assert build(stacks, "abs_ok").lora_paths == [str(inside.resolve())]


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_symlink_leaving_the_lora_directories_raises(stacks: Library) -> None:
    outside = write_stub_safetensors(stacks.root / "outside.safetensors")
    (stacks.loras / "sneaky.safetensors").symlink_to(outside)
    stack(stacks, "link", '[[loras]]\nname = "x"\nfile = "sneaky.safetensors"\nscale = 1\napplies_to = ["txt2img"]\n')
    with pytest.raises(FileError, match=r"is a link to .*outside the LoRA directories"):
        build(stacks, "link")


def test_missing_stack_file_entry_names_the_directories(stacks: Library) -> None:
    stack(stacks, "gone", '[[loras]]\nname = "x"\nfile = "nope.safetensors"\nscale = 1\napplies_to = ["txt2img"]\n')
    with pytest.raises(
        FileError, match=f"entry 'x': LoRA file 'nope.safetensors' not found; looked in: {stacks.loras}"
    ):
        build(stacks, "gone")


def test_stacks_dir_is_searched_first(stacks: Library) -> None:
    elsewhere = stacks.root / "stacks"
    elsewhere.mkdir()
    (elsewhere / "western.lorastack.toml").write_text(BASE.replace("scale = 0.8", "scale = 0.25"), encoding="utf-8")
    builder = ConfigBuilder(
        model_dirs=[stacks.models], lora_dirs=[stacks.loras], stacks_dirs=[elsewhere], environ={}, profile_dirs=[]
    )
    assert builder.build(model="RealVisXL_V4.0", lora_stack="western").loras["film_grain"].weight == 0.25


def test_parallel_arrays_stay_equal_in_length(stacks: Library) -> None:
    cfg = build(stacks, "western", loras=["dusty_light"])
    assert len(cfg.lora_paths) == len(cfg.lora_scales) == len(cfg.loras) == 3
    lenient = stacks.builder(lenient=True).build(model="RealVisXL_V4.0", loras=["ghost"])
    with pytest.raises(ValueError, match="'ghost' has no resolved file"):
        _ = lenient.lora_paths


def test_an_excluded_entry_added_back_keeps_its_history(stacks: Library) -> None:
    derived = stack(
        stacks,
        "swap",
        'extends = "western"\n[loras]\nexclude = ["film_grain"]\n[[loras.add]]\nname = "film_grain"\n'
        'file = "extra.safetensors"\nscale = 0.2\napplies_to = ["txt2img"]\n',
    )
    entry = build(stacks, "swap").provenance["loras.film_grain.weight"]
    assert entry.value == 0.2 and entry.source == str(derived)
    assert [(c.value, c.kind) for c in entry.chain] == [(0.6, "set"), (0.8, "set"), (None, "deleted")]
    assert entry.chain[-1].origin.source == str(derived)


def test_a_lora_named_by_a_layer_survives_an_exclusion_and_the_chain_says_so(stacks: Library) -> None:
    stack(stacks, "dusk", 'extends = "western"\n[loras]\nexclude = ["film_grain"]\n')
    cfg = build(stacks, "dusk", loras=["film_grain"])
    assert cfg.loras["film_grain"].weight == 0.6 and cfg.loras["film_grain"].trigger is None
    chain = cfg.provenance["loras.film_grain.weight"].chain
    assert [(c.value, c.kind) for c in chain] == [(0.8, "set"), (None, "deleted")]
    trigger = cfg.provenance["loras.film_grain.trigger"]
    assert trigger.value is None and [c.value for c in trigger.chain] == ["film grain", None]
    (overlays,) = [s for s in cfg.report.layers if s.name == "lora_overlays"]
    assert any("but another layer names it: it stays" in note for note in overlays.notes)
