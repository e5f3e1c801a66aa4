"""Validating the merged data, and turning pydantic's errors into short messages with a
did-you-mean and the layer and line that declared each bad value."""

from __future__ import annotations

import functools
import types
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic_core import ErrorDetails

from config_layers.documents import format_key_path
from config_layers.errors import MAX_SHOWN_PROBLEMS, ConfigErrors
from config_layers.provenance.redaction import show
from config_layers.schema.config import PipelineConfig

if TYPE_CHECKING:
    from config_layers.provenance.history import History
    from config_layers.provenance.origin import Origin

_SHORT = {
    "greater_than_equal": "must be >= {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be <= {le}",
    "less_than": "must be < {lt}",
    "multiple_of": "must be a multiple of {multiple_of}",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "missing": "is required",
    "string_too_short": "must not be empty",
    "string_too_long": "is too long (over {max_length} characters)",
    "too_long": "has too many items (over {max_length})",
    "too_short": "needs at least {min_length} items",
    "string_pattern_mismatch": "has characters that are not allowed (must match {pattern})",
    "literal_error": "must be one of {expected}",
}


def short_message(error: ErrorDetails, root: type[BaseModel]) -> str:
    """One line for one pydantic error: ``must be >= 1``, ``unknown key; did you mean 'cfg_scale'?``."""
    kind = error["type"]
    if kind == "extra_forbidden":
        loc = error["loc"]
        allowed = allowed_keys(root, loc[:-1]) or []
        hint = did_you_mean(str(loc[-1]), allowed)
        if hint:
            return f"unknown key; did you mean {hint!r}?"
        return f"unknown key; allowed here: {', '.join(allowed)}" if allowed else "unknown key"
    if kind == "too_long" and isinstance(error.get("input"), str):
        kind = "string_too_long"  # a length-capped text field (its validator runs first)
    template = _SHORT.get(kind)
    if template is None:
        return error["msg"].removeprefix("Value error, ")
    try:
        return template.format(**(error.get("ctx") or {}))
    except (KeyError, IndexError):
        return error["msg"]


def did_you_mean(key: str, candidates: list[str]) -> str | None:
    """The closest candidate to a mistyped key (``cfg`` -> ``cfg_scale``), if any is close."""
    import difflib  # only errors need it; keep it off the import path

    lowered = key.lower().replace("-", "_")
    matches = difflib.get_close_matches(lowered, candidates, n=1, cutoff=0.6)
    if matches:
        return matches[0]
    for matches_key in (lambda c: c.startswith(lowered), lambda c: lowered in c.split("_")):
        found = [c for c in candidates if matches_key(c)]
        if len(found) == 1:
            return found[0]
    return None


def allowed_keys(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str] | None:
    """The field names of the table at ``loc`` inside ``model``, or None where any key goes."""
    current = _unwrap(annotation_at(model, loc))
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def is_text_field(model: type[BaseModel], loc: tuple[int | str, ...]) -> bool:
    """Whether the field at ``loc`` holds text (so ``1234`` given for it means the string)."""
    current = _unwrap(annotation_at(model, loc))
    return isinstance(current, type) and issubclass(current, (str, SecretStr))


def annotation_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> Any:
    """The type annotation of the field at ``loc`` inside ``model`` (None past a leaf or an unknown key)."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                return None
            current = info.annotation
        elif get_origin(current) in (list, tuple):
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return None
    return current


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


@functools.lru_cache(maxsize=4096)
def text_field(path: tuple[str, ...]) -> bool:
    """Whether the config leaf at ``path`` holds text (env and ``--set`` values keep their string)."""
    return is_text_field(PipelineConfig, path)


def validate(merged: dict[str, Any], history: History) -> PipelineConfig:
    """``merged`` as a PipelineConfig, or ConfigErrors naming each bad key, its value and the
    layer and line that declared it."""
    try:
        return PipelineConfig.model_validate(merged)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [_describe(error, merged, history) for error in errors[:MAX_SHOWN_PROBLEMS]]
        raise ConfigErrors(
            problems,
            title=f"invalid configuration ({len(errors)} problem{'s' * (len(errors) > 1)}):",
            total=len(errors),
        ) from None


def _describe(error: ErrorDetails, merged: dict[str, Any], history: History) -> str:
    loc = tuple(str(part) for part in error["loc"])
    message = short_message(error, PipelineConfig)
    origin = _origin_at(loc, history)
    where = f" ({origin.layer}, {origin.where()})" if origin else ""
    if error["type"] == "missing":
        return f"{format_key_path(loc, plain=True)}{where}: {message}"
    return f"{format_key_path(loc, plain=True)} = {show(loc, _value_at(merged, loc))}{where}: {message}"


def _origin_at(loc: tuple[str, ...], history: History) -> Origin | None:
    """The latest assignment at ``loc``, above it (a value where a table belongs) or below it (a
    table where a value belongs): whichever was declared last made the value that failed."""
    related = [
        assignment
        for path, assignments in history.items()
        if path[: len(loc)] == loc or loc[: len(path)] == path
        for assignment in assignments
        # An empty table declared above (every --lora does that) sets no value here.
        if path[: len(loc)] == loc or not isinstance(assignment.value, Mapping)
    ]
    return max(related, key=lambda a: a.seq).origin if related else None


def _value_at(data: Any, loc: tuple[str, ...]) -> Any:
    for part in loc:
        if not isinstance(data, Mapping):
            return None
        data = data.get(part)
    return data
