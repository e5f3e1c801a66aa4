"""The public names of ``config_layers``: one table, the type checkers' imports agree with it."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from importlib import import_module

import config_layers
from config_layers.errors import ConfigError


def _type_checking_imports() -> dict[str, str]:
    tree = ast.parse(inspect.getsource(config_layers))
    (block,) = [n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING"]
    found: dict[str, str] = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.module is not None
        for alias in node.names:
            assert alias.asname in (None, alias.name)
            found[alias.name] = node.module
    return found


def test_all_the_loader_table_and_the_type_checking_imports_name_the_same_things() -> None:
    exports = config_layers._EXPORTS
    assert config_layers.__all__ == sorted(exports)
    assert _type_checking_imports() == exports


def test_every_public_name_loads_from_its_module() -> None:
    for name, module in config_layers._EXPORTS.items():
        assert getattr(config_layers, name) is getattr(import_module(module), name)


def test_every_error_type_is_exported() -> None:
    errors = import_module("config_layers.errors")
    defined = {n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, ConfigError)}
    assert defined <= set(config_layers.__all__)


def test_stages_and_layer_order_are_public() -> None:
    assert config_layers.STAGES[0] == "txt2img"
    assert config_layers.LAYER_ORDER[0] == "defaults"


def test_importing_the_package_loads_no_submodule() -> None:
    code = "import sys, config_layers; print(sorted(m for m in sys.modules if m.startswith('config_layers.')))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "[]"


def test_a_build_does_not_load_the_records_learner() -> None:
    code = "import sys, config_layers.learning.learned_file; print('config_layers.learning.learn' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    assert out.strip() == "False"
    from config_layers.learning import learn
    from config_layers.learning.learn import learn as defined

    assert learn is defined
