"""Civitai model data: ``<stem>.civitai.info`` (a model version, as saved by Civitai Helper and
similar tools) and SD.Next's ``<stem>.json`` (the whole model, with every version under
``modelVersions``).

What we take from a model version: ``baseModel`` -> base type, ``trainedWords`` -> trigger
phrases (each entry kept whole: an entry is one phrase even when it contains commas), the SHA-256
of the model file, and the generation settings most of its sample images were made with
(``images[].meta``: ``sampler``, ``Schedule type``/``scheduler``, ``steps``, ``cfgScale``, ``Size``).

The file's own structure is checked strictly (a wrong type is a MetadataError naming the key). The
sample images' settings are votes from many uploaders, so a single unreadable value there (``"steps":
"30+15"``) is skipped and counted in the winner's note instead of discarding the whole file; a
setting that no image states readably is simply absent. Numeric strings (``"30"``) are read as
numbers there, and CFG is rounded to 2 decimals before voting (6.499999999999998 votes as 6.5).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Generic, TypeVar

from config_layers.bounds import MAX_FOREIGN_BYTES
from config_layers.metadata.basetypes import from_civitai_base_model
from config_layers.metadata.types import (
    ForeignPriors,
    ForeignValue,
    MetadataError,
    as_count,
    as_number,
    child_key,
    decode_json,
    expect_list,
    expect_object,
    expect_sha256,
    expect_text,
    parse_resolution,
    read_capped,
    unique_phrases,
    unsafe_character,
)
from config_layers.names import model_stem as bare_model_stem
from config_layers.names import round_to_precision, scheduler_label, split_sampler

#: Keys that mark Civitai data (a model has ``modelVersions``; a model version the others).
CIVITAI_MARKER_KEYS: Final[frozenset[str]] = frozenset({"modelVersions", "modelId", "baseModel", "trainedWords"})

# Keys of images[].meta that name the scheduler apart from the sampler, strongest first:
# A1111 infotext's "Schedule type", then ComfyUI's "scheduler".
_SCHEDULER_KEYS: Final[tuple[str, ...]] = ("Schedule type", "scheduler")

_T = TypeVar("_T", bound=Hashable)


@dataclass
class _Votes(Generic[_T]):
    """Votes for one setting across sample images.

    Tie rule: most votes wins; among equal counts, the value that appeared first (in image order)
    wins. Unreadable values are counted, never voted.
    """

    counts: dict[_T, int] = field(default_factory=dict)
    skipped: int = 0

    def add(self, value: _T | None) -> None:
        if value is None:
            self.skipped += 1
        else:
            self.counts[value] = self.counts.get(value, 0) + 1  # dicts keep first-appearance order

    def winner(self, one: str = "image", many: str = "images") -> tuple[_T, str] | None:
        """The winning value and a note on the vote (``one``/``many`` name the voters), or
        ``None`` when nobody voted."""
        if not self.counts:
            return None
        best = max(self.counts.values())
        leaders = [value for value, count in self.counts.items() if count == best]
        total = sum(self.counts.values())
        note = f"most common of {total} {one if total == 1 else many} ({best} vote{'s' if best != 1 else ''})"
        if len(leaders) > 1:
            others = ", ".join(repr(value) for value in leaders[1:])
            note += f"; tied with {others}, the first to appear wins"
        if self.skipped:
            note += f"; {self.skipped} unreadable value{'s' if self.skipped != 1 else ''} skipped"
        return leaders[0], note


def _join(*parts: str | None) -> str | None:
    text = "; ".join(part for part in parts if part)
    return text or None


def _safe_text(value: object) -> str | None:
    if not isinstance(value, str) or unsafe_character(value) is not None:
        return None
    text = " ".join(value.split())
    return text or None


@dataclass(frozen=True)
class _Sampling:
    sampler: str
    raw: str
    scheduler: str | None
    scheduler_key: str


def _image_metas(version: dict[str, object], path: Path, prefix: str | None) -> list[dict[str, object]]:
    images_key = child_key(prefix, "images")
    raw_images = version.get("images")
    if raw_images is None:
        return []
    metas: list[dict[str, object]] = []
    for index, raw_image in enumerate(expect_list(raw_images, path, images_key)):
        image = expect_object(raw_image, path, child_key(images_key, index))
        meta = image.get("meta")
        if meta is not None:  # images posted without generation data have "meta": null
            metas.append(expect_object(meta, path, child_key(child_key(images_key, index), "meta")))
    return metas


def _sampling(meta: dict[str, object]) -> _Sampling | None:
    raw = _safe_text(meta.get("sampler"))
    if raw is None:
        return None
    sampler, suffix = split_sampler(raw)
    if not sampler:
        return None
    for key in _SCHEDULER_KEYS:
        stated = _safe_text(meta.get(key))
        if stated is not None:
            return _Sampling(sampler, raw, scheduler_label(stated), key)
    return _Sampling(sampler, raw, suffix, "sampler")


def _vote_settings(metas: list[dict[str, object]], prefix: str | None, context: str | None) -> dict[str, ForeignValue]:
    meta_key = child_key(prefix, "images") + "[*].meta"
    found: dict[str, ForeignValue] = {}

    samplings: list[_Sampling] = []
    sampler_votes: _Votes[str] = _Votes()
    steps_votes: _Votes[int] = _Votes()
    cfg_votes: _Votes[float] = _Votes()
    cfg_rounded: dict[float, float] = {}  # vote -> a raw value rounded into it
    size_votes: _Votes[tuple[int, int]] = _Votes()
    for meta in metas:
        if meta.get("sampler") is not None:
            sampling = _sampling(meta)
            sampler_votes.add(None if sampling is None else sampling.sampler)
            if sampling is not None:
                samplings.append(sampling)
        if meta.get("steps") is not None:
            steps_votes.add(as_count(meta["steps"]))
        if meta.get("cfgScale") is not None:
            cfg = as_number(meta["cfgScale"], allow_string=True)
            vote = round_to_precision(cfg, 2) if cfg is not None and cfg > 0 else None
            if vote is not None and cfg is not None and vote != cfg:
                cfg_rounded.setdefault(vote, cfg)
            cfg_votes.add(vote)
        if meta.get("Size") is not None:
            size_votes.add(parse_resolution(meta["Size"]))

    sampler_win = sampler_votes.winner()
    if sampler_win is not None:
        sampler, note = sampler_win
        split_from = next((s.raw for s in samplings if s.sampler == sampler and s.raw != sampler), None)
        split_note = None if split_from is None else f"split from {split_from!r}"
        found["sampler"] = ForeignValue(sampler, f"{meta_key}.sampler", _join(note, split_note, context))
        # The scheduler goes with the winning sampler: vote among the images that used it.
        same = [s for s in samplings if s.sampler == sampler and s.scheduler is not None]
        scheduler_votes: _Votes[str] = _Votes()
        for sampling in same:
            scheduler_votes.add(sampling.scheduler)
        scheduler_win = scheduler_votes.winner(
            f"image using {sampler!r} that names a scheduler", f"images using {sampler!r} that name a scheduler"
        )
        if scheduler_win is not None:
            scheduler, note = scheduler_win
            source = next(s for s in same if s.scheduler == scheduler)
            how = f"split from {source.raw!r}" if source.scheduler_key == "sampler" else None
            found["scheduler"] = ForeignValue(
                scheduler, f"{meta_key}.{source.scheduler_key}", _join(note, how, context)
            )

    for name, key, votes in (
        ("steps", "steps", steps_votes),
        ("cfg", "cfgScale", cfg_votes),
        ("resolution", "Size", size_votes),
    ):
        win = votes.winner()
        if win is not None:
            rounded = cfg_rounded.get(win[0]) if name == "cfg" and isinstance(win[0], float) else None
            how = None if rounded is None else f"normalized: {rounded!r} rounded to {win[0]!r} before voting"
            found[name] = ForeignValue(win[0], f"{meta_key}.{key}", _join(win[1], how, context))
    return found


def _file_stem(name: str) -> str:
    return bare_model_stem(name).lower()


def _pick_file(
    version: dict[str, object], path: Path, prefix: str | None, model_stem: str | None, extension: str | None
) -> tuple[dict[str, object], str, str | None] | None:
    """The version's file our model file is: by name and (when known) extension, the primary one
    among several such; else the primary file, else the first model file."""
    files_key = child_key(prefix, "files")
    raw_files = version.get("files")
    if raw_files is None:
        return None
    files = [
        (expect_object(raw, path, child_key(files_key, index)), child_key(files_key, index))
        for index, raw in enumerate(expect_list(raw_files, path, files_key))
    ]
    if model_stem:
        named = [(entry, key, str(entry["name"])) for entry, key in files if _names(entry, model_stem)]
        if extension:
            # A model lists its .ckpt and .safetensors under one stem; only ours has our hash.
            named = [item for item in named if item[2].lower().endswith(extension.lower())]
        if named:
            entry, key, _ = next((item for item in named if item[0].get("primary") is True), named[0])
            return entry, key, None
    wanted = f"{model_stem}{extension or ''}"
    missing = f"no file named {wanted!r}" if model_stem else None
    for entry, key in files:
        if entry.get("primary") is True:
            return entry, key, _join("the primary file", missing)
    for entry, key in files:
        if entry.get("type") == "Model":
            return entry, key, _join("the first model file", missing)
    return None


def _names(entry: dict[str, object], model_stem: str) -> bool:
    name = entry.get("name")
    return isinstance(name, str) and _file_stem(name) == model_stem.lower()


def _sha256(
    version: dict[str, object],
    path: Path,
    prefix: str | None,
    model_stem: str | None,
    extension: str | None,
    context: str | None,
) -> ForeignValue | None:
    picked = _pick_file(version, path, prefix, model_stem, extension)
    if picked is None:
        return None
    entry, key, note = picked
    hashes = entry.get("hashes")
    if hashes is None:
        return None
    hashes_key = child_key(key, "hashes")
    digest_key = child_key(hashes_key, "SHA256")
    digest = expect_sha256(expect_object(hashes, path, hashes_key).get("SHA256"), path, digest_key)
    return None if digest is None else ForeignValue(digest, digest_key, _join(note, context))


def _select_version(
    doc: dict[str, object], path: Path, model_stem: str | None
) -> tuple[dict[str, object], str, str | None]:
    """The entry of a model's ``modelVersions`` that holds our file (SD.Next saves the whole model)."""
    versions_key = "modelVersions"
    versions = [
        expect_object(raw, path, child_key(versions_key, index))
        for index, raw in enumerate(expect_list(doc[versions_key], path, versions_key))
    ]
    if not versions:
        raise MetadataError(path, "the model lists no versions", key_path=versions_key)
    matches: list[int] = []
    if model_stem:
        for index, version in enumerate(versions):
            raw_files = version.get("files")
            files = raw_files if isinstance(raw_files, list) else []
            names = [f.get("name") for f in files if isinstance(f, dict)]
            if any(isinstance(name, str) and _file_stem(name) == model_stem.lower() for name in names):
                matches.append(index)
    if matches:
        note = None
        if len(matches) > 1:
            note = f"{len(matches)} versions have a file named {model_stem!r}; the first listed (newest) is used"
        return versions[matches[0]], child_key(versions_key, matches[0]), note
    missing = f"no file named {model_stem!r}" if model_stem else "no model file name to match"
    if len(versions) == 1:
        return versions[0], child_key(versions_key, 0), f"the model's only version ({missing})"
    raise MetadataError(
        path,
        f"none of the model's {len(versions)} versions matches ({missing}), "
        "so which version this file is cannot be told",
        key_path=versions_key,
    )


