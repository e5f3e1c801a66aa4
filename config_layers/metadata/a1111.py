"""AUTOMATIC1111 / Forge extra-networks user metadata: ``<stem>.json`` beside a model or LoRA,
and the dispatch between it and SD.Next's Civitai-shaped ``<stem>.json``.

The WebUI's "edit metadata" card writes it: for LoRAs ``"description"``, ``"sd version"`` (SD1,
SD2, SDXL, SD3, Unknown; Forge adds Flux), ``"activation text"``, ``"preferred weight"`` (a slider,
0 = unset), ``"negative text"``, ``"notes"``; for checkpoints ``"description"``, ``"notes"``,
``"vae"`` (a VAE file name, ``"Automatic"`` or ``"None"``). Description, notes and negative text
are not priors and are ignored (not even type-checked). A JSON ``null`` counts as absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from config_layers.bounds import MAX_FOREIGN_BYTES
from config_layers.metadata.basetypes import from_a1111_sd_version
from config_layers.metadata.civitai import CIVITAI_MARKER_KEYS, priors_from_civitai
from config_layers.metadata.types import (
    ForeignPriors,
    ForeignValue,
    MetadataError,
    decode_json,
    expect_number,
    expect_object,
    expect_phrases,
    expect_text,
    read_capped,
)
from config_layers.names import round_to_precision

#: Keys the WebUI's user-metadata editors write (any one of them marks an A1111 file).
A1111_KEYS: Final[frozenset[str]] = frozenset(
    {"description", "notes", "sd version", "activation text", "preferred weight", "negative text", "vae"}
)

JsonSidecarKind = Literal["a1111_metadata", "civitai_info"]


def priors_from_a1111(data: object, path: Path) -> ForeignPriors:
    """Priors from already-parsed A1111 user metadata (see the module docstring for the keys).

    ``"preferred weight"`` may be a number or a numeric string (the WebUI itself calls ``float()``
    on it); 0 means unset. ``"vae"``: ``"Automatic"``/empty means no preference (``None``),
    ``"None"`` is kept: it asks for no separate VAE.
    """
    doc = expect_object(data, path, None)
    lora_weight = vae = base_type = trigger_phrases = None

    raw_weight = doc.get("preferred weight")
    if raw_weight is not None:
        weight = expect_number(raw_weight, path, "preferred weight", allow_string=True)
        if weight != 0:
            lora_weight = ForeignValue(round_to_precision(weight, 4), "preferred weight")

    raw_text = doc.get("activation text")
    if raw_text is not None:
        phrases = expect_phrases(raw_text, path, "activation text")
        if phrases:
            trigger_phrases = ForeignValue(phrases, "activation text")

    raw_version = doc.get("sd version")
    if raw_version is not None:
        mapped = from_a1111_sd_version(expect_text(raw_version, path, "sd version"))
        if mapped is not None:
            base_type = ForeignValue(mapped.base_type, "sd version", mapped.note)

    raw_vae = doc.get("vae")
    if raw_vae is not None:
        name = expect_text(raw_vae, path, "vae")
        if name.lower() == "none":
            vae = ForeignValue("None", "vae", "A1111 'None': no separate VAE, the checkpoint's own")
        elif name and name.lower() != "automatic":
            vae = ForeignValue(name, "vae")

    return ForeignPriors(
        source_kind="a1111_metadata",
        path=path,
        base_type=base_type,
        trigger_phrases=trigger_phrases,
        lora_weight=lora_weight,
        vae=vae,
    )


def parse_a1111_metadata(raw: bytes, path: Path) -> ForeignPriors:
    """Priors from the bytes of an A1111 ``<stem>.json`` (pure; ``path`` is for messages)."""
    return priors_from_a1111(decode_json(raw, path), path)


def read_a1111_metadata(path: Path, *, max_bytes: int = MAX_FOREIGN_BYTES) -> ForeignPriors:
    """Read an A1111 ``<stem>.json`` of at most ``max_bytes`` bytes (larger is a MetadataError)."""
    return parse_a1111_metadata(read_capped(path, max_bytes), path)


# --------------------------------------------------------------------------- <stem>.json dispatch


def classify_json_sidecar(data: object) -> JsonSidecarKind | None:
    """Tell an A1111 user-metadata ``<stem>.json`` from SD.Next's Civitai-shaped one by its keys.

    Civitai data (a model with ``modelVersions`` or a model version with ``baseModel``,
    ``trainedWords``, ``modelId``…) is recognized first, since a Civitai model also has a
    ``description``; it must then carry none of the A1111-only keys. Otherwise any A1111 key
    makes it A1111. ``None``: not an object, neither shape, or both at once.
    """
    if not isinstance(data, dict):
        return None
    keys = set(data)
    a1111_only = keys & (A1111_KEYS - {"description"})
    if keys & CIVITAI_MARKER_KEYS:
        return None if a1111_only else "civitai_info"
    return "a1111_metadata" if keys & A1111_KEYS else None


def parse_json_sidecar(raw: bytes, path: Path, *, model_extension: str | None = None) -> ForeignPriors:
    """Priors from the bytes of a ``<stem>.json`` of either shape (see :func:`classify_json_sidecar`);
    ``model_extension`` picks SD.Next's file entry by extension too."""
    data = decode_json(raw, path)
    kind = classify_json_sidecar(data)
    if kind == "a1111_metadata":
        return priors_from_a1111(data, path)
    if kind == "civitai_info":
        stem = path.name.removesuffix(".json")
        return priors_from_civitai(data, path, model_stem=stem, model_extension=model_extension)
    expected = (
        f"A1111 user metadata ({', '.join(sorted(A1111_KEYS))}) "
        f"or Civitai data ({', '.join(sorted(CIVITAI_MARKER_KEYS))})"
    )
    if not isinstance(data, dict):
        raise MetadataError(path, f"the document must be an object with keys of {expected}")
    keys = set(data)
    if keys & CIVITAI_MARKER_KEYS:
        both = sorted(keys & (A1111_KEYS | CIVITAI_MARKER_KEYS))
        raise MetadataError(path, f"mixes keys of both shapes of <model>.json ({', '.join(both)}); expected {expected}")
    found = ", ".join(repr(key)[:40] for key in list(data)[:8]) or "none"
    raise MetadataError(path, f"neither shape of <model>.json: expected keys of {expected}; found keys: {found}")


def read_json_sidecar(
    path: Path, *, max_bytes: int = MAX_FOREIGN_BYTES, model_extension: str | None = None
) -> ForeignPriors:
    """Read a ``<stem>.json`` written by A1111/Forge or by SD.Next and read it as what it is."""
    return parse_json_sidecar(read_capped(path, max_bytes), path, model_extension=model_extension)
