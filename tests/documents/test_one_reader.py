"""One JSON/UTF-8 reader for every file: a sidecar (FileError) and foreign metadata
(MetadataError) refuse the same bytes with the same message, located the same way."""

from __future__ import annotations

from pathlib import Path

import pytest

from config_layers.documents import read_document
from config_layers.errors import FileError, MetadataError
from config_layers.metadata import read_a1111_metadata

BAD = [
    (b'{"a": NaN}', "invalid JSON: NaN is not allowed"),
    (b'{"a": 1, "a": 2}', "invalid JSON: duplicate key 'a'"),
    (b'{\n  "a": "caf\xe9"\n}', "not valid UTF-8 (byte 0xe9 at offset 13)"),
    (b'{"a": ' + b"[" * 100 + b"]" * 100 + b"}", "invalid JSON: nested too deeply"),
    (b'{"a": 1,}', "invalid JSON: Expecting property name"),
]


@pytest.mark.parametrize(("raw", "message"), BAD)
def test_sidecars_and_foreign_metadata_share_one_reader(tmp_path: Path, raw: bytes, message: str) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(raw)
    with pytest.raises(FileError) as as_document:
        read_document(path)
    with pytest.raises(MetadataError) as as_metadata:
        read_a1111_metadata(path)
    assert type(as_document.value) is FileError
    assert as_document.value.message.startswith(message)
    assert as_metadata.value.message == as_document.value.message
    assert (as_metadata.value.line, as_metadata.value.column) == (as_document.value.line, as_document.value.column)


def test_bad_utf8_is_located_by_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_bytes(b'{\n  "a": "caf\xe9"\n}')
    with pytest.raises(FileError) as caught:
        read_document(path)
    assert (caught.value.line, caught.value.column) == (2, 12)


def test_every_reader_takes_its_size_cap_from_bounds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The caps live in ``config_layers.bounds``: the readers' defaults are those values."""
    import inspect

    from config_layers import bounds
    from config_layers.metadata import read_civitai_info, read_lora_manager, read_safetensors_metadata

    defaults = {
        read_document: ("max_bytes", bounds.DEFAULT_MAX_BYTES),
        read_a1111_metadata: ("max_bytes", bounds.MAX_FOREIGN_BYTES),
        read_civitai_info: ("max_bytes", bounds.MAX_FOREIGN_BYTES),
        read_lora_manager: ("max_bytes", bounds.MAX_FOREIGN_BYTES),
        read_safetensors_metadata: ("max_header_bytes", bounds.MAX_HEADER_BYTES),
    }
    for reader, (name, cap) in defaults.items():
        assert inspect.signature(reader).parameters[name].default == cap, reader
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (bounds.MAX_FOREIGN_BYTES + 1))
    with pytest.raises(MetadataError, match=f"over the {bounds.MAX_FOREIGN_BYTES}-byte limit"):
        read_a1111_metadata(big)
