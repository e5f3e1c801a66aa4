"""Files where other tools put them: ``<file>.safetensors.civitai.info``, SD.Next's whole-model
``<stem>.json`` with several files, and a preset sampler without a scheduler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from config_layers.cache import FileCache
from config_layers.loras.inspect import read_header
from config_layers.metadata import read_civitai_info
from config_layers.resolve.foreign import ForeignReader, foreign_paths
from tests.conftest import MODEL_TOML, Library, write_stub_safetensors

CKPT_SHA, SAFE_SHA, OTHER_SHA = "aa" * 32, "bb" * 32, "cc" * 32


def _version(*files: dict[str, Any]) -> dict[str, Any]:
    return {"baseModel": "SDXL 1.0", "trainedWords": ["aidaxl"], "files": list(files)}


def _file(name: str, sha: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": "Model", "hashes": {"SHA256": sha}, **extra}


def _reader() -> ForeignReader:
    return ForeignReader(FileCache(read_header))


def test_full_name_civitai_info_is_read_like_the_stem_one(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    library.lora("aida")
    (library.loras / "aida.safetensors.civitai.info").write_text(json.dumps(_version()), encoding="utf-8")
    cfg = library.builder().build(model="RealVisXL_V4.0", loras=["aida"])
    assert cfg.loras["aida"].trigger == "aidaxl"
    assert cfg.provenance["loras.aida.trigger"].origin.source.endswith("aida.safetensors.civitai.info")
    assert library.loras / "aida.safetensors.civitai.info" in foreign_paths(library.loras / "aida.safetensors")


def test_full_name_is_preferred_when_both_exist(tmp_path: Path) -> None:
    lora = write_stub_safetensors(tmp_path / "aida.safetensors")
    (tmp_path / "aida.civitai.info").write_text(json.dumps({**_version(), "trainedWords": ["old"]}), encoding="utf-8")
    (tmp_path / "aida.safetensors.civitai.info").write_text(json.dumps(_version()), encoding="utf-8")
    found, problems = _reader().read(lora)
    [civitai] = [p for p in found if p.source_kind == "civitai_info"]
    assert civitai.path.name == "aida.safetensors.civitai.info" and not problems
    assert civitai.trigger_phrases is not None and civitai.trigger_phrases.value == ["aidaxl"]


def test_full_name_civitai_info_picks_the_file_by_extension(tmp_path: Path) -> None:
    path = tmp_path / "aida.safetensors.civitai.info"
    path.write_text(
        json.dumps(_version(_file("aida.ckpt", CKPT_SHA), _file("aida.safetensors", SAFE_SHA))), encoding="utf-8"
    )
    priors = read_civitai_info(path)
    assert priors.sha256 is not None and priors.sha256.value == SAFE_SHA
    assert priors.sha256.key == "files[1].hashes.SHA256"


def test_sdnext_json_gives_the_sha256_of_the_file_with_our_name_and_extension(tmp_path: Path) -> None:
    model = {
        "id": 1,
        "name": "Aida",
        "type": "LORA",
        "modelVersions": [_version(_file("aida.ckpt", CKPT_SHA, primary=True), _file("aida.safetensors", SAFE_SHA))],
    }
    (tmp_path / "aida.json").write_text(json.dumps(model), encoding="utf-8")
    safetensors = write_stub_safetensors(tmp_path / "aida.safetensors")
    found, _ = _reader().read(safetensors)
    [sdnext] = [p for p in found if p.source_kind == "civitai_info"]
    assert sdnext.sha256 is not None and sdnext.sha256.value == SAFE_SHA
    # the same json beside a .ckpt gives the .ckpt's hash (one reader cache per model extension)
    ckpt = tmp_path / "aida.ckpt"
    ckpt.write_bytes(b"")
    [for_ckpt] = [p for p in _reader().read(ckpt)[0] if p.source_kind == "civitai_info"]
    assert for_ckpt.sha256 is not None and for_ckpt.sha256.value == CKPT_SHA


def test_primary_is_preferred_among_files_with_our_name(tmp_path: Path) -> None:
    model = {
        "id": 1,
        "name": "Aida",
        "type": "LORA",
        "modelVersions": [
            _version(
                _file("aida.ckpt", CKPT_SHA),
                _file("aida.safetensors", OTHER_SHA),
                _file("aida.safetensors", SAFE_SHA, primary=True),
            )
        ],
    }
    (tmp_path / "aida.json").write_text(json.dumps(model), encoding="utf-8")
    found, _ = _reader().read(write_stub_safetensors(tmp_path / "aida.safetensors"))
    [sdnext] = [p for p in found if p.source_kind == "civitai_info"]
    assert sdnext.sha256 is not None and sdnext.sha256.value == SAFE_SHA


def test_preset_sampler_without_scheduler_means_automatic(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML.replace('scheduler = "Karras"\n', ""))
    cfg = library.builder().build(model="RealVisXL_V4.0")
    field = cfg.provenance["txt2img.scheduler"]
    assert (cfg.txt2img.sampler_name, cfg.txt2img.scheduler) == ("DPM++ 2M", "Automatic")
    assert field.origin.layer == "model_profile" and field.origin.key == ("recommended_presets", 1, "sampler")
    assert field.origin.rule is not None and "no scheduler: 'Automatic', the sampler's own default" in field.origin.rule
    assert [entry.value for entry in field.chain] == ["Normal"]


def test_combined_sampler_name_still_gives_its_scheduler(library: Library) -> None:
    library.model(
        "RealVisXL_V4.0",
        MODEL_TOML.replace('sampler = "DPM++ 2M"\nscheduler = "Karras"\n', 'sampler = "DPM++ 2M Karras"\n'),
    )
    cfg = library.builder().build(model="RealVisXL_V4.0")
    assert (cfg.txt2img.sampler_name, cfg.txt2img.scheduler) == ("DPM++ 2M", "Karras")
