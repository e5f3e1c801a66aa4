"""ComfyUI-Lora-Manager's ``<stem>.metadata.json`` beside a LoRA or checkpoint.

Lora Manager keeps one JSON object per model file: ``sha256`` (lowercase hex of the file),
``base_model`` (Civitai's vocabulary, "Unknown" when not known), ``usage_tips`` (itself a JSON
*string*, e.g. ``'{"strength": 0.8, "clip_strength": 1.0}'``, ``"{}"`` when empty), and under
``civitai`` the Civitai model-version data, whose ``trainedWords`` are the trigger words the user
sees and edits. Other keys (notes, tags, preview, file info…) are not priors and are ignored.
A JSON ``null`` counts as absent.
"""

from __future__ import annotations

from pathlib import Path

from config_layers.bounds import MAX_FOREIGN_BYTES
from config_layers.documents import parse_json
from config_layers.metadata.basetypes import from_civitai_base_model
from config_layers.metadata.types import (
    ForeignPriors,
    ForeignValue,
    MetadataError,
    child_key,
    decode_json,
    expect_list,
    expect_number,
    expect_object,
    expect_sha256,
    expect_text,
    read_capped,
    type_name,
    unique_phrases,
)
from config_layers.names import round_to_precision


def _usage_strength(raw: object, path: Path) -> ForeignValue | None:
    if not isinstance(raw, str):
        raise MetadataError(path, f"must be a string holding JSON, not {type_name(raw)}", key_path="usage_tips")
    if not raw.strip():
        return None
    try:
        tips = parse_json(raw, path, error=MetadataError, key_path="usage_tips")
    except MetadataError as error:
        # The parser's line/column are inside the string, not in the file: say so in the message.
        where = "" if error.line is None else f" at line {error.line}, column {error.column} of the string"
        raise MetadataError(path, f"{error.message}{where}", key_path="usage_tips") from None
    strength = expect_object(tips, path, "usage_tips").get("strength")
    if strength is None:
        return None
    value = expect_number(strength, path, "usage_tips.strength")
    return ForeignValue(round_to_precision(value, 4), "usage_tips.strength")


def priors_from_lora_manager(data: object, path: Path) -> ForeignPriors:
    """Priors from parsed Lora Manager metadata (see the module docstring for the keys).

    ``base_model`` "Unknown" or empty means not known (``None``); ``usage_tips.strength`` is the
    LoRA weight, taken as written (Lora Manager has no "unset" value for it).
    """
    doc = expect_object(data, path, None)

    base_type = None
    if doc.get("base_model") is not None:
        label = expect_text(doc["base_model"], path, "base_model")
        if label and label.lower() != "unknown":
            mapped = from_civitai_base_model(label)
            base_type = ForeignValue(mapped.base_type, "base_model", mapped.note)

    lora_weight = None if doc.get("usage_tips") is None else _usage_strength(doc["usage_tips"], path)

    trigger_phrases = None
    if doc.get("civitai") is not None:
        civitai = expect_object(doc["civitai"], path, "civitai")
        if civitai.get("trainedWords") is not None:
            key = "civitai.trainedWords"
            words = expect_list(civitai["trainedWords"], path, key)
            phrases = unique_phrases([expect_text(w, path, child_key(key, i)) for i, w in enumerate(words)])
            if phrases:
                trigger_phrases = ForeignValue(phrases, key)

    digest = expect_sha256(doc.get("sha256"), path, "sha256")
    sha256 = None if digest is None else ForeignValue(digest, "sha256")

    return ForeignPriors(
        source_kind="lora_manager",
        path=path,
        base_type=base_type,
        trigger_phrases=trigger_phrases,
        lora_weight=lora_weight,
        sha256=sha256,
    )


def parse_lora_manager(raw: bytes, path: Path) -> ForeignPriors:
    """Priors from the bytes of a ``<stem>.metadata.json`` (pure; ``path`` is for messages)."""
    return priors_from_lora_manager(decode_json(raw, path), path)


def read_lora_manager(path: Path, *, max_bytes: int = MAX_FOREIGN_BYTES) -> ForeignPriors:
    """Read a ``<stem>.metadata.json`` of at most ``max_bytes`` bytes (larger is a MetadataError)."""
    return parse_lora_manager(read_capped(path, max_bytes), path)
