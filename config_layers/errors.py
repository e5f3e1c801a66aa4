"""Error types. Every error a user can cause says which file, key path and line is at fault."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class ConfigError(Exception):
    """Base class of every error config_layers raises for bad input.

    The CLI prints ``str(error)`` and exits 2; no traceback is shown for these. The structured
    fields say where the fault is, as far as the raiser knows it (``None`` where unknown), so a
    GUI can point at the file, key and line without parsing the message.
    """

    path: str | None = None
    key_path: str | None = None
    line: int | None = None
    column: int | None = None


class FileError(ConfigError):
    """A problem in one input file, located as precisely as we know.

    ``str()`` renders ``path:line:column: key.path: message``; unknown parts are left out.
    """

    path: str

    def __init__(
        self,
        path: Path | str,
        message: str,
        *,
        key_path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        self.path = str(path)
        self.message = message
        self.key_path = key_path
        self.line = line
        self.column = column
        super().__init__(self.render())

    def render(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        subject = f"{self.key_path}: " if self.key_path else ""
        return f"{where}: {subject}{self.message}"


class NotFoundError(ConfigError):
    """A model, LoRA or file that was asked for and not found; lists every place searched."""

    def __init__(self, what: str, name: str, searched: Sequence[str]) -> None:
        self.what = what
        self.name = name
        self.searched = list(searched)
        places = "\n".join(f"  - {place}" for place in self.searched) or "  (no places configured)"
        shown = repr(name) if len(name) <= 200 else f"{name[:200]!r}... ({len(name)} characters)"
        super().__init__(f"{what} {shown} not found; looked in:\n{places}")


#: A message lists at most this many problems, then counts the rest: formatting each one costs
#: a provenance lookup, and nobody reads the 16,000th.
MAX_SHOWN_PROBLEMS = 20


class ConfigErrors(ConfigError):
    """Several problems found at once (every invalid field of a build, every bad key of a file).

    ``errors`` holds the first MAX_SHOWN_PROBLEMS as error objects (a plain string becomes a
    ``ConfigError``), ``problems`` the same as strings; ``total`` counts them all.
    """

    def __init__(
        self, problems: Sequence[ConfigError | str], *, title: str | None = None, total: int | None = None
    ) -> None:
        shown = list(problems)[:MAX_SHOWN_PROBLEMS]
        self.errors = [p if isinstance(p, ConfigError) else ConfigError(p) for p in shown]
        self.problems = [str(error) for error in self.errors]
        self.total = max(total or 0, len(problems))
        lines = [f"  - {problem}" if title else problem for problem in self.problems]
        if self.total > len(self.problems):
            more = self.total - len(self.problems)
            lines.append(f"  ... and {more} more problem{'s' * (more != 1)}")
        body = "\n".join(lines)
        super().__init__(f"{title}\n{body}" if title else body)


class MetadataError(FileError):
    """Metadata another tool wrote beside a model file is unreadable or malformed."""


class ProvenanceKeyError(ConfigError, KeyError):
    """A provenance lookup named a key that is not in the config (a ``KeyError`` too)."""

    def __init__(self, key: str, message: str) -> None:
        self.key_path = key
        super().__init__(message)

    def __str__(self) -> str:
        # KeyError's own __str__ would repr() the message, quotes and all.
        return str(self.args[0])


class PayloadError(ConfigError, ValueError):
    """A config cannot be turned into the asked-for output (a ``ValueError`` too, for old callers)."""
