"""A LoRA's key format, read from its safetensors header alone (stdlib, never the tensors).

The header lists every tensor's name, dtype and shape. The names say which trainer wrote the
file and whether a WebUI's loader will recognise them: A1111 logs unmatched keys at debug level,
Forge skips them with one console line, so a LoRA in a format they do not read is a silent no-op.

Formats (the names are what ``lora inspect`` prints):

- ``kohya``: ``lora_unet_<module>.lora_down.weight`` / ``.lora_up.weight`` / ``.alpha`` and
  ``lora_te_`` (SD1.x/2.x), ``lora_te1_`` / ``lora_te2_`` (SDXL); Flux adds
  ``lora_unet_double_blocks_N_…`` / ``lora_unet_single_blocks_N_…``.
- ``lycoris``: the same prefixes with LoHa / LoKr parts (``hada_w1_a``, ``lokr_w1``…), or ``lycoris_``.
- ``onetrainer``: ``lora_transformer_<module>.lora_down.weight`` (Flux / SD3 transformers).
- ``diffusers``: dotted module paths under ``unet.``, ``text_encoder.``, ``text_encoder_2.``,
  ``transformer.`` or ``diffusion_model.`` ending ``lora_A.weight`` / ``lora_B.weight`` (PEFT) or
  ``lora.down.weight`` / ``lora.up.weight`` (older diffusers).
- ``mlx``: mlx-examples' ``double_blocks.N.img_attn.qkv.lora_a`` / ``.lora_b`` (lowercase, no
  ``.weight``): no WebUI loads these; ``config-layers lora remap`` converts them to kohya.
- ``unknown``: none of the above; ``none``: the header lists no tensors (a metadata-only stand-in).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from config_layers.errors import MetadataError
from config_layers.metadata.safetensors_header import MAX_HEADER_BYTES, parse_header_json, read_header_bytes
from config_layers.metadata.types import type_name
from config_layers.profiles.families import Family

KeyFormat = Literal["kohya", "lycoris", "onetrainer", "diffusers", "mlx", "unknown", "none"]

#: Formats A1111 / Forge load (the others are skipped key by key, silently).
LOADABLE: Final[frozenset[KeyFormat]] = frozenset({"kohya", "lycoris", "onetrainer", "diffusers"})

#: Bytes per element of each safetensors dtype.
DTYPE_SIZES: Final[Mapping[str, int]] = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}

_KOHYA_PARTS = r"(?:lora_down\.weight|lora_up\.weight|lora_mid\.weight|alpha|dora_scale)"
_LYCORIS_PARTS = (
    r"(?:hada_w[12]_[ab]|hada_t[12]|lokr_w[12](?:_[ab])?|lokr_t2|diff|diff_b|w_norm|b_norm|oft_blocks|oft_diag"
    r"|on_input|weight|bias)"
)
_PATTERNS: Final[dict[KeyFormat, re.Pattern[str]]] = {
    "kohya": re.compile(rf"lora_(?:unet|te[0-9]?)_\w+\.{_KOHYA_PARTS}"),
    "diffusers": re.compile(
        r"(?:unet|text_encoder(?:_[23])?|transformer|diffusion_model)\.[\w.]+"
        r"(?:\.lora_[AB](?:\.\w+)?\.weight|[._]lora\.(?:down|up)\.weight|\.alpha|\.lora_magnitude_vector)"
    ),
    "onetrainer": re.compile(rf"lora_(?:transformer|te[0-9]?)_\w+\.{_KOHYA_PARTS}"),
    "lycoris": re.compile(rf"(?:lora_(?:unet|te[0-9]?)_|lycoris_)\w+\.(?:{_KOHYA_PARTS}|{_LYCORIS_PARTS})"),
    "mlx": re.compile(r"[a-z0-9_]+(?:\.[a-z0-9_]+)*\.lora_[ab]"),
}
#: Ties go to the earlier format (a plain kohya file also matches the wider lycoris pattern).
_ORDER: Final[tuple[KeyFormat, ...]] = ("kohya", "diffusers", "onetrainer", "lycoris", "mlx")
_LYCORIS_ONLY = re.compile(r"\.(?:hada_|lokr_)|^lycoris_")
_UP = re.compile(r"(?:\.lora_up\.weight|\.lora_B(?:\.\w+)?\.weight|[._]lora\.up\.weight|\.lora_b)$")
_DOWN = re.compile(r"(?:\.lora_down\.weight|\.lora_A(?:\.\w+)?\.weight|[._]lora\.down\.weight|\.lora_a)$")
#: The width of the text fed to cross-attention (the text encoder's) tells SD1.x, SD2.x and SDXL apart.
_CONTEXT_WIDTH: Final[Mapping[int, Family]] = {768: "sd15", 1024: "sd2", 2048: "sdxl"}
_CROSS_ATTENTION_KEY = re.compile(r"attn2[._](?:processor[._])?to_k")
_BLOCK_MARKERS: Final[tuple[tuple[str, Family], ...]] = (
    ("double_blocks", "flux"),
    ("single_blocks", "flux"),
    ("single_transformer_blocks", "flux"),
    ("joint_blocks", "sd3"),
)


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the header lists it; offsets are relative to the start of the data."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def elements(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class TensorIndex:
    """A safetensors header: its ``__metadata__``, its tensors, and where their data starts."""

    path: Path
    metadata: dict[str, str]
    tensors: tuple[TensorInfo, ...]
    data_start: int


def read_tensor_index(path: Path, *, max_header_bytes: int = MAX_HEADER_BYTES) -> TensorIndex:
    """Read and check a safetensors header (only the header): MetadataError for anything malformed."""
    raw = read_header_bytes(path, max_header_bytes=max_header_bytes)
    return tensor_index_of(parse_header_json(raw, path), path, len(raw))


def tensor_index_of(document: dict[str, object], path: Path, header_length: int) -> TensorIndex:
    """The tensors of a parsed header (:func:`parse_header_json`) of ``header_length`` bytes, checked."""
    metadata: dict[str, str] = {}
    tensors = []
    for name, entry in document.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                raise MetadataError(path, "must be an object of strings", key_path=name)
            metadata = dict(entry)
            continue
        tensors.append(_tensor(path, name, entry))
    return TensorIndex(path, metadata, tuple(tensors), 8 + header_length)


def _tensor(path: Path, name: str, entry: Any) -> TensorInfo:
    def bad(message: str) -> MetadataError:
        return MetadataError(path, message, key_path=name)

    if not isinstance(entry, dict):
        raise bad(f"a tensor entry must be an object, not {type_name(entry)}")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not isinstance(dtype, str):
        raise bad("has no dtype string")
    if not isinstance(shape, list) or not all(type(n) is int and n >= 0 for n in shape):
        raise bad(f"shape must be a list of non-negative integers, not {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(n) is int for n in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise bad(f"data_offsets must be [begin, end] with 0 <= begin <= end, not {offsets!r}")
    info = TensorInfo(name, dtype, tuple(shape), offsets[0], offsets[1])
    size = DTYPE_SIZES.get(dtype)
    if size is not None and info.elements * size != info.end - info.begin:
        raise bad(
            f"{dtype} {list(shape)} needs {info.elements * size} bytes, data_offsets span {info.end - info.begin}"
        )
    return info


@dataclass(frozen=True)
class KeyReport:
    """What a LoRA's tensor names say: format, how many keys follow it, and the family they imply."""

    format: KeyFormat
    tensors: int
    matched: int
    unmatched: tuple[str, ...]
    sample: tuple[str, ...]
    ranks: tuple[int, ...]
    has_alpha: bool
    dtypes: dict[str, int]
    family: Family | None
    family_evidence: str | None
    #: Modules whose down and up halves disagree on the rank: ``name (down N, up M)``.
    rank_mismatches: tuple[str, ...] = ()

    @property
    def loadable(self) -> bool:
        """Whether A1111 / Forge read this format (a file without tensors has none to judge)."""
        return self.format in LOADABLE

    @property
    def matched_percent(self) -> float:
        return 100.0 * self.matched / self.tensors if self.tensors else 0.0


