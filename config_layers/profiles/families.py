"""Base model types and the architecture families that decide whether a LoRA can load."""

from __future__ import annotations

from typing import Final, Literal, get_args

BaseType = Literal["sd15", "sd2", "sdxl", "pony", "illustrious", "noobai", "flux", "sd3", "unknown"]
BASE_TYPES: Final[tuple[BaseType, ...]] = get_args(BaseType)
Family = Literal["sd15", "sd2", "sdxl", "flux", "sd3", "unknown"]

_FAMILY: dict[str, Family] = {
    "sd15": "sd15",
    "sd2": "sd2",
    "sdxl": "sdxl",
    "pony": "sdxl",
    "illustrious": "sdxl",
    "noobai": "sdxl",
    "flux": "flux",
    "sd3": "sd3",
    "unknown": "unknown",
}


def base_type_family(base_type: str) -> Family:
    """The architecture family of a base type: Pony, Illustrious and NoobAI are SDXL finetunes.

    Raises ValueError for a name that is not one of BASE_TYPES (a caller's bug: every model
    and reader here only produces those).
    """
    try:
        return _FAMILY[base_type]
    except KeyError:
        raise ValueError(f"unknown base type {base_type!r}; expected one of {', '.join(BASE_TYPES)}") from None


Compatibility = Literal["same", "finetune", "incompatible", "unknown"]


def lora_compatibility(lora_base_type: str, model_base_type: str) -> Compatibility:
    """Can a LoRA trained on ``lora_base_type`` load on a ``model_base_type`` checkpoint?

    ``incompatible``: another architecture family (the weights cannot load);
    ``finetune``: same family, different finetune (loads, may look off);
    ``unknown``: one side does not say.
    """
    lora_family, model_family = base_type_family(lora_base_type), base_type_family(model_base_type)
    if "unknown" in (lora_family, model_family):
        return "unknown"
    if lora_family != model_family:
        return "incompatible"
    return "same" if lora_base_type == model_base_type else "finetune"
