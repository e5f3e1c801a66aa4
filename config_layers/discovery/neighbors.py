"""Which names a folder holds, so looking for the sidecars and metadata files beside a model
file costs one ``stat`` of its folder instead of one per place a file could be.

A listing is reused while the folder's mtime is unchanged (adding, removing or renaming a file
changes it); a folder changed less than ``RACY_NS`` before it was listed may change again within
the same mtime tick, so it is listed again until it settles. Names are kept case-folded: on a
case-insensitive filesystem ``X.JSON`` answers for ``x.json``, so a folded match still ``stat``s.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from pathlib import Path

from config_layers.cache import DEFAULT_MAX_ENTRIES, RACY_NS
from config_layers.documents import is_regular_file

_LISTINGS: OrderedDict[str, tuple[int, frozenset[str]]] = OrderedDict()
_LOCK = threading.Lock()


def folder_names(folder: Path) -> frozenset[str] | None:
    """The case-folded names in ``folder``, or None when it cannot be listed (callers then
    ``stat`` each path, as without a listing)."""
    key = str(folder)
    try:
        mtime = os.stat(key).st_mtime_ns
    except (OSError, ValueError):
        return None
    with _LOCK:
        hit = _LISTINGS.get(key)
        if hit is not None and hit[0] == mtime:
            _LISTINGS.move_to_end(key)
            return hit[1]
    try:
        names = frozenset(name.casefold() for name in os.listdir(key))
    except (OSError, ValueError):
        return None
    if time.time_ns() - mtime >= RACY_NS:
        with _LOCK:
            _LISTINGS[key] = (mtime, names)
            _LISTINGS.move_to_end(key)
            while len(_LISTINGS) > DEFAULT_MAX_ENTRIES:
                _LISTINGS.popitem(last=False)
    return names


def present(path: Path, names: frozenset[str] | None) -> bool:
    """``is_regular_file(path)``, answered False without a ``stat`` when the listing of its
    folder (``names``, from :func:`folder_names`) lacks the name."""
    if names is not None and path.name.casefold() not in names:
        return False
    return is_regular_file(path)
