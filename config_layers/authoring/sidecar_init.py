"""``config-layers profile init``: a commented sidecar seeded from the metadata found."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from config_layers.atomic import write_text_atomic
from config_layers.documents import parse_document
from config_layers.errors import ConfigError
from config_layers.names import model_stem
from config_layers.profiles.loading import (
    LORA_SIDECAR_SUFFIXES,
    MODEL_SIDECAR_SUFFIXES,
    sidecar_candidates,
    validate_profile,
)
from config_layers.profiles.models import LoraProfile, ModelProfile, _Profile
from config_layers.resolve.foreign import stem_of
from config_layers.scan import ScanEntry


def sidecar_text(entry: ScanEntry, schema: str | None) -> str:
    """The TOML of a new sidecar for ``entry``: every value found, each with a comment naming the
    file it came from, and ``#:schema`` so editors validate it as the user types."""
    import tomlkit

    profile = entry.profile
    document = tomlkit.document()
    document.add(tomlkit.comment(f"Priors for {entry.path.name}, seeded by `config-layers profile init`."))
    document.add(tomlkit.comment("Edit freely: this file wins over any metadata other tools keep beside the model."))
    for candidate in entry.candidates:
        document.add(tomlkit.comment(f"  considered {candidate}"))
    document.add(tomlkit.nl())
    stem = model_stem(entry.path.name)
    if entry.kind == "lora":
        lora = profile if isinstance(profile, LoraProfile) else None
        _add(document, "kind", "lora_profile")
        _add(document, "version", 1)
        _add(document, "lora_name", stem)
        _add(document, "target_base_type", lora.target_base_type if lora else "unknown", lora, ("target_base_type",))
        _add(document, "intended_use", [])
        _add(document, "trigger_phrases", list(lora.trigger_phrases) if lora else [], lora, ("trigger_phrases",))
        if lora and lora.sha256:
            _add(document, "sha256", lora.sha256)
        weights = [w.model_dump(exclude_defaults=True) for w in lora.recommended_weights] if lora else []
        _add_tables(document, "recommended_weights", weights, lora)
    else:
        model = profile if isinstance(profile, ModelProfile) else None
        _add(document, "kind", "model_profile")
        _add(document, "version", 1)
        _add(document, "model_name", stem)
        _add(document, "base_type", model.base_type if model else "unknown", model, ("base_type",))
        _add(document, "tags", list(model.tags) if model else [])
        presets = [p.model_dump(exclude_defaults=True) for p in model.recommended_presets] if model else []
        _add_tables(document, "recommended_presets", presets, model)
    # Editors (Taplo, Even Better TOML) want the directive exactly as "#:schema <url>".
    return (f"#:schema {schema}\n" if schema else "") + tomlkit.dumps(document)


def _comment(profile: _Profile | None, key: tuple[str | int, ...]) -> str | None:
    if profile is None or not key:
        return None
    origin = profile.key_origin(key)
    if origin is not None:
        return f"from {origin.source} ({origin.rule})"
    return f"from {profile.document.path}" if profile.document else None


def _add(document: Any, key: str, value: Any, profile: _Profile | None = None, at: tuple[str, ...] = ()) -> None:
    import tomlkit

    item = tomlkit.item(value)
    comment = _comment(profile, at)
    if comment:
        item.comment(comment)
    document.add(key, item)


def _add_tables(document: Any, key: str, rows: list[dict[str, Any]], profile: _Profile | None) -> None:
    import tomlkit

    if not rows:
        document.add(tomlkit.comment(f"no {key.replace('_', ' ')} found: add [[{key}]] tables here"))
        return
    array = tomlkit.aot()
    for index, row in enumerate(rows):
        table = tomlkit.table()
        comments = {field: _comment(profile, (key, index, field)) for field in row}
        shared = set(comments.values())
        for field, value in row.items():
            item = tomlkit.item(list(value) if isinstance(value, tuple) else value)
            if len(shared) > 1 and comments[field]:
                item.comment(comments[field] or "")
            table.add(field, item)
        if len(shared) == 1 and (only := shared.pop()):
            table.comment(only)
        array.append(table)
    document.add(key, array)


def init_sidecar(entry: ScanEntry, *, schema: str | None, force: bool) -> Path:
    """Write the new sidecar beside the file (TOML), atomically; refuses to replace one without ``force``.

    A JSON sidecar already beside the file is never joined by a TOML one (two sidecars make every
    build fail), not even with ``force``: it is the user's file to edit or remove.
    """
    suffixes = LORA_SIDECAR_SUFFIXES if entry.kind == "lora" else MODEL_SIDECAR_SUFFIXES
    target = sidecar_candidates(entry.path, suffixes)[0]
    other = target.with_name(stem_of(entry.path) + suffixes[1])
    if other.exists() or other.is_symlink():
        raise ConfigError(
            f"{other} already exists; a second sidecar beside it would make every build fail. "
            "Edit that file, or remove it and run profile init again (nothing was written)"
        )
    text = sidecar_text(entry, schema)
    model = LoraProfile if entry.kind == "lora" else ModelProfile
    validate_profile(parse_document(target, text.encode("utf-8"), "toml"), model, f"{entry.kind}_profile")
    write_text_atomic(target, text, overwrite=force)
    return target
