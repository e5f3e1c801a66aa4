"""Issue 8: hostile input gets a clear ConfigError (never a traceback), secrets never print,
sidecars stay inside their folder, reads never race a rewrite, writes keep links and spellings."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from config_layers import ConfigError, FileError
from config_layers.authoring.user_edit import set_value
from config_layers.bounds import MAX_DEPTH, check_text
from config_layers.cli import app
from config_layers.discovery.hashing import HashCache
from config_layers.documents import read_document
from config_layers.errors import ConfigErrors
from config_layers.names import strip_model_hash
from config_layers.output.dumps import to_json, to_toml
from tests.conftest import MODEL_TOML, Library, write_stub_safetensors

runner = CliRunner()
SECRET = "hunter2-s3cret"


# ------------------------------------------------------------------ bounds before parsing


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("a." * 300_000 + "a = 1\n", 1),
        ("x = 1\na = " + "[" * 24_000 + "]" * 24_000 + "\n", 2),
        ("a = " + "{b = " * 1_000 + "1" + "}" * 1_000 + "\n", 1),
        ("[" + "a." * 20_000 + "a]\nb = 1\n", 1),
        ("[t]\n" + "b." * 40 + "c = {" + "d." * 30 + "e = 1}\n", 2),  # key parts add up across levels
        ("[" + "a." * 40 + "a]\n" + "b." * 30 + "c = 1\n", 2),  # a header's depth counts below it
    ],
)
def test_deep_toml_is_refused_before_parsing_with_its_line(library: Library, text: str, line: int) -> None:
    user = library.root / "user.toml"
    user.write_text(text, encoding="utf-8")
    with pytest.raises(FileError, match="nested too deeply") as caught:
        library.builder(user_file=user).build()
    assert caught.value.line == line and caught.value.column is not None


def test_deep_json_sidecar_and_lora_profile_are_refused(library: Library) -> None:
    library.model("M")
    (library.models / "M.modelprofile.json").write_text('{"a":' * 50_000 + "1" + "}" * 50_000)
    with pytest.raises(FileError, match=r"M.modelprofile.json:1:\d+: invalid JSON: nested too deeply"):
        library.builder().build(model="M")
    library.lora("L", "x." * 11_500 + "x = 1\n")
    with pytest.raises(FileError, match=r"L\.loraprofile\.toml:1:"):
        library.builder().build(loras=["L"])


def test_real_nesting_is_accepted() -> None:
    check_text("a." * (MAX_DEPTH - 2) + "a = 1\n", "toml")
    check_text('[[a.b]]\nc = [[1, 2], {d = """x""""}]\ne = \'\'\'y\'\'\'\'\n["k.l"]\nm = 1.5\n', "toml")
    check_text('{"a": [[{"b": "[[[[[[[["}]]]}', "json")


@pytest.mark.parametrize("where", ["user", "env", "set", "json"])
def test_integers_over_4300_digits_are_clear_errors(library: Library, where: str) -> None:
    digits = "9" * 5_000
    if where == "user":
        user = library.file("user.toml", f"[txt2img]\nsteps = {digits}\n")
        with pytest.raises(FileError, match=r"user.toml:2:9: invalid TOML: a number with 5000 digits"):
            library.builder(user_file=user).build()
    elif where == "env":
        with pytest.raises(ConfigError, match=r"STABLENEW_TXT2IMG__STEPS: .*5000 digits"):
            library.builder(environ={"STABLENEW_TXT2IMG__STEPS": digits}).build()
    elif where == "set":
        result = runner.invoke(app, ["build", "--models-dir", str(library.models), "--set", f"txt2img.steps={digits}"])
        assert result.exit_code == 2 and "--set txt2img.steps" in result.stderr and "Traceback" not in result.stderr
    else:
        library.model("M")
        (library.models / "M.civitai.info").write_text('{"baseModel": "SDXL 1.0", "modelId": ' + digits + "}")
        with pytest.raises(ConfigError, match="5000 digits"):
            library.builder().build(model="M")
        result = runner.invoke(app, ["scan", str(library.models), "--profiles-dir", str(library.root)])
        assert result.exit_code == 0 and "5000 digits" in result.stdout


@pytest.mark.parametrize(
    "environ",
    [
        {"STABLENEW_TXT2IMG__STEPS": "[" * 3_000 + "]" * 3_000},
        {"STABLENEW_" + "__".join(["A"] * 1_500): "1"},
        {"STABLENEW_TXT2IMG__STEPS": "{a = " * 100 + "1" + "}" * 100},
    ],
)
def test_deep_env_values_and_names_are_clear_errors(library: Library, environ: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="nested too deeply") as caught:
        library.builder(environ=environ).build()
    assert str(caught.value).startswith("STABLENEW_") and len(str(caught.value)) < 400


def test_env_table_value_and_a_key_below_it(library: Library) -> None:
    environ = {"STABLENEW_TXT2IMG": "{steps=3}", "STABLENEW_TXT2IMG__STEPS": "4"}
    with pytest.raises(ConfigError, match="STABLENEW_TXT2IMG: txt2img is a table; set its keys as"):
        library.builder(environ=environ).build()


def test_deep_overrides_are_refused(library: Library) -> None:
    nested: dict[str, Any] = {}
    for _ in range(200):
        nested = {"a": nested}
    with pytest.raises(ConfigError, match="overrides: nested too deeply"):
        library.builder().build(overrides={"txt2img": nested})
    with pytest.raises(ConfigError, match="more than 64 parts"):
        library.builder().build(overrides={"a." * 100 + "b": 1})


# ------------------------------------------------------------------ quadratic work


_OLD_HASH_SUFFIX = re.compile(r"\s*\[[0-9a-fA-F]{6,64}\]\s*$")


@given(st.text(alphabet=" \t[]abcdef0123456789x.", max_size=40))
def test_hash_stripping_keeps_its_meaning(name: str) -> None:
    assert strip_model_hash(name) == _OLD_HASH_SUFFIX.sub("", name)


def test_thousands_of_problems_list_the_first_twenty_and_count_the_rest(library: Library) -> None:
    user = library.file("user.toml", "[txt2img]\n" + "".join(f"k_{i} = 1\n" for i in range(900)))
    with pytest.raises(ConfigErrors) as caught:
        library.builder(user_file=user).build()
    assert caught.value.total == 900 and len(caught.value.problems) == 20
    assert str(caught.value).startswith("invalid configuration (900 problems):")
    assert str(caught.value).endswith("... and 880 more problems")


def test_huge_tables_and_stacks_are_refused(library: Library) -> None:
    user = library.file("user.toml", "[txt2img]\n" + "".join(f"k_{i} = 1\n" for i in range(1_500)))
    with pytest.raises(FileError, match="txt2img: has 1500 keys; at most 1000"):
        library.builder(user_file=user).build()
    loras = library.file("loras.toml", "".join(f"[loras.l{i}]\nweight = 0.5\n" for i in range(1_200)))
    with pytest.raises(FileError, match="names 1200 LoRAs; at most 1000"):
        library.builder(user_file=loras).build()
    entry = '[[loras]]\nname = "l{0}"\nfile = "l{0}.safetensors"\nscale = 0.5\napplies_to = ["txt2img"]\n'
    (library.loras / "big.lorastack.toml").write_text("".join(entry.format(i) for i in range(1_100)))
    with pytest.raises(FileError, match="loras: has 1100 entries; a stack holds at most 1000"):
        library.builder().build(lora_stack="big")


def test_long_values_are_shortened_in_messages(library: Library) -> None:
    with pytest.raises(ConfigError) as caught:
        library.builder(environ={"STABLENEW_PROMPT": "x" * 100_000}).build()
    assert "(100000 characters)" in str(caught.value) and len(str(caught.value)) < 500
    with pytest.raises(ConfigError) as missing:
        library.builder().build(model="m" * 5_000)
    assert len(str(missing.value)) < 1_000


# ------------------------------------------------------------------ reads race atomic rewrites


def test_a_read_sees_the_old_or_the_new_file_never_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "user.toml"
    path.write_text("prompt = 'old'\n", encoding="utf-8")
    newer = tmp_path / "new.toml"
    real_stat, real_fstat = os.stat, os.fstat

    def rewrite() -> None:
        if newer.exists():
            newer.write_text("prompt = 'a new and much longer prompt'\n", encoding="utf-8")
            os.replace(newer, path)

    def stat(target: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        result = real_stat(target, *args, **kwargs)
        if str(target) == str(path):
            rewrite()  # replaced between a stat of the path and the open
        return result

    def fstat(descriptor: int) -> os.stat_result:
        rewrite()  # replaced between the open and the fstat: the open file is still the old one
        return real_fstat(descriptor)

    for patched in ("stat", "fstat"):
        newer.touch()
        monkeypatch.setattr(os, "stat", stat if patched == "stat" else real_stat)
        monkeypatch.setattr(os, "fstat", fstat if patched == "fstat" else real_fstat)
        assert read_document(path).data["prompt"] in ("old", "a new and much longer prompt")


# ------------------------------------------------------------------ names over OS limits


def test_names_over_os_limits_and_nul_bytes_are_clear_errors(library: Library) -> None:
    with pytest.raises(ConfigError, match="too long for a file name"):
        library.builder().build(lora_stack="s" * 300)
    stack = library.loras / "s.lorastack.toml"
    for file in ("f" * 300 + ".safetensors", "a/" * 2_100 + "x.safetensors", "x\x00y.safetensors"):
        stack.write_text(
            f'[[loras]]\nname = "x"\nfile = {json.dumps(file)}\nscale = 0.5\napplies_to = ["txt2img"]\n',
            encoding="utf-8",
        )
        with pytest.raises(FileError, match=r"s.lorastack.toml:3:\d+: loras\[0\].file: entry 'x'"):
            library.builder().build(lora_stack="s")


def test_profile_init_onto_a_directory_and_beside_a_json_sidecar(library: Library) -> None:
    lora = library.lora("grain")
    (library.loras / "grain.loraprofile.toml").mkdir()
    result = runner.invoke(app, ["profile", "init", str(lora), "--force", "--profiles-dir", str(library.root)])
    assert result.exit_code == 2 and "is a directory" in result.stderr and "Traceback" not in result.stderr
    (library.loras / "grain.loraprofile.toml").rmdir()
    (library.loras / "grain.loraprofile.json").write_text("{}", encoding="utf-8")
    result = runner.invoke(app, ["profile", "init", str(lora), "--force", "--profiles-dir", str(library.root)])
    assert result.exit_code == 2 and "grain.loraprofile.json already exists" in result.stderr
    assert not (library.loras / "grain.loraprofile.toml").exists()


# ------------------------------------------------------------------ secrets


def test_no_returned_object_prints_the_password(library: Library) -> None:
    cfg = library.builder(
        environ={"STABLENEW_WEBUI__PASSWORD": SECRET, "STABLENEW_WEBUI__URL": f"http://bob:{SECRET}@host:7860/x"}
    ).build(overrides={"webui.password": SECRET + "!"})
    entry = cfg.provenance["webui.password"]
    shown = [repr(entry), str(entry), repr(entry.value), str(entry.value), repr(entry.chain), repr(cfg), str(cfg)]
    shown += [repr(cfg.report), repr(cfg.provenance["webui.url"]), cfg.explain("webui"), to_json(cfg), to_toml(cfg)]
    shown += [repr(cfg.provenance.removed()), repr(cfg.report.layers)]
    for text in shown:
        assert SECRET not in text, text
    assert entry.value.get_secret_value() == SECRET + "!"
    assert "http://bob:********@host:7860/x" in to_json(cfg)


def test_replaced_sub_keys_of_a_secret_are_redacted_in_explain(library: Library) -> None:
    user = library.file("user.toml", f'[webui.password]\na = "{SECRET}"\n')
    cfg = library.builder(user_file=user, environ={"STABLENEW_WEBUI__PASSWORD": "x"}).build()
    text = cfg.explain("webui")
    assert "webui.password.a" in text and SECRET not in text


@pytest.mark.parametrize(
    "text",
    [
        f'[webui]\npasword = "{SECRET}"\n',
        f'[webui]\npasswd = "{SECRET}"\n',
        f'webui_password = "{SECRET}"\n',
        f'[webui]\napi_key = "{SECRET}"\n',
        f'[webui.password]\na = ["{SECRET}"]\n',
        f'[webui]\nurl = ["http://u:{SECRET}@h/"]\n',
    ],
)
def test_typod_and_nested_secrets_never_reach_an_error(library: Library, text: str) -> None:
    user = library.file("user.toml", text)
    with pytest.raises(ConfigError) as caught:
        library.builder(user_file=user).build()
    assert SECRET not in str(caught.value)


def test_set_never_echoes_a_secret(tmp_path: Path) -> None:
    target = tmp_path / "u.toml"
    for key, value in (("webui", f'{{password = "{SECRET}"}}'), ("webui.url", f'"http://a:{SECRET}@h"')):
        result = runner.invoke(app, ["set", key, value, "--file", str(target)])
        assert result.exit_code == 0 and SECRET not in result.stdout + result.stderr
    result = runner.invoke(app, ["set", "webui", f'{{pasword = "{SECRET}"}}', "--file", str(target)])
    assert result.exit_code == 2 and SECRET not in result.stdout + result.stderr


# ------------------------------------------------------------------ reads outside the library


def test_sidecars_and_metadata_linking_out_of_the_folder_are_refused_unread(library: Library) -> None:
    outside = library.root / "outside"
    outside.mkdir()
    private = outside / "private.json"
    private.write_text(json.dumps({"kind": "private data", "version": 1}), encoding="utf-8")
    library.model("M")
    (library.models / "M.modelprofile.json").symlink_to(private)
    with pytest.raises(FileError, match="outside") as caught:
        library.builder().build(model="M")
    assert "private data" not in str(caught.value)
    (library.models / "M.modelprofile.json").unlink()
    (library.models / "M.json").symlink_to(private)
    with pytest.raises(ConfigError, match="outside") as metadata:
        library.builder().build(model="M")
    assert "private data" not in str(metadata.value)
    cfg = library.builder(lenient=True).build(model="M")
    assert any("outside" in w for w in cfg.warnings) and "private data" not in str(cfg.warnings)


# ------------------------------------------------------------------ writes and wrong results


def test_set_edits_the_existing_spelling(tmp_path: Path) -> None:
    path = tmp_path / "user.toml"
    path.write_text("# mine\n[loras.PerfectEyesXL]\nweight = 0.5\n\n[TXT2IMG]\nsteps = 3\n", encoding="utf-8")
    assert set_value(path, "loras.perfecteyesxl.weight", 0.7) == "loras.PerfectEyesXL.weight"
    assert set_value(path, "txt2img.steps", 40) == "TXT2IMG.steps"
    text = path.read_text(encoding="utf-8")
    assert text.count("[loras.") == 1 and text.lower().count("[txt2img]") == 1 and "# mine" in text
    assert "weight = 0.7" in text and "steps = 40" in text


def test_set_writes_through_a_symlink_and_keeps_it(tmp_path: Path) -> None:
    real = tmp_path / "real" / "user.toml"
    real.parent.mkdir()
    real.write_text("[txt2img]\nsteps = 3\n", encoding="utf-8")
    link = tmp_path / "user.toml"
    link.symlink_to(real)
    result = runner.invoke(app, ["set", "txt2img.steps", "41", "--file", str(link)])
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and "steps = 41" in real.read_text(encoding="utf-8")


def test_two_stack_entries_on_one_file_are_refused_naming_both(library: Library) -> None:
    library.lora("grain")
    entry = '[[loras]]\nname = "{0}"\nfile = "grain.safetensors"\nscale = {1}\napplies_to = ["txt2img"]\n'
    stack = library.loras / "s.lorastack.toml"
    stack.write_text(entry.format("a", 0.8) + entry.format("b", 0.5), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"LoRA 'a' \(.*s.lorastack.toml:3\) and LoRA 'b' \(.*s.lorastack.toml:8\)"):
        library.builder().build(lora_stack="s")


def test_a_rejected_foreign_value_drops_only_its_aspect(library: Library) -> None:
    library.model("RealVisXL_V4.0", MODEL_TOML)
    lora = library.lora("pony_style")
    lora.with_name("pony_style.json").write_text(
        json.dumps({"preferred weight": 7, "sd version": "SD1"}), encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="another architecture family"):
        library.builder().build(model="RealVisXL_V4.0", loras=["pony_style"])
    cfg = library.builder(lenient=True).build(model="RealVisXL_V4.0", loras=["pony_style"])
    assert any("ignored recommended_weights" in w and "pony_style.json" in w for w in cfg.warnings)
    result = runner.invoke(app, ["scan", str(library.loras), "--format", "json", "--profiles-dir", str(library.root)])
    entry = next(e for e in json.loads(result.stdout) if e["path"].endswith("pony_style.safetensors"))
    assert entry["base_type"] == "sd15" and any("ignored recommended_weights" in p for p in entry["problems"])


def test_legacy_lora_naming_no_file(library: Library) -> None:
    user = library.file("user.toml", 'lora = "x.safetensors/"\n')
    with pytest.raises(FileError, match=r"legacy 'lora' = 'x.safetensors/' names no file"):
        library.builder(user_file=user).build()


# ------------------------------------------------------------------ the hash cache


@pytest.mark.parametrize(
    "content",
    ['{"files": []}', '{"files": {"x": 1}}', '{"files": {"x": {"sha256": 5}}}', "[" * 5_000, "\xff", '{"files": 1'],
)
def test_a_damaged_hash_cache_is_discarded_and_rebuilt(library: Library, content: str) -> None:
    cache = library.root / "sha256.json"
    cache.write_text(content, encoding="utf-8")
    checkpoint = write_stub_safetensors(library.models / "x.safetensors", {"a": "b"})
    library.builder(match_by_hash=True, hash_cache_file=cache).build(model="x")
    assert str(checkpoint.resolve()) in json.loads(cache.read_text(encoding="utf-8"))["files"]
    assert HashCache(cache).cached(checkpoint) is not None


def test_a_failed_hash_cache_save_does_not_abort_a_build(library: Library) -> None:
    blocker = library.root / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    write_stub_safetensors(library.models / "x.safetensors", {"a": "b"})
    cfg = library.builder(match_by_hash=True, hash_cache_file=blocker / "sha256.json").build(model="x")
    assert cfg.model == "x" and not blocker.with_name("sha256.json").exists()
