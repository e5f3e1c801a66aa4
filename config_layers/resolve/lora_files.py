"""Which LoRAs a build uses, in order, and which file each one is: stack entries first (after
the stage filter), then LoRAs other layers name; a LoRA named both ways is one entry. Files are
found here (by name in the LoRA folders, a stack entry's ``file`` confined to them), so the plan
that follows works on paths."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from config_layers.discovery.files import FileIndex
from config_layers.errors import ConfigError, NotFoundError
from config_layers.stacks import ComposedStack, Exclusion, LocatedEntry, Stage, resolve_lora_file


@dataclass
class PlannedLora:
    """One LoRA of the build."""

    name: str
    path: Path | None
    entry: LocatedEntry | None = None
    #: Whether the library lists the file as a link (None: not known).
    link: bool | None = None


@dataclass
class LoraPlan:
    loras: list[PlannedLora] = field(default_factory=list)
    #: Every inherited entry a derived stack excluded.
    excluded: list[Exclusion] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def plan_loras(
    stack: ComposedStack | None,
    stage: Stage,
    named: Sequence[str],
    lora_dirs: Sequence[Path],
    index: FileIndex,
    *,
    lenient: bool,
) -> LoraPlan:
    """Resolve every LoRA's file: a stack entry's ``file`` strictly inside ``lora_dirs``, a
    named LoRA by its name. A missing file is an error, or a warning when ``lenient``."""
    plan = LoraPlan()
    by_name: dict[str, PlannedLora] = {}
    if stack is not None:
        plan.warnings += stack.warnings
        kept, skipped = stack.for_stage(stage)
        for located in kept:
            path = _resolve_entry(located, lora_dirs, plan, lenient)
            planned = PlannedLora(located.entry.name, path, located)
            plan.loras.append(planned)
            by_name[located.entry.name.casefold()] = planned
        for located in skipped:
            plan.notes.append(
                f"stack entry {located.entry.name!r} ({located.stack}) skipped: applies_to "
                f"{located.entry.applies_to} does not hold stage {stage!r}"
            )
    for name in named:
        in_stack = by_name.get(name.casefold())
        if in_stack is not None:
            plan.notes.append(f"LoRA {name!r} is named by a layer and by the stack: one entry")
            continue
        link: bool | None = None
        try:
            found: Path | None
            found, link = index.find_entry(name)
        except NotFoundError as exc:
            if not lenient:
                raise
            plan.warnings.append(str(exc))
            found = None
        by_name[name.casefold()] = PlannedLora(name, found, link=link)
        plan.loras.append(by_name[name.casefold()])
    _one_entry_per_file(plan.loras)
    if stack is not None:
        plan.excluded = list(stack.excluded)
        for exclusion in stack.excluded:
            also_named = by_name.get(exclusion.entry.entry.name.casefold())
            if also_named is not None and also_named.entry is None:
                plan.notes.append(
                    f"stack {stack.name!r} excludes {also_named.name!r} ({exclusion.by.path}), "
                    "but another layer names it: it stays"
                )
    return plan


def _one_entry_per_file(loras: Sequence[PlannedLora]) -> None:
    """Two entries loading one file would give ``lora_scales`` two weights where the payload loads
    the file once, at one of them: refused, naming both."""
    seen: dict[str, PlannedLora] = {}
    folders: dict[str, str] = {}  # a folder resolved once, not once per LoRA in it
    for planned in loras:
        if planned.path is None:
            continue
        folder, name = os.path.split(planned.path)
        if planned.link or (planned.link is None and os.path.islink(planned.path)):
            real = os.path.realpath(planned.path)
        else:
            parent = folders.get(folder)
            if parent is None:
                parent = folders[folder] = os.path.realpath(folder)
            real = os.path.join(parent, name)
        other = seen.setdefault(real, planned)
        if other is not planned:
            raise ConfigError(
                f"LoRA {other.name!r} ({_where(other)}) and LoRA {planned.name!r} ({_where(planned)}) "
                f"are the same file {real}; keep one entry"
            )


def _where(planned: PlannedLora) -> str:
    located = planned.entry
    if located is None:
        return "named by a layer"
    pos = located.document.position((*located.key, "file"))
    return f"{located.stack}:{pos[0]}" if pos else located.stack


def _resolve_entry(located: LocatedEntry, lora_dirs: Sequence[Path], plan: LoraPlan, lenient: bool) -> Path | None:
    try:
        return resolve_lora_file(located.entry.file, lora_dirs)
    except NotFoundError as exc:
        error = located.document.error(
            (*located.key, "file"),
            f"entry {located.entry.name!r}: LoRA file {located.entry.file!r} not found; looked in: "
            + ", ".join(exc.searched),
        )
        if not lenient:
            raise error from None
        plan.warnings.append(str(error))
        return None
    except ConfigError as exc:
        raise located.document.error((*located.key, "file"), f"entry {located.entry.name!r}: {exc}") from None
