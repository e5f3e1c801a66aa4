"""Every kind of bad input gets a clear error naming the file, key path and line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from config_layers import ConfigError, FileError, NotFoundError
from config_layers.profiles import load_lora_profile, load_model_profile
from tests.conftest import MODEL_TOML, Library


def test_malformed_toml_in_the_user_file_names_file_line_and_column(library: Library) -> None:
    user = library.file("user.toml", "[txt2img]\nsteps = 30\ncfg_scale = = 7\n")
    with pytest.raises(FileError) as caught:
        library.builder(user_file=user).build()
    assert (caught.value.path, caught.value.line, caught.value.column) == (str(user), 3, 13)
    assert str(caught.value).startswith(f"{user}:3:13: invalid TOML")


def test_malformed_toml_in_the_settings_file(library: Library) -> None:
    settings = library.file("settings.toml", "[txt2img\n")
    with pytest.raises(FileError, match=r"settings.toml:1:\d+: invalid TOML"):
        library.builder(settings_file=settings).build()


def test_malformed_toml_in_a_sidecar(library: Library) -> None:
    library.model("M", 'kind = "model_profile"\nversion = 1\nmodel_name = "M\n')
    with pytest.raises(FileError, match=r"M.modelprofile.toml:3:\d+: invalid TOML"):
        library.builder().build(model="M")


def test_malformed_json_sidecar_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "m.modelprofile.json"
    path.write_text('{\n  "kind": "model_profile",\n  "version": 1,,\n}', encoding="utf-8")
    with pytest.raises(FileError) as caught:
        load_model_profile(path)
    assert (caught.value.line, caught.value.column) == (3, 16)


def test_json_sidecar_with_wrong_types_names_each_key_and_line(tmp_path: Path) -> None:
    path = tmp_path / "m.modelprofile.json"
    data = {
        "kind": "model_profile",
        "version": 1,
        "model_name": "M",
        "recommended_presets": [
            {
                "id": "p",
                "label": "p",
                "rating": "best",
                "source": "internet_prior",
                "sampler": "Euler",
                "steps": "30",
                "cfg": 7,
                "resolution": [1024, "1024"],
            }
        ],
    }
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_model_profile(path)
    text = str(caught.value)
    assert f"{path}:12:7: recommended_presets[0].steps: must be an integer" in text
    assert "recommended_presets[0].resolution[1]: must be an integer" in text


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"kind": "lora_profile"}, "unknown kind 'lora_profile'; expected 'model_profile'"),
        ({"kind": "evil"}, "unknown kind 'evil'"),
        ({"version": 2}, "unsupported version 2"),
        ({"rating_typo": 1}, "rating_typo: unknown key"),
    ],
)
def test_unknown_kind_version_or_key(tmp_path: Path, patch: dict[str, object], message: str) -> None:
    path = tmp_path / "m.modelprofile.json"
    path.write_text(json.dumps({"kind": "model_profile", "version": 1, "model_name": "M", **patch}), encoding="utf-8")
    with pytest.raises(FileError, match=message):
        load_model_profile(path)


def test_missing_kind_is_named(tmp_path: Path) -> None:
    path = tmp_path / "l.loraprofile.toml"
    path.write_text('version = 1\nlora_name = "x"\n', encoding="utf-8")
    with pytest.raises(FileError, match="missing 'kind'; expected kind = 'lora_profile'"):
        load_lora_profile(path)


def test_sidecar_over_one_mib_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "m.modelprofile.toml"
    path.write_text(MODEL_TOML + "#" * (1024 * 1024), encoding="utf-8")
    with pytest.raises(FileError, match="over the 1048576-byte limit"):
        load_model_profile(path)


@pytest.mark.parametrize(
    "hostile", ["@format {env[HOME]}", "@jinja {{ this }}", "@read_file /etc/hostname", "@get HOME"]
)
def test_dynaconf_tokens_in_sidecars_user_files_and_env_stay_literal(library: Library, hostile: str) -> None:
    sidecar = MODEL_TOML.replace('sampler = "DPM++ 2M"', f"sampler = {json.dumps(hostile)}")
    library.model("RealVisXL_V4.0", sidecar)
    user = library.file("user.toml", f"prompt = {json.dumps(hostile)}\n")
    cfg = library.builder(environ={"HOME": "/secret-home", "STABLENEW_NEGATIVE_PROMPT": hostile}, user_file=user).build(
        model="RealVisXL_V4.0"
    )
    assert cfg.txt2img.sampler_name == hostile
    assert cfg.prompt == hostile
    assert cfg.negative_prompt == hostile
    dumped = cfg.model_dump_json()
    assert "/secret-home" not in dumped
    if Path("/etc/hostname").exists():
        assert Path("/etc/hostname").read_text().strip() not in dumped


@pytest.mark.parametrize("key", ["dynaconf_include", "DYNACONF_MERGE", "settings_file_for_dynaconf", "dynaconf_merge"])
def test_dynaconf_control_keys_in_a_user_file_are_rejected_with_their_line(library: Library, key: str) -> None:
    marker = library.root / "executed"
    evil = library.file("evil.py", f"open({str(marker)!r}, 'w').write('ran')\n")
    user = library.file("user.toml", f'[txt2img]\nsteps = 3\n{key} = ["{evil}"]\n')
    with pytest.raises(FileError) as caught:
        library.builder(user_file=user).build()
    assert caught.value.line == 3 and "dynaconf control keys are not allowed" in str(caught.value)
    assert not marker.exists()


def test_dynaconf_merge_markers_in_lists_are_rejected(library: Library) -> None:
    user = library.file("user.toml", 'prompt = "x"\n\n[txt2img]\nsampler_name = ["dynaconf_merge", "x"]\n')
    with pytest.raises(FileError, match="merge markers"):
        library.builder(user_file=user).build()


def test_dynaconf_include_in_a_sidecar_is_rejected(library: Library) -> None:
    library.model("M", 'kind = "model_profile"\nversion = 1\nmodel_name = "M"\ndynaconf_include = ["x.py"]\n')
    with pytest.raises(FileError, match=r"M.modelprofile.toml:4:1: dynaconf_include: unknown key"):
        library.builder().build(model="M")


def test_dynaconf_process_variables_have_no_effect(library: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    evil = library.file("evil.toml", "[txt2img]\nsteps = 99\n")
    hostile = {
        "DYNACONF_FOO": "1",
        "DYNACONF_TXT2IMG__STEPS": "77",
        "SETTINGS_FILE_FOR_DYNACONF": str(evil),
        "INCLUDES_FOR_DYNACONF": str(evil),
        "ENVVAR_PREFIX_FOR_DYNACONF": "false",
    }
    clean = library.builder().build()
    for name, value in hostile.items():
        monkeypatch.setenv(name, value)
    with_mapping = library.builder(environ=dict(os.environ)).build()
    with_process_env = library.builder(environ=None).build()
    assert with_mapping.model_dump() == clean.model_dump() == with_process_env.model_dump()
    assert with_process_env.provenance["txt2img.steps"].layer == "defaults"
    assert clean.txt2img.steps == 20


def test_env_var_naming_an_unknown_key_suggests_the_right_one(library: Library) -> None:
    with pytest.raises(ConfigError) as caught:
        library.builder(environ={"STABLENEW_TXT2IMG__CGF_SCALE": "7"}).build()
    text = str(caught.value)
    assert "txt2img.cgf_scale = 7 (env, STABLENEW_TXT2IMG__CGF_SCALE): unknown key; did you mean 'cfg_scale'?" in text


def test_unknown_key_in_the_user_file_is_located_and_suggested(library: Library) -> None:
    user = library.file("user.toml", "# mine\n[txt2img]\ncfg = 6\n")
    with pytest.raises(ConfigError) as caught:
        library.builder(user_file=user).build()
    assert f"txt2img.cfg = 6 (user_file, {user}:3:1): unknown key; did you mean 'cfg_scale'?" in str(caught.value)


def test_unknown_table_is_located(library: Library) -> None:
    user = library.file("user.toml", "[txt2imgg]\nsteps = 6\n")
    with pytest.raises(
        ConfigError,
        match=r"txt2imgg = \{\.\.\.\} \(user_file, .*user.toml:2:1\): unknown key; did you mean 'txt2img'",
    ):
        library.builder(user_file=user).build()


def test_invalid_value_cites_its_provenance(library: Library) -> None:
    user = library.file("user.toml", "[txt2img]\n\n\n\n\n\nsteps = -3\nwidth = 1020\n")
    with pytest.raises(ConfigError) as caught:
        library.builder(user_file=user).build()
    text = str(caught.value)
    assert f"txt2img.steps = -3 (user_file, {user}:7:1): must be >= 1" in text
    assert f"txt2img.width = 1020 (user_file, {user}:8:1): must be a multiple of 8" in text


def test_wrong_type_from_env_names_the_variable(library: Library) -> None:
    with pytest.raises(
        ConfigError, match=r"txt2img.steps = 'many' \(env, STABLENEW_TXT2IMG__STEPS\): must be an integer"
    ):
        library.builder(environ={"STABLENEW_TXT2IMG__STEPS": "many"}).build()


def test_lora_weight_out_of_range(library: Library) -> None:
    library.lora("L")
    with pytest.raises(ConfigError, match=r"loras.L.weight = 60 \(overrides, overrides\): must be <= 5.0"):
        library.builder().build(loras=["L"], overrides={"loras": {"L": {"weight": 60}}})


def test_control_characters_and_prompt_breaking_lora_names_are_rejected(library: Library) -> None:
    user = library.file("user.toml", 'prompt = "hi\\u001b[2J"\n\n[loras."evil>:<"]\nweight = 1\n')
    library.lora("evil>:<")
    with pytest.raises(ConfigError) as caught:
        library.builder(user_file=user).build()
    text = str(caught.value)
    assert "prompt" in text and "control character" in text
    assert "loras.evil>:<" in text and "not allowed" in text


def test_missing_model_lists_where_it_looked(library: Library) -> None:
    with pytest.raises(NotFoundError) as caught:
        library.builder().build(model="Nope")
    assert "model 'Nope' not found" in str(caught.value)
    assert str(library.models) in str(caught.value)


def test_missing_lora_lists_where_it_looked(library: Library) -> None:
    with pytest.raises(NotFoundError, match=f"LoRA 'Gone' not found; looked in:\n  - {library.loras}"):
        library.builder().build(loras=["Gone"])


def test_missing_lora_is_a_warning_in_lenient_mode(library: Library) -> None:
    cfg = library.builder(lenient=True).build(loras=["Gone"])
    assert "LoRA 'Gone' not found" in cfg.warnings[0]
    assert cfg.loras["Gone"].weight == 0.6


def test_explicit_user_file_that_does_not_exist(library: Library) -> None:
    with pytest.raises(FileError, match=r"user\.toml: file not found"):
        library.builder(user_file=library.root / "user.toml").build()


def test_user_file_named_by_env_that_does_not_exist(library: Library) -> None:
    with pytest.raises(FileError, match=r"nowhere\.toml: file not found"):
        library.builder(environ={"STABLENEW_USER_FILE": str(library.root / "nowhere.toml")}).build()


def test_non_utf8_user_file(library: Library) -> None:
    user = library.root / "user.toml"
    user.write_bytes(b'prompt = "ok"\nnegative_prompt = "\xff\xfe"\n')
    with pytest.raises(FileError, match=r"user.toml:2:20: not valid UTF-8"):
        library.builder(user_file=user).build()


def test_json_sidecar_rejects_duplicate_keys_and_nan(tmp_path: Path) -> None:
    path = tmp_path / "m.modelprofile.json"
    path.write_text('{"kind": "model_profile", "kind": "model_profile"}', encoding="utf-8")
    with pytest.raises(FileError, match="duplicate key 'kind'"):
        load_model_profile(path)
    path.write_text('{"kind": "model_profile", "version": NaN}', encoding="utf-8")
    with pytest.raises(FileError, match="NaN is not allowed"):
        load_model_profile(path)


def test_deeply_nested_json_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "m.modelprofile.json"
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    with pytest.raises(FileError):
        load_model_profile(path)


def test_unknown_preset_id(rich_library: Library) -> None:
    with pytest.raises(
        ConfigError, match=r"preset 'nope' is not in the profile of 'RealVisXL_V4\.0'; available: rvxl_good"
    ):
        rich_library.builder().build(model="RealVisXL_V4.0", preset_id="nope")


def test_preset_without_a_profile(library: Library) -> None:
    library.model("Plain")
    with pytest.raises(ConfigError, match="has no profile"):
        library.builder().build(model="Plain", preset_id="x")


def test_cross_family_lora_fails_unless_lenient(rich_library: Library) -> None:
    rich_library.lora("Old", 'kind = "lora_profile"\nversion = 1\nlora_name = "Old"\ntarget_base_type = "sd15"\n')
    with pytest.raises(ConfigError, match="another architecture family"):
        rich_library.builder().build(model="RealVisXL_V4.0", loras=["Old"])
    cfg = rich_library.builder(lenient=True).build(model="RealVisXL_V4.0", loras=["Old"])
    assert any("cannot load" in w for w in cfg.warnings)


def test_same_family_finetune_lora_is_a_warning(rich_library: Library) -> None:
    rich_library.lora("PonyL", 'kind = "lora_profile"\nversion = 1\nlora_name = "PonyL"\ntarget_base_type = "pony"\n')
    cfg = rich_library.builder().build(model="RealVisXL_V4.0", loras=["PonyL"])
    assert any("may look off" in w for w in cfg.warnings)


def test_keys_differing_only_in_case_in_one_file(library: Library) -> None:
    library.lora("Foo")
    user = library.file("user.toml", "[loras.Foo]\nweight = 1\n[loras.foo]\nweight = 2\n")
    with pytest.raises(FileError, match="differ only in case"):
        library.builder(user_file=user).build()


def test_env_var_with_an_empty_segment(library: Library) -> None:
    with pytest.raises(ConfigError, match="STABLENEW_TXT2IMG____STEPS: empty key segment"):
        library.builder(environ={"STABLENEW_TXT2IMG____STEPS": "1"}).build()
