"""Files and folders the user may not read or write: clear errors or recorded problems, never a
PermissionError traceback.

Root reads everything, so as root each check runs in a forked child that has dropped to the
``nobody`` user (modules are imported before the drop: the interpreter's own files may not be
readable by nobody). Without root or ``fork``/``setuid`` the checks run directly, or are skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from config_layers import ConfigBuilder, ConfigError
from config_layers.discovery.hashing import HashCache
from config_layers.scan import Scanner
from tests.conftest import write_stub_safetensors

NOBODY = 65534


def _as_unprivileged(check: Callable[[], str]) -> str:
    """``check()`` run as a user without root's override of file permissions; its result text."""
    if os.geteuid() != 0:
        return check()
    if not hasattr(os, "fork"):
        pytest.skip("running as root and cannot fork to drop privileges")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop privileges for good, run, report, exit without cleanup
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            result = check()
        except BaseException as exc:  # reported to the parent, which fails the test
            result = f"RAISED {type(exc).__name__}: {exc}"
        os.write(write, result.encode("utf-8", "replace"))
        os._exit(0)
    os.close(write)
    chunks = []
    while chunk := os.read(read, 65536):
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode("utf-8")


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder the unprivileged user can enter (pytest's own tmp folders are root-only)."""
    folder = Path(tempfile.mkdtemp(prefix="config-layers-perm-"))
    folder.chmod(0o777)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o777)
    shutil.rmtree(folder)


def _open_to_all(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)


def test_a_config_dir_that_cannot_be_entered(shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = shared / "config" / "stablenew"
    config.mkdir(parents=True)
    (config / "user.toml").write_text("[txt2img]\nsteps = 3\n", encoding="utf-8")
    _open_to_all(shared)
    config.chmod(0o644)  # listable, not enterable
    monkeypatch.setenv("XDG_CONFIG_HOME", str(shared / "config"))

    def check() -> str:
        try:
            ConfigBuilder(model_dirs=[shared], profile_dirs=[], environ={}).build()
        except ConfigError as exc:
            return f"ConfigError: {exc}"
        return "built"

    assert _as_unprivileged(check).startswith("ConfigError: "), "and names the folder"


def test_scan_hash_with_an_unreadable_model_and_an_unwritable_cache(shared: Path) -> None:
    models = shared / "models"
    write_stub_safetensors(models / "a.safetensors")
    write_stub_safetensors(models / "locked.safetensors")
    (shared / "cache").mkdir()
    _open_to_all(shared)
    (models / "locked.safetensors").chmod(0o000)
    (shared / "cache").chmod(0o555)  # the cache cannot be written

    def check() -> str:
        entries = Scanner([], HashCache(shared / "cache" / "sha256.json")).scan([models])
        return json.dumps({entry.path.name: [entry.sha256 is not None, entry.problems] for entry in entries})

    result = _as_unprivileged(check)
    assert not result.startswith("RAISED"), result
    found = json.loads(result)
    assert found["a.safetensors"][0] is True
    assert any("cannot read it to hash it" in problem for problem in found["locked.safetensors"][1])


def test_a_build_matching_by_hash_survives_an_unwritable_cache(shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_stub_safetensors(shared / "models" / "x.safetensors", {"a": "b"})
    (shared / "cache").mkdir()
    (shared / "config").mkdir()
    monkeypatch.setenv("XDG_CONFIG_HOME", str(shared / "config"))
    _open_to_all(shared)
    (shared / "cache").chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)

    def check() -> str:
        builder = ConfigBuilder(
            model_dirs=[shared / "models"],
            profile_dirs=[],
            environ={},
            match_by_hash=True,
            hash_cache_file=shared / "cache" / "sha256.json",
        )
        return str(builder.build(model="x").model)

    assert _as_unprivileged(check) == "x"
