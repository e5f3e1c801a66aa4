"""``config-layers set``: edit one key of a user TOML file, keeping its comments and layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dynaconf.utils import object_merge
from pydantic import ValidationError

from config_layers.atomic import write_text_atomic
from config_layers.documents import read_document
from config_layers.errors import ConfigError, FileError
from config_layers.layers.base import nest
from config_layers.schema import PipelineConfig, schema_defaults
from config_layers.validation import allowed_keys, did_you_mean, short_message


def check_setting(key: str, value: Any) -> None:
    """Refuse an unknown key (with a did-you-mean) or a value the schema rejects, before writing."""
    parts = tuple(key.split("."))
    for depth in range(len(parts)):
        allowed = allowed_keys(PipelineConfig, parts[:depth])
        if allowed is not None and parts[depth] not in allowed:
            hint = did_you_mean(parts[depth], allowed)
            suggestion = f"; did you mean {'.'.join((*parts[:depth], hint))!r}?" if hint else ""
            raise ConfigError(f"{key}: unknown key{suggestion}")
    data = object_merge(schema_defaults(), nest({key: value}), list_merge="shallow")
    try:
        PipelineConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise ConfigError(f"{key} = {value!r}: {short_message(error, PipelineConfig)}") from None


def set_value(path: Path, key: str, value: Any) -> None:
    """Set ``key`` (dotted) to ``value`` in the TOML file at ``path`` (created if missing),
    keeping every comment and the order of everything else. Atomic."""
    import tomlkit
    from tomlkit.exceptions import ParseError

    check_setting(key, value)
    text = read_document(path).text if path.exists() else ""
    try:
        document = tomlkit.parse(text)
    except ParseError as exc:
        raise FileError(path, f"invalid TOML: {exc}", line=exc.line, column=exc.col) from None
    parts = key.split(".")
    table: Any = document
    for index, part in enumerate(parts[:-1]):
        if part not in table:
            table.add(part, tomlkit.table())
        table = table[part]
        if not isinstance(table, dict):
            raise FileError(path, "is a value, not a table", key_path=".".join(parts[: index + 1]))
    table[parts[-1]] = value
    write_text_atomic(path, tomlkit.dumps(document), overwrite=True)
