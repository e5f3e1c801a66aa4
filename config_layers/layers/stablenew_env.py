"""StableNew's own flat ``STABLENEW_*`` variables, and the fate of every prefixed variable.

StableNew's process sets ~80 flat variables for itself (``STABLENEW_WEBUI_BASE_URL``,
``STABLENEW_OUTPUT_DIR``, ...) and our env layer shares its prefix. The shipped table
``data/stablenew_env.toml`` (plain data, with its source) says which of them mean a field here
(legacy-mapped) and which are StableNew's alone (ignored). Every variable with the prefix gets one
fate: ``read`` (our own name: nested with ``__``, or a top-level key), ``legacy``, ``ignored`` or
``refused`` (with why). The env layer and ``config-layers env`` both go by :func:`classify`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from typing import Any, Literal, get_origin

from config_layers.errors import MAX_SHOWN_PROBLEMS
from config_layers.provenance.report import REDACTED
from config_layers.schema.config import SECRET_LEAVES, PipelineConfig
from config_layers.schema.messages import allowed_keys, annotation_at, did_you_mean

Fate = Literal["read", "legacy", "ignored", "refused"]

#: The prefix StableNew's own names live under; the table applies to it only.
STABLENEW_PREFIX = "STABLENEW"

#: Variables with the prefix that configure the builder itself, not config keys.
RESERVED_SUFFIXES = ("USER_FILE",)

_RESOLUTION = re.compile(r"\s*(\d{1,5})\s*[xX\u00d7]\s*(\d{1,5})\s*")
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|AUTH|CREDENTIAL", re.IGNORECASE)
_SHOWN_CHARS = 60


@dataclass(frozen=True)
class LegacyName:
    """One StableNew variable that means fields of ours."""

    fields: tuple[str, ...]
    format: str | None
    read_by: str


@dataclass(frozen=True)
class StableNewNames:
    mapped: Mapping[str, LegacyName]
    ignored: Mapping[str, str]


@dataclass(frozen=True)
class EnvVariable:
    """One prefixed variable and what the env layer does with it; ``fields`` are dotted paths."""

    name: str
    fate: Fate
    fields: tuple[str, ...] = ()
    reason: str = ""


@cache
def stablenew_names() -> StableNewNames:
    """The shipped table of StableNew's flat variables (``config_layers/data/stablenew_env.toml``)."""
    text = files("config_layers").joinpath("data/stablenew_env.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    mapped = {
        name: LegacyName(tuple(entry["fields"]), entry.get("format"), entry["read_by"])
        for name, entry in data["mapped"].items()
    }
    return StableNewNames(mapped, dict(data["ignored"]))


def classify(name: str, value: str, prefix: str, *, hint: bool = True) -> EnvVariable:
    """The fate of one variable whose name starts with ``<prefix>_``; ``hint``: look for a
    did-you-mean when a nested name is no config key."""
    suffix = name[len(prefix) + 1 :]
    if suffix in RESERVED_SUFFIXES:
        return EnvVariable(name, "read", (), "names the user file")
    if "__" in suffix:
        parts = tuple(suffix.lower().split("__"))
        problem = _path_problem(parts, hint=hint)
        if problem:
            return EnvVariable(name, "refused", (".".join(parts),), problem)
        return EnvVariable(name, "read", (".".join(parts),))
    table = stablenew_names() if prefix == STABLENEW_PREFIX else StableNewNames({}, {})
    legacy = table.mapped.get(suffix)
    if legacy is not None:
        if value == "":
            return EnvVariable(name, "ignored", legacy.fields, "empty, which StableNew reads as unset")
        if legacy.format == "WxH" and _RESOLUTION.fullmatch(value) is None:
            shown = value[:40]
            return EnvVariable(name, "refused", legacy.fields, f"must be WIDTHxHEIGHT, as 1024x1024, not {shown!r}")
        return EnvVariable(name, "legacy", legacy.fields, f"StableNew's name; read by {legacy.read_by}")
    if suffix.lower() in PipelineConfig.model_fields:
        key = suffix.lower()
        if allowed_keys(PipelineConfig, (key,)) is not None or key == "loras":
            return EnvVariable(name, "refused", (key,), f"{key} is a table; set its keys as {name}__<KEY>")
        return EnvVariable(name, "read", (key,))
    if suffix in table.ignored:
        return EnvVariable(name, "ignored", (), table.ignored[suffix])
    near = _one_edit_from(suffix, [*PipelineConfig.model_fields, *table.mapped, *table.ignored])
    if near is not None:
        meaning = f"{prefix}_{near.upper()}"
        if near in PipelineConfig.model_fields:
            meaning += f" (config key {near})"
        return EnvVariable(name, "refused", (), f"unknown name; did you mean {meaning}?")
    return EnvVariable(
        name,
        "ignored",
        (),
        "neither a config key nor a StableNew variable of the shipped table; flat names are left to "
        f"StableNew (config keys below a table nest with '__', as {prefix}_TXT2IMG__STEPS)",
    )


