"""Merging layers with dynaconf's merge semantics, recording what each layer declares.

Dynaconf's settings object is not used. That object evaluates ``@format``/``@jinja``/
``@read_file`` strings, reads ``DYNACONF_*`` and ``*_FOR_DYNACONF`` variables process-wide, runs
its lazy setup unlocked and costs ~10 ms per fresh object. The merge is that of
``dynaconf.utils.object_merge(..., list_merge="shallow")``, a plain function over plain data:
its magic is keyed on ``dynaconf_merge`` markers, which we refuse as input, and on
case-insensitive key matching, which we apply ourselves first (dynaconf's matcher, answered
from a dict: :class:`KeyCasing`) so that provenance and the merge agree on every key. With
both done, :func:`merge_tables` performs the rest in one pass; a property test holds it to
object_merge, which re-matches each key against all others and grows quadratic with table size.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from config_layers.bounds import MAX_TABLE_KEYS
from config_layers.documents import format_key_path
from config_layers.layers.base import ConfigPath, Layer
from config_layers.provenance.history import History
from config_layers.provenance.origin import KeyPath, origin_error

_SCALARS = frozenset({str, int, float, bool, type(None)})
_MERGE_MARKERS = frozenset({"dynaconf_merge", "dynaconf_merge_unique"})


def merge_layers(layers: Sequence[Layer]) -> tuple[dict[str, Any], History]:
    """Merge ``layers`` (lowest precedence first): later layers win per leaf, tables merge
    deeply, scalars and lists are replaced whole. Returns the merged data and, per path,
    every assignment made to it in order."""
    merged: dict[str, Any] = {}
    history = History()
    for layer in layers:
        # Deletions come first: a layer drops what earlier layers declared, then adds its own.
        for path, origin in layer.removals:
            if _delete(merged, path):
                history.record(path, None, layer, (), kind="deleted", origin=origin)
        data = _Recorder(layer, history).canonical(layer.data, merged, (), ())
        merged = merge_tables(merged, data)
    return merged, history


def merge_tables(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``dynaconf.utils.object_merge(old, new, list_merge="shallow")`` for data whose keys are
    already spelled as in ``old`` and hold no dynaconf markers (``_Recorder`` sees to both):
    tables merge, anything else in ``new`` replaces; keys keep ``old``'s order, new keys last.
    ``new`` is updated in place and returned. A property test holds it to object_merge, which
    re-matches every key against a fresh tuple of the old keys (quadratic in a table's size)."""
    if not old or old == new:
        return new
    for key, value in old.items():
        if key not in new:
            new[key] = value
        elif isinstance(value, dict) and isinstance(new[key], dict):
            new[key] = merge_tables(value, new[key])
    if any(key not in old for key in new):
        order = [key for key in old if key in new] + [key for key in new if key not in old]
        for key in order:
            new[key] = new.pop(key)
    elif list(new) != list(old):
        for key in old:
            new[key] = new.pop(key)
    return new


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

    def __init__(self, layer: Layer, history: History) -> None:
        self.layer = layer
        self.history = history

    def canonical(self, data: Mapping[str, Any], existing: Any, path: ConfigPath, key: KeyPath) -> dict[str, Any]:
        if len(data) > MAX_TABLE_KEYS:
            # dynaconf matches each key's casing against a copy of the table's keys: quadratic.
            raise self._error(key, f"has {len(data)} keys; at most {MAX_TABLE_KEYS} are accepted in one table")
        out: dict[str, Any] = {}
        existing_keys = existing if _is_table(existing) else {}
        casing: KeyCasing | None = None
        for raw_key, value in data.items():
            name = str(raw_key)
            if _is_control_key(name):
                raise self._error((*key, raw_key), "dynaconf control keys are not allowed (nothing is included or run)")
            if name in existing_keys or not existing_keys:
                canonical = name
            else:
                casing = casing or KeyCasing(existing_keys)
                canonical = casing.find(name) or name
            if canonical in out:
                raise self._error((*key, raw_key), f"repeats the key {canonical!r} (keys differ only in case)")
            child_path = (*path, canonical)
            table = _is_table(value)
            if table and value:
                child_existing = existing_keys.get(canonical)
                out[canonical] = self.canonical(value, child_existing, child_path, (*key, raw_key))
            else:
                raw_path = (*key, raw_key)
                self._refuse_markers(value, raw_path)
                out[canonical] = dict(value) if table else _copy(value)
                self.history.record(child_path, value, self.layer, raw_path)
        return out

    def _refuse_markers(self, value: Any, raw_path: KeyPath) -> None:
        if isinstance(value, list) and any(isinstance(v, str) and v in _MERGE_MARKERS for v in value):
            raise self._error(raw_path, "dynaconf merge markers are not allowed in lists")

    def _error(self, raw_path: KeyPath, message: str) -> Exception:
        return origin_error(self.layer.origin_of(raw_path), format_key_path(raw_path) or "(top level)", message)


def _is_table(value: object) -> bool:
    # Layers hold plain dicts; the ABC check (slow) is for callers passing other mappings.
    return type(value) is dict or isinstance(value, Mapping)


@functools.lru_cache(maxsize=4096)
def _is_control_key(name: str) -> bool:
    folded = name.casefold()
    return folded.startswith("dynaconf") or folded.endswith("_for_dynaconf")


class KeyCasing:
    """dynaconf's ``find_the_correct_casing`` over a set of keys that may grow, answered from a
    dict instead of a scan of every key (a table of 1,000 LoRAs made the merge quadratic)."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._keys: set[str] = set()
        self._folded: dict[str, str] = {}
        for key in keys:
            self.add(key)

    def add(self, key: str) -> None:
        if key not in self._keys:
            self._keys.add(key)
            # dynaconf matches a key by its lowercase, or with spaces as underscores; first key wins.
            self._folded.setdefault(key.lower(), key)
            self._folded.setdefault(key.replace(" ", "_").lower(), key)

    def find(self, key: str) -> str | None:
        """The spelling of ``key`` among the keys, or None."""
        return key if key in self._keys else self._folded.get(key.lower())


def _copy(value: Any) -> Any:
    if type(value) in _SCALARS:
        return value
    if isinstance(value, list):
        return [_copy(item) for item in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value
