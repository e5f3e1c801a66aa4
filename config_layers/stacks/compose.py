"""Composing a stack from its chain: inherited entries minus ``exclude``, then ``add`` in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from config_layers.cache import FileCache
from config_layers.documents import Document
from config_layers.errors import ConfigError
from config_layers.prompts.compose import PROMPT_SETTINGS
from config_layers.provenance.origin import KeyPath
from config_layers.stacks.loading import find_stack
from config_layers.stacks.models import LocatedEntry, StackFile, Stage


@dataclass(frozen=True)
class Exclusion:
    """An inherited entry a derived stack dropped, and where it said so."""

    entry: LocatedEntry
    by: Document
    key: KeyPath


@dataclass(frozen=True)
class StackStep:
    """What one stack file of the chain does, base first: drop ``excludes``, then add ``declares``."""

    document: Document
    declares: list[LocatedEntry]
    excludes: list[Exclusion]
    #: The prompt settings (``style_prompt`` …) this stack file sets, as top-level keys.
    prompt: tuple[str, ...] = ()


@dataclass
class ComposedStack:
    """A stack after composition, before the stage filter."""

    name: str
    entries: list[LocatedEntry]
    excluded: list[Exclusion] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    steps: list[StackStep] = field(default_factory=list)

    @classmethod
    def single(cls, name: str, entry: LocatedEntry) -> ComposedStack:
        """A one-entry stack (the legacy ``lora``/``lora_scale`` keys)."""
        return cls(name, [entry], steps=[StackStep(entry.document, [entry], [])])

    def for_stage(self, stage: Stage) -> tuple[list[LocatedEntry], list[LocatedEntry]]:
        """(entries whose ``applies_to`` holds ``stage``, the others), both in order."""
        kept = [e for e in self.entries if stage in e.entry.applies_to]
        skipped = [e for e in self.entries if stage not in e.entry.applies_to]
        return kept, skipped


def compose_stack(name: str, chain: Sequence[StackFile], *, lenient: bool = False) -> ComposedStack:
    """Apply each stack file of ``chain`` (base first, as :func:`load_chain` reads it) in turn.

    Errors: an ``add`` that reuses an inherited name without excluding it first. An ``exclude``
    naming nothing inherited is an error, or a warning when ``lenient``.
    """
    composed = ComposedStack(name, [])
    for stack in chain:
        if stack.extends is None:
            composed.entries = [stack.legacy] if stack.legacy else list(stack.entries)
            composed.steps.append(StackStep(stack.document, list(composed.entries), [], _prompt_keys(stack)))
            continue
        inherited = {e.entry.name.casefold(): e for e in composed.entries}
        dropped: set[str] = set()
        step_excludes: list[Exclusion] = []
        for excluded_name, key in stack.exclude:
            entry = inherited.get(excluded_name.casefold())
            if entry is None:
                message = f"exclude {excluded_name!r} names nothing inherited from {stack.extends!r}"
                if not lenient:
                    raise stack.document.error(key, message)
                composed.warnings.append(str(stack.document.error(key, message)))
                continue
            dropped.add(excluded_name.casefold())
            step_excludes.append(Exclusion(entry, stack.document, key))
        composed.entries = [e for e in composed.entries if e.entry.name.casefold() not in dropped]
        names = {e.entry.name.casefold() for e in composed.entries}
        for added in stack.add:
            if added.entry.name.casefold() in names:
                raise stack.document.error(
                    (*added.key, "name"),
                    f"add {added.entry.name!r} reuses an inherited name; exclude it first to replace it",
                )
            names.add(added.entry.name.casefold())
            composed.entries.append(added)
        composed.excluded += step_excludes
        composed.steps.append(StackStep(stack.document, list(stack.add), step_excludes, _prompt_keys(stack)))
    return composed


def load_chain(name: str, load: Callable[[str], StackFile]) -> list[StackFile]:
    """The stack ``name`` and the stacks it ``extends``, base first, each read by ``load``
    (a cycle is an error, naming every file of it)."""
    chain: list[StackFile] = []
    current: str | None = name
    while current is not None:
        folded = current.casefold()
        repeated = next((s for s in chain if s.name.casefold() == folded), None)
        if repeated is not None:
            steps = [f"{s.name} ({s.document.path})" for s in chain]
            cycle = " -> ".join([*steps, f"{repeated.name} ({repeated.document.path})"])
            raise ConfigError(f"LoRA stacks extend each other in a cycle: {cycle}")
        stack = load(current)
        chain.append(stack)
        current = stack.extends
    chain.reverse()
    return chain


def _prompt_keys(stack: StackFile) -> tuple[str, ...]:
    return tuple(key for key in PROMPT_SETTINGS if key in stack.document.data)


def stack_for(
    name: str | None,
    legacy: LocatedEntry | None,
    directories: Sequence[Path],
    stacks: FileCache[StackFile],
    *,
    lenient: bool,
) -> ComposedStack | None:
    """The build's stack: the one ``name``d (its chain read through ``stacks``, found in
    ``directories``), or the user file's ``legacy`` keys as a one-entry stack; both is an error."""
    if name is not None and legacy is not None:
        raise legacy.document.error(
            ("lora",) if "lora" in legacy.document.data else ("lora_scale",),
            f"legacy 'lora'/'lora_scale' keys and the LoRA stack {name!r} together; pick one schema",
        )
    if legacy is not None:
        return ComposedStack.single("(legacy lora keys)", legacy)
    if name is None:
        return None
    chain = load_chain(name, lambda stack: stacks.get(find_stack(stack, directories)))
    return compose_stack(name, chain, lenient=lenient)
