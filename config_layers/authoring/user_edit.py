"""``config-layers set``: edit one key of a user TOML file, keeping its comments and layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dynaconf.utils import object_merge
from pydantic import ValidationError

from config_layers.atomic import write_text_atomic
from config_layers.bounds import MAX_DEPTH
from config_layers.documents import format_key_path, read_document
from config_layers.errors import ConfigError, FileError
from config_layers.layers.base import nest
from config_layers.provenance.redaction import shorten, show
from config_layers.schema.config import PipelineConfig, schema_defaults
from config_layers.schema.messages import allowed_keys, did_you_mean, short_message


def check_setting(key: str, value: Any) -> None:
    """Refuse an unknown key (with a did-you-mean) or a value the schema rejects, before writing."""
    parts = list(key.split("."))
    if len(parts) > MAX_DEPTH:
        raise ConfigError(f"{shorten(key)}: nested too deeply (more than {MAX_DEPTH} parts)")
    for depth in range(len(parts)):
        allowed = allowed_keys(PipelineConfig, tuple(parts[:depth]))
        if allowed is None:
            continue
        # Keys match case-insensitively, as a build matches them against the defaults.
        parts[depth] = next((name for name in allowed if name.casefold() == parts[depth].casefold()), parts[depth])
        if parts[depth] not in allowed:
            hint = did_you_mean(parts[depth], allowed)
            suggestion = f"; did you mean {format_key_path((*parts[:depth], hint), plain=True)!r}?" if hint else ""
            raise ConfigError(f"{key}: unknown key{suggestion}")
    data = object_merge(schema_defaults(), nest({format_key_path(parts, plain=True): value}), list_merge="shallow")
    try:
        PipelineConfig.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise ConfigError(f"{key} = {show(tuple(parts), value)}: {short_message(error, PipelineConfig)}") from None


def set_value(path: Path, key: str, value: Any) -> str:
    """Set ``key`` (dotted) to ``value`` in the TOML file at ``path`` (created if missing),
    keeping every comment and the order of everything else. Atomic.

    A key the file already spells in another case (``[TXT2IMG]``, ``[loras.PerfectEyesXL]``)
    is edited where it is, not added a second time. A symlink is written through: its target
    is replaced atomically and the link stays. Returns the key as written.
    """
    import tomlkit
    from tomlkit.exceptions import ParseError

    check_setting(key, value)
    path = _link_target(path)
    text = read_document(path).text if path.exists() or path.is_symlink() else ""
    try:
        document = tomlkit.parse(text)
    except ParseError as exc:
        raise FileError(path, f"invalid TOML: {exc}", line=exc.line, column=exc.col) from None
    parts = key.split(".")
    table: Any = document
    for index, part in enumerate(parts[:-1]):
        parts[index] = part = _spelling(table, part)
        if part not in table:
            table.add(part, tomlkit.table())
        table = table[part]
        if not isinstance(table, dict):
            raise FileError(path, "is a value, not a table", key_path=format_key_path(parts[: index + 1], plain=True))
    parts[-1] = _spelling(table, parts[-1])
    table[parts[-1]] = value
    write_text_atomic(path, tomlkit.dumps(document), overwrite=True)
    return format_key_path(parts, plain=True)


def _spelling(table: Any, key: str) -> str:
    """The key as ``table`` already spells it (keys match case-insensitively, as in a build)."""
    folded = key.casefold()
    return next((str(existing) for existing in table if str(existing).casefold() == folded), key)


def _link_target(path: Path) -> Path:
    """The file a symlink (chain) points to, so that the write replaces it and keeps the link."""
    try:
        return path.resolve() if path.is_symlink() else path
    except (OSError, RuntimeError, ValueError) as exc:  # a symlink loop, a name over the OS limit
        raise FileError(path, f"cannot follow the link: {exc}") from None
