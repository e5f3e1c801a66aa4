"""Devices and FIFOs in place of a settings or user file are refused, not read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from config_layers import FileError
from tests.conftest import Library


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_device_and_fifo_files_are_refused_not_read(library: Library) -> None:
    fifo = library.root / "user.toml"
    os.mkfifo(fifo)
    with pytest.raises(FileError, match="not a regular file"):
        library.builder(user_file=fifo).build()
    if Path("/dev/zero").exists():
        with pytest.raises(FileError, match="not a regular file"):
            library.builder(settings_file="/dev/zero").build()
