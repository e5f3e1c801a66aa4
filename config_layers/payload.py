"""The AUTOMATIC1111 / Forge WebUI API payload for a built config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from config_layers.schema import PipelineConfig

PAYLOAD_STAGES = ("txt2img", "img2img")


def lora_token(name: str, weight: float) -> str:
    """``<lora:name:0.6>``; weights print without float noise (``1``, ``0.55``)."""
    return f"<lora:{name}:{round(weight, 4):g}>"


def webui_payload(
    config: PipelineConfig, stage: str | None = None, *, triggers: bool = True, refiner: bool = False
) -> dict[str, Any]:
    """The payload for ``stage`` (default: the stage the config was built for; another stage is
    an error, since its LoRAs were filtered for the built one). Every key is one the
    ``webuiapi`` client sends. The refiner's keys (``refiner_checkpoint``, ``refiner_switch_at``,
    WebUI >= 1.6) are not: with the refiner enabled, pass ``refiner=True`` to include them."""
    built = config._report.stage if config._report is not None else "txt2img"
    stage = stage or built
    if stage not in PAYLOAD_STAGES:
        raise ValueError(f"no WebUI payload for stage {stage!r}; stages with one: {', '.join(PAYLOAD_STAGES)}")
    if stage != built:
        raise ValueError(f"this config was built for stage {built!r}; build it with stage={stage!r} for that payload")
    if config.refiner.enabled and not refiner:
        raise ValueError(
            "the refiner is enabled; its keys (refiner_checkpoint, refiner_switch_at) are not ones the webuiapi "
            "client sends: pass refiner=True to include them"
        )
    from config_layers.prompts import payload_prompts

    prompt, negative_prompt = payload_prompts(config, triggers=triggers)
    t = config.txt2img
    override_settings: dict[str, Any] = {"sd_vae": config.vae, "CLIP_stop_at_last_layers": t.clip_skip}
    if config.model:
        override_settings["sd_model_checkpoint"] = config.model
    payload: dict[str, Any] = {
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "sampler_name": t.sampler_name,
        "scheduler": t.scheduler,
        "steps": t.steps,
        "cfg_scale": t.cfg_scale,
        "width": t.width,
        "height": t.height,
        "seed": t.seed,
        "batch_size": t.batch_size,
        "n_iter": t.n_iter,
        "override_settings": override_settings,
        "alwayson_scripts": {},
    }
    if stage == "txt2img":
        hires = config.hires
        payload["enable_hr"] = hires.enabled
        if hires.enabled:
            payload |= {
                "hr_scale": hires.scale,
                "hr_upscaler": hires.upscaler,
                "hr_second_pass_steps": hires.second_pass_steps,
                "denoising_strength": hires.denoising_strength,
            }
    else:
        payload["denoising_strength"] = config.img2img.denoising_strength
    if config.refiner.enabled and refiner:
        payload["refiner_checkpoint"] = config.refiner.checkpoint
        payload["refiner_switch_at"] = config.refiner.switch_at
    if config.adetailer.enabled:
        ad = config.adetailer
        payload["alwayson_scripts"]["ADetailer"] = {
            "args": [
                True,
                {"ad_model": ad.model, "ad_confidence": ad.confidence, "ad_denoising_strength": ad.denoising_strength},
            ]
        }
    return payload
