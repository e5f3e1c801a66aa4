"""``config-layers lora remap IN OUT``: rename (and reshape) a LoRA's tensors by a versioned keymap.

The shipped keymap turns an MLX (mlx-examples flux) LoRA into kohya / BFL Flux keys. Tensors are
moved as raw elements (stdlib ``memoryview``, no numpy, no torch): a transpose or a tile never
converts a value, so bf16 stays bf16 byte for byte. The rules are strict: a source key no rule
matches is an error (all of them are listed) and nothing is written.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from config_layers.atomic import write_bytes_atomic
from config_layers.documents import Document, read_document
from config_layers.errors import ConfigError, ConfigErrors, FileError
from config_layers.loras.keyformat import DTYPE_SIZES, TensorIndex, TensorInfo, classify_keys, read_tensor_index
from config_layers.schema.messages import short_message

KEYMAPS_DIR: Final[Path] = Path(__file__).resolve().parent / "keymaps"
SHIPPED_KEYMAP: Final[Path] = KEYMAPS_DIR / "mlx-flux-to-kohya.toml"
_ROLES: Final[dict[str, Literal["down", "up"]]] = {".lora_down.weight": "down", ".lora_up.weight": "up"}
_ELEMENT: Final[dict[int, Literal["B", "H", "I", "Q"]]] = {1: "B", 2: "H", 4: "I", 8: "Q"}  # memoryview formats by size
_ALIGN = 8


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class KeymapInfo(_Strict):
    """The ``[keymap]`` table: what the rules convert, and the version recorded in the output."""

    name: str = Field(min_length=1)
    version: int = Field(ge=1)
    from_: str = Field(alias="from", min_length=1)
    to: str = Field(min_length=1)
    alpha: Literal["rank"]
    metadata: dict[str, str] = Field(default_factory=dict)


class Rule(_Strict):
    """One source pattern (``{n}`` = a block number) and its target key; how the tensor moves."""

    source: str = Field(min_length=1)
    target: str = Field(min_length=1)
    transpose: bool = False
    tile: int = Field(default=1, ge=1)


class Keymap(_Strict):
    """A keymap file: ``[keymap]`` and ``[[rules]]``."""

    keymap: KeymapInfo
    rules: list[Rule] = Field(min_length=1)


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    pattern: re.Pattern[str]
    role: Literal["down", "up"]


def keymap_file(value: Path | None) -> Path:
    """The keymap file: the default, a shipped keymap by name (``mlx-flux-to-kohya-untiled``), or a path."""
    if value is None:
        return SHIPPED_KEYMAP
    shipped = KEYMAPS_DIR / f"{value}.toml"
    return shipped if value.parent == Path() and not value.exists() and shipped.is_file() else value


def load_keymap(path: Path | None = None) -> tuple[Keymap, list[_Compiled]]:
    """Read and check a keymap (see keymap_file); FileError/ConfigErrors with line and column."""
    document = read_document(keymap_file(path))
    try:
        keymap = Keymap.model_validate(document.data)
    except ValidationError as exc:
        problems = [
            str(document.error(_loc(error["loc"]), short_message(error, Keymap)))
            for error in exc.errors(include_url=False)
        ]
        raise ConfigErrors(problems, title=f"{document.path}: not a valid keymap") from None
    return keymap, [_compile(document, index, rule) for index, rule in enumerate(keymap.rules)]


def _loc(loc: tuple[str | int, ...]) -> tuple[str | int, ...]:
    return tuple("from" if part == "from_" else part for part in loc)


def _compile(document: Document, index: int, rule: Rule) -> _Compiled:
    role = next((r for suffix, r in _ROLES.items() if rule.target.endswith(suffix)), None)
    if role is None:
        raise document.error(("rules", index, "target"), "must end with .lora_down.weight or .lora_up.weight")
    if ("{n}" in rule.source) != ("{n}" in rule.target):
        raise document.error(("rules", index), "source and target must both use {n}, or neither")
    if rule.tile > 1 and (role != "down" or not rule.transpose):
        raise document.error(("rules", index, "tile"), "only a transposed down matrix is tiled")
    pattern = re.compile(re.escape(rule.source).replace(re.escape("{n}"), "(?P<n>[0-9]+)"))
    return _Compiled(rule, pattern, role)


@dataclass(frozen=True)
class _Planned:
    name: str
    dtype: str
    shape: tuple[int, ...]
    source: TensorInfo | None  # None: an alpha we write
    rule: Rule | None
    value: bytes = b""

    @property
    def nbytes(self) -> int:
        return DTYPE_SIZES[self.dtype] * math.prod(self.shape)


@dataclass(frozen=True)
class RemapResult:
    """What ``remap_lora`` wrote."""

    out: Path
    keymap: str
    keymap_version: int
    source_sha256: str
    tensors_in: int
    tensors_out: int
    modules: int
    ranks: tuple[int, ...]
    tiled: int = 0

    def render(self) -> str:
        ranks = ", ".join(map(str, self.ranks))
        text = (
            f"wrote {self.out}: {self.tensors_in} tensors -> {self.tensors_out} "
            f"({self.modules} modules), keymap {self.keymap} v{self.keymap_version}\n"
            f"alpha = rank ({ranks}) written for every module: kohya's alpha/rank scale is then 1\n"
            f"source sha256 {self.source_sha256} recorded in the metadata"
        )
        if self.tiled:
            text += (
                f"\nnote: the down halves of {self.tiled} fused modules (qkv, linear1) are tiled, the split "
                "layout mflux reads; Forge, ComfyUI and kohya multiply up @ down and need "
                "--keymap mlx-flux-to-kohya-untiled"
            )
        return text


def remap_lora(source: Path, out: Path, *, keymap_path: Path | None = None, force: bool = False) -> RemapResult:
    """Convert ``source`` into ``out`` by the keymap; see the module docstring.

    Raises ConfigError before writing anything for: an existing ``out`` without ``force``,
    source keys no rule matches (all listed), a module missing its down or up half, shapes or
    dtypes the rules cannot move.
    """
    keymap, rules = load_keymap(keymap_path)
    if out.exists() and not force:
        raise FileError(out, "already exists; pass --force to replace it")
    if out.resolve() == source.resolve():
        raise FileError(out, "is the source file; write the converted LoRA somewhere else")
    index = read_tensor_index(source)
    if classify_keys(index.tensors).format == keymap.keymap.to:
        raise FileError(source, f"its keys are {keymap.keymap.to} keys already; nothing to remap")
    planned, ranks = _plan(index, rules, keymap_file(keymap_path))
    digest = _sha256(source)
    metadata = {
        **index.metadata,
        **keymap.keymap.metadata,
        "config_layers.keymap": keymap.keymap.name,
        "config_layers.keymap_version": str(keymap.keymap.version),
        "config_layers.source_sha256": digest,
        "config_layers.source_file": source.name,
        "config_layers.alpha": "rank, for every module",
    }
    if len(set(ranks.values())) == 1:
        rank = str(next(iter(ranks.values())))
        metadata |= {"ss_network_dim": rank, "ss_network_alpha": rank}
    write_bytes_atomic(out, _stream(source, index, planned, metadata), overwrite=force)
    return RemapResult(
        out,
        keymap.keymap.name,
        keymap.keymap.version,
        digest,
        len(index.tensors),
        len(planned),
        len(ranks),
        tuple(sorted(set(ranks.values()))),
        sum(1 for item in planned if item.rule is not None and item.rule.tile > 1),
    )


def _plan(index: TensorIndex, rules: list[_Compiled], keymap: Path) -> tuple[list[_Planned], dict[str, int]]:
    """Every output tensor (sorted by name) and each module's rank; ConfigErrors listing every problem."""
    unmatched: list[str] = []
    problems: list[str] = []
    halves: dict[str, dict[str, tuple[TensorInfo, _Compiled, str]]] = {}
    for tensor in index.tensors:
        found = next(((c, m) for c in rules if (m := c.pattern.fullmatch(tensor.name))), None)
        if found is None:
            unmatched.append(tensor.name)
            continue
        compiled, match = found
        target = compiled.rule.target.replace("{n}", match["n"]) if "n" in match.groupdict() else compiled.rule.target
        module = target.removesuffix(".lora_down.weight").removesuffix(".lora_up.weight")
        if compiled.role in halves.setdefault(module, {}):
            problems.append(f"{tensor.name}: a second source for {target}")
        halves[module][compiled.role] = (tensor, compiled, target)
    if unmatched:
        raise ConfigErrors(
            sorted(unmatched),
            title=f"{index.path}: {len(unmatched)} keys no rule of {keymap} matches (nothing written):",
        )
    planned: list[_Planned] = []
    ranks: dict[str, int] = {}
    for module, parts in halves.items():
        missing = [role for role in ("down", "up") if role not in parts]
        if missing:
            present = next(iter(parts.values()))[0].name
            problems.append(f"{present}: module {module} has no {missing[0]} half")
            continue
        down, up = parts["down"][0], parts["up"][0]
        local = [
            f"{t.name}: dtype {t.dtype} cannot be moved" for t, _, _ in parts.values() if t.dtype not in DTYPE_SIZES
        ]
        local += [
            f"{t.name}: expected a 2-D matrix, not shape {list(t.shape)}"
            for t, _, _ in parts.values()
            if len(t.shape) != 2
        ]
        if local:
            problems += local
            continue
        rank = min(down.shape)
        # MLX layout: lora_a (in, rank), lora_b (rank, out); the rank axes must agree.
        if down.shape[1] != rank or up.shape[0] != rank:
            problems.append(
                f"{down.name} {list(down.shape)} / {up.name} {list(up.shape)}: "
                f"expected (in, rank) and (rank, out) with rank {rank}"
            )
            continue
        ranks[module] = rank
        for tensor, compiled, target in parts.values():
            shape = tensor.shape[::-1] if compiled.rule.transpose else tensor.shape
            shape = (shape[0] * compiled.rule.tile, *shape[1:])
            planned.append(_Planned(target, tensor.dtype, shape, tensor, compiled.rule))
        planned.append(_Planned(f"{module}.alpha", "F32", (), None, None, struct.pack("<f", float(rank))))
    if problems:
        raise ConfigErrors(problems, title=f"{index.path}: cannot remap (nothing written):")
    return sorted(planned, key=lambda p: p.name), ranks


