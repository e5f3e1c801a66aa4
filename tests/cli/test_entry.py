"""The entry point's own ``build`` parser (config_layers.entry) against the typer app it stands in for:
the same options, the same output, and the build's process kept free of what it does not run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from config_layers.cli import app
from config_layers.entry import BUILD_FLAGS, Format, parse_build, run_build
from config_layers.shipped import examples_dir

ROOT = Path(__file__).resolve().parents[2]
ENV = {"STABLENEW_TXT2IMG__SEED": "11", "STABLENEW_WEBUI__PASSWORD": "pw"}
runner = CliRunner()


def test_the_table_is_the_typer_build_command() -> None:
    """Every option of typer's ``build`` is in BUILD_FLAGS with the same names, arity and default."""
    command = typer.main.get_command(app)
    build = command.commands["build"]  # type: ignore[attr-defined]
    options = {param.name: param for param in build.params}
    assert set(options) == set(BUILD_FLAGS)
    for name, flag in BUILD_FLAGS.items():
        option = options[name]
        assert (*option.opts, *option.secondary_opts) == flag.names, name
        assert option.help == flag.help
        assert option.multiple is (flag.kind in ("texts", "paths")), name
        assert option.is_flag is (flag.kind == "switch"), name
        assert option.default == flag.default or (option.default is None and flag.default is None), name


def _invoke_both(argv: list[str]) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    options = parse_build(argv)
    assert options is not None, argv
    with runner.isolation(env=ENV) as (out, err, _):
        code = run_build(options)
        sys.stdout.flush()
        fast = (code, out.getvalue().decode(), err.getvalue().decode())
    result = runner.invoke(app, argv, env=ENV)
    return fast, (result.exit_code, result.stdout, result.stderr)


def test_a_plain_build_prints_what_typer_prints(tmp_path: Path) -> None:
    user = tmp_path / "user.toml"
    user.write_text("[txt2img]\nsteps = 31\n")
    argv = ["build", "-m", "RealVisXL_V4.0", "--lora", "PerfectEyesXL", f"--user-file={user}", "-f", "json"]
    fast, slow = _invoke_both(argv)
    assert fast == slow
    assert json.loads(fast[1])["provenance"]["txt2img.steps"]["source"] == str(user)


def test_an_error_is_typer_s_message_and_exit_code() -> None:
    fast, slow = _invoke_both(["build", "--model", "RealVisXL_V4.0", "--set", "txt2img.steps"])
    assert fast == slow
    assert fast[0] == 2 and fast[2].startswith("config-layers: error: --set 'txt2img.steps'")


VALUES: dict[str, list[str]] = {
    "model": ["RealVisXL_V4.0", "dreamshaper_8", "plainModel", "missing_model"],
    "lora": ["PerfectEyesXL", "add-detail-xl", "epi_noiseoffset2", "no_such_lora"],
    "models_dir": [str(examples_dir() / "models" / "Stable-diffusion"), "missing-folder"],
    "loras_dir": [str(examples_dir() / "models" / "Lora")],
    "profiles_dir": [str(ROOT / "profiles"), "missing-folder"],
    "user_file": [str(examples_dir() / "user.toml"), "missing.toml"],
    "settings": [str(ROOT / "settings.toml"), "missing.toml"],
    "preset": ["rvxl_photoreal_default", "no_such_preset"],
    "set_": ["txt2img.steps=33", "hires.enabled=true", "txt2img.cfg_scale='x'", "nonsense"],
    "stack": ["western", "nope"],
    "stage": ["txt2img", "img2img", "bogus"],
    "stacks_dir": [str(examples_dir() / "models" / "Lora")],
    "output": ["json", "toml"],
}


@st.composite
def build_lines(draw: st.DrawFn) -> list[str]:
    """Plain ``build`` command lines: options from the table, in any order and spelling."""
    argv = ["build"]
    for param in draw(st.lists(st.sampled_from(sorted(BUILD_FLAGS)), unique=True, max_size=6)):
        flag = BUILD_FLAGS[param]
        for _ in range(draw(st.integers(1, 2)) if flag.kind in ("texts", "paths") else 1):
            name = draw(st.sampled_from(flag.names))
            if flag.kind == "switch":
                argv.append(name)
                continue
            value = draw(st.sampled_from(VALUES[param]))
            argv += [f"{name}={value}"] if name.startswith("--") and draw(st.booleans()) else [name, value]
    return argv


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(build_lines())
def test_any_plain_build_line_runs_as_typer_runs_it(argv: list[str]) -> None:
    fast, slow = _invoke_both(argv)
    assert fast == slow, argv


def test_lines_it_does_not_parse_go_to_typer() -> None:
    for argv in (
        [],
        ["explain", "txt2img.steps"],
        ["build", "--help"],
        ["build", "--format", "JSON"],
        ["build", "-f", "table", "-f", "json"],
        ["build", "--lenient=true"],
        ["build", "-mRealVisXL_V4.0"],
        ["build", "--model"],
        ["build", "--model", "--lenient"],
        ["build", "--model="],
        ["build", "RealVisXL_V4.0"],
        ["build", "--", "--model", "x"],
        ["build", "--no-such-option", "x"],
    ):
        assert parse_build(argv) is None, argv
    assert parse_build(["build"]) == {param: flag.default for param, flag in BUILD_FLAGS.items()}
    assert parse_build(["build", "-f", "toml", "-l", "a", "--lora=b"]) == {
        **{param: flag.default for param, flag in BUILD_FLAGS.items()},
        "output": Format.toml,
        "lora": ["a", "b"],
    }


#: Modules a plain build must not import: the typer app and its libraries, and the parts of the
#: package only other commands run. Checked in a fresh process by name, not timed.
NOT_ON_THE_BUILD_PATH = (
    "typer",
    "click",
    "rich",
    "tomlkit",
    "msgspec",
    "config_layers.cli",
    "config_layers.scan",
    "config_layers.authoring",
    "config_layers.dataset",
    "config_layers.learning.learn",
    "config_layers.learning.groups",
    "config_layers.learning.records",
    "config_layers.prompts.budget",
    "config_layers.prompts.render",
    "config_layers.discovery.hashing",
)


def _modules_after(code: str, cache_home: Path) -> set[str]:
    probe = code + "\nimport sys\nprint('\\n'.join(sys.modules), file=sys.stderr)\n"
    environ = {"PATH": "", "XDG_CACHE_HOME": str(cache_home)}  # not the real user cache dir
    argv = [sys.executable, "-c", probe]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT, env=environ)
    return set(done.stderr.split())


def test_a_plain_build_process_does_not_import_the_other_commands(tmp_path: Path) -> None:
    run = (
        "import sys\nfrom config_layers import entry\n"
        "sys.argv = ['config-layers', 'build', '--model', 'RealVisXL_V4.0', '--lora', 'PerfectEyesXL', '-f', 'json',"
        f" '--user-file', {str(examples_dir() / 'user.toml')!r}]\n"
        "try:\n    entry.main()\nexcept SystemExit as done:\n    assert done.code == 0, done.code\n"
    )
    loaded = _modules_after(run, tmp_path)
    assert "config_layers.builder" in loaded  # the probe did build
    banned = sorted(name for name in loaded if _below(name))
    assert banned == []


def _below(name: str) -> bool:
    return any(name == module or name.startswith(f"{module}.") for module in NOT_ON_THE_BUILD_PATH)


def test_importing_the_package_or_the_entry_point_loads_no_builder(tmp_path: Path) -> None:
    loaded = _modules_after("import config_layers, config_layers.entry", tmp_path)
    assert not {"pydantic", "typer", "config_layers.builder"} & loaded
