"""Golden builds: the JSON (provenance included) of several builds over the shipped examples,
compared byte for byte with ``tests/golden/builds.json``. Refactors must leave it unchanged.

A change that alters what a build returns on purpose regenerates the file, and the diff is
reviewed with the change:

    python tests/test_golden.py --regenerate

Paths are written relative (``<repo>/...`` for this checkout, ``<tmp>/...`` for the test's
own files), so the file does not depend on the machine.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden" / "builds.json"

USER_TOML = """\
# A user file for the golden builds.
negative_prompt = "blurry, lowres"

[txt2img]
steps = 32
sampler_name = "DPM++ 2M Karras"

[loras.PerfectEyesXL]
weight = 0.65

[webui]
password = "hunter2"
"""

ENV = {
    "STABLENEW_TXT2IMG__SEED": "7",
    "STABLENEW_HIRES__ENABLED": "true",
    "STABLENEW_TXT2IMG__CFG_SCALE": "6.499999999999998",
}

#: name -> (builder options, build options)
BUILDS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "sdxl_two_loras_user_env": ({}, {"model": "RealVisXL_V4.0", "loras": ["PerfectEyesXL", "add-detail-xl"]}),
    "sd15_json_sidecar_preset": (
        {"lenient": True},
        {"model": "dreamshaper_8.safetensors [abcdef1234]", "loras": ["film_grain"], "preset_id": "ds8_default"},
    ),
    "derived_stack_hires": ({}, {"model": "RealVisXL_V4.0", "lora_stack": "western_dusk", "stage": "hires"}),
    "lenient_missing_and_cross_family": (
        {"lenient": True},
        {"model": "RealVisXL_V4.0", "loras": ["epi_noiseoffset2", "no_such_lora"]},
    ),
    "no_profile_model_overrides": (
        {},
        {"model": "plainModel", "overrides": {"txt2img.steps": 12, "loras": {"dusty_light": {"weight": 0.3}}}},
    ),
    "no_model": ({}, {}),
}


def golden_builds(tmp: Path) -> str:
    """Every golden build as one JSON text, paths made relative."""
    from config_layers import ConfigBuilder
    from config_layers.output.dumps import to_json

    models = REPO / "examples" / "models"
    user = tmp / "user.toml"
    user.write_text(USER_TOML, encoding="utf-8")
    out: dict[str, Any] = {}
    for name, (options, build) in BUILDS.items():
        settings: dict[str, Any] = {
            "model_dirs": [models / "Stable-diffusion"],
            "lora_dirs": [models / "Lora"],
            "profile_dirs": [REPO / "profiles"],
            "user_file": user,
            "environ": ENV,
            **options,
        }
        out[name] = json.loads(to_json(ConfigBuilder(**settings).build(**build)))
    text = json.dumps(out, indent=1, ensure_ascii=False) + "\n"
    return text.replace(str(tmp), "<tmp>").replace(str(REPO), "<repo>")


def test_builds_match_the_golden_file(tmp_path: Path) -> None:
    produced = golden_builds(tmp_path)
    assert "hunter2" not in produced
    expected = GOLDEN.read_text(encoding="utf-8")
    assert produced == expected, "builds changed; if on purpose: python tests/test_golden.py --regenerate"


if __name__ == "__main__" and sys.argv[1:] == ["--regenerate"]:
    import tempfile

    sys.path.insert(0, str(REPO))
    with tempfile.TemporaryDirectory() as folder:
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(golden_builds(Path(folder)), encoding="utf-8")
    print(f"wrote {GOLDEN}")
