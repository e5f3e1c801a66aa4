"""The package layout: the README's table of modules agrees with the files, and only the front
ends import ``config_layers.builder`` (nothing reaches back up into the build)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "config_layers"
README = PACKAGE.parent / "README.md"
BUILDER = "config_layers.builder"
#: The front ends, on top of the build: they may use the builder.
FRONT_ENDS = ("cli.py", "entry.py", "scan.py", "adapter.py", "__init__.py", "authoring/")


def _modules() -> list[str]:
    return sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))


def _layout_rows() -> dict[str, str]:
    """The README's module table (in its design notes): first cell -> the rest of the row."""
    notes = README.read_text(encoding="utf-8").split("\n## Design notes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\s*\| `([^`|]+)` \| (.+) \|$", notes, re.M)
    return dict(rows)


def _imports_builder(path: Path) -> list[int]:
    """Lines of ``path`` that import the builder, by any spelling (``import_module`` strings too)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
            if (node.level and any(alias.name == "builder" for alias in node.names)) or node.module == "builder":
                names.append(BUILDER)
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            names = [node.value]
        else:
            continue
        if BUILDER in names:
            lines.append(node.lineno)
    return lines


def test_every_module_is_in_the_readme_layout_where_it_lives() -> None:
    rows = _layout_rows()
    missing = []
    for module in _modules():
        folder, _, name = module.rpartition("/")
        if not folder:
            ok = module in rows
        else:
            top = module.split("/")[0] + "/"
            ok = top in rows and (name == "__init__.py" or f"`{name}`" in rows[top])
        if not ok:
            missing.append(module)
    assert not missing, f"not in the README's module table: {missing}"


def test_the_readme_layout_names_no_module_that_does_not_exist() -> None:
    modules = set(_modules())
    stale = [
        f"{entry}{name}" if entry.endswith("/") else entry
        for entry, role in _layout_rows().items()
        if entry.endswith((".py", "/"))
        for name in (re.findall(r"`([\w]+\.py)`", role) if entry.endswith("/") else [""])
        if (f"{entry}{name}" if entry.endswith("/") else entry) not in modules
    ]
    assert not stale, f"the README's module table names files that do not exist: {stale}"


def test_only_the_front_ends_import_the_builder() -> None:
    offenders = [
        f"config_layers/{module}:{line}"
        for module in _modules()
        if module != "builder.py" and not module.startswith(FRONT_ENDS)
        for line in _imports_builder(PACKAGE / module)
    ]
    assert not offenders, f"only the front ends may import {BUILDER}: {offenders}"


def test_the_import_check_sees_every_spelling(tmp_path: Path) -> None:
    spellings = [
        "from config_layers.builder import ConfigBuilder",
        "import config_layers.builder",
        "from config_layers import builder",
        "from . import builder",
        "from .builder import ConfigBuilder",
        "importlib.import_module('config_layers.builder')",
    ]
    for index, line in enumerate(spellings):
        path = tmp_path / f"m{index}.py"
        path.write_text(f"x = 1\n{line}\n", encoding="utf-8")
        assert _imports_builder(path) == [2], line
    clean = tmp_path / "clean.py"
    clean.write_text("from config_layers.plan import make_plan\nimport builtins\n", encoding="utf-8")
    assert _imports_builder(clean) == []
