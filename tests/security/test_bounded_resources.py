"""The worst inputs of issue 8, run in a child process under an address-space limit and a time
limit: each must end in a ConfigError, not in MemoryError, RecursionError or a kill.

The limits are guards (a regression fails instead of taking the machine down), not timings:
speed is measured in benchmarks/bench_hostile.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

resource = pytest.importorskip("resource")

MEMORY_LIMIT = 1024 * 1024 * 1024  # address space: a build needs ~300 MB of it
TIME_LIMIT = 120  # seconds for all cases together (about 3 s when the bounds hold)

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
    from config_layers import ConfigBuilder, ConfigError
    root = Path(sys.argv[1])
    cases = {{
        "dotted_300k": "a." * 300_000 + "a = 1\\n",
        "arrays_24k": "a = " + "[" * 24_000 + "]" * 24_000 + "\\n",
        "inline_1k": "a = " + "{{b = " * 1_000 + "1" + "}}" * 1_000 + "\\n",
        "digits": "[txt2img]\\nsteps = " + "9" * 5_000 + "\\n",
        "unknown_16k": "[txt2img]\\n" + "".join(f"k_{{i}} = 1\\n" for i in range(16_000)),
        "empty_tables_16k": "".join(f"[txt2img.k_{{i}}]\\n" for i in range(16_000)),
        "loras_16k": "".join(f"[loras.l{{i}}]\\nweight = 0.5\\n" for i in range(16_000)),
        "spaces": 'model = "a' + " " * 200_000 + 'b"\\n',
    }}
    envs = {{
        "env_array": {{"STABLENEW_TXT2IMG__STEPS": "[" * 3_000 + "]" * 3_000}},
        "env_name": {{"STABLENEW_" + "__".join(["A"] * 1_500): "1"}},
        "env_unknown_16k": {{f"STABLENEW_TXT2IMG__E_{{i}}": "1" for i in range(16_000)}},
    }}
    out = {{}}
    for name, text in [*cases.items(), *((n, None) for n in envs)]:
        user = root / f"{{name}}.toml"
        if text is not None:
            user.write_text(text, encoding="utf-8")
        builder = ConfigBuilder(
            model_dirs=[root], lora_dirs=[root], profile_dirs=[],
            user_file=user if text is not None else None, environ=envs.get(name, {{}}),
        )
        try:
            builder.build()
            out[name] = "built"
        except ConfigError as exc:
            out[name] = "ConfigError: " + str(exc)[:80]
    # VmHWM is this program's own peak: ru_maxrss carries the parent's peak over fork and exec.
    status = Path("/proc/self/status")
    if status.exists():
        hwm = next(line for line in status.read_text().splitlines() if line.startswith("VmHWM:"))
        out["maxrss_mb"] = int(hwm.split()[1]) // 1024
    else:
        out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(out))
    """
)


def test_the_worst_inputs_end_in_config_errors_within_memory_and_time_limits(tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    done = subprocess.run(
        [sys.executable, "-c", CHILD.format(limit=MEMORY_LIMIT), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        cwd=Path(__file__).resolve().parents[2],
        env={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "home")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout)
    rss = results.pop("maxrss_mb")
    assert all(outcome.startswith("ConfigError") for outcome in results.values()), results
    assert rss < 200, f"peak RSS {rss} MB"
