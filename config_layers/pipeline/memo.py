"""The pure part of a build, remembered by its inputs.

Everything a build reads (files, folder listings, the environment) is read first, through
caches that hand out the same object while its file is unchanged; what follows (plan, layers,
merge, normalization, validation, provenance) is a pure function of those reads. A repeated
build with the same reads skips it. The key is taken from the inputs themselves
(:func:`input_key`): plain values and containers by value, dataclasses field by field,
functions by their code and captured values, an object with a ``memo_key()`` by what that
returns, and the objects the file caches hand out (parsed
files, profiles: classes with ``memo_by_identity = True``, never changed once loaded) by
identity, which the memo keeps alive so that no other object can take that identity while the
entry lives. An input the key does not understand is built without the memo, never guessed.
"""

from __future__ import annotations

import dataclasses
import threading
import types
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import PurePath
from typing import Any, TypeVar

R = TypeVar("R")

#: Entries remembered per process.
MAX_ENTRIES = 256

_VALUES = (str, int, float, bool, bytes, type(None))


class Unkeyable(Exception):
    """An input :func:`input_key` cannot vouch for: the call is made without the memo."""


def input_key(value: Any, pins: list[object]) -> Hashable:
    """A hashable key equal for two inputs a pure function cannot tell apart; objects keyed by
    identity are appended to ``pins`` (the caller keeps them alive with the entry). Raises
    :class:`Unkeyable` for an object that could change without its identity changing."""
    kind = type(value)
    if kind is str:
        return str(value)  # no other key is a str, so it needs no tag
    if kind in _VALUES:
        return (kind, value)  # 1, 1.0 and True are equal to Python, not to a build
    if isinstance(value, tuple | list):
        return (kind, tuple([input_key(item, pins) for item in value]))
    if isinstance(value, dict):
        return (kind, tuple([(input_key(k, pins), input_key(v, pins)) for k, v in value.items()]))
    if isinstance(value, set):
        return (kind, frozenset([input_key(item, pins) for item in value]))
    if isinstance(value, PurePath):
        return (kind, str(value))
    if kind is types.FunctionType:
        cells = tuple([input_key(cell.cell_contents, pins) for cell in value.__closure__ or ()])
        pins.append(value.__code__)
        return (kind, id(value.__code__), cells, input_key(value.__defaults__, pins))
    if kind is types.MethodType:
        return (kind, input_key(value.__func__, pins), input_key(value.__self__, pins))
    # Looked up on the class: a pydantic model's instance lookup of a missing name is slow.
    if isinstance(value, frozenset) or getattr(kind, "memo_by_identity", False):
        pins.append(value)
        return (kind, id(value))
    own = getattr(kind, "memo_key", None)
    if own is not None:
        return (kind, input_key(own(value), pins))
    names = _FIELD_NAMES.get(kind)
    if names is None:
        if not dataclasses.is_dataclass(kind):
            raise Unkeyable(kind.__name__)
        names = _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return (kind, tuple([input_key(getattr(value, name), pins) for name in names]))


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


class BuildMemo:
    """Results of ``fn(*inputs)`` for the last distinct inputs (LRU, locked): at most
    ``max_entries`` of them, weighing at most ``max_weight`` together by ``weigh(result)``."""

    def __init__(
        self,
        max_entries: int = MAX_ENTRIES,
        *,
        weigh: Callable[[Any], int] = lambda result: 1,
        max_weight: int = MAX_ENTRIES,
    ) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[list[object], Any, int]] = OrderedDict()
        self.max_entries = max_entries
        self.weigh = weigh
        self.max_weight = max_weight
        self._weight = 0

    def call(self, fn: Callable[..., R], *inputs: Any) -> R:
        pins: list[object] = []
        try:
            key = (fn, input_key(inputs, pins))
        except Unkeyable:
            return fn(*inputs)
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None:
                self._entries.move_to_end(key)
                return hit[1]  # type: ignore[no-any-return]
        result = fn(*inputs)
        weight = self.weigh(result)
        if weight > self.max_weight:
            return result
        with self._lock:
            old = self._entries.pop(key, None)
            self._weight += weight - (old[2] if old else 0)
            self._entries[key] = (pins, result, weight)
            while len(self._entries) > self.max_entries or self._weight > self.max_weight:
                self._weight -= self._entries.popitem(last=False)[1][2]
        return result
