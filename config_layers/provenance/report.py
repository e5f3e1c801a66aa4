"""Per-leaf provenance: for every leaf of the built config, its winning assignment and the
chain of earlier ones it overrode (oldest first), including whole-table replacements and
deletions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from config_layers.documents import format_key_path
from config_layers.errors import ProvenanceKeyError
from config_layers.provenance.history import Assignment, AssignmentKind, History
from config_layers.provenance.origin import Origin
from config_layers.provenance.redaction import REDACTED, SecretValue, is_secret_path, redact, shorten
from config_layers.schema.config import SECRET_LEAVES, PipelineConfig, iter_leaves
from config_layers.schema.messages import did_you_mean

if TYPE_CHECKING:
    from config_layers.layers.base import ConfigPath, Layer

__all__ = ["REDACTED", "Assignment", "ChainEntry", "FieldProvenance", "History", "Provenance"]


@dataclass(frozen=True)
class ChainEntry:
    """An earlier assignment the winner overrode. ``path`` differs from the field's own
    path when a whole table or an ancestor value was replaced. A secret ``value`` is held
    wrapped (``get_secret_value()`` unwraps it), so it never prints."""

    path: str
    value: Any
    origin: Origin
    kind: AssignmentKind
    config_path: tuple[str, ...] = field(default=(), repr=False)

    def shown(self) -> Any:
        """The value as dumps show it: secrets redacted."""
        value = self.value.get_secret_value() if isinstance(self.value, SecretValue) else self.value
        return REDACTED if isinstance(self.value, SecretValue) else redact(self.config_path, value)

    def __repr__(self) -> str:
        shown = self.shown()
        return f"ChainEntry(path={self.path!r}, kind={self.kind!r}, value={shown!r}, origin={self.origin!r})"


@dataclass(frozen=True)
class FieldProvenance:
    """Where one leaf's value came from. A secret ``value`` is held wrapped
    (``get_secret_value()`` unwraps it), so no ``repr``/``str`` shows it."""

    path: str
    value: Any
    origin: Origin
    chain: tuple[ChainEntry, ...] = ()
    secret: bool = False
    config_path: tuple[str, ...] = field(default=(), repr=False)

    def __repr__(self) -> str:
        return (
            f"FieldProvenance(path={self.path!r}, value={self.shown(self.value)!r}, origin={self.origin!r}, "
            f"chain={self.chain!r})"
        )

    @property
    def layer(self) -> str:
        return self.origin.layer

    @property
    def source(self) -> str:
        return self.origin.source

    @property
    def line(self) -> int | None:
        return self.origin.line

    @property
    def column(self) -> int | None:
        return self.origin.column

    def shown(self, value: Any) -> Any:
        """``value`` as dumps show it: secrets redacted (also URL passwords, typo'd secret keys)."""
        if isinstance(value, SecretValue):
            value = value.get_secret_value()
        if self.secret and value not in ("", None):
            return REDACTED
        return redact(self.config_path, value)

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract of one field (see README, "The JSON contract")."""
        out = _origin_dict(self.origin)
        out = {"value": _jsonable(self.shown(self.value)), **out}
        out["chain"] = [
            {
                "path": entry.path,
                "kind": entry.kind,
                "value": _jsonable(self.shown(entry.shown())),
                **_origin_dict(entry.origin),
            }
            for entry in self.chain
        ]
        return out


def _origin_dict(origin: Origin) -> dict[str, Any]:
    pos = origin.position
    return {
        "layer": origin.layer,
        "source": origin.source,
        "line": pos[0] if pos else None,
        "column": pos[1] if pos else None,
        "rule": origin.rule,
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


class Provenance(Mapping[str, FieldProvenance]):
    """Read-only mapping from leaf path (``"txt2img.cfg_scale"``) to its FieldProvenance.

    Entries are assembled on first access: a build that never looks pays nothing.
    """

    def __init__(
        self,
        history: History,
        leaves: Mapping[ConfigPath, Any],
        default_origin: Origin,
        secrets: frozenset[ConfigPath] = frozenset(),
    ) -> None:
        self._history = history
        self._leaves = dict(leaves)
        self._names = {format_key_path(path, plain=True): path for path in self._leaves}
        self._default_origin = default_origin
        self._secrets = secrets
        self._cache: dict[str, FieldProvenance] = {}
        self._below: dict[ConfigPath, list[ConfigPath]] | None = None

    def __len__(self) -> int:
        return len(self._names)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __getitem__(self, key: str) -> FieldProvenance:
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        path = self._names.get(key)
        if path is None:
            hint = did_you_mean(key, list(self._names))
            message = f"{key!r} is not a leaf of the config" + (f"; did you mean {hint!r}?" if hint else "")
            raise ProvenanceKeyError(key, message)
        entry = self._assemble(key, path)
        self._cache[key] = entry
        return entry

    def _assemble(self, key: str, path: ConfigPath) -> FieldProvenance:
        secret = path in self._secrets or is_secret_path(path)
        above = [a for depth in range(1, len(path)) for a in self._history.get(path[:depth], [])]
        # A value where a table belongs, or a deletion, above this leaf ends what was declared before it.
        cut = max((a.seq for a in above if a.kind == "deleted" or not isinstance(a.value, Mapping)), default=-1)
        own = [a for a in self._history.get(path, []) if a.seq > cut]
        earlier: list[Assignment] = [a for a in self._history.get(path, []) if a.seq <= cut]
        earlier += [a for a in above if a.kind == "deleted" or not isinstance(a.value, Mapping)]
        if not own:  # nothing declared since: the schema's default stands
            chain = tuple(self._entry(path, a) for a in sorted(earlier, key=lambda a: a.seq))
            value = _protect(self._leaves[path], secret)
            return FieldProvenance(key, value, self._default_origin, chain, secret, path)
        winner = own[-1]
        earlier += own[:-1]
        if not (isinstance(winner.value, Mapping) and winner.value):
            for below in self._descendants(path):
                earlier += self._history[below]
        chain = tuple(self._entry(path, a) for a in sorted(earlier, key=lambda a: a.seq) if a.seq < winner.seq)
        return FieldProvenance(key, _protect(winner.value, secret), winner.origin, chain, secret, path)

    @staticmethod
    def _entry(path: ConfigPath, assignment: Assignment) -> ChainEntry:
        kind: AssignmentKind = assignment.kind
        if assignment.path != path and kind != "deleted":
            kind = "replaced"  # an assignment above or below this leaf, overwritten as a whole
        secret = is_secret_path(path) or is_secret_path(assignment.path)
        value = _protect(assignment.value, secret)
        return ChainEntry(format_key_path(assignment.path, plain=True), value, assignment.origin, kind, assignment.path)

    def _descendants(self, path: ConfigPath) -> list[ConfigPath]:
        if self._below is None:
            below: dict[ConfigPath, list[ConfigPath]] = {}
            for known in self._history:
                for depth in range(1, len(known)):
                    below.setdefault(known[:depth], []).append(known)
            self._below = below
        return self._below.get(path, [])

    def removed(self, prefix: str = "") -> list[tuple[str, list[Assignment]]]:
        """Paths some layer declared that are not in the built config (replaced or deleted)."""
        live_prefixes = {path[:d] for path in self._leaves for d in range(1, len(path) + 1)}
        out = []
        for path, assignments in self._history.items():
            name = format_key_path(path, plain=True)
            if path in live_prefixes or not _under(name, prefix):
                continue
            out.append((name, assignments))
        return out

    def _fate(self, assignments: list[Assignment]) -> str:
        """Why a declared path is gone: a deletion of it or of a table above it, else a replacement."""
        last = assignments[-1]
        path = last.path
        deletions = [
            a
            for depth in range(len(path), 0, -1)
            for a in self._history.get(path[:depth], [])
            if a.kind == "deleted" and a.seq >= last.seq
        ]
        if deletions:
            return f"deleted by {deletions[0].origin}"
        return "replaced by a later layer"

    def explain(self, key: str) -> str:
        """The winner and chain of ``key``, or of every leaf below it when it names a table."""
        if key in self._names:
            return _explain_field(self[key])
        below = [name for name in self._names if _under(name, key)]
        removed = self.removed(key)
        if not below and not removed:
            self[key]  # raises ProvenanceKeyError with a did-you-mean
        parts = [_explain_field(self[name]) for name in below]
        for name, assignments in removed:
            lines = [f"{name}: not in the config ({self._fate(assignments)})"]
            for a in assignments:
                rule = f"  ({a.origin.rule})" if a.origin.rule else ""
                lines.append(f"    {a.kind:<8} {_show(redact(a.path, a.value)):<20} {a.origin}{rule}")
            parts.append("\n".join(lines))
        return "\n".join(parts)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {name: self[name].to_dict() for name in self._names}


def _protect(value: Any, secret: bool) -> Any:
    """A secret value wrapped so that it never prints (``None`` and ``""`` hide nothing)."""
    return SecretValue(value) if secret and value not in ("", None) and not isinstance(value, SecretValue) else value


def _under(name: str, prefix: str) -> bool:
    return not prefix or name == prefix or name.startswith(prefix + ".")


def _show(value: Any) -> str:
    return shorten(repr(value) if isinstance(value, str) and value != REDACTED else str(value))


def _explain_field(entry: FieldProvenance) -> str:
    lines = [f"{entry.path} = {_show(entry.shown(entry.value))}"]
    lines.append(f"  from  {entry.origin}")
    if entry.origin.rule:
        lines.append(f"  rule  {entry.origin.rule}")
    if entry.chain:
        lines.append("  overrode (oldest first):")
        for item in entry.chain:
            label = "" if item.kind == "set" else f" [{item.kind}: {item.path}]"
            lines.append(f"    {_show(entry.shown(item.shown())):<20} {item.origin}{label}")
    else:
        lines.append("  overrode nothing")
    return "\n".join(lines)


@dataclass(frozen=True)
class LayerSummary:
    """What one layer read, and notes on what it looked for."""

    name: str
    sources: tuple[str, ...]
    notes: tuple[str, ...]
    declared: int


@dataclass
class BuildReport:
    """Everything a build knows beyond the config itself."""

    provenance: Provenance
    layers: list[LayerSummary]
    warnings: list[str] = field(default_factory=list)
    stage: str = "txt2img"
    #: The model's base type and the build's leniency: composing the prompt later needs them.
    base_type: str = "unknown"
    lenient: bool = False
    #: Notes attached to config paths after the build (a prompt part dropped over budget).
    field_notes: dict[str, list[str]] = field(default_factory=dict)

    def explain(self, key: str) -> str:
        """Provenance of ``key`` plus the notes of the layers involved: which profile candidates
        were considered and what each supplied, how the preset was chosen, stack notes."""
        text = self.provenance.explain(key)
        involved = set()
        for name in self.provenance:
            if _under(name, key) or _under(key, name):
                entry = self.provenance[name]
                involved.add(entry.layer)
                involved.update(item.origin.layer for item in entry.chain)
        parts = key.split(".")
        lora = parts[1] if len(parts) > 1 and parts[0] == "loras" else None
        notes = [
            f"  note ({summary.name}): {line}" if index == 0 else f"    {line}"
            for summary in self.layers
            if summary.name in involved
            for note in summary.notes
            if lora is None or summary.name != "lora_overlays" or repr(lora) in note
            for index, line in enumerate(note.splitlines())
        ]
        notes += [
            f"  note (prompt): {note}" for path, kept in self.field_notes.items() if _under(path, key) for note in kept
        ]
        return "\n".join([text, *notes])

    def to_dict(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The public JSON shape: ``{"config", "provenance", "layers", "warnings"}``."""
        return {
            "config": redact((), dict(config)),
            "provenance": self.provenance.to_dict(),
            "layers": [
                {"name": s.name, "sources": list(s.sources), "notes": list(s.notes), "declared": s.declared}
                for s in self.layers
            ],
            "warnings": list(self.warnings),
        }


def layer_summaries(layers: Sequence[Layer], history: History) -> list[LayerSummary]:
    """One summary per layer name (the lora_overlays layer may have a profile and a stack part)."""
    counts: dict[int, int] = {}
    for assignments in history.values():
        for assignment in assignments:
            counts[id(assignment.layer)] = counts.get(id(assignment.layer), 0) + 1
    merged: dict[str, LayerSummary] = {}
    for layer in layers:
        previous = merged.get(layer.name)
        summary = LayerSummary(layer.name, layer.sources, layer.notes, counts.get(id(layer), 0))
        if previous is not None:
            summary = LayerSummary(
                layer.name,
                previous.sources + layer.sources,
                previous.notes + layer.notes,
                previous.declared + summary.declared,
            )
        merged[layer.name] = summary
    return list(merged.values())


#: Where a leaf no layer declared comes from.
SCHEMA_DEFAULT = Origin("defaults", "built-in default (config_layers.schema)")


def build_report(
    config: PipelineConfig,
    history: History,
    layers: Sequence[Layer],
    warnings: Sequence[str],
    stage: str,
    base_type: str,
    lenient: bool,
) -> BuildReport:
    """The report of one build: per-leaf provenance of the validated ``config`` and one summary per layer."""
    leaves = dict(iter_leaves(config.model_dump()))
    provenance = Provenance(history, leaves, SCHEMA_DEFAULT, SECRET_LEAVES)
    return BuildReport(provenance, layer_summaries(layers, history), list(warnings), stage, base_type, lenient)
