"""The normalization pass records each change in the provenance chain."""

from __future__ import annotations

from tests.conftest import MODEL_TOML, Library


def test_hash_suffix_is_dropped_with_provenance(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    cfg = library.builder().build(model="RealVisXL_V4.0.safetensors [4e4b3ad5]")
    assert cfg.model == "RealVisXL_V4.0.safetensors"
    entry = cfg.provenance["model"]
    assert entry.layer == "overrides"
    assert entry.origin.rule == "normalized: dropped the WebUI hash suffix of 'RealVisXL_V4.0.safetensors [4e4b3ad5]'"
    assert [c.value for c in entry.chain] == ["RealVisXL_V4.0.safetensors [4e4b3ad5]"]


def test_combined_sampler_name_is_split(library: Library) -> None:
    user = library.file("user.toml", '[txt2img]\nsampler_name = "DPM++ 2M Karras"\n')
    cfg = library.builder(user_file=user).build()
    assert (cfg.txt2img.sampler_name, cfg.txt2img.scheduler) == ("DPM++ 2M", "Karras")
    scheduler = cfg.provenance["txt2img.scheduler"]
    assert (scheduler.layer, scheduler.source, scheduler.line) == ("user_file", str(user), 2)
    assert scheduler.origin.rule == "normalized: scheduler from the combined sampler name 'DPM++ 2M Karras'"
    assert [c.value for c in cfg.provenance["txt2img.sampler_name"].chain] == ["Euler a", "DPM++ 2M Karras"]


def test_an_explicit_later_scheduler_is_kept(library: Library) -> None:
    user = library.file("user.toml", '[txt2img]\nsampler_name = "DPM++ 2M Karras"\n')
    cfg = library.builder(user_file=user, environ={"STABLENEW_TXT2IMG__SCHEDULER": "Exponential"}).build()
    assert (cfg.txt2img.sampler_name, cfg.txt2img.scheduler) == ("DPM++ 2M", "Exponential")
    assert cfg.provenance["txt2img.scheduler"].layer == "env"


def test_float_noise_is_rounded_and_recorded(library: Library) -> None:
    library.lora("L")
    cfg = library.builder().build(
        loras=["L"], overrides={"txt2img": {"cfg_scale": 6.499999999999998}, "loras": {"L": {"weight": 0.1 + 0.2}}}
    )
    assert cfg.txt2img.cfg_scale == 6.5 and cfg.loras["L"].weight == 0.3
    assert cfg.provenance["txt2img.cfg_scale"].origin.rule == "normalized: float noise 6.499999999999998 rounded to 6.5"


def test_real_precision_is_left_alone(library: Library) -> None:
    cfg = library.builder().build(overrides={"txt2img": {"cfg_scale": 6.12345}})
    assert cfg.txt2img.cfg_scale == 6.12345
    assert cfg.provenance["txt2img.cfg_scale"].origin.rule is None
