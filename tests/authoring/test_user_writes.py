"""Writing user files: `set` reports bad files without a traceback and keeps secrets off the screen; new files
get the umask permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from typer.testing import CliRunner

from config_layers.atomic import write_text_atomic
from config_layers.cli import app

runner = CliRunner()


def test_set_reports_bad_files_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_bytes(b'prompt = "\xff"\n')
    for target, message in ((bad, "not valid UTF-8"), (tmp_path, "directory")):
        result = runner.invoke(app, ["set", "txt2img.steps", "3", "--file", str(target)])
        assert result.exit_code == 2, result.output
        assert message in result.stderr and "Traceback" not in result.stderr


def test_set_redacts_secrets(tmp_path: Path) -> None:
    result = runner.invoke(app, ["set", "webui.password", "hunter2", "--file", str(tmp_path / "u.toml")])
    assert result.exit_code == 0 and "hunter2" not in result.stdout
    assert 'password = "hunter2"' in (tmp_path / "u.toml").read_text(encoding="utf-8")


def test_new_files_get_the_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "new.toml", "x = 1\n", overwrite=False)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.toml").stat().st_mode) == 0o644
