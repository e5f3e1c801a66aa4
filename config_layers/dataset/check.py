"""``config-layers dataset check``: a LoRA training set's preflight, and mlx-examples' ``train.jsonl``.

Each DreamBooth-style subset's ``image_dir`` must hold images (``.png .jpg .jpeg .webp``), each with
a caption file of the subset's *effective* ``caption_extension`` (``<stem><ext>``, as kohya builds
it); a regularisation subset may rely on ``class_tokens`` instead. Every problem is collected, so one
run lists them all. Relative ``image_dir`` / ``metadata_file`` paths are taken from the TOML's folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from config_layers.atomic import write_text_atomic
from config_layers.dataset.kohya import ResolvedConfig, ResolvedSubset, Setting, load_dataset_config
from config_layers.errors import FileError

IMAGE_SUFFIXES: Final[frozenset[str]] = frozenset({".png", ".jpg", ".jpeg", ".webp"})
#: The floor of training images the studio that asked for this check uses.
DEFAULT_MIN_IMAGES: Final[int] = 150
#: A caption is a line or a paragraph; anything bigger is not a caption file.
MAX_CAPTION_BYTES: Final[int] = 64 * 1024


@dataclass(frozen=True)
class CheckOptions:
    """``--min-images`` and ``--style-trigger``."""

    min_images: int = DEFAULT_MIN_IMAGES
    style_trigger: str | None = None


@dataclass
class FolderCheck:
    """One image folder: its caption extension, and the image/caption pairs found."""

    label: str
    folder: Path
    caption_extension: str
    training: bool
    images: int = 0
    pairs: list[tuple[Path, str]] = field(default_factory=list)


@dataclass
class DatasetReport:
    """The outcome of a check: resolved settings (for a TOML), folders, and every problem."""

    source: Path
    config: ResolvedConfig | None
    folders: list[FolderCheck]
    problems: list[str]

    @property
    def training_images(self) -> int:
        return sum(f.images for f in self.folders if f.training)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``dataset check --format json``."""
        datasets = []
        for dataset in self.config.datasets if self.config else []:
            datasets.append(
                {
                    "style": dataset.style,
                    "settings": {k: s.to_dict() for k, s in dataset.settings.items()},
                    "subsets": [{k: s.to_dict() for k, s in sub.settings.items()} for sub in dataset.subsets],
                }
            )
        return {
            "source": str(self.source),
            "datasets": datasets,
            "folders": [
                {
                    "label": f.label,
                    "folder": str(f.folder),
                    "caption_extension": f.caption_extension,
                    "training": f.training,
                    "images": f.images,
                    "paired": len(f.pairs),
                }
                for f in self.folders
            ],
            "training_images": self.training_images,
            "problems": list(self.problems),
        }

    def render(self) -> str:
        """Every dataset's and subset's effective settings with level and origin, then the folders."""
        lines = [str(self.source)]
        for dataset in self.config.datasets if self.config else []:
            lines.append(f"  datasets[{dataset.index}] ({dataset.style})")
            lines += _settings(dataset.settings, "    ")
            for subset in dataset.subsets:
                lines.append(f"    {subset.label}")
                lines += _settings(subset.settings, "      ")
        for folder in self.folders:
            role = "training" if folder.training else "regularisation"
            lines.append(
                f"  {folder.label}: {folder.folder} ({role}): {folder.images} images, {len(folder.pairs)} with a "
                f"{folder.caption_extension} caption"
            )
        lines.append(f"  training images: {self.training_images}")
        return "\n".join(lines)

    def jsonl(self, out: Path) -> str:
        """mlx-examples' ``train.jsonl``: ``{"image": file, "prompt": caption}`` per training pair.
        Image paths are relative to the JSONL's folder when below it, else absolute."""
        base = out.resolve().parent
        lines = []
        for folder in self.folders:
            if not folder.training:
                continue
            for image, caption in folder.pairs:
                absolute = image.resolve()
                shown = absolute.relative_to(base) if absolute.is_relative_to(base) else absolute
                lines.append(json.dumps({"image": shown.as_posix(), "prompt": caption}, ensure_ascii=False))
        return "".join(line + "\n" for line in lines)


#: Always shown, even at their defaults: what decides pairing and weighting.
_ALWAYS_SHOWN: Final[frozenset[str]] = frozenset({"caption_extension", "num_repeats", "resolution", "batch_size"})


def _settings(settings: dict[str, Setting], indent: str) -> list[str]:
    out, hidden = [], 0
    for key, setting in settings.items():
        if setting.level == "default" and key not in _ALWAYS_SHOWN:
            hidden += 1
            continue
        text = f"{indent}{key} = {json.dumps(setting.value, ensure_ascii=False)}  [{setting.level}] {setting.where()}"
        earlier = [
            f"{lv} = {v!r}" if lv == "default" else f"{lv} {o.where()} = {v!r}" for lv, o, v in setting.overridden
        ]
        if earlier:
            text += f"  (overrides {'; '.join(earlier)})"
        out.append(text)
    if hidden:
        out.append(f"{indent}({hidden} more at kohya's defaults; --format json lists them)")
    return out


