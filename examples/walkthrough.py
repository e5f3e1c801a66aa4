"""A walk through the controller API on the example library.

python examples/walkthrough.py
"""

from __future__ import annotations

import logging
from pathlib import Path

from config_layers import ConfigBuilder, ConfigError

HERE = Path(__file__).resolve().parent
MODELS = HERE / "models"


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    builder = ConfigBuilder(
        model_dirs=[MODELS / "Stable-diffusion"],
        lora_dirs=[MODELS / "Lora"],
        user_file=HERE / "user.toml",
        environ={"STABLENEW_TXT2IMG__SEED": "42"},  # instead of the process environment
    )

    print("1. RealVisXL with two LoRAs: the profile's best preset, the user file, one env var")
    cfg = builder.build(model="RealVisXL_V4.0.safetensors [4e4b3ad5]", loras=["PerfectEyesXL", "add-detail-xl"])
    t = cfg.txt2img
    print(f"   {t.sampler_name} / {t.scheduler}, {t.steps} steps, CFG {t.cfg_scale}, {t.width}x{t.height}")
    for key in ("txt2img.steps", "txt2img.seed", "loras.PerfectEyesXL.weight", "loras.add-detail-xl.weight"):
        print("\n" + cfg.explain(key))

    print("\n2. The same model with the 'rvxl_fast' preset: PerfectEyesXL's pairing for it wins")
    cfg = builder.build(model="RealVisXL_V4.0", loras=["PerfectEyesXL"], preset_id="rvxl_fast")
    print(cfg.explain("loras.PerfectEyesXL.weight"))

    print("\n3. A checkpoint with no profile: defaults + user file + env, and where it looked")
    cfg = builder.build(model="plainModel")
    for layer in cfg.report.layers:
        for note in layer.notes:
            print(f"   {layer.name}: {note}")

    print("\n4. An SD 1.5 LoRA on an SDXL model is refused (or a warning in lenient mode)")
    try:
        builder.build(model="RealVisXL_V4.0", loras=["epi_noiseoffset2"])
    except ConfigError as error:
        print(f"   error: {error}")
    cfg = builder.build(model="RealVisXL_V4.0", loras=["epi_noiseoffset2"], lenient=True)
    print(f"   lenient warnings: {cfg.warnings}")

    print("\n5. A mistake in an override is located and explained")
    try:
        builder.build(model="RealVisXL_V4.0", overrides={"txt2img": {"cfg": 6}})
    except ConfigError as error:
        print(f"   {error}")


if __name__ == "__main__":
    main()