def classify_environment(environ: Mapping[str, str], prefix: str) -> list[EnvVariable]:
    """Every ``<prefix>_*`` variable of ``environ``, sorted by name, with its fate. Only the
    first refused names get a did-you-mean (messages show that many): 16,000 unknown names
    took 2.6 s of fuzzy matching."""
    head = f"{prefix}_"
    out: list[EnvVariable] = []
    refused = 0
    for name in sorted(environ):
        if name.startswith(head):
            variable = classify(name, environ[name], prefix, hint=refused < MAX_SHOWN_PROBLEMS)
            refused += variable.fate == "refused"
            out.append(variable)
    return out


def legacy_values(variable: EnvVariable, raw: str, parse: Any) -> dict[str, Any]:
    """The field values a legacy variable sets: ``{"txt2img.steps": 30}``. ``parse(raw, path)``
    types one value as the env layer does; ``WxH`` (checked by :func:`classify`) splits into two
    integers."""
    legacy = stablenew_names().mapped[variable.name.split("_", 1)[1]]
    match = _RESOLUTION.fullmatch(raw) if legacy.format == "WxH" else None
    if match is not None:
        return dict(zip(legacy.fields, (int(match.group(1)), int(match.group(2))), strict=True))
    return {path: parse(raw, tuple(path.split("."))) for path in legacy.fields}


def is_secret(variable: EnvVariable) -> bool:
    """Whether a variable's value must not be shown: a secret field, or a name that says so."""
    return any(tuple(path.split(".")) in SECRET_LEAVES for path in variable.fields) or bool(
        _SECRET_NAME.search(variable.name)
    )


def env_report(environ: Mapping[str, str], prefix: str = STABLENEW_PREFIX) -> str:
    """One line per ``<prefix>_*`` variable: name, value (secrets redacted), fate, field(s), why.
    A legacy name shadowed by our own name for the same field says so."""
    variables = classify_environment(environ, prefix)
    if not variables:
        return f"no {prefix}_* variables set"
    own = {path: v.name for v in variables if v.fate == "read" for path in v.fields}
    lines = []
    for variable in variables:
        value = environ[variable.name]
        shown = REDACTED if is_secret(variable) and value else value
        if len(shown) > _SHOWN_CHARS:
            shown = shown[: _SHOWN_CHARS - 1] + "…"
        target = f" -> {', '.join(variable.fields)}" if variable.fields and variable.fate != "ignored" else ""
        why = variable.reason
        shadowed = sorted({own[p] for p in variable.fields if p in own}) if variable.fate == "legacy" else []
        if shadowed:
            why += f"; overridden by {', '.join(shadowed)}"
        lines.append(f"{variable.name} = {shown!r}")
        lines.append(f"    {variable.fate}{target}" + (f" ({why})" if why else ""))
    return "\n".join(lines)


def _path_problem(parts: tuple[str, ...], *, hint: bool) -> str | None:
    """Why a nested name is no config key (None when it is one)."""
    for depth, part in enumerate(parts):
        if not part:
            return "empty key segment; nest keys with '__'"
        allowed = allowed_keys(PipelineConfig, parts[:depth])
        if allowed is not None and part not in allowed:
            near = did_you_mean(part, allowed) if hint else None
            where = ".".join(parts[: depth + 1])
            return f"unknown key {where}; did you mean {near!r}?" if near else f"unknown key {where}"
        if allowed is None and get_origin(annotation_at(PipelineConfig, parts[:depth])) is not dict:
            return f"{'.'.join(parts[:depth])} is a value, not a table"
    return None


def _one_edit_from(name: str, candidates: list[str]) -> str | None:
    """The first candidate one edit (insert, delete, replace, swap of neighbours) from ``name``,
    compared without case."""
    folded = name.casefold()
    for candidate in candidates:
        if _one_edit(folded, candidate.casefold()):
            return candidate
    return None


def _one_edit(a: str, b: str) -> bool:
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    start = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    if len(a) == len(b):
        swapped = start + 1 < len(a) and a[start] == b[start + 1] and a[start + 1] == b[start]
        return a[start + 1 :] == b[start + 1 :] or (swapped and a[start + 2 :] == b[start + 2 :])
    longer, shorter = (a, b) if len(a) > len(b) else (b, a)
    return longer[start + 1 :] == shorter[start:]
