"""LoRA stack files (``<name>.lorastack.toml``): their shape, strictly validated."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config_layers.bounds import MAX_TABLE_KEYS
from config_layers.documents import Document, format_key_path
from config_layers.errors import ConfigErrors, FileError
from config_layers.names import model_stem
from config_layers.prompts.compose import PROMPT_SETTINGS
from config_layers.provenance.origin import KeyPath
from config_layers.provenance.redaction import shorten
from config_layers.schema.config import LoraName, LoraWeight, Text
from config_layers.schema.messages import short_message

Stage = Literal["txt2img", "img2img", "hires", "refiner", "adetailer", "upscale"]
STAGES: tuple[Stage, ...] = ("txt2img", "img2img", "hires", "refiner", "adetailer", "upscale")

#: The flat keys older configs used for a single LoRA.
LEGACY_KEYS = ("lora", "lora_scale")


class StackEntry(BaseModel):
    #: Parsed once per stack file version and never changed (config_layers.pipeline.memo).
    memo_by_identity: ClassVar[bool] = True
    """One LoRA of a stack. ``file`` is relative to a LoRA directory."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    name: LoraName
    file: Annotated[str, Field(min_length=1, max_length=1000)]
    scale: LoraWeight
    applies_to: Annotated[list[Stage], Field(min_length=1)]
    trigger: Text | None = None


@dataclass(frozen=True)
class LocatedEntry:
    """An entry with where it was written: the stack document and its key path there."""

    entry: StackEntry
    document: Document
    key: KeyPath

    @property
    def stack(self) -> str:
        return str(self.document.path)


@dataclass
class StackFile:
    """A parsed stack file: a base (``entries``) or a derived one (``extends`` + ``exclude``/``add``)."""

    name: str
    document: Document
    extends: str | None = None
    entries: list[LocatedEntry] = field(default_factory=list)
    exclude: list[tuple[str, KeyPath]] = field(default_factory=list)
    add: list[LocatedEntry] = field(default_factory=list)
    legacy: LocatedEntry | None = None


def parse_stack(name: str, document: Document) -> StackFile:
    """Validate a stack document's shape; every error names the file, entry and field."""
    data = document.data
    unknown = [key for key in data if key not in ("extends", "loras", *LEGACY_KEYS, *PROMPT_SETTINGS)]
    if unknown:
        raise document.error(
            (unknown[0],),
            "unknown key; a stack has 'extends', 'loras' (or legacy 'lora', 'lora_scale') and the prompt "
            f"settings {', '.join(PROMPT_SETTINGS)}",
        )
    stack = StackFile(name, document)
    has_legacy = any(key in data for key in LEGACY_KEYS)
    if has_legacy:
        if "loras" in data or "extends" in data:
            raise document.error(
                (next(k for k in LEGACY_KEYS if k in data),),
                "legacy 'lora'/'lora_scale' keys and a stack ('loras'/'extends') in one file; pick one schema",
            )
        stack.legacy = promote_legacy(document, data)
        return stack
    extends = data.get("extends")
    if extends is not None and (not isinstance(extends, str) or not extends):
        raise document.error(("extends",), "must be the name of another stack")
    stack.extends = extends
    loras = data.get("loras", [] if extends is None else {})
    if extends is None:
        if isinstance(loras, dict):
            raise document.error(("loras",), "a stack without 'extends' lists its LoRAs as [[loras]] entries")
        stack.entries = _entries(document, loras, ("loras",))
        return stack
    if isinstance(loras, list):
        raise document.error(
            ("loras",),
            f"a derived stack (extends = {extends!r}) takes [loras] with 'exclude' and [[loras.add]], "
            "not a list of entries (the legacy form)",
        )
    if not isinstance(loras, dict):
        raise document.error(("loras",), "must be a table with 'exclude' and 'add'")
    extra = [key for key in loras if key not in ("exclude", "add")]
    if extra:
        raise document.error(("loras", extra[0]), "unknown key; a derived stack's [loras] has 'exclude' and 'add'")
    exclude = loras.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(item, str) for item in exclude):
        raise document.error(("loras", "exclude"), "must be a list of LoRA names")
    _no_repeats(document, [(n, ("loras", "exclude", i)) for i, n in enumerate(exclude)], "exclude")
    stack.exclude = [(n, ("loras", "exclude", i)) for i, n in enumerate(exclude)]
    stack.add = _entries(document, loras.get("add", []), ("loras", "add"))
    return stack


def _entries(document: Document, raw: Any, key: KeyPath) -> list[LocatedEntry]:
    if not isinstance(raw, list):
        raise document.error(key, "must be a list of [[...]] entries")
    if len(raw) > MAX_TABLE_KEYS:
        raise document.error(key, f"has {len(raw)} entries; a stack holds at most {MAX_TABLE_KEYS}")
    out: list[LocatedEntry] = []
    problems: list[FileError] = []
    for index, item in enumerate(raw):
        entry_key = (*key, index)
        if not isinstance(item, dict):
            problems.append(document.error(entry_key, "each entry must be a table"))
            continue
        label = f"entry {item['name']!r}" if isinstance(item.get("name"), str) else "entry"
        try:
            entry = StackEntry.model_validate(item)
        except ValidationError as exc:
            for error in exc.errors(include_url=False):
                message = short_message(error, StackEntry)
                if error["type"] == "literal_error":
                    message = f"{shorten(repr(error['input']))} is not a stage; stages: {', '.join(STAGES)}"
                elif error["loc"] == ("applies_to",) and error["type"] == "list_type":
                    message = 'must be a list of stages, e.g. applies_to = ["txt2img"]'
                problems.append(document.error((*entry_key, *error["loc"]), f"{label}: {message}"))
            continue
        out.append(LocatedEntry(entry, document, entry_key))
    if problems:
        if len(problems) == 1:
            raise problems[0]
        raise ConfigErrors(problems, title=f"{document.path}: {len(problems)} problems")
    _no_repeats(document, [(e.entry.name, (*e.key, "name")) for e in out], format_key_path(key, plain=True))
    return out


def _no_repeats(document: Document, names: list[tuple[str, KeyPath]], where: str) -> None:
    seen: dict[str, KeyPath] = {}
    for name, key in names:
        folded = name.casefold()
        if folded in seen:
            raise document.error(key, f"{name!r} appears twice in {where}")
        seen[folded] = key


def promote_legacy(document: Document, data: dict[str, Any]) -> LocatedEntry:
    """Flat ``lora = "<file>"`` (+ ``lora_scale``, default 1.0) as a one-entry stack for every stage."""
    file = data.get("lora")
    if not isinstance(file, str) or not file:
        raise document.error(("lora",) if "lora" in data else ("lora_scale",), "legacy 'lora' must name a LoRA file")
    if not model_stem(file).strip():
        raise document.error(
            ("lora",),
            f"legacy 'lora' = {shorten(repr(file))} names no file; give one, as lora = \"detail.safetensors\"",
        )
    raw = {"name": model_stem(file), "file": file, "scale": data.get("lora_scale", 1.0), "applies_to": list(STAGES)}
    try:
        entry = StackEntry.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        key = "lora_scale" if error["loc"] == ("scale",) else "lora"
        raise document.error((key,), f"legacy form: {short_message(error, StackEntry)}") from None
    return LocatedEntry(entry, document, ("lora",))
