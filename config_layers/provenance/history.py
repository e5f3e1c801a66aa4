"""The merge history: per config path, every assignment made to it, in the order made.

One :class:`History` is written by the merge (each layer's declarations and deletions) and then
by the normalization pass (its rewrites); it owns the sequence number both use, so "declared
later" means the same thing to the provenance chain, error messages and the normalization rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from config_layers.provenance.origin import KeyPath, Origin
from config_layers.provenance.redaction import redact

if TYPE_CHECKING:
    from config_layers.layers.base import ConfigPath, Layer

AssignmentKind = Literal["set", "replaced", "deleted"]


@dataclass(frozen=True)
class Assignment:
    """One layer declaring one path (``kind="set"``) or deleting it (``"deleted"``)."""

    path: ConfigPath
    value: Any
    layer: Layer
    key: KeyPath
    seq: int
    kind: AssignmentKind = "set"
    fixed_origin: Origin | None = None

    @property
    def origin(self) -> Origin:
        return self.fixed_origin or self.layer.origin_of(self.key)

    def __repr__(self) -> str:
        shown = redact(self.path, self.value)
        return f"Assignment(path={self.path!r}, kind={self.kind!r}, value={shown!r}, layer={self.layer.name!r})"


class History(dict["ConfigPath", list[Assignment]]):
    """Assignments by path; :meth:`record` appends one with the next sequence number."""

    def __init__(self) -> None:
        super().__init__()
        self.seq = 0

    def record(
        self,
        path: ConfigPath,
        value: Any,
        layer: Layer,
        key: KeyPath,
        *,
        kind: AssignmentKind = "set",
        origin: Origin | None = None,
    ) -> None:
        """``layer`` declared (or with ``kind="deleted"``, dropped) ``path`` as ``key``; ``origin``
        replaces the layer's own origin of ``key`` (a deletion's, a normalization's)."""
        self.setdefault(path, []).append(Assignment(path, value, layer, key, self.seq, kind, origin))
        self.seq += 1
