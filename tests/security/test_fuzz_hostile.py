"""Fuzzing: generated hostile TOML, JSON and environments through ``build()``; the only
exception allowed out is ConfigError (a clear message, never a traceback)."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config_layers import ConfigBuilder, ConfigError
from tests.conftest import write_stub_safetensors

_KEYS = st.sampled_from(
    ["txt2img", "steps", "cfg_scale", "loras", "L", "weight", "webui", "password", "model", "prompt", "a", "A", "b"]
)
_SCALARS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.text(max_size=20),
)
_DATA = st.recursive(
    _SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4), max_leaves=20
)
# Fragments that stress the bounds: deep brackets, long dotted keys, huge numbers, odd quoting.
_HOSTILE = st.sampled_from(
    [
        "[" * 200,
        "{a=" * 100,
        "a." * 500,
        "9" * 4_400,
        '"""',
        "'''",
        "\\u0000",
        "\x00",
        "[[a]]\n",
        "= =",
        "]" * 50,
        "0x" + "f" * 5_000,
        " " * 2_000,
        "@format {env[HOME]}",
        "dynaconf_merge",
    ]
)
_TEXT = st.lists(st.one_of(_HOSTILE, st.text(max_size=30)), max_size=8).map("".join)


def _toml(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


def _user_text(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        return draw(_TEXT)
    table = draw(st.dictionaries(_KEYS, _DATA, max_size=5))
    return "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in table.items()) + draw(_TEXT)


@st.composite
def _hostile_inputs(draw: st.DrawFn) -> tuple[str, str, dict[str, str]]:
    user = _user_text(draw)
    sidecar = json.dumps(draw(_DATA)) if draw(st.booleans()) else draw(_TEXT)
    names = st.lists(_KEYS, min_size=1, max_size=4).map(lambda parts: "STABLENEW_" + "__".join(parts).upper())
    environ = draw(st.dictionaries(names, st.one_of(_TEXT, _SCALARS.map(str)), max_size=4))
    return user, sidecar, {k: v.replace("\x00", "") for k, v in environ.items()}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_hostile_inputs())
def test_hostile_files_and_environments_raise_only_config_errors(inputs: tuple[str, str, dict[str, str]]) -> None:
    user, sidecar, environ = inputs
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "models").mkdir()
        (root / "loras").mkdir()
        write_stub_safetensors(root / "models" / "M.safetensors")
        write_stub_safetensors(root / "loras" / "L.safetensors")
        (root / "user.toml").write_text(user, encoding="utf-8", errors="surrogatepass")
        (root / "models" / "M.modelprofile.json").write_text(sidecar, encoding="utf-8", errors="surrogatepass")
        (root / "loras" / "L.civitai.info").write_text(sidecar, encoding="utf-8", errors="surrogatepass")
        builder = ConfigBuilder(
            model_dirs=[root / "models"],
            lora_dirs=[root / "loras"],
            user_file=root / "user.toml",
            environ=environ,
            profile_dirs=[],
        )
        for kwargs in ({}, {"model": "M", "loras": ["L"]}):
            with contextlib.suppress(ConfigError):  # anything else fails the test
                builder.build(**kwargs)  # type: ignore[arg-type]
