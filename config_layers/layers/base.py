"""The Layer: one source's plain data plus the origin of every key it declares."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from config_layers.documents import Document
from config_layers.provenance.origin import KeyPath, LayerName, Origin

ConfigPath = tuple[str, ...]


@dataclass(frozen=True)
class Layer:
    """One layer of the stack.

    ``data`` is plain nested data (tables, lists, scalars) in config shape. ``origin_of``
    maps a key path as written in ``data`` to where it was declared. ``removals`` are
    paths the layer deletes (with their origin) before its data is merged. ``sources`` and ``notes`` feed the
    ``layers`` section of a dump: what was read, and what was looked for and not found.
    """

    name: LayerName
    data: Mapping[str, Any] = field(repr=False)  # may hold secrets
    origin_of: Callable[[KeyPath], Origin]
    sources: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    removals: tuple[tuple[ConfigPath, Origin], ...] = field(default=())
    #: What alone the layer was made from (a parsed file, a set of variables): it then stands
    #: for ``data`` and ``origin_of`` in :meth:`memo_key`. A layer made otherwise has None.
    made_from: object = field(default=None, repr=False, compare=False)

    def memo_key(self) -> tuple[object, ...]:
        """What the layer is made of, for config_layers.pipeline.memo: a whole-file layer is
        its file (keyed by identity there), not its data walked leaf by leaf."""
        if self.made_from is not None:
            return (self.name, self.made_from, self.sources, self.notes, self.removals)
        return (self.name, self.data, self.origin_of, self.sources, self.notes, self.removals)


def file_layer(name: LayerName, document: Document, notes: tuple[str, ...] = ()) -> Layer:
    """A layer whose data is a whole file, each key located in that file."""
    source = str(document.path)

    def origin_of(key: KeyPath) -> Origin:
        return Origin(name, source, key, _locate=document.position)

    return Layer(name, document.data, origin_of, sources=(source,), notes=notes, made_from=document)


def mapped_layer(
    name: LayerName,
    data: Mapping[str, Any],
    origins: Mapping[KeyPath, Origin],
    *,
    sources: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
    fallback: Origin | None = None,
) -> Layer:
    """A layer assembled in code, with an explicit origin per declared path.

    A path without its own entry takes its nearest declared ancestor's origin, else
    ``fallback`` (by default the layer itself, as its first source).
    """
    default = fallback or Origin(name, sources[0] if sources else name)

    def origin_of(key: KeyPath) -> Origin:
        for depth in range(len(key), 0, -1):
            found = origins.get(key[:depth])
            if found is not None:
                return found
        return default

    return Layer(name, data, origin_of, sources=sources, notes=notes)


def empty_layer(name: LayerName, notes: tuple[str, ...] = ()) -> Layer:
    """A layer that declares nothing (its notes say why)."""
    return mapped_layer(name, {}, {}, notes=notes, fallback=Origin(name, name))


def nest(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``{"txt2img.steps": 30}`` -> ``{"txt2img": {"steps": 30}}``.

    Only top-level keys are split on dots; keys of nested tables are taken literally,
    so a LoRA whose name has a dot is written ``{"loras": {"x.y": {"weight": 1}}}``.
    """
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        parts = key.split(".")
        target = out
        for part in parts[:-1]:
            child = target.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"{key!r} sets a key below {part!r}, which is already a value")
            target = child
        _deep_set(target, parts[-1], value)
    return out


def _deep_set(target: dict[str, Any], key: str, value: Any) -> None:
    existing = target.get(key)
    if isinstance(value, Mapping) and isinstance(existing, dict):
        for child_key, child_value in value.items():
            _deep_set(existing, child_key, child_value)
    elif isinstance(value, Mapping):
        target[key] = {}
        for child_key, child_value in value.items():
            _deep_set(target[key], child_key, child_value)
    else:
        target[key] = value
