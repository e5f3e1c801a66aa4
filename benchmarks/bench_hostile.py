"""Time and peak memory of builds over the worst inputs known (issue 8), each in a subprocess.

    python benchmarks/bench_hostile.py [--only NAME] [--limit-mb 3000] [--timeout 60]

Each case writes its files into a temporary folder and runs ``config-layers build`` (or
``scan``) in a child process under an address-space limit (so a regression cannot take the
machine down) and a wall-clock timeout. Prints, per case: wall time, peak RSS, exit status and
the first line of stderr. The promise: every case finishes in under 2 s with a peak RSS under
200 MB, or is refused with a clear error (exit 2, no traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # this checkout's package, not an installed one

from config_layers.bounds import MAX_TABLE_KEYS as AT_BOUND  # noqa: E402
from tests.safetensors_files import write_stub_safetensors as _stub  # noqa: E402

Case = Callable[[Path], tuple[list[str], dict[str, str]]]


def _library(root: Path) -> list[str]:
    (root / "models").mkdir(exist_ok=True)
    (root / "loras").mkdir(exist_ok=True)
    _stub(root / "models" / "m.safetensors")
    return ["--models-dir", str(root / "models"), "--loras-dir", str(root / "loras"), "--profiles-dir", str(root)]


def _user(root: Path, text: str) -> list[str]:
    path = root / "user.toml"
    path.write_text(text, encoding="utf-8")
    return ["build", *_library(root), "--user-file", str(path)]


def dotted_300k(root: Path) -> tuple[list[str], dict[str, str]]:
    return _user(root, "a." * 300_000 + "a = 1\n"), {}


def arrays_24k(root: Path) -> tuple[list[str], dict[str, str]]:
    return _user(root, "a = " + "[" * 24_000 + "]" * 24_000 + "\n"), {}


def inline_tables_1k(root: Path) -> tuple[list[str], dict[str, str]]:
    return _user(root, "a = " + "{b = " * 1_000 + "1" + "}" * 1_000 + "\n"), {}


def headers_deep(root: Path) -> tuple[list[str], dict[str, str]]:
    return _user(root, "[" + "a." * 20_000 + "a]\nb = 1\n"), {}


def lora_sidecar_dotted(root: Path) -> tuple[list[str], dict[str, str]]:
    args = _library(root)
    _stub(root / "loras" / "L.safetensors")
    (root / "loras" / "L.loraprofile.toml").write_text("x." * 11_500 + "x = 1\n", encoding="utf-8")
    return ["build", *args, "--lora", "L"], {}


def json_sidecar_deep(root: Path) -> tuple[list[str], dict[str, str]]:
    args = _library(root)
    (root / "models" / "m.modelprofile.json").write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    return ["build", *args, "--model", "m"], {}


def env_array_3k(root: Path) -> tuple[list[str], dict[str, str]]:
    return ["build", *_library(root)], {"STABLENEW_TXT2IMG__STEPS": "[" * 3_000 + "]" * 3_000}


def env_name_1500(root: Path) -> tuple[list[str], dict[str, str]]:
    return ["build", *_library(root)], {"STABLENEW_" + "__".join(["A"] * 1_500): "1"}


def env_table_then_key(root: Path) -> tuple[list[str], dict[str, str]]:
    return ["build", *_library(root)], {"STABLENEW_TXT2IMG": "{steps=3}", "STABLENEW_TXT2IMG__STEPS": "4"}


def int_5000_user(root: Path) -> tuple[list[str], dict[str, str]]:
    return _user(root, "[txt2img]\nsteps = " + "9" * 5_000 + "\n"), {}


def int_5000_env(root: Path) -> tuple[list[str], dict[str, str]]:
    return ["build", *_library(root)], {"STABLENEW_TXT2IMG__STEPS": "9" * 5_000}


def int_5000_set(root: Path) -> tuple[list[str], dict[str, str]]:
    return ["build", *_library(root), "--set", "txt2img.steps=" + "9" * 5_000], {}


def spaces_model(root: Path) -> tuple[list[str], dict[str, str]]:
    return _user(root, 'model = "a' + " " * 200_000 + 'b"\n[refiner]\ncheckpoint = "c' + " " * 200_000 + 'd"\n'), {}


def spaces_civitai(root: Path) -> tuple[list[str], dict[str, str]]:
    args = _library(root)
    info = {"baseModel": "SDXL 1.0", "files": [{"name": "x" + " " * 200_000 + "y", "type": "Model"}]}
    (root / "models" / "m.civitai.info").write_text(json.dumps(info), encoding="utf-8")
    return ["build", *args, "--model", "m"], {}


def unknown_keys_16k(root: Path) -> tuple[list[str], dict[str, str]]:
    return _user(root, "[txt2img]\n" + "".join(f"k_{i} = 1\n" for i in range(16_000))), {}


def empty_tables_16k(root: Path) -> tuple[list[str], dict[str, str]]:
    return _user(root, "".join(f"[txt2img.k_{i}]\n" for i in range(16_000))), {}


def unknown_keys_user_and_env(root: Path) -> tuple[list[str], dict[str, str]]:
    args = _user(root, "[txt2img]\n" + "".join(f"k_{i} = 1\n" for i in range(16_000)))
    return args, {f"STABLENEW_TXT2IMG__E_{i}": "1" for i in range(16_000)}


def stack_8000(root: Path) -> tuple[list[str], dict[str, str]]:
    args = _library(root)
    lines = []
    for i in range(8_000):
        _stub(root / "loras" / f"l{i}.safetensors")
        lines.append(
            f'[[loras]]\nname = "l{i}"\nfile = "l{i}.safetensors"\nscale = 0.5\napplies_to = ["txt2img", "hires"]\n'
        )
    (root / "loras" / "big.lorastack.toml").write_text("".join(lines), encoding="utf-8")
    return ["build", *args, "--stack", "big"], {}


def user_loras_16k(root: Path) -> tuple[list[str], dict[str, str]]:
    return _user(root, "".join(f"[loras.l{i}]\nweight = 0.5\n" for i in range(16_000))), {}


def at_bound_loras(root: Path) -> tuple[list[str], dict[str, str]]:
    return _user(root, "".join(f"[loras.l{i}]\nweight = 0.5\n" for i in range(AT_BOUND))), {}


def at_bound_keys_user_and_env(root: Path) -> tuple[list[str], dict[str, str]]:
    args = _user(root, "[txt2img]\n" + "".join(f"k_{i} = 1\n" for i in range(AT_BOUND)))
    return args, {f"STABLENEW_TXT2IMG__E_{i}": "1" for i in range(AT_BOUND)}


def at_bound_stack(root: Path) -> tuple[list[str], dict[str, str]]:
    args = _library(root)
    lines = []
    for i in range(AT_BOUND):
        _stub(root / "loras" / f"l{i}.safetensors")
        lines.append(f'[[loras]]\nname = "l{i}"\nfile = "l{i}.safetensors"\nscale = 0.5\napplies_to = ["txt2img"]\n')
    (root / "loras" / "big.lorastack.toml").write_text("".join(lines), encoding="utf-8")
    return ["build", *args, "--stack", "big", "--format", "json"], {}


def at_bound_1mib_arrays(root: Path) -> tuple[list[str], dict[str, str]]:
    return _user(root, "prompt = 'x'\nk = [" + "[]," * 340_000 + "]\n"), {}


def at_bound_1mib_keys(root: Path) -> tuple[list[str], dict[str, str]]:
    return _user(root, "".join(f"[t{i}]\na.b = 1.5\n" for i in range(60_000))), {}


CASES: dict[str, Case] = {
    name: case
    for name, case in globals().items()
    if callable(case) and not name.startswith("_") and name[0].islower() and name not in ("main",)
}


def run(name: str, case: Case, limit_mb: int, timeout: float) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        args, env = case(root)
        environ = {k: v for k, v in os.environ.items() if not k.startswith("STABLENEW_")}
        environ.update(env)
        environ["XDG_CONFIG_HOME"] = str(root / "config")
        environ["XDG_CACHE_HOME"] = str(root / "cache")
        limit = limit_mb * 1024 * 1024

        def limits() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        code = f"import resource, runpy, sys; sys.argv = ['config-layers', *{args!r}]\n"
        code += "try:\n    runpy.run_module('config_layers', run_name='__main__')\n"
        # VmHWM is the child's own peak (kB); ru_maxrss would carry this script's peak over fork and exec.
        code += "finally:\n    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
        code += "    print('MAXRSS', hwm[0].split()[1] if hwm else -1024, file=sys.stderr)\n"
        start = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-c", code],
                env=environ,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=timeout,
                preexec_fn=limits,
            )
        except subprocess.TimeoutExpired:
            print(f"{name:28} TIMEOUT after {timeout:.0f} s")
            return
        elapsed = time.perf_counter() - start
        lines = done.stderr.strip().splitlines()
        rss = next((int(line.split()[1]) // 1024 for line in lines if line.startswith("MAXRSS")), -1)
        message = next((line for line in lines if not line.startswith("MAXRSS")), "")
        traceback = "Traceback" in done.stderr
        print(
            f"{name:28} {elapsed:6.2f} s  {rss:5d} MB  exit {done.returncode}"
            f"{'  TRACEBACK' if traceback else ''}  {message[:110]}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", help="run only this case (repeatable)")
    parser.add_argument("--limit-mb", type=int, default=3000, help="address-space limit of each child")
    parser.add_argument("--timeout", type=float, default=60.0)
    options = parser.parse_args()
    for name, case in CASES.items():
        if options.only and name not in options.only:
            continue
        run(name, case, options.limit_mb, options.timeout)


if __name__ == "__main__":
    main()
