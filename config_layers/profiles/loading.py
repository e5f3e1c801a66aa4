"""Reading profile sidecars from disk: TOML first, JSON for files StableNew already writes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from config_layers.discovery.neighbors import present as beside
from config_layers.documents import DEFAULT_MAX_BYTES, Document, outside_folder, read_document
from config_layers.errors import MAX_SHOWN_PROBLEMS, ConfigErrors, FileError
from config_layers.profiles.models import LoraProfile, ModelProfile, _Profile
from config_layers.provenance.redaction import shorten
from config_layers.schema.messages import short_message

#: A sidecar larger than this is refused unread: profiles are a few KiB.
MAX_SIDECAR_BYTES = DEFAULT_MAX_BYTES

MODEL_SIDECAR_SUFFIXES = (".modelprofile.toml", ".modelprofile.json")
LORA_SIDECAR_SUFFIXES = (".loraprofile.toml", ".loraprofile.json")

_P = TypeVar("_P", bound=_Profile)


def load_model_profile(path: Path) -> ModelProfile | None:
    """Read a ``.modelprofile.toml|json`` file; None when it does not exist.

    Raises FileError (file, key path, line and column) for anything malformed.
    """
    return _load(Path(path), ModelProfile, "model_profile")


def load_lora_profile(path: Path) -> LoraProfile | None:
    """Read a ``.loraprofile.toml|json`` file; None when it does not exist."""
    return _load(Path(path), LoraProfile, "lora_profile")


def sidecar_candidates(file: Path, suffixes: Sequence[str]) -> list[Path]:
    """Where the sidecars of ``file`` would be: ``<stem><suffix>`` beside it."""
    stem = file.name[: -len(file.suffix)] if file.suffix else file.name
    return [file.with_name(stem + suffix) for suffix in suffixes]


def find_sidecar(file: Path, suffixes: Sequence[str], names: frozenset[str] | None = None) -> Path | None:
    """The one sidecar beside ``file``; two (TOML and JSON) is an error, not a silent choice.
    ``names``: the listing of its folder (``discovery.neighbors.folder_names``), saving a stat per candidate."""
    present = [path for path in sidecar_candidates(file, suffixes) if beside(path, names)]
    for path in present:
        refused = outside_folder(file, path)
        if refused is not None:
            raise FileError(path, refused)
    if len(present) > 1:
        raise FileError(
            present[0],
            f"two sidecars for one file: {present[0].name} and {present[1].name}; keep one",
        )
    return present[0] if present else None


def _load(path: Path, model: type[_P], kind: str) -> _P | None:
    if not path.exists():
        return None
    document = read_document(path, max_bytes=MAX_SIDECAR_BYTES)
    return validate_profile(document, model, kind)


def validate_profile(document: Document, model: type[_P], kind: str) -> _P:
    """Check ``kind`` and ``version`` first (clear messages for the wrong file), then the fields."""
    data = document.data
    if "kind" not in data:
        raise document.error((), f"missing 'kind'; expected kind = {kind!r}")
    if data["kind"] != kind:
        raise document.error(("kind",), f"unknown kind {shorten(repr(data['kind']))}; expected {kind!r}")
    version = data.get("version")
    if type(version) is not int or version != 1:  # True == 1 and 1.0 == 1 in Python
        shown = data.get("version", "(missing)")
        raise document.error(("version",), f"unsupported version {shorten(repr(shown))}; this release reads version 1")
    try:
        profile = model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems = [
            document.error(tuple(error["loc"]), short_message(error, model)) for error in errors[:MAX_SHOWN_PROBLEMS]
        ]
        if len(errors) == 1:
            raise problems[0] from None
        raise ConfigErrors(problems, title=f"{document.path}: {len(errors)} problems", total=len(errors)) from None
    profile._document = document
    return profile