def _stream(source: Path, index: TensorIndex, planned: list[_Planned], metadata: dict[str, str]) -> Iterator[bytes]:
    """The output file in pieces: length, header (padded to 8 bytes), then each tensor's data."""
    header: dict[str, object] = {"__metadata__": metadata}
    offset = 0
    for item in planned:
        header[item.name] = {
            "dtype": item.dtype,
            "shape": list(item.shape),
            "data_offsets": [offset, offset + item.nbytes],
        }
        offset += item.nbytes
    raw = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % _ALIGN)
    yield struct.pack("<Q", len(raw)) + raw
    try:
        handle = source.open("rb")
    except OSError as exc:
        raise FileError(source, f"cannot read: {exc.strerror or exc}") from None
    with handle:
        for item in planned:
            if item.source is None or item.rule is None:
                yield item.value
                continue
            handle.seek(index.data_start + item.source.begin)
            data = handle.read(item.source.end - item.source.begin)
            if len(data) != item.source.end - item.source.begin:
                raise FileError(source, f"{item.source.name}: tensor data runs past the end of the file")
            yield _move(data, item.source, item.rule)


def _move(data: bytes, tensor: TensorInfo, rule: Rule) -> bytes:
    """Transpose and/or tile a 2-D tensor as raw elements (never converted: bf16 stays bf16)."""
    if rule.transpose:
        rows, cols = tensor.shape
        element = _ELEMENT[DTYPE_SIZES[tensor.dtype]]
        source = memoryview(data).cast(element)
        out = bytearray(len(data))
        target = memoryview(out).cast(element)
        # Loop over the shorter side (the rank): each step moves a whole strided row or column in C.
        if rows <= cols:
            for r in range(rows):
                target[r::rows] = source[r * cols : (r + 1) * cols]
        else:
            for c in range(cols):
                target[c * rows : (c + 1) * rows] = source[c::cols]
        data = bytes(out)
    return data * rule.tile


def _sha256(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
