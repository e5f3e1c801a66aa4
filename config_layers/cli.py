"""The ``config-layers`` command: a thin shell over ConfigBuilder that parses and prints.

``config_layers.entry`` is the console entry point: it runs a plain ``build`` itself and hands
every other command line to ``app``.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from config_layers.entry import BUILD_FLAGS, Format, build_config, library_dirs, run_build
from config_layers.errors import ConfigError
from config_layers.layers.env import parse_value
from config_layers.provenance.redaction import shorten, show
from config_layers.schema.messages import text_field

app = typer.Typer(
    help="Build Stable Diffusion pipeline configs from layers, and say where every value came from.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _option(param: str) -> Any:
    """The typer option of a build parameter, made from the table the entry point parses by."""
    flag = BUILD_FLAGS[param]
    return typer.Option(*flag.names, help=flag.help)


Model = Annotated[str | None, _option("model")]
Lora = Annotated[list[str] | None, _option("lora")]
ModelsDir = Annotated[list[Path] | None, _option("models_dir")]
LorasDir = Annotated[list[Path] | None, _option("loras_dir")]
ProfilesDir = Annotated[list[Path] | None, _option("profiles_dir")]
UserFile = Annotated[Path | None, _option("user_file")]
Settings = Annotated[Path | None, _option("settings")]
Preset = Annotated[str | None, _option("preset")]
Sets = Annotated[list[str] | None, _option("set_")]
Lenient = Annotated[bool, _option("lenient")]
Output = Annotated[Format, _option("output")]
StackName = Annotated[str | None, _option("stack")]
StageName = Annotated[str, _option("stage")]
StacksDir = Annotated[list[Path] | None, _option("stacks_dir")]


def _build_options(arguments: dict[str, Any]) -> dict[str, Any]:
    """The options ``build``, ``explain`` and ``tokens`` share out of a command's arguments (its
    ``locals()``), named as their parameters are."""
    return {name: arguments[name] for name in BUILD_FLAGS if name != "output"}


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
    code = run_build({**_build_options(locals()), "output": output})  # as config_layers.entry runs a plain build
    if code:
        raise typer.Exit(code)


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
        config = build_config(**_build_options(locals()))
        texts = [config.explain(key) for key in keys]
    except ConfigError as error:  # an unknown key is a ProvenanceKeyError, a ConfigError too
        raise _fail(error) from None
    typer.echo("\n".join(texts))


class TokensFormat(StrEnum):
    table = "table"
    json = "json"


@app.command()
def tokens(
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
    output: Annotated[TokensFormat, typer.Option("--format", "-f", help="Output format.")] = TokensFormat.table,
) -> None:
    """Print the composed prompt and negative, tokens per part, the chunks the WebUI will
    encode, and the budget verdict."""
    import json

    from config_layers.prompts import prompt_report, render_report

    try:
        report = prompt_report(build_config(**_build_options(locals())))
    except ConfigError as error:
        raise _fail(error) from None
    typer.echo(json.dumps(report.to_dict(), indent=2) if output is TokensFormat.json else render_report(report))


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
    from config_layers.layers.user_file import locate_user_file, platform_user_file

    try:
        target = file or locate_user_file(None, os.environ, "STABLENEW")[0] or platform_user_file()
        parsed = parse_value(value, text=text_field(tuple(key.split("."))))
        key = set_value(target, key, parsed)
    except ConfigError as error:
        raise _fail(error) from None
    typer.echo(f"{target}: {key} = {show(tuple(key.split('.')), parsed)}")


@app.command("env")
def env_command(
    prefix: Annotated[str, typer.Option("--prefix", help="Variable prefix.")] = "STABLENEW",
) -> None:
    """List every PREFIX_* variable set and its fate: read, legacy (StableNew's name), ignored or refused."""
    import os

    from config_layers.layers.stablenew_env import env_report

    typer.echo(env_report(os.environ, prefix.rstrip("_")))


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
    from config_layers.discovery.hashing import HashCache

    library = profiles_dir if profiles_dir is not None else [shipped_profiles()]
    entries = Scanner(library, HashCache() if hash_files else None).scan(folders, progress=True)
    if output is Format.json:
        typer.echo(json.dumps([entry.summary() for entry in entries], indent=2))
        return
    from config_layers.output.dumps import print_scan

    print_scan(entries)


@app.command("learn")
def learn_command(
    records: Annotated[list[Path], typer.Argument(help="LearningRecords files (learning_records.jsonl); only read.")],
    model: Annotated[str | None, typer.Option("--model", "-m", help="Learn for this model only.")] = None,
    min_runs: Annotated[int, typer.Option("--min-runs", help="Rated runs a preset needs.")] = 3,
    out: Annotated[Path | None, typer.Option("--out", help="Write here, not beside each checkpoint.")] = None,
    write: Annotated[bool, typer.Option("--write", help="Write the files (default: a dry run).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Any bad line is an error.")] = False,
    half_life_days: Annotated[
        float | None, typer.Option("--half-life-days", help="Weigh ratings by age with this half-life.")
    ] = None,
    models_dir: ModelsDir = None,
    output: Output = Format.table,
) -> None:
    """Learn local_learning presets from rated runs: <checkpoint stem>.learned.toml per model.

    A dry run unless --write; toml format prints the files that would be written.
    """
    import json

    from config_layers.learning import learn

    try:
        report = learn(
            records,
            model=model,
            min_runs=min_runs,
            out=out,
            write=write,
            strict=strict,
            half_life_days=half_life_days,
            model_dirs=models_dir or [],
        )
    except ConfigError as error:
        raise _fail(error) from None
    if output is Format.json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    elif output is Format.toml:
        typer.echo("\n".join(m.text for m in report.models if m.text), nl=False)
    else:
        typer.echo(report.render())


@app.command("presets")
def presets_command(
    model: Annotated[str, typer.Option("--model", "-m", help="Checkpoint name (stem, file name or WebUI name).")],
    lora: Lora = None,
    models_dir: ModelsDir = None,
    loras_dir: LorasDir = None,
    profiles_dir: ProfilesDir = None,
    lenient: Lenient = False,
    output: Output = Format.table,
) -> None:
    """List every candidate preset of a model (Good / Better / Best), ranked as build() picks."""
    import json

    from config_layers.learning.presets import render_candidates

    models_dir, loras_dir = library_dirs(models_dir, loras_dir)
    from config_layers.builder import ConfigBuilder

    builder = ConfigBuilder(model_dirs=models_dir, lora_dirs=loras_dir, profile_dirs=profiles_dir, lenient=lenient)
    try:
        candidates = builder.presets(model, lora or [])
    except ConfigError as error:
        raise _fail(error) from None
    if output is Format.json:
        typer.echo(json.dumps([c.to_dict() for c in candidates], indent=2))
    else:
        typer.echo(render_candidates(model, candidates))


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


class ReportFormat(StrEnum):
    text = "text"
    json = "json"


Report = Annotated[ReportFormat, typer.Option("--format", "-f", help="Output format.")]
Force = Annotated[bool, typer.Option("--force", help="Replace an existing output file.")]
lora_app = typer.Typer(help="Check and convert LoRA files (key formats).", no_args_is_help=True)
app.add_typer(lora_app, name="lora")
dataset_app = typer.Typer(help="Preflight LoRA training data.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")


@lora_app.command("inspect")
def lora_inspect(
    files: Annotated[list[Path], typer.Argument(help="LoRA .safetensors files (only their headers are read).")],
    output: Report = ReportFormat.text,
) -> None:
    """Print each LoRA's key format, tensor count, ranks, alpha, dtypes and the family its keys imply."""
    import json

    from config_layers.loras.inspect import inspect_lora

    reports, failed = [], False
    for file in files:
        try:
            reports.append(inspect_lora(file))
        except ConfigError as error:
            typer.echo(f"config-layers: error: {error}", err=True)
            failed = True
    if output is ReportFormat.json:
        typer.echo(json.dumps([report.to_dict() for report in reports], indent=2))
    else:
        typer.echo("\n".join(report.render() for report in reports))
    if failed:
        raise typer.Exit(2)


@lora_app.command("remap")
def lora_remap(
    source: Annotated[Path, typer.Argument(help="The LoRA to convert (MLX keys with the shipped keymap).")],
    out: Annotated[Path, typer.Argument(help="The .safetensors file to write.")],
    keymap: Annotated[Path | None, typer.Option("--keymap", help="Another keymap TOML.")] = None,
    force: Force = False,
) -> None:
    """Rename a LoRA's tensors by a keymap (MLX -> kohya Flux by default); unmatched keys are errors."""
    from config_layers.loras.remap import remap_lora

    try:
        typer.echo(remap_lora(source, out, keymap_path=keymap, force=force).render())
    except ConfigError as error:
        raise _fail(error) from None


@dataset_app.command("check")
def dataset_check(
    path: Annotated[Path, typer.Argument(help="A kohya dataset TOML, or a folder of image/caption pairs.")],
    min_images: Annotated[int, typer.Option("--min-images", min=0, help="Fewest training images allowed.")] = 150,
    style_trigger: Annotated[
        str | None, typer.Option("--style-trigger", help="Style LoRA: every caption must be exactly this token.")
    ] = None,
    caption_extension: Annotated[
        str, typer.Option("--caption-extension", help="Caption extension of a plain folder.")
    ] = ".txt",
    emit_jsonl: Annotated[
        Path | None, typer.Option("--emit-jsonl", help="Write mlx-examples' train.jsonl (only if all checks pass).")
    ] = None,
    force: Force = False,
    output: Report = ReportFormat.text,
) -> None:
    """Resolve a kohya dataset config with provenance, then check images, captions and counts."""
    import json

    from config_layers.dataset.check import CheckOptions, check_config, check_folder, write_jsonl

    options = CheckOptions(min_images, style_trigger)
    try:
        if path.is_dir():
            report = check_folder(path, options, caption_extension=caption_extension)
        else:
            report = check_config(path, options)
        typer.echo(json.dumps(report.to_dict(), indent=2) if output is ReportFormat.json else report.render())
        if report.problems:
            problems = "\n".join(f"  - {problem}" for problem in report.problems)
            typer.echo(f"config-layers: error: {len(report.problems)} problems:\n{problems}", err=True)
            raise typer.Exit(2)
        if emit_jsonl is not None:
            typer.echo(f"wrote {emit_jsonl} ({write_jsonl(report, emit_jsonl, force=force)} lines)")
    except ConfigError as error:
        raise _fail(error) from None


def main() -> None:
    """The entry point of installs made before ``config_layers.entry.main`` was (same behaviour)."""
    from config_layers.entry import main

    main()