def check_config(path: Path, options: CheckOptions) -> DatasetReport:
    """Check a kohya dataset TOML: its keys and rules, then every subset's folder."""
    config = load_dataset_config(path)
    report = DatasetReport(path, config, [], list(config.problems))
    base = path.resolve().parent
    for dataset in config.datasets:
        for subset in dataset.subsets:
            _check_subset(config, subset, base, report)
    _totals(report, options)
    return report


def check_folder(folder: Path, options: CheckOptions, *, caption_extension: str = ".txt") -> DatasetReport:
    """Check a plain folder of image/caption pairs (no TOML)."""
    report = DatasetReport(folder, None, [], [])
    if not caption_extension.startswith("."):
        report.problems.append(f"--caption-extension {caption_extension!r} must start with a dot")
    else:
        _check_images(FolderCheck(str(folder), folder, caption_extension, True), f"{folder}", False, report)
    _totals(report, options)
    return report


def _check_subset(config: ResolvedConfig, subset: ResolvedSubset, base: Path, report: DatasetReport) -> None:
    document = config.document

    def located(name: str, message: str) -> str:
        return str(document.error((*subset.key, name) if name in subset.table else subset.key, message))

    if subset.style == "finetuning":
        for name in ("metadata_file", "image_dir"):
            value = subset.value(name)
            if isinstance(value, str) and not (base / value).exists():
                report.problems.append(located(name, f"{base / value} does not exist"))
        return
    image_dir = subset.value("image_dir")
    if not isinstance(image_dir, str):
        return  # already a problem of the config
    folder = base / image_dir
    if not folder.is_dir():
        report.problems.append(located("image_dir", f"{folder} is not a folder"))
        return
    extension = subset.settings["caption_extension"]
    if not isinstance(extension.value, str) or not extension.value.startswith("."):
        return  # already a problem of the config
    reg = subset.value("is_reg") is True
    check = FolderCheck(subset.label, folder, extension.value, not reg)
    lenient_captions = reg and bool(subset.value("class_tokens"))
    error = document.error((*subset.key, "image_dir"), "")
    prefix = ":".join(str(p) for p in (error.path, error.line, error.column) if p is not None)
    _check_images(
        check, f"{prefix}: {error.key_path}", extension.level == "default", report, lenient_captions=lenient_captions
    )


def _check_images(
    check: FolderCheck, where: str, default_extension: bool, report: DatasetReport, *, lenient_captions: bool = False
) -> None:
    """Pair each image with ``<stem><ext>``; list unpaired images and captions, unreadable or empty ones."""
    report.folders.append(check)
    try:
        files = sorted(p for p in check.folder.iterdir() if p.is_file())
    except OSError as exc:
        report.problems.append(f"{where}: cannot list {check.folder}: {exc.strerror or exc}")
        return
    ext = check.caption_extension
    images = [p for p in files if p.suffix.lower() in IMAGE_SUFFIXES]
    check.images = len(images)
    stems = {p.stem for p in images}
    missing, txt_instead, unreadable, empty = [], [], [], []
    for image in images:
        caption = image.with_name(image.stem + ext)
        if not caption.is_file():
            if default_extension and image.with_name(image.stem + ".txt").is_file():
                txt_instead.append(image.name)
            elif not lenient_captions:
                missing.append(image.name)
            continue
        text = _read_caption(caption)
        if text is None:
            unreadable.append(caption.name)
        elif not text:
            empty.append(caption.name)
        else:
            check.pairs.append((image, text))
    orphans = [p.name for p in files if p.name.endswith(ext) and p.name[: -len(ext)] not in stems]
    if txt_instead:
        report.problems.append(
            f"{where}: caption_extension is kohya's default '.caption' (no level sets it), but "
            f'{len(txt_instead)} images have .txt captions: set caption_extension = ".txt"'
        )
    for found, what in (
        (missing, f"images without a {ext} caption"),
        (orphans, f"{ext} captions without an image"),
        (unreadable, "captions that are not UTF-8 text or are too big"),
        (empty, "empty captions"),
    ):
        if found:
            report.problems.append(f"{where}: {len(found)} {what}: {', '.join(found)}")


def _read_caption(path: Path) -> str | None:
    try:
        if path.stat().st_size > MAX_CAPTION_BYTES:
            return None
        return path.read_bytes().decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _totals(report: DatasetReport, options: CheckOptions) -> None:
    count = report.training_images
    if count < options.min_images:
        report.problems.append(
            f"{report.source}: {count} training images, fewer than the minimum of {options.min_images} (--min-images)"
        )
    trigger = options.style_trigger
    if trigger is None:
        return
    for folder in report.folders:
        if not folder.training:
            continue
        impure = [f"{image.name} ({caption[:40]!r})" for image, caption in folder.pairs if caption != trigger.strip()]
        if impure:
            report.problems.append(
                f"{folder.label}: style LoRA: {len(impure)} captions are not exactly the trigger {trigger!r}: "
                + ", ".join(impure)
            )


def write_jsonl(report: DatasetReport, out: Path, *, force: bool) -> int:
    """Write ``train.jsonl`` atomically (only for a report without problems); returns the line count."""
    if report.problems:
        raise FileError(out, "not written: the dataset check found problems")
    text = report.jsonl(out)
    write_text_atomic(out, text, overwrite=force)
    return text.count("\n")