def classify_keys(tensors: Sequence[TensorInfo]) -> KeyReport:
    """Classify tensor names (pure): the format most keys follow, and what the keys imply."""
    names = [t.name for t in tensors]
    if not names:  # a metadata-only stand-in (scan meets thousands: no Counter for them)
        return KeyReport("none", 0, 0, (), (), (), False, {}, None, None)
    dtypes = dict(Counter(t.dtype for t in tensors))
    scores = {fmt: sum(1 for n in names if _PATTERNS[fmt].fullmatch(n)) for fmt in _ORDER}
    if any(_LYCORIS_ONLY.search(n) for n in names):
        scores["lycoris"] += len(names)  # LoHa/LoKr parts make it LyCORIS even where LoCon keys look kohya
    best = max(_ORDER, key=lambda fmt: scores[fmt])  # max keeps the first of equal scores
    fmt: KeyFormat = best if scores[best] else "unknown"
    pattern = _PATTERNS.get(fmt)
    unmatched = tuple(n for n in names if pattern is None or not pattern.fullmatch(n))
    family, evidence = implied_family(tensors)
    return KeyReport(
        format=fmt,
        tensors=len(names),
        matched=len(names) - len(unmatched),
        unmatched=unmatched,
        sample=tuple(sorted(names)[:3]),
        ranks=_ranks(tensors, fmt),
        has_alpha=any(n.endswith(".alpha") or n == "alpha" for n in names),
        dtypes=dtypes,
        family=family,
        family_evidence=evidence,
        rank_mismatches=_rank_mismatches(tensors, fmt),
    )


