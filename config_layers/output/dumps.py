"""Renderings of a built config for people and machines: JSON, annotated TOML, a table.

Every rendering shows secrets redacted. tomlkit and rich are imported here only, so
``import config_layers`` stays cheap for the controller.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from config_layers.documents import format_key_path
from config_layers.schema.config import PipelineConfig, iter_leaves

if TYPE_CHECKING:
    from config_layers.scan import ScanEntry


def to_json(config: PipelineConfig) -> str:
    """``{"config", "provenance", "layers", "warnings"}`` (README: "The JSON contract")."""
    payload = config.report.to_dict(config.model_dump(mode="json"))
    return json.dumps(payload, indent=2, ensure_ascii=False)


def to_toml(config: PipelineConfig) -> str:
    """The config as TOML, each value followed by a comment naming its layer and source."""
    import tomlkit

    provenance = config.provenance
    document = tomlkit.document()
    document.add(tomlkit.comment("Built by config-layers; each value says where it came from."))

    def fill(container: Any, data: dict[str, Any], prefix: tuple[str, ...]) -> None:
        tables = []
        for key, value in data.items():
            path = (*prefix, key)
            if isinstance(value, dict) and value:
                tables.append((key, value, path))
                continue
            entry = provenance[format_key_path(path, plain=True)]
            if value is None:  # TOML has no null: say so instead of inventing a value
                container.add(tomlkit.comment(f"{key} is unset  ({entry.origin})"))
                continue
            item = tomlkit.item(entry.shown(value))
            item.comment(str(entry.origin))
            container.add(key, item)
        for key, value, path in tables:
            table = tomlkit.table()
            fill(table, value, path)
            container.add(key, table)

    fill(document, config.model_dump(mode="json"), ())
    return tomlkit.dumps(document)


def _console() -> Any:
    """A console for stdout; piped output gets room for file paths instead of 80 columns."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=200)


def print_table(config: PipelineConfig) -> None:
    """A terminal table: field, value, layer, source."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="PipelineConfig", show_lines=False)
    for column in ("field", "value", "layer", "source"):
        table.add_column(column, overflow="fold")
    provenance = config.provenance
    for path, _ in iter_leaves(config.model_dump(mode="json")):
        entry = provenance[format_key_path(path, plain=True)]
        # Text(), not markup: values and paths from files must not be read as rich markup.
        table.add_row(
            Text(entry.path),
            Text(json.dumps(entry.shown(entry.value), ensure_ascii=False)),
            Text(entry.layer),
            Text(entry.origin.where()),
        )
    console = _console()
    console.print(table)
    for summary in config.report.layers:
        for note in summary.notes:
            console.print(Text(f"note ({summary.name}): {note}"))
    for warning in config.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))


def print_scan(entries: Sequence[ScanEntry]) -> None:
    """``config-layers scan`` as a table: file, kind, base type, priors, sources, problems."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"{len(entries)} files", show_lines=False)
    for column in ("file", "kind", "base", "priors", "from", "problems"):
        table.add_column(column, overflow="fold")
    for entry in entries:
        summary = entry.summary()
        if "presets" in summary:
            priors = "; ".join(
                f"{p['id']}: {p['sampler']}/{p['scheduler']} {p['steps']} steps cfg {p['cfg']}"
                for p in summary["presets"]
            )
        else:
            priors = ", ".join(f"{w['weight']:g} ({w['rating']})" for w in summary.get("weights", []))
            if summary.get("trigger_phrases"):
                priors += f"  triggers: {', '.join(summary['trigger_phrases'])}"
        used = [f"{s['kind']}" for s in summary["sources"] if s["status"].startswith("used")]
        table.add_row(
            Text(str(entry.path)),
            Text(entry.kind + (f" ({entry.key_format})" if entry.key_format else "")),
            Text(str(summary["base_type"] or "?")),
            Text(priors or "-"),
            Text(", ".join(used) or "-"),
            Text("\n".join(entry.problems), style="red"),
        )
    _console().print(table)
