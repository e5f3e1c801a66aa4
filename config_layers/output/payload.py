"""The AUTOMATIC1111 / Forge WebUI API payload for a built config."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from config_layers.errors import PayloadError

if TYPE_CHECKING:
    from config_layers.schema.config import HiresStage, PipelineConfig, WebUIFlavor

PAYLOAD_STAGES = ("txt2img", "img2img")
FLAVORS: tuple[WebUIFlavor, ...] = ("a1111", "forge")

#: hires field -> payload key, sent only when the field is set (None means "as the first pass").
_HIRES_OPTIONAL = (
    ("sampler_name", "hr_sampler_name"),
    ("scheduler", "hr_scheduler"),
    ("prompt", "hr_prompt"),
    ("negative_prompt", "hr_negative_prompt"),
    ("resize_x", "hr_resize_x"),
    ("resize_y", "hr_resize_y"),
    ("checkpoint", "hr_checkpoint_name"),
)
#: Forge-only hires fields -> payload keys.
_HIRES_FORGE = (("cfg", "hr_cfg"), ("distilled_cfg", "hr_distilled_cfg"))
#: Forge iterates hr_additional_modules without a None check; this value keeps the first pass's modules.
SAME_MODULES = ["Use same choices"]


def lora_token(name: str, weight: float) -> str:
    """``<lora:name:0.6>``; weights print without float noise (``1``, ``0.55``)."""
    return f"<lora:{name}:{round(weight, 4):g}>"


def webui_payload(
    config: PipelineConfig, stage: str | None = None, *, triggers: bool = True, flavor: WebUIFlavor | None = None
) -> dict[str, Any]:
    """The payload for ``stage`` (default: the stage the config was built for; another stage is
    an error, since its LoRAs were filtered for the built one) and ``flavor`` (default:
    ``webui.flavor``). Every key is one that flavor's endpoint accepts (``webui_fields.accepted_keys``);
    optional stages send their keys only when enabled, unset hires fields are not sent. An
    ``a1111`` payload for a config whose Forge-only fields differ from their defaults records
    a warning naming them (the WebUI would drop them silently)."""
    built = config._report.stage if config._report is not None else "txt2img"
    stage = stage or built
    flavor = flavor or config.webui.flavor
    if stage not in PAYLOAD_STAGES:
        raise PayloadError(f"no WebUI payload for stage {stage!r}; stages with one: {', '.join(PAYLOAD_STAGES)}")
    if stage != built:
        raise PayloadError(f"this config was built for stage {built!r}; build it with stage={stage!r} for that payload")
    if flavor not in FLAVORS:
        raise PayloadError(f"unknown WebUI flavor {flavor!r}; flavors: {', '.join(FLAVORS)}")
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
    if flavor == "forge":
        payload["distilled_cfg_scale"] = t.distilled_cfg_scale
    else:
        _warn_forge_only(config)
    if stage == "txt2img":
        payload["enable_hr"] = config.hires.enabled
        if config.hires.enabled:
            payload |= _hires_keys(config.hires, flavor)
    else:
        payload["denoising_strength"] = config.img2img.denoising_strength
    if config.refiner.enabled:
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


def _hires_keys(hires: HiresStage, flavor: WebUIFlavor) -> dict[str, Any]:
    keys: dict[str, Any] = {
        "hr_scale": hires.scale,
        "hr_upscaler": hires.upscaler,
        "hr_second_pass_steps": hires.second_pass_steps,
        "denoising_strength": hires.denoising_strength,
    }
    for field, key in _HIRES_OPTIONAL:
        if getattr(hires, field) is not None:
            keys[key] = getattr(hires, field)
    if flavor == "forge":
        keys["hr_additional_modules"] = list(hires.additional_modules or SAME_MODULES)
        for field, key in _HIRES_FORGE:
            if getattr(hires, field) is not None:
                keys[key] = getattr(hires, field)
    return keys


def forge_only_changes(config: PipelineConfig) -> list[str]:
    """The Forge-only fields of ``config`` set away from their schema defaults."""
    from config_layers.schema.config import HiresStage, Txt2ImgStage

    changed = []
    if config.txt2img.distilled_cfg_scale != Txt2ImgStage().distilled_cfg_scale:
        changed.append("txt2img.distilled_cfg_scale")
    defaults = HiresStage()
    for field in ("cfg", "distilled_cfg", "additional_modules"):
        if getattr(config.hires, field) != getattr(defaults, field):
            changed.append(f"hires.{field}")
    return changed


def _warn_forge_only(config: PipelineConfig) -> None:
    changed = forge_only_changes(config)
    if not changed or config._report is None:
        return
    message = (
        f"the a1111 payload leaves out Forge-only fields set in this config: {', '.join(changed)} "
        '(AUTOMATIC1111 ignores them; set webui.flavor = "forge" to send them)'
    )
    if message not in config._report.warnings:
        config._report.warnings.append(message)
