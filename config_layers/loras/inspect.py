"""``config-layers lora inspect`` and the key check every build runs on its LoRAs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from config_layers.errors import MetadataError
from config_layers.loras.keyformat import KeyReport, TensorInfo, classify_keys, tensor_index_of
from config_layers.metadata.safetensors_header import (
    metadata_of,
    parse_header_json,
    priors_from_metadata,
    read_header_bytes,
)
from config_layers.metadata.types import ForeignPriors
from config_layers.profiles.families import base_type_family, lora_compatibility

#: How many keys an error message quotes.
SAMPLE_KEYS = 3
_LABELS = {
    "kohya": "kohya",
    "lycoris": "LyCORIS",
    "onetrainer": "OneTrainer",
    "diffusers": "diffusers/PEFT",
    "mlx": "MLX (mlx-examples)",
    "unknown": "unknown",
    "none": "no tensors",
}


@dataclass(frozen=True)
class LoraInspection:
    """A LoRA file's key report next to what its header metadata claims."""

    path: Path
    keys: KeyReport
    header_base_type: str | None
    header_key: str | None

    @property
    def label(self) -> str:
        """``kohya Flux``, ``MLX (mlx-examples) Flux``, ``diffusers/PEFT``…"""
        family = f" {_FAMILY_NAMES[self.keys.family]}" if self.keys.family else ""
        return _LABELS[self.keys.format] + family

    @property
    def agreement(self) -> str:
        """Whether the family the keys imply agrees with the header's base type."""
        keys, header = self.keys.family, self.header_base_type
        if header is None or header == "unknown":
            return "the header metadata names no base model"
        if keys is None:
            return f"the keys imply no family; the header says {header} ({self.header_key})"
        if base_type_family(header) == keys:
            return f"agrees with the header ({header}, {self.header_key})"
        return f"DISAGREES: the header says {header} ({self.header_key})"

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``lora inspect --format json``."""
        k = self.keys
        return {
            "path": str(self.path),
            "format": k.format,
            "label": self.label,
            "loadable_by_webui": k.loadable,
            "tensors": k.tensors,
            "matched": k.matched,
            "matched_percent": round(k.matched_percent, 1),
            "unmatched": list(k.unmatched),
            "ranks": list(k.ranks),
            "alpha": k.has_alpha,
            "dtypes": k.dtypes,
            "keys_family": k.family,
            "keys_family_evidence": k.family_evidence,
            "header_base_type": self.header_base_type,
            "agreement": self.agreement,
            "rank_mismatches": list(k.rank_mismatches),
        }

    def render(self) -> str:
        """The human-readable report."""
        k = self.keys
        lines = [f"{self.path}", f"  format:   {self.label}"]
        if k.format == "none":
            lines.append("  tensors:  0 (a metadata-only header: no key format to judge)")
        else:
            loads = "yes" if k.loadable else "NO - no WebUI loads these keys (a silent no-op)"
            loads += " (but see shapes)" if k.loadable and k.rank_mismatches else ""
            lines += [
                f"  tensors:  {k.tensors}, {k.matched} matched ({k.matched_percent:.0f} %)",
                f"  loads in A1111/Forge: {loads}",
                f"  rank:     {', '.join(map(str, k.ranks)) or '?'}",
                f"  alpha:    {'present' if k.has_alpha else 'absent (loaders then use alpha = rank)'}",
                f"  dtypes:   {', '.join(f'{d} x{n}' for d, n in sorted(k.dtypes.items()))}",
                f"  family:   {k.family or '?'}" + (f" ({k.family_evidence})" if k.family_evidence else ""),
            ]
        lines.append(f"  header:   {self.agreement}")
        if k.rank_mismatches:
            lines.append(f"  shapes:   {_mismatch_text(k.rank_mismatches)}")
        if k.unmatched and k.format != "none":
            shown = ", ".join(k.unmatched[:SAMPLE_KEYS]) + (" …" if len(k.unmatched) > SAMPLE_KEYS else "")
            lines.append(f"  unmatched keys ({len(k.unmatched)}): {shown}")
        return "\n".join(lines)


_FAMILY_NAMES = {"sd15": "SD1.x", "sd2": "SD2.x", "sdxl": "SDXL", "flux": "Flux", "sd3": "SD3", "unknown": "?"}


@dataclass(frozen=True)
class SafetensorsHeader:
    """One read of a safetensors header: the priors its ``__metadata__`` states and the key report
    of its tensor names, each of them, or the MetadataError that stopped it (a header whose
    metadata is fine may still list a malformed tensor, and the other way round)."""

    #: One object per file version from the header cache, never changed (config_layers.pipeline.memo).
    memo_by_identity: ClassVar[bool] = True

    path: Path
    priors: ForeignPriors | MetadataError
    inspection: LoraInspection | MetadataError
    #: ``modelspec.architecture`` ("" when absent), and whether kohya's ``ss_network_module`` is
    #: set: what says LoRA or checkpoint (``scan``), kept instead of the whole metadata.
    architecture: str = ""
    network_module: bool = False

    def checked_priors(self) -> ForeignPriors:
        """The priors, or their MetadataError raised."""
        if isinstance(self.priors, MetadataError):
            raise self.priors
        return self.priors

    @property
    def key_format(self) -> str | None:
        """``kohya SDXL``, ``MLX (mlx-examples) Flux``… (``scan``); None when the keys cannot be read."""
        return None if isinstance(self.inspection, MetadataError) else self.inspection.label


def read_header(path: Path) -> SafetensorsHeader:
    """Read a safetensors header once (never its tensors): its priors and its key report."""
    try:
        raw = read_header_bytes(path)
        document = parse_header_json(raw, path)
    except MetadataError as exc:
        return SafetensorsHeader(path, exc, exc)
    priors: ForeignPriors | MetadataError
    metadata: dict[str, str] = {}
    try:
        metadata = metadata_of(document, path)
        priors = priors_from_metadata(metadata, path)
    except MetadataError as exc:
        priors = exc
    inspection: LoraInspection | MetadataError
    try:
        index = tensor_index_of(document, path, len(raw))
    except MetadataError as exc:
        inspection = exc
    else:
        inspection = priors if isinstance(priors, MetadataError) else _inspection(path, index.tensors, priors)
    architecture = metadata.get("modelspec.architecture", "")
    return SafetensorsHeader(path, priors, inspection, architecture, "ss_network_module" in metadata)


def _inspection(path: Path, tensors: tuple[TensorInfo, ...], priors: ForeignPriors) -> LoraInspection:
    base = priors.base_type
    return LoraInspection(
        path, classify_keys(tensors), None if base is None else str(base.value), None if base is None else base.key
    )


def inspect_lora(path: Path) -> LoraInspection:
    """Read a LoRA's safetensors header (never its tensors) and report its key format.

    Raises MetadataError for a file whose header is unreadable or malformed.
    """
    inspection = read_header(path).inspection
    if isinstance(inspection, MetadataError):
        raise inspection
    return inspection


def _mismatch_text(mismatches: tuple[str, ...]) -> str:
    return (
        f"{len(mismatches)} modules whose down half has another rank than the up half (e.g. {mismatches[0]}): "
        "loaders that compute up @ down (Forge, ComfyUI, kohya) skip or reject them; a 3x/4x down on qkv/linear1 "
        "is the tiled split layout mflux reads (remap with --keymap mlx-flux-to-kohya-untiled for the WebUI)"
    )


@dataclass(frozen=True)
class KeyVerdict:
    """The build's verdict on one LoRA's keys; any part may be None."""

    problem: str | None = None
    warning: str | None = None
    note: str | None = None


def key_check(name: str, inspection: LoraInspection, model_base_type: str | None) -> KeyVerdict:
    """The build's verdict on one LoRA's keys.

    A problem is a format no WebUI loads, keys the loader would skip, or keys of another
    architecture family than the model's. Halves whose ranks disagree are a warning (the tiled
    split layout is deliberate, for mflux). A header without tensors is only noted.
    """
    keys, where = inspection.keys, f"LoRA {name!r} ({inspection.path})"
    if keys.format == "none":
        return KeyVerdict(
            note=f"{where}: its header lists no tensors (a metadata-only stand-in), so its key format was not checked"
        )
    sample = ", ".join(keys.sample)
    if keys.format == "mlx":
        return KeyVerdict(
            f"{where} has MLX keys (e.g. {sample}) that no WebUI loads: it would be a silent no-op. Convert it: "
            f"config-layers lora remap {inspection.path} OUT.safetensors --keymap mlx-flux-to-kohya-untiled"
        )
    if keys.format == "unknown":
        return KeyVerdict(
            f"{where} has keys in no format A1111/Forge load (e.g. {sample}): they would be skipped silently. "
            "Convert it to kohya keys, or ask its author for a kohya/diffusers export"
        )
    if keys.unmatched:
        shown = ", ".join(keys.unmatched[:SAMPLE_KEYS])
        return KeyVerdict(
            f"{where}: {len(keys.unmatched)} of {keys.tensors} keys do not follow its {_LABELS[keys.format]} "
            f"format (e.g. {shown}); the loader would skip them silently"
        )
    if (
        keys.family is not None
        and model_base_type is not None
        and lora_compatibility(keys.family, model_base_type) == "incompatible"
    ):
        return KeyVerdict(
            f"{where}: its keys imply {keys.family} ({keys.family_evidence}; e.g. {sample}) and the model is "
            f"{model_base_type}: another architecture family, it cannot load"
        )
    warning = f"{where}: {_mismatch_text(keys.rank_mismatches)}" if keys.rank_mismatches else None
    return KeyVerdict(None, warning, f"{where}: keys {inspection.label}, {keys.matched}/{keys.tensors} matched")