def priors_from_civitai(
    data: object, path: Path, *, model_stem: str | None = None, model_extension: str | None = None
) -> ForeignPriors:
    """Priors from parsed Civitai data: a model version, or a whole model (SD.Next).

    ``model_stem`` is the model file's stem; it picks the version of a whole model and the file of
    a version by name, and ``model_extension`` (``.safetensors``) by extension too, preferring the
    primary file among several such. Without a match, a version's primary file is used, and a
    model must have exactly one version; each such choice is written into the notes.
    """
    doc = expect_object(data, path, None)
    prefix: str | None = None
    context: str | None = None
    version = doc
    if "modelVersions" in doc:
        version, prefix, context = _select_version(doc, path, model_stem)

    base_type = None
    base_key = child_key(prefix, "baseModel")
    if version.get("baseModel") is not None:
        label = expect_text(version["baseModel"], path, base_key)
        if label:
            mapped = from_civitai_base_model(label)
            base_type = ForeignValue(mapped.base_type, base_key, _join(mapped.note, context))

    trigger_phrases = None
    words_key = child_key(prefix, "trainedWords")
    if version.get("trainedWords") is not None:
        words = expect_list(version["trainedWords"], path, words_key)
        phrases = unique_phrases(
            [expect_text(word, path, child_key(words_key, index)) for index, word in enumerate(words)]
        )
        if phrases:
            trigger_phrases = ForeignValue(phrases, words_key, context)

    votes = _vote_settings(_image_metas(version, path, prefix), prefix, context)
    return ForeignPriors(
        source_kind="civitai_info",
        path=path,
        base_type=base_type,
        trigger_phrases=trigger_phrases,
        sampler=votes.get("sampler"),
        scheduler=votes.get("scheduler"),
        steps=votes.get("steps"),
        cfg=votes.get("cfg"),
        resolution=votes.get("resolution"),
        sha256=_sha256(version, path, prefix, model_stem, model_extension, context),
    )


