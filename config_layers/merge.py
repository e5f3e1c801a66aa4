"""Merging layers with dynaconf's merge function, recording what each layer declares.

Dynaconf is the merge engine; its settings object is not used. That object evaluates
``@format``/``@jinja``/``@read_file`` strings, reads ``DYNACONF_*`` and ``*_FOR_DYNACONF``
variables process-wide, runs its lazy setup unlocked and costs ~10 ms per fresh object.
``dynaconf.utils.object_merge`` is a plain function over plain data: it evaluates
nothing. Its remaining magic is keyed on ``dynaconf_merge`` markers, which we refuse
as input, and on case-insensitive key matching, which we apply ourselves first (with
dynaconf's own matcher) so that provenance and the merge agree on every key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dynaconf.utils import find_the_correct_casing, object_merge

from config_layers.bounds import MAX_TABLE_KEYS
from config_layers.documents import format_key_path
from config_layers.layers.base import ConfigPath, Layer
from config_layers.origin import KeyPath, origin_error
from config_layers.provenance import Assignment, History

_MERGE_MARKERS = frozenset({"dynaconf_merge", "dynaconf_merge_unique"})


def merge_layers(layers: Sequence[Layer]) -> tuple[dict[str, Any], History]:
    """Merge ``layers`` (lowest precedence first): later layers win per leaf, tables merge
    deeply, scalars and lists are replaced whole. Returns the merged data and, per path,
    every assignment made to it in order."""
    merged: dict[str, Any] = {}
    history: History = {}
    seq = 0
    for layer in layers:
        # Deletions come first: a layer drops what earlier layers declared, then adds its own.
        for path, origin in layer.removals:
            if _delete(merged, path):
                history.setdefault(path, []).append(
                    Assignment(path, None, layer, (), seq, kind="deleted", fixed_origin=origin)
                )
                seq += 1
        recorder = _Recorder(layer, history, seq)
        data = recorder.canonical(layer.data, merged, (), ())
        seq = recorder.seq
        merged = object_merge(merged, data, list_merge="shallow")
    return merged, history


def _delete(data: dict[str, Any], path: ConfigPath) -> bool:
    target: Any = data
    for part in path[:-1]:
        target = target.get(part) if isinstance(target, dict) else None
    if isinstance(target, dict) and path[-1] in target:
        del target[path[-1]]
        return True
    return False


class _Recorder:
    """Copies one layer's data with keys spelled as earlier layers spelled them, refusing
    dynaconf control keys, and records each declared leaf."""

    def __init__(self, layer: Layer, history: History, seq: int) -> None:
        self.layer = layer
        self.history = history
        self.seq = seq

    def canonical(self, data: Mapping[str, Any], existing: Any, path: ConfigPath, key: KeyPath) -> dict[str, Any]:
        if len(data) > MAX_TABLE_KEYS:
            # dynaconf matches each key's casing against a copy of the table's keys: quadratic.
            raise self._error(key, f"has {len(data)} keys; at most {MAX_TABLE_KEYS} are accepted in one table")
        out: dict[str, Any] = {}
        existing_keys = tuple(existing) if isinstance(existing, Mapping) else ()
        for raw_key, value in data.items():
            raw_path = (*key, raw_key)
            name = str(raw_key)
            self._refuse_control_key(name, raw_path)
            canonical = find_the_correct_casing(name, existing_keys) or name
            if canonical in out:
                raise self._error(raw_path, f"repeats the key {canonical!r} (keys differ only in case)")
            child_path = (*path, canonical)
            child_existing = existing.get(canonical) if isinstance(existing, Mapping) else None
            if isinstance(value, Mapping) and value:
                out[canonical] = self.canonical(value, child_existing, child_path, raw_path)
            else:
                self._refuse_markers(value, raw_path)
                out[canonical] = dict(value) if isinstance(value, Mapping) else _copy(value)
                self.history.setdefault(child_path, []).append(
                    Assignment(child_path, value, self.layer, raw_path, self.seq)
                )
                self.seq += 1
        return out

    def _refuse_control_key(self, name: str, raw_path: KeyPath) -> None:
        folded = name.casefold()
        if folded.startswith("dynaconf") or folded.endswith("_for_dynaconf"):
            raise self._error(raw_path, "dynaconf control keys are not allowed (nothing is included or run)")

    def _refuse_markers(self, value: Any, raw_path: KeyPath) -> None:
        if isinstance(value, list) and any(isinstance(v, str) and v in _MERGE_MARKERS for v in value):
            raise self._error(raw_path, "dynaconf merge markers are not allowed in lists")

    def _error(self, raw_path: KeyPath, message: str) -> Exception:
        return origin_error(self.layer.origin_of(raw_path), format_key_path(raw_path) or "(top level)", message)


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value
