"""The validated result: ``PipelineConfig``, StableNew's pipeline settings.

Every model is strict and closed: an unknown key is an error (with a did-you-mean), a
string is never coerced into a number, and the bounds catch real mistakes (steps 0, a
width that is not a multiple of 8, a LoRA weight of 60 meant as 0.6).

Prompts live at the top level (``prompt``, ``negative_prompt``) because every stage of
StableNew's pipeline renders the same prompt; per-stage settings live in stage tables. The
payload prompt is composed from parts (``config_layers.prompts``): ``prompt`` is the subject.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from config_layers.bounds import unsafe_character
from config_layers.errors import PayloadError

if TYPE_CHECKING:
    from config_layers.provenance.report import BuildReport, FieldProvenance, Provenance


def _no_control_characters(value: str) -> str:
    # Control characters in a config string are never intended and can spoof terminal output.
    bad = unsafe_character(value, free_text=True)
    if bad:
        raise ValueError(f"contains the control character {bad}")
    return value


def _single_line_name(value: str) -> str:
    bad = unsafe_character(value)
    if bad:
        raise ValueError(f"contains the control character {bad}")
    return value


Text = Annotated[str, AfterValidator(_no_control_characters), Field(max_length=10_000)]
Name = Annotated[str, AfterValidator(_single_line_name), Field(min_length=1, max_length=500)]
#: A LoRA name ends up inside ``<lora:NAME:weight>`` in a prompt, so it may not hold ``<>:``.
LoraName = Annotated[
    str,
    AfterValidator(_no_control_characters),
    Field(min_length=1, max_length=200, pattern=r"^[^<>:]+$"),
]
Dimension = Annotated[int, Field(ge=64, le=8192, multiple_of=8)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
LoraWeight = Annotated[float, Field(ge=-5.0, le=5.0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, validate_assignment=True, defer_build=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # repr/str must not show a URL's password (webui.url = "http://user:pw@host").
        from config_layers.provenance.redaction import redact_text

        for name, value in super().__repr_args__():
            yield name, redact_text(value) if isinstance(value, str) else value


class Txt2ImgStage(_Section):
    """The first pass. Field names follow the AUTOMATIC1111 txt2img payload."""

    sampler_name: Name = "Euler a"
    scheduler: Name = "Normal"
    steps: int = Field(20, ge=1, le=500)
    cfg_scale: float = Field(7.0, gt=0.0, le=50.0)
    distilled_cfg_scale: float = Field(3.5, gt=0.0, le=50.0, description="Forge, Flux models")
    width: Dimension = 512
    height: Dimension = 512
    seed: int = Field(-1, ge=-1, le=2**32 - 1, description="-1 picks a random seed")
    clip_skip: int = Field(2, ge=1, le=12)
    batch_size: int = Field(1, ge=1, le=64)
    n_iter: int = Field(1, ge=1, le=1000)


class HiresStage(_Section):
    """The hires-fix second pass of txt2img."""

    enabled: bool = False
    scale: float = Field(2.0, ge=1.0, le=8.0)
    upscaler: Name = "Latent"
    denoising_strength: Fraction = 0.7
    second_pass_steps: int = Field(0, ge=0, le=500, description="0 reuses txt2img steps")
    # Unset (None) fields are not sent: the WebUI then reuses the first pass's choice.
    sampler_name: Name | None = None
    scheduler: Name | None = None
    prompt: Text | None = None
    negative_prompt: Text | None = None
    resize_x: Dimension | None = Field(None, description="target width; wins over scale")
    resize_y: Dimension | None = Field(None, description="target height; wins over scale")
    checkpoint: Name | None = None
    cfg: float | None = Field(None, gt=0.0, le=50.0, description="Forge only")
    distilled_cfg: float | None = Field(None, gt=0.0, le=50.0, description="Forge only, Flux models")
    additional_modules: list[Name] | None = Field(
        None, max_length=50, description='Forge only; unset sends ["Use same choices"]'
    )


class RefinerStage(_Section):
    """The SDXL refiner hand-over."""

    enabled: bool = False
    checkpoint: Text = ""
    switch_at: Fraction = 0.8


class Img2ImgStage(_Section):
    denoising_strength: Fraction = 0.3


class ADetailerStage(_Section):
    """The ADetailer extension's face/hand repair pass."""

    enabled: bool = False
    model: Name = "face_yolov8n.pt"
    confidence: Fraction = 0.3
    denoising_strength: Fraction = 0.4


class UpscaleStage(_Section):
    """The final extras upscale."""

    enabled: bool = False
    upscaler: Name = "R-ESRGAN 4x+"
    scale: float = Field(2.0, ge=1.0, le=8.0)


class LoraSettings(_Section):
    """One LoRA in the pipeline; ``weight`` is the strength in ``<lora:name:weight>``.

    ``path`` is the resolved LoRA file (None when a lenient build could not find it);
    ``trigger`` is added to the prompt by ``to_webui_payload``.
    """

    weight: LoraWeight
    path: Text | None = None
    trigger: Text | None = None


