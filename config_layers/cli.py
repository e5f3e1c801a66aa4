"""The ``config-layers`` command: a thin shell over ConfigBuilder that parses and prints."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from config_layers.builder import ConfigBuilder, text_field
from config_layers.errors import ConfigError
from config_layers.layers.env import parse_value
from config_layers.redaction import shorten, show
from config_layers.schema import PipelineConfig
from config_layers.shipped import examples_dir
from config_layers.stacks import STAGES

app = typer.Typer(
    help="Build Stable Diffusion pipeline configs from layers, and say where every value came from.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class Format(StrEnum):
    table = "table"
    json = "json"
    toml = "toml"


Model = Annotated[str | None, typer.Option("--model", "-m", help="Checkpoint name (stem, file name or WebUI name).")]
Lora = Annotated[list[str] | None, typer.Option("--lora", "-l", help="A LoRA to use (repeatable).")]
ModelsDir = Annotated[list[Path] | None, typer.Option("--models-dir", help="Checkpoint folder (repeatable).")]
LorasDir = Annotated[list[Path] | None, typer.Option("--loras-dir", help="LoRA folder (repeatable).")]
ProfilesDir = Annotated[
    list[Path] | None,
    typer.Option("--profiles-dir", help="Profile library folder (repeatable; default: shipped)."),
]
UserFile = Annotated[Path | None, typer.Option("--user-file", help="User override TOML.")]
Settings = Annotated[Path | None, typer.Option("--settings", help="Defaults TOML (default: shipped settings.toml).")]
Preset = Annotated[str | None, typer.Option("--preset", help="Use this preset id of the model profile.")]
Sets = Annotated[
    list[str] | None, typer.Option("--set", help="KEY.PATH=VALUE override, value typed as TOML (repeatable).")
]
Lenient = Annotated[bool, typer.Option("--lenient", help="Record incompatible LoRAs and missing files as warnings.")]
Output = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
StackName = Annotated[str | None, typer.Option("--stack", help="A LoRA stack: <NAME>.lorastack.toml.")]
StageName = Annotated[str, typer.Option("--stage", help="Stage the stack entries are filtered for.")]
StacksDir = Annotated[list[Path] | None, typer.Option("--stacks-dir", help="Folder of stack files (repeatable).")]


#: The options ``build`` and ``explain`` share, named as their parameters are.
_BUILD_OPTIONS = (
    "model",
    "lora",
    "models_dir",
    "loras_dir",
    "profiles_dir",
    "user_file",
    "settings",
    "preset",
    "set_",
    "lenient",
    "stack",
    "stage",
    "stacks_dir",
)


def _build_options(arguments: dict[str, Any]) -> dict[str, Any]:
    """The shared build options out of a command's arguments (its ``locals()``)."""
    return {name: arguments[name] for name in _BUILD_OPTIONS}


def _build(
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
    if not models_dir and not loras_dir:
        library = examples_dir() / "models"
        models_dir, loras_dir = [library / "Stable-diffusion"], [library / "Lora"]
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
        model_dirs=models_dir or [],
        lora_dirs=loras_dir or [],
        user_file=user_file,
        profile_dirs=profiles_dir,
        lenient=lenient,
        stacks_dirs=stacks_dir or [],
    )
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    return builder.build(
        model=model,
        loras=lora or [],
        overrides=overrides,
        preset_id=preset,
        lora_stack=stack,
        stage=stage,
    )


def _fail(error: ConfigError) -> typer.Exit:
    typer.echo(f"config-layers: error: {error}", err=True)
    return typer.Exit(2)


@app.command()
def build(
    model: Model = None,
    lora: Lora = None,
    models_dir: ModelsDir = None,
    loras_dir: LorasDir = None,
    profiles_dir: ProfilesDir = None,
    user_file: UserFile = None,
    settings: Settings = None,
    preset: Preset = None,
    set_: Sets = None,
    lenient: Lenient = False,
    stack: StackName = None,
    stage: StageName = "txt2img",
    stacks_dir: StacksDir = None,
    output: Output = Format.table,
) -> None:
    """Build the config and print it with the origin of every field.

    With no --models-dir/--loras-dir the shipped examples/ library is used.
    """
    from config_layers import dumps

    try:
        config = _build(**_build_options(locals()))
    except ConfigError as error:
        raise _fail(error) from None
    if output is Format.json:
        typer.echo(dumps.to_json(config))
    elif output is Format.toml:
        typer.echo(dumps.to_toml(config), nl=False)
    else:
        dumps.print_table(config)