def civitai_info_stem(path: Path) -> str:
    """The model stem a ``<stem>.civitai.info`` (or ``<file>.safetensors.civitai.info``) belongs to
    (any other name: its plain stem)."""
    name = path.name
    for suffix in (".civitai.info", ".info", ".json"):
        if name.lower().endswith(suffix):
            return bare_model_stem(name[: -len(suffix)])
    return path.stem


def _named_extension(path: Path) -> str | None:
    """``.safetensors`` for ``x.safetensors.civitai.info``: the model file's extension in the name."""
    if not path.name.lower().endswith(".civitai.info"):
        return None
    target = path.name[: -len(".civitai.info")]
    return target[len(bare_model_stem(target)) :] or None


def parse_civitai_info(raw: bytes, path: Path, *, model_extension: str | None = None) -> ForeignPriors:
    """Priors from the bytes of a ``<stem>.civitai.info`` or ``<file>.civitai.info`` (pure; ``path``
    names the model stem, and in the second form the extension, else ``model_extension`` gives it)."""
    return priors_from_civitai(
        decode_json(raw, path),
        path,
        model_stem=civitai_info_stem(path),
        model_extension=_named_extension(path) or model_extension,
    )


def read_civitai_info(
    path: Path, *, max_bytes: int = MAX_FOREIGN_BYTES, model_extension: str | None = None
) -> ForeignPriors:
    """Read a ``<stem>.civitai.info`` of at most ``max_bytes`` bytes (larger is a MetadataError)."""
    return parse_civitai_info(read_capped(path, max_bytes), path, model_extension=model_extension)
