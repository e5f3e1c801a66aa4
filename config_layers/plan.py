"""What a build decides before composing its layers.

:func:`plan_loras`: which LoRAs a build uses, in order, and which file each one is: stack entries
first (after the stage filter), then LoRAs other layers name; a LoRA named both ways is one entry.
:func:`make_plan`: from the profiles the resolver found, the preset, each LoRA's weight and the
order LoRAs are declared in (a pure function: no files, no caches)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from config_layers.errors import ConfigError, NotFoundError
from config_layers.layers.lora_overlays import LoraSelection
from config_layers.learning.presets import evidence_notes
from config_layers.names import model_stem
from config_layers.profiles.suggest import SuggestedPreset, choose_lora_weight, suggest_preset_for
from config_layers.resolve.resolver import Found
from config_layers.stacks import ComposedStack, Exclusion, LocatedEntry, Stage, resolve_lora_file


@dataclass
class PlannedLora:
    """One LoRA of the build."""

    name: str
    path: Path | None
    entry: LocatedEntry | None = None
    named_by_layers: bool = False


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
    find_by_name: Callable[[str], Path],
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
            in_stack.named_by_layers = True
            plan.notes.append(f"LoRA {name!r} is named by a layer and by the stack: one entry")
            continue
        try:
            found: Path | None = find_by_name(name)
        except NotFoundError as exc:
            if not lenient:
                raise
            plan.warnings.append(str(exc))
            found = None
        by_name[name.casefold()] = PlannedLora(name, found, named_by_layers=True)
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
        if os.path.islink(planned.path):
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


@dataclass(frozen=True)
class BuildPlan:
    """What a build decided before composing its layers, from already-read inputs: the model
    and LoRA profiles found, the preset chosen, each LoRA's weight (chosen once), which LoRAs
    are declared before the stack's layers and which after, and the notes and warnings."""

    stage: Stage
    found: Found
    loras: LoraPlan
    stack: ComposedStack | None
    suggestion: SuggestedPreset | None
    #: LoRAs declared by the profile part before the stack; ``late``: after it (a LoRA another
    #: layer names although the stack excluded it: the explicit name wins).
    early: tuple[LoraSelection, ...]
    late: tuple[LoraSelection, ...]
    notes: tuple[str, ...]
    lora_notes: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def preset(self) -> tuple[str, int] | None:
        """The chosen preset's (id, index) in the model profile."""
        if self.suggestion is None:
            return None
        return self.suggestion.preset_id or "", self.suggestion.preset_index

    @property
    def base_type(self) -> str:
        return self.found.model.base_type if self.found.model is not None else "unknown"


def make_plan(
    found: Found,
    loras: LoraPlan,
    stack: ComposedStack | None,
    stage: Stage,
    preset_id: str | None,
    model: str | None,
) -> BuildPlan:
    """The build's decisions as a pure function of what was found (no files, no caches):
    the preset (``preset_id`` when given), each LoRA's weight, the early/late split."""
    notes, lora_notes = list(found.notes), list(found.lora_notes)
    suggestion = _suggest(found, preset_id, model, notes)
    if suggestion is not None and found.learned is not None:
        notes += evidence_notes(found.learned, suggestion.preset_id)
    selections = _selections(found, suggestion, loras)
    if suggestion is not None and found.learned is not None:
        for selection in selections:
            if selection.choice.rule == "preset_overlay":
                lora_notes += evidence_notes(found.learned, suggestion.preset_id, selection.name)
    dropped = {ex.entry.entry.name.casefold() for ex in loras.excluded}
    late_names = {p.name.casefold() for p in loras.loras if p.entry is None and p.name.casefold() in dropped}
    return BuildPlan(
        stage=stage,
        found=found,
        loras=loras,
        stack=stack,
        suggestion=suggestion,
        early=tuple(sel for sel in selections if sel.name.casefold() not in late_names),
        late=tuple(sel for sel in selections if sel.name.casefold() in late_names),
        notes=tuple(notes),
        lora_notes=tuple(lora_notes),
        warnings=tuple(loras.warnings + found.warnings),
    )


def _suggest(found: Found, preset_id: str | None, model: str | None, notes: list[str]) -> SuggestedPreset | None:
    if found.model is None:
        if preset_id is not None:
            raise ConfigError(f"preset {preset_id!r} was asked for, but model {model!r} has no profile")
        return None
    usable = [p for p in found.loras.values() if p is not None]
    suggestion = suggest_preset_for(found.model, usable, preset_id)
    if suggestion is None:
        notes.append(f"the profile of {found.model.model_name!r} has no presets")
    return suggestion


def _selections(found: Found, suggestion: SuggestedPreset | None, loras: LoraPlan) -> list[LoraSelection]:
    """Each LoRA with its weight: the suggestion already chose one for LoRAs with a profile;
    the rest get theirs here (so each LoRA's weight is chosen once)."""
    preset = None
    if suggestion is not None and found.model is not None:
        preset = found.model.recommended_presets[suggestion.preset_index]
    selections = []
    for lora in loras.loras:
        profile = found.loras.get(lora.name)
        choice = None
        if suggestion is not None and profile is not None:
            choice = suggestion.lora_weight_choices.get(profile.lora_name)
        if choice is None:
            choice = choose_lora_weight(lora.name, profile, found.model, preset)
        name = _spelling(lora.name, lora.path)
        selections.append(LoraSelection(name, choice, profile, lora.path if lora.entry is None else None))
    return selections


def _spelling(name: str, path: Path | None) -> str:
    """A LoRA is spelled as its file's stem when the name differs from it only in case."""
    if path is not None:
        stem = model_stem(path.name)
        if stem != name and stem.casefold() == name.casefold():
            return stem
    return name
