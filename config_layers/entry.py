"""The ``config-layers`` entry point, light to import: ``build`` runs here without typer.

A plain ``build`` command line (the options of ``BUILD_FLAGS``, each value a separate word) is
parsed here and built at once: typer and the other commands cost a build's process as much as
the build itself. Anything else (help, other commands, a word this parser does not know or an
argument typer would refuse) goes to the typer app in ``cli.py``, so every message, usage text
and exit code stays typer's. ``cli.py`` makes its build options from ``BUILD_FLAGS``, and
tests/cli/test_entry.py checks the two parsers agree.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, cast

if TYPE_CHECKING:
    from config_layers.schema.config import PipelineConfig
    from config_layers.stacks import Stage


class Format(StrEnum):
    table = "table"
    json = "json"
    toml = "toml"


class Flag(NamedTuple):
    """One option of ``build`` (shared with ``explain``, ``tokens`` and others by name)."""

    names: tuple[str, ...]
    help: str
    #: text/path: one value; texts/paths: repeatable; switch: no value; format: a ``Format``.
    kind: Literal["text", "path", "texts", "paths", "switch", "format"]
    default: Any = None


#: The options of ``build``, by parameter name.
BUILD_FLAGS: dict[str, Flag] = {
    "model": Flag(("--model", "-m"), "Checkpoint name (stem, file name or WebUI name).", "text"),
    "lora": Flag(("--lora", "-l"), "A LoRA to use (repeatable).", "texts"),
    "models_dir": Flag(("--models-dir",), "Checkpoint folder (repeatable).", "paths"),
    "loras_dir": Flag(("--loras-dir",), "LoRA folder (repeatable).", "paths"),
    "profiles_dir": Flag(("--profiles-dir",), "Profile library folder (repeatable; default: shipped).", "paths"),
    "user_file": Flag(("--user-file",), "User override TOML.", "path"),
    "settings": Flag(("--settings",), "Defaults TOML (default: shipped settings.toml).", "path"),
    "preset": Flag(("--preset",), "Use this preset id of the model profile.", "text"),
    "set_": Flag(("--set",), "KEY.PATH=VALUE override, value typed as TOML (repeatable).", "texts"),
    "lenient": Flag(("--lenient",), "Record incompatible LoRAs and missing files as warnings.", "switch", False),
    "stack": Flag(("--stack",), "A LoRA stack: <NAME>.lorastack.toml.", "text"),
    "stage": Flag(("--stage",), "Stage the stack entries are filtered for.", "text", "txt2img"),
    "stacks_dir": Flag(("--stacks-dir",), "Folder of stack files (repeatable).", "paths"),
    "output": Flag(("--format", "-f"), "Output format.", "format", Format.table),
}
_BY_NAME = {name: param for param, flag in BUILD_FLAGS.items() for name in flag.names}
_REPEATABLE = ("texts", "paths")
_FORMATS = {format.value for format in Format}


def parse_build(argv: Sequence[str]) -> dict[str, Any] | None:
    """``build``'s parameters from a plain command line, as typer would pass them; None for any
    other line (typer's to parse, or to refuse with its own message)."""
    if not argv or argv[0] != "build":
        return None
    given: dict[str, Any] = {}
    words = iter(argv[1:])
    for word in words:
        name, equals, value = word.partition("=") if word.startswith("--") else (word, "", "")
        param = _BY_NAME.get(name)
        if param is None:
            return None
        kind = BUILD_FLAGS[param].kind
        if (param in given and kind not in _REPEATABLE) or (kind == "switch" and equals):
            return None  # a single option given twice, or a value for a switch
        if kind == "switch":
            given[param] = True
            continue
        if not equals:
            value = next(words, "")
        if not value or value.startswith("-") or (kind == "format" and value not in _FORMATS):
            return None  # missing, option-like or not a choice: typer says what is wrong
        typed = Path(value) if kind in ("path", "paths") else Format(value) if kind == "format" else value
        if kind in _REPEATABLE:
            given.setdefault(param, []).append(typed)
        else:
            given[param] = typed
    return {param: given.get(param, flag.default) for param, flag in BUILD_FLAGS.items()}


def build_config(
    model: str | None,
    lora: list[str] | None,
    models_dir: list[Path] | None,
    loras_dir: list[Path] | None,
    profiles_dir: list[Path] | None,
    user_file: Path | None,
    settings: Path | None,
    preset: str | None,
    set_: list[str] | None,
    lenient: bool,
    stack: str | None,
    stage: str,
    stacks_dir: list[Path] | None,
) -> PipelineConfig:
    """The config the build options ask for (``build``, ``explain`` and ``tokens``)."""
    from config_layers.builder import ConfigBuilder  # imported by the command run, not by typer's app
    from config_layers.errors import ConfigError
    from config_layers.layers.env import parse_value
    from config_layers.provenance.redaction import shorten
    from config_layers.schema.messages import text_field

    models_dir, loras_dir = library_dirs(models_dir, loras_dir)
    overrides = {}
    for item in set_ or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY.PATH=VALUE")
        try:
            overrides[key.strip()] = parse_value(raw.strip(), text=text_field(tuple(key.strip().split("."))))
        except ConfigError as error:
            raise ConfigError(f"--set {shorten(key.strip())}: {error}") from None
    builder = ConfigBuilder(
        settings_file=settings,
        model_dirs=models_dir,
        lora_dirs=loras_dir,
        user_file=user_file,
        profile_dirs=profiles_dir,
        lenient=lenient,
        stacks_dirs=stacks_dir or [],
    )
    return builder.build(
        model=model,
        loras=lora or [],
        overrides=overrides,
        preset_id=preset,
        lora_stack=stack,
        stage=cast("Stage", stage),  # build() refuses an unknown stage with the list of stages
    )


def library_dirs(models_dir: list[Path] | None, loras_dir: list[Path] | None) -> tuple[list[Path], list[Path]]:
    """The folders given, or the shipped examples/ library when neither is."""
    if not models_dir and not loras_dir:
        from config_layers.shipped import examples_dir

        library = examples_dir() / "models"
        return [library / "Stable-diffusion"], [library / "Lora"]
    return models_dir or [], loras_dir or []


def run_build(options: Mapping[str, Any]) -> int:
    """``build``: print the config in the format asked for; the exit status (2, with the message
    on stderr, for a ConfigError)."""
    from config_layers.errors import ConfigError
    from config_layers.output import dumps

    output = options["output"]
    try:
        config = build_config(**{param: value for param, value in options.items() if param != "output"})
    except ConfigError as error:
        print(f"config-layers: error: {error}", file=sys.stderr, flush=True)
        return 2
    if output is Format.table:
        dumps.print_table(config)
    else:
        text = dumps.to_json(config) + "\n" if output is Format.json else dumps.to_toml(config)
        sys.stdout.write(text)
        sys.stdout.flush()
    return 0


def main() -> None:
    """Console-script entry point."""
    options = parse_build(sys.argv[1:])
    if options is None or any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ):
        from config_layers.cli import app  # every other command line, and shell completion, is typer's

        sys.exit(app())
    try:
        sys.exit(run_build(options))
    except BrokenPipeError:  # the reader left (``| head``): as typer, exit 1 without a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
