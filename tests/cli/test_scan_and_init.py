"""config-layers scan and profile init: priors per file, problems recorded, sidecars seeded."""

from __future__ import annotations

import json
import struct
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config_layers.authoring.schemas import SCHEMA_FILES, schema_text, shipped_schema
from config_layers.cli import app
from config_layers.profiles import load_lora_profile, load_model_profile
from config_layers.scan import Scanner
from config_layers.shipped import profiles_dir
from tests.conftest import write_stub_safetensors

runner = CliRunner()


@pytest.fixture
def shelf(tmp_path: Path) -> Path:
    root = tmp_path / "models"
    write_stub_safetensors(root / "Lora" / "grain.safetensors", {"ss_network_module": "networks.lora"})
    (root / "Lora" / "grain.json").write_text(
        json.dumps({"preferred weight": 0.65, "activation text": "grainy, film", "sd version": "SDXL"}),
        encoding="utf-8",
    )
    write_stub_safetensors(
        root / "Stable-diffusion" / "sd_xl_base_1.0.safetensors",
        {"modelspec.architecture": "stable-diffusion-xl-v1-base"},
    )
    (root / "Lora" / "short.safetensors").write_bytes(b"\x01\x02")
    (root / "Lora" / "huge.safetensors").write_bytes(struct.pack("<Q", 2 * 1024**3) + b"{}")
    (root / "Lora" / "nonutf8.safetensors").write_bytes(struct.pack("<Q", 8) + b'{"a":"\xff"}')
    write_stub_safetensors(root / "Lora" / "trunc.safetensors")
    (root / "Lora" / "trunc.civitai.info").write_text('{"baseModel": "SDXL 1.0", "images": [', encoding="utf-8")
    write_stub_safetensors(root / "Lora" / "neither.safetensors")
    (root / "Lora" / "neither.json").write_text('{"hello": 1}', encoding="utf-8")
    return root


def test_scan_lists_priors_and_records_every_problem(shelf: Path) -> None:
    entries = {e.path.name: e for e in Scanner([profiles_dir()]).scan([shelf])}
    grain = entries["grain.safetensors"].summary()
    assert grain["kind"] == "lora" and grain["base_type"] == "sdxl"
    assert grain["weights"] == [{"label": "preferred weight", "weight": 0.65, "rating": "good"}]
    assert grain["trigger_phrases"] == ["grainy", "film"]
    base = entries["sd_xl_base_1.0.safetensors"].summary()
    assert base["kind"] == "model" and base["presets"][0]["id"] == "sdxl_base_reference"
    problems = {name: " ".join(e.problems) for name, e in entries.items()}
    assert "too short" in problems["short.safetensors"]
    assert "over the" in problems["huge.safetensors"]
    assert "UTF-8" in problems["nonutf8.safetensors"]
    assert "invalid JSON" in problems["trunc.safetensors"]
    assert "neither.json" in problems["neither.safetensors"]
    assert problems["grain.safetensors"] == ""