def implied_family(tensors: Iterable[TensorInfo]) -> tuple[Family | None, str | None]:
    """The architecture family the tensor names (and, for SD1/SD2/SDXL, shapes) imply, with the evidence."""
    tensors = list(tensors)
    for marker, family in _BLOCK_MARKERS:
        hit = next((t.name for t in tensors if marker in t.name), None)
        if hit is not None:
            return family, f"{marker!r} in keys like {hit!r}"
    for prefix in ("lora_te2_", "text_encoder_2."):
        hit = next((t.name for t in tensors if t.name.startswith(prefix)), None)
        if hit is not None:
            return "sdxl", f"a second text encoder ({prefix}…, e.g. {hit!r})"
    for t in tensors:
        if _CROSS_ATTENTION_KEY.search(t.name) and _DOWN.search(t.name) and len(t.shape) == 2:
            width = t.shape[0] if t.name.endswith(".lora_a") else t.shape[1]
            width_family = _CONTEXT_WIDTH.get(width)
            if width_family is not None:
                return width_family, f"cross-attention input width {width} ({t.name!r})"
    return None, None


def _ranks(tensors: Sequence[TensorInfo], fmt: KeyFormat) -> tuple[int, ...]:
    """Ranks from the up halves: (out, rank[, 1, 1]), MLX (rank, out). A down half may be tiled
    for fused layers (kohya Flux qkv, linear1), an up half never is."""
    ranks = set()
    for t in tensors:
        if len(t.shape) >= 2 and _UP.search(t.name):
            ranks.add(t.shape[0] if fmt == "mlx" else t.shape[1])
    return tuple(sorted(ranks))


def _rank_mismatches(tensors: Sequence[TensorInfo], fmt: KeyFormat) -> tuple[str, ...]:
    """Modules whose halves cannot be multiplied: loaders compute up @ down, so the up's rank axis
    must equal the down's (kohya (out, r) / (r, in); MLX (in, r) / (r, out))."""
    halves: dict[str, dict[str, TensorInfo]] = {}
    for t in tensors:
        for role, pattern in (("down", _DOWN), ("up", _UP)):
            match = pattern.search(t.name)
            if match is not None and len(t.shape) >= 2:
                halves.setdefault(t.name[: match.start()], {})[role] = t
    out = []
    for module, parts in sorted(halves.items()):
        if len(parts) == 2:
            down = parts["down"].shape[1] if fmt == "mlx" else parts["down"].shape[0]
            up = parts["up"].shape[0] if fmt == "mlx" else parts["up"].shape[1]
            if down != up:
                out.append(f"{module} (down {down}, up {up})")
    return tuple(out)