WebUIFlavor = Literal["a1111", "forge"]


class WebUIConnection(_Section):
    """How the controller reaches the WebUI. The password is redacted in every dump.

    ``flavor`` picks the payload keys: ``a1111`` (AUTOMATIC1111) or ``forge``."""

    url: Text = "http://127.0.0.1:7860"
    flavor: WebUIFlavor = "a1111"
    username: Text = ""
    password: SecretStr = SecretStr("")


class PipelineConfig(_Section):
    """One validated pipeline configuration that remembers where every field came from.

    ``provenance`` maps each leaf path (``"txt2img.cfg_scale"``) to its winning value, layer,
    source and position, with the chain of earlier assignments; ``explain(key)`` renders it.
    """

    model: Name | None = None
    vae: Name = "Automatic"
    prompt: Text = Field("", description="the subject; the payload prompt is composed around it")
    negative_prompt: Text = ""
    quality_prompt: Text = Field("", description="quality tags, first in the composed prompt")
    style_prompt: Text = Field("", description="style, after the subject; dropped first when over budget")
    quality_negative: Text = Field("", description="quality tags of the negative, before negative_prompt")
    prompt_budget: int = Field(0, ge=0, le=10_000, description="tokens; 0: none (the family's limits still apply)")
    txt2img: Txt2ImgStage = Field(default_factory=Txt2ImgStage)
    hires: HiresStage = Field(default_factory=HiresStage)
    refiner: RefinerStage = Field(default_factory=RefinerStage)
    img2img: Img2ImgStage = Field(default_factory=Img2ImgStage)
    adetailer: ADetailerStage = Field(default_factory=ADetailerStage)
    upscale: UpscaleStage = Field(default_factory=UpscaleStage)
    loras: dict[LoraName, LoraSettings] = Field(default_factory=dict)
    webui: WebUIConnection = Field(default_factory=WebUIConnection)

    _report: BuildReport | None = PrivateAttr(default=None)

    @property
    def report(self) -> BuildReport:
        """The build's layers, provenance and warnings (set by the builder)."""
        if self._report is None:
            raise AttributeError("this PipelineConfig was not made by ConfigBuilder.build()")
        return self._report

    @property
    def provenance(self) -> Provenance:
        return self.report.provenance

    @property
    def warnings(self) -> list[str]:
        return self.report.warnings

    def explain(self, key: str) -> str:
        """A person-readable account of ``key`` (a leaf or a table such as ``loras``): its winner,
        the chain it overrode, and the notes of the layers involved (profile candidates
        considered, how the preset was chosen). ``prompt`` and ``negative_prompt`` add the
        composed text, each part with its source and token count."""
        if key in ("prompt", "negative_prompt"):
            from config_layers.prompts import explain_prompt

            return explain_prompt(self, key)
        return self.report.explain(key)

    def field_provenance(self, key: str) -> FieldProvenance:
        return self.report.provenance[key]

    @property
    def lora_paths(self) -> list[str]:
        """Resolved LoRA file paths, parallel to ``lora_scales`` (renderers that take arrays)."""
        return [path for path, _ in self._lora_arrays()]

    @property
    def lora_scales(self) -> list[float]:
        """LoRA weights, parallel to ``lora_paths``."""
        return [scale for _, scale in self._lora_arrays()]

    def _lora_arrays(self) -> list[tuple[str, float]]:
        pairs = []
        for name, lora in self.loras.items():
            if lora.path is None:
                # Parallel arrays must stay aligned: a LoRA without a file cannot be left out.
                raise PayloadError(f"LoRA {name!r} has no resolved file, so lora_paths cannot be built")
            pairs.append((lora.path, lora.weight))
        return pairs

    def to_webui_payload(
        self, stage: str | None = None, *, triggers: bool = True, flavor: WebUIFlavor | None = None
    ) -> dict[str, Any]:
        """The ``/sdapi/v1/<stage>`` payload (``txt2img`` or ``img2img``; default: the stage this
        config was built for) for the WebUI ``flavor`` (default: ``webui.flavor``), with
        ``<lora:name:weight>`` tokens and (when ``triggers``) trigger words in the prompt."""
        from config_layers.output.payload import webui_payload

        return webui_payload(self, stage, triggers=triggers, flavor=flavor)


#: Leaf paths that hold credentials: their values are redacted in every dump.
SECRET_LEAVES = frozenset({("webui", "password")})


def schema_defaults() -> dict[str, Any]:
    """The schema's default config as plain data (secrets unwrapped)."""
    data = PipelineConfig().model_dump()
    data["webui"]["password"] = ""
    return data


def iter_leaves(data: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Every leaf of nested plain data; an empty table counts as a leaf."""
    for key, value in data.items():
        path = (*prefix, key)
        if isinstance(value, Mapping) and value:
            yield from iter_leaves(value, path)
        else:
            yield path, value