def test_scan_cli_json_and_table(shelf: Path) -> None:
    result = runner.invoke(app, ["scan", str(shelf), "--format", "json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert {Path(r["path"]).name for r in rows} >= {"grain.safetensors", "short.safetensors"}
    result = runner.invoke(app, ["scan", str(shelf)])
    assert result.exit_code == 0 and "grain" in result.stdout
    result = runner.invoke(app, ["scan", str(shelf / "nope")])
    assert result.exit_code == 2 and "not a folder" in result.stderr


def test_profile_init_seeds_a_lora_sidecar_with_comments_and_schema(shelf: Path) -> None:
    lora = shelf / "Lora" / "grain.safetensors"
    result = runner.invoke(app, ["profile", "init", str(lora), "--schema", "./loraprofile.schema.json"])
    assert result.exit_code == 0, result.stderr
    sidecar = shelf / "Lora" / "grain.loraprofile.toml"
    text = sidecar.read_text(encoding="utf-8")
    assert text.startswith("#:schema ./loraprofile.schema.json\n")
    assert "# from " in text and "a1111_metadata: preferred weight" in text
    profile = load_lora_profile(sidecar)
    assert profile is not None and profile.recommended_weights[0].weight == 0.65
    assert profile.trigger_phrases == ["grainy", "film"]
    before = sidecar.read_text(encoding="utf-8")
    result = runner.invoke(app, ["profile", "init", str(lora)])
    assert result.exit_code == 2 and "--force" in result.stderr
    assert sidecar.read_text(encoding="utf-8") == before


def test_profile_init_seeds_a_model_sidecar_from_the_library(shelf: Path) -> None:
    model = shelf / "Stable-diffusion" / "sd_xl_base_1.0.safetensors"
    result = runner.invoke(app, ["profile", "init", str(model)])
    assert result.exit_code == 0, result.stderr
    sidecar = shelf / "Stable-diffusion" / "sd_xl_base_1.0.modelprofile.toml"
    assert sidecar.read_text(encoding="utf-8").startswith(f"#:schema {shipped_schema('model').resolve().as_uri()}\n")
    profile = load_model_profile(sidecar)
    assert profile is not None and profile.recommended_presets[0].id == "sdxl_base_reference"


def test_profile_init_with_nothing_found_writes_a_valid_template(tmp_path: Path) -> None:
    model = write_stub_safetensors(tmp_path / "mystery.safetensors")
    result = runner.invoke(app, ["profile", "init", str(model), "--profiles-dir", str(tmp_path / "none")])
    assert result.exit_code == 0, result.stderr
    data = tomllib.loads((tmp_path / "mystery.modelprofile.toml").read_text(encoding="utf-8"))
    assert data == {"kind": "model_profile", "version": 1, "model_name": "mystery", "base_type": "unknown", "tags": []}


def test_shipped_schemas_are_current() -> None:
    for name, model in SCHEMA_FILES.items():
        kind = name.split("profile")[0]
        assert shipped_schema(kind).read_text(encoding="utf-8") == schema_text(model), (
            "run: config-layers schema --out schemas --force"
        )


def test_a_second_scan_reuses_entries_until_a_file_beside_changes(shelf: Path) -> None:
    scanner = Scanner([])
    first = {e.path.name: e for e in scanner.scan([shelf])}
    second = {e.path.name: e for e in scanner.scan([shelf])}
    assert all(second[name] is first[name] for name in first)
    (shelf / "Lora" / "grain.json").write_text(
        json.dumps({"preferred weight": 0.9, "extra": "longer"}), encoding="utf-8"
    )
    third = {e.path.name: e for e in scanner.scan([shelf])}
    assert third["grain.safetensors"] is not first["grain.safetensors"]
    assert third["grain.safetensors"].summary()["weights"][0]["weight"] == 0.9
    assert third["short.safetensors"] is first["short.safetensors"]


def test_scan_with_hashing_matches_the_library_by_hash(tmp_path: Path) -> None:
    from config_layers.discovery.hashing import HashCache
    from tests.conftest import MODEL_TOML

    model = write_stub_safetensors(tmp_path / "models" / "downloaded_name.safetensors", {"z": "1"})
    digest = __import__("hashlib").sha256(model.read_bytes()).hexdigest()
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    (shelf / "rv.modelprofile.toml").write_text(
        MODEL_TOML.replace('tags = ["photoreal"]', f'tags = ["photoreal"]\nsha256 = "{digest}"'), encoding="utf-8"
    )
    assert Scanner([shelf]).scan([tmp_path / "models"])[0].profile is None
    cache = HashCache(tmp_path / "cache.json")
    (entry,) = Scanner([shelf], cache).scan([tmp_path / "models"])
    assert entry.sha256 == digest and entry.summary()["sha256"] == digest
    assert entry.profile is not None and entry.summary()["presets"][1]["id"] == "rvxl_photoreal_default"
    assert (tmp_path / "cache.json").exists()