@app.command()
def explain(
    keys: Annotated[list[str], typer.Argument(help="Leaf paths or tables, e.g. txt2img.cfg_scale loras")],
    model: Model = None,
    lora: Lora = None,
    models_dir: ModelsDir = None,
    loras_dir: LorasDir = None,
    profiles_dir: ProfilesDir = None,
    user_file: UserFile = None,
    settings: Settings = None,
    preset: Preset = None,
    set_: Sets = None,
    lenient: Lenient = False,
    stack: StackName = None,
    stage: StageName = "txt2img",
    stacks_dir: StacksDir = None,
) -> None:
    """Print the winning value of each KEY, where it came from and what it overrode."""
    try:
        config = _build(**_build_options(locals()))
        texts = [config.explain(key) for key in keys]
    except ConfigError as error:
        raise _fail(error) from None
    except KeyError as error:
        typer.echo(f"config-layers: error: {error.args[0]}", err=True)
        raise typer.Exit(2) from None
    typer.echo("\n".join(texts))


@app.command("schema")
def schema_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the schema files into.")] = Path("."),
    force: Annotated[bool, typer.Option("--force", help="Replace existing schema files.")] = False,
) -> None:
    """Write JSON Schemas for .modelprofile and .loraprofile sidecars (for editors)."""
    from config_layers.authoring.schemas import write_schemas

    try:
        written = write_schemas(out, force=force)
    except ConfigError as error:
        raise _fail(error) from None
    for path in written:
        typer.echo(f"wrote {path}")


@app.command("set")
def set_command(
    key: Annotated[str, typer.Argument(help="Dotted key, e.g. txt2img.steps")],
    value: Annotated[str, typer.Argument(help='Value, typed as TOML (40, 6.5, true, "Euler a")')],
    file: Annotated[
        Path | None, typer.Option("--file", help="User file to edit (default: the platform user.toml).")
    ] = None,
) -> None:
    """Set one key in the user file, keeping its comments and layout."""
    import os

    from config_layers.authoring.user_edit import set_value
    from config_layers.layers.user_file import locate_user_file

    try:
        target = file or locate_user_file(None, os.environ, "STABLENEW")[0] or _platform_user_file()
        parsed = parse_value(value, text=text_field(tuple(key.split("."))))
        key = set_value(target, key, parsed)
    except ConfigError as error:
        raise _fail(error) from None
    typer.echo(f"{target}: {key} = {show(tuple(key.split('.')), parsed)}")


@app.command()
def scan(
    folders: Annotated[list[Path], typer.Argument(help="Folders of models and LoRAs (searched recursively).")],
    profiles_dir: ProfilesDir = None,
    hash_files: Annotated[
        bool, typer.Option("--hash", help="Hash every file (cached) and match library profiles by hash too.")
    ] = False,
    output: Output = Format.table,
) -> None:
    """List models and LoRAs with the priors found for each, and the problems met."""
    import json

    from config_layers.scan import Scanner
    from config_layers.shipped import profiles_dir as shipped_profiles

    missing = [str(f) for f in folders if not f.is_dir()]
    if missing:
        raise _fail(ConfigError(f"not a folder: {', '.join(missing)}"))
    from config_layers.hashing import HashCache

    library = profiles_dir if profiles_dir is not None else [shipped_profiles()]
    entries = Scanner(library, HashCache() if hash_files else None).scan(folders, progress=True)
    if output is Format.json:
        typer.echo(json.dumps([entry.summary() for entry in entries], indent=2))
        return
    from config_layers.dumps import print_scan

    print_scan(entries)


profile_app = typer.Typer(help="Author profile sidecars.", no_args_is_help=True)
app.add_typer(profile_app, name="profile")


@profile_app.command("init")
def profile_init(
    path: Annotated[Path, typer.Argument(help="The model or LoRA file to write a sidecar for.")],
    profiles_dir: ProfilesDir = None,
    schema: Annotated[
        str | None, typer.Option("--schema", help="Value of the #:schema line (default: the shipped schema).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing sidecar.")] = False,
) -> None:
    """Write <stem>.modelprofile.toml or .loraprofile.toml beside PATH, seeded from the metadata found."""
    from config_layers.authoring.schemas import shipped_schema
    from config_layers.authoring.sidecar_init import init_sidecar
    from config_layers.documents import is_regular_file
    from config_layers.scan import Scanner
    from config_layers.shipped import profiles_dir as shipped_profiles

    if not is_regular_file(path):
        raise _fail(ConfigError(f"{shorten(str(path))}: not a file"))
    entry = Scanner(profiles_dir if profiles_dir is not None else [shipped_profiles()]).entry(path)
    for problem in entry.problems:
        typer.echo(f"config-layers: warning: {problem}", err=True)
    reference = schema or shipped_schema(entry.kind).resolve().as_uri()
    try:
        written = init_sidecar(entry, schema=reference, force=force)
    except ConfigError as error:
        raise _fail(error) from None
    typer.echo(f"wrote {written} ({entry.kind}: {entry.kind_reason})")


def _platform_user_file() -> Path:
    from platformdirs import user_config_path

    return user_config_path("stablenew", appauthor=False) / "user.toml"


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
