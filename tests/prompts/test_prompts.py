"""Prompts composed from parts: order, dedupe, provenance, CLIP counts, A1111 chunks, budgets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from config_layers.cli import app
from config_layers.errors import ConfigError, FileError
from config_layers.prompts import prompt_report, render_report, split_phrases, tokenizer
from config_layers.prompts.a1111 import parse_attention
from config_layers.prompts.compose import Composed, Part, compose, dedupe
from config_layers.prompts.tokenizer import ClipTokenizer, EstimateTokenizer, get_tokenizer
from config_layers.schema.config import PipelineConfig
from tests.conftest import MODEL_TOML, Library, write_stub_safetensors

CLIP = get_tokenizer()
#: Exact counts need the CLIP tokenizer (a dependency, but without wheels on some platforms).
needs_clip = pytest.mark.skipif(not CLIP.exact, reason="instant-clip-tokenizer is not installed here")


def counted(text: str, *, chunked: bool = True, backtrack: int = 20) -> Composed:
    return compose([Part("prompt", "subject", text)], CLIP, chunked=chunked, backtrack=backtrack)


def words(n: int, word: str = "cat") -> str:
    """``n`` one-token words ("cat" is CLIP token 2368)."""
    return " ".join([word] * n)


# -- counting ------------------------------------------------------------------------------


@needs_clip
def test_token_ids_match_openai_reference_tokenizer() -> None:
    # Ids produced by OpenAI's CLIP simple_tokenizer (bpe_simple_vocab_16e6) for the same text.
    assert CLIP.encode("a photo of a cat, dramatic lighting") == [320, 1125, 539, 320, 2368, 267, 11240, 5799]
    assert CLIP.encode("A person riding a motorcycle") == [320, 2533, 6765, 320, 10297]
    assert len(CLIP.encode("score_9, score_8_up, score_7_up, source_anime")) == 19
    assert len(CLIP.encode("café, naïve, 日本語, emoji 😀")) == 13


@needs_clip
def test_known_counts() -> None:
    assert counted("a photo of a cat, dramatic lighting").tokens == 8
    # Emphasis syntax is not tokenized: "(word:1.2)" costs what "word" costs, not the 7 tokens of its text.
    assert len(CLIP.encode("(word:1.2)")) == 7
    assert counted("(word:1.2)").tokens == counted("word").tokens == 1
    assert counted("a ((cat)) [dog]").tokens == 3
    # Extra-network tags cost nothing.
    assert counted("<lora:PerfectEyesXL:0.6>").tokens == 0
    assert counted("a cat <lora:x:1> <lyco:y:0.5> <hypernet:z:1>").tokens == 2
    # An escaped bracket is a literal character and is counted.
    assert counted(r"\(cat\)").tokens == 3


@needs_clip
def test_break_starts_a_new_chunk() -> None:
    result = counted("a cat BREAK a dog").chunked
    assert [len(chunk) for chunk in result.chunks] == [2, 2]
    assert result.count == 75 + 2  # the WebUI counts the chunk BREAK closed as full
    assert result.ends == ["BREAK", "end"]
    # Inside brackets or in lower case it is just a word.
    assert len(counted("a cat (BREAK) a dog").chunked.chunks) == 1
    assert len(counted("a cat break a dog").chunked.chunks) == 1


@needs_clip
def test_a_76_token_prompt_takes_two_chunks() -> None:
    result = counted(words(76)).chunked
    assert [len(chunk) for chunk in result.chunks] == [75, 1]
    assert result.count == 76
    assert [len(chunk) for chunk in counted(words(75)).chunked.chunks] == [75]


@needs_clip
def test_comma_backtrack_moves_a_cut_phrase_to_the_next_chunk() -> None:
    text = f"{words(70)}, {words(10, 'dog')}"  # 70 + comma + 10 = 81 tokens
    moved = counted(text).chunked
    assert [len(chunk) for chunk in moved.chunks] == [71, 10]  # the comma ends chunk 1
    assert moved.count == 75 + 10
    assert moved.ends[0] == "comma"
    plain = counted(text, backtrack=0).chunked
    assert [len(chunk) for chunk in plain.chunks] == [75, 6]
    # A comma more than 20 tokens back is too far: the phrase is cut.
    far = counted(f"{words(50)}, {words(40, 'dog')}").chunked
    assert [len(chunk) for chunk in far.chunks] == [75, 16]
    assert far.ends[0] == "full"


def test_emphasis_parser_follows_the_webui() -> None:
    parsed = [
        (s.text, round(s.weight, 4)) for s in parse_attention("a (((house:1.3)) [on] a (hill:0.5), sun, (((sky))).")
    ]
    assert parsed == [
        ("a ", 1.0),
        ("house", 1.573),
        (" ", 1.1),
        ("on", 1.0),
        (" a ", 1.1),
        ("hill", 0.55),
        (", sun, ", 1.1),
        ("sky", 1.4641),
        (".", 1.1),
    ]
    assert [(s.text, s.weight) for s in parse_attention(r"\(literal\]")] == [("(literal]", 1.0)]
    assert [(s.text, round(s.weight, 2)) for s in parse_attention("(unbalanced")] == [("unbalanced", 1.1)]


# -- composition ---------------------------------------------------------------------------

STACK = """\
style_prompt = "oil painting, Masterpiece"
loras = [
{ name = "film_grain", file = "film_grain.safetensors", scale = 0.8, applies_to = ["txt2img"], trigger = "film grain" }
]
"""

PROMPT_MODEL = MODEL_TOML.replace(
    "resolution = [1024, 1024]\n", 'resolution = [1024, 1024]\nquality_prompt = "masterpiece, best quality"\n'
)


@pytest.fixture
def prompts(library: Library) -> Library:
    library.model("RealVisXL_V4.0", PROMPT_MODEL)
    write_stub_safetensors(library.loras / "film_grain.safetensors")
    (library.loras / "look.lorastack.toml").write_text(STACK, encoding="utf-8")
    return library


def test_composition_order_dedupe_and_break(prompts: Library) -> None:
    user = prompts.file("user.toml", 'prompt = "a cowboy, BEST QUALITY, BREAK, sunset"\n')
    cfg = prompts.builder(user_file=user).build(model="RealVisXL_V4.0", lora_stack="look")
    payload = cfg.to_webui_payload()
    # quality, trigger, subject, style, LoRA tags; "BEST QUALITY" and "Masterpiece" were already there.
    assert payload["prompt"] == (
        "masterpiece, best quality, film grain, a cowboy, BREAK, sunset, oil painting, <lora:film_grain:0.8>"
    )
    report = prompt_report(cfg)
    subject = next(c.part for c in report.prompt.parts if c.part.key == "prompt")
    assert subject.duplicates == ("BEST QUALITY (already in quality)",)
    style = next(c.part for c in report.prompt.parts if c.part.key == "style_prompt")
    assert style.duplicates == ("Masterpiece (already in quality)",)
    assert dedupe([Part("a", "a", "x, BREAK, y"), Part("b", "b", "BREAK, X")])[1].text == "BREAK"


def test_negative_is_quality_negative_then_negative_prompt(prompts: Library) -> None:
    cfg = prompts.builder().build(
        overrides={"quality_negative": "worst quality, blurry", "negative_prompt": "Blurry, text"}
    )
    assert cfg.to_webui_payload()["negative_prompt"] == "worst quality, blurry, text"
    text = cfg.explain("negative_prompt")
    assert text.startswith("negative_prompt = 'Blurry, text'") and "composed negative_prompt (" in text
    assert "removed duplicate: Blurry (already in quality negative)" in text


@needs_clip
def test_each_part_has_its_provenance(prompts: Library) -> None:
    user = prompts.file("user.toml", '\nprompt = "a cowboy"\n')
    cfg = prompts.builder(user_file=user).build(model="RealVisXL_V4.0", lora_stack="look")
    assert cfg.provenance["quality_prompt"].layer == "model_profile"
    assert cfg.provenance["quality_prompt"].source.endswith("RealVisXL_V4.0.modelprofile.toml#rvxl_photoreal_default")
    assert (
        cfg.provenance["quality_prompt"].line
        == PROMPT_MODEL.splitlines().index('quality_prompt = "masterpiece, best quality"') + 1
    )
    style = cfg.provenance["style_prompt"]
    assert (style.layer, Path(style.source).name, style.line) == ("lora_overlays", "look.lorastack.toml", 1)
    assert (cfg.provenance["prompt"].layer, cfg.provenance["prompt"].line) == ("user_file", 2)
    rows = {c.part.key: c for c in prompt_report(cfg).prompt.parts}
    assert rows["loras.film_grain.trigger"].part.origin is not None
    assert rows["loras.film_grain.trigger"].part.origin.layer == "lora_overlays"
    assert (rows["quality_prompt"].tokens, rows["loras.film_grain.trigger"].tokens, rows["prompt"].tokens) == (4, 2, 2)

    text = cfg.explain("prompt")
    assert text.startswith("prompt = 'a cowboy'\n  from  user_file, ")
    assert "composed prompt (CLIP BPE" in text
    assert "masterpiece, best quality, film grain, a cowboy, oil painting, <lora:film_grain:0.8>" in text
    quality_row = next(line for line in text.splitlines() if " quality " in line and "model_profile" in line)
    assert quality_row.split()[:3] == ["4", "1", "quality"]
    assert "look.lorastack.toml:1:1" in next(line for line in text.splitlines() if " style " in line)
    assert "within budget" in text


def test_stack_prompt_settings_are_inherited_and_overridden(prompts: Library) -> None:
    (prompts.loras / "dusk.lorastack.toml").write_text('extends = "look"\nstyle_prompt = "dusk"\n', encoding="utf-8")
    cfg = prompts.builder().build(lora_stack="dusk")
    entry = cfg.provenance["style_prompt"]
    assert (entry.value, Path(entry.source).name) == ("dusk", "dusk.lorastack.toml")
    assert [Path(c.origin.source).name for c in entry.chain] == ["settings.toml", "look.lorastack.toml"]
    (prompts.loras / "bad.lorastack.toml").write_text('style = "x"\n', encoding="utf-8")
    with pytest.raises(FileError, match=r"bad.lorastack.toml:1:1: style: unknown key;.*style_prompt"):
        prompts.builder().build(lora_stack="bad")


def test_bad_prompt_settings_name_file_key_and_line(prompts: Library) -> None:
    prompts.model("bad", PROMPT_MODEL.replace('quality_prompt = "masterpiece, best quality"', 'prompt_budget = "x"'))
    with pytest.raises(
        FileError, match=r"bad.modelprofile.toml:\d+:1: recommended_presets\[1\].prompt_budget: must be"
    ):
        prompts.builder().build(model="bad")
    (prompts.loras / "s.lorastack.toml").write_text("loras = []\nstyle_prompt = 5\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"style_prompt = 5 \(lora_overlays, .*s.lorastack.toml:2:1\): must be a string"
    ):
        prompts.builder().build(lora_stack="s")
    user = prompts.file("user.toml", "prompt_budget = -1\n")
    with pytest.raises(ConfigError, match=r"prompt_budget = -1 \(user_file, .*user.toml:1:1\): must be >= 0"):
        prompts.builder(user_file=user).build()


def test_the_shipped_pony_profile_brings_its_score_tags(library: Library) -> None:
    library.model("ponyDiffusionV6XL")
    cfg = library.builder(profile_dirs=None).build(model="ponyDiffusionV6XL")
    assert cfg.quality_prompt.startswith("score_9, score_8_up")
    assert cfg.provenance["quality_prompt"].source.endswith("ponyDiffusionV6XL.modelprofile.toml#pony_v6_author")


# -- budgets -------------------------------------------------------------------------------


@needs_clip
def test_a_trigger_straddling_a_chunk_boundary_is_a_warning(prompts: Library) -> None:
    def build(quality: str, trigger: str) -> PipelineConfig:
        overrides = {"quality_prompt": quality, "loras": {"film_grain": {"trigger": trigger}}}
        return prompts.builder().build(overrides=overrides, lora_stack="look")

    # 70 + comma + "film grain ," fill 74; the backtrack moves "dusty" on: the trigger is cut at a comma.
    cfg = build(words(70), "film grain, dusty light, sepia tone")
    assert not cfg.warnings  # nothing composed yet: building never counts
    cfg.to_webui_payload()
    warning = next(w for w in cfg.warnings if w.startswith("trigger 'film grain, dusty light, sepia tone'"))
    assert (
        "(loras.film_grain.trigger) straddles chunks 1 and 2 (at a comma: the backtrack moved the rest on)" in warning
    )
    assert "straddles" in cfg.explain("loras.film_grain.trigger")
    # The comma before a 30-token trigger is 25 tokens back when chunk 1 fills: cut mid-phrase.
    cfg = build(words(50), words(30, "dog"))
    trigger = next(c for c in prompt_report(cfg).prompt.parts if c.part.kind == "trigger")
    assert (trigger.chunks, trigger.cuts) == ((1, 2), ((1, "full"),))
    assert any("straddles chunks 1 and 2 (mid-phrase)" in w for w in cfg.warnings)
    # A short trigger never straddles (the backtrack moves it whole), nor does one after a BREAK.
    assert not [w for w in prompt_report(build(words(73), "film grain")).warnings if "straddles" in w]
    assert not [w for w in prompt_report(build(words(50) + " BREAK", words(30, "dog"))).warnings if "straddles" in w]
    # A part that straddles is a warning too.
    assert any(w.startswith("quality 'cat cat") for w in prompt_report(build(words(80), "x")).warnings)


@needs_clip
def test_over_budget_drops_style_then_quality_never_subject_or_triggers(prompts: Library) -> None:
    user = prompts.file("user.toml", f'prompt = "a cowboy"\nprompt_budget = 12\nstyle_prompt = "{words(6)}"\n')
    cfg = prompts.builder(user_file=user).build(
        model="RealVisXL_V4.0", lora_stack="look", overrides={"quality_prompt": words(5, "dog")}
    )
    report = prompt_report(cfg)
    # 5 quality + 2 trigger + 2 subject + 6 style + 4 commas (one before the LoRA tag, which costs
    # nothing itself) = 19 > 12: the style goes, leaving 12.
    assert [d.part.key for d in report.drops] == ["style_prompt"]
    assert report.count == 12 and report.within_budget
    assert report.prompt.text == f"{words(5, 'dog')}, film grain, a cowboy, <lora:film_grain:0.8>"
    warning = next(w for w in cfg.warnings if "dropped style_prompt" in w)
    assert "19 tokens > prompt_budget 12 (user_file, " in warning and "user.toml:2:1" in warning
    assert "dropped from" not in warning and "(from user_file, " in warning
    assert "note (prompt): prompt over budget" in cfg.explain("style_prompt")

    cfg = prompts.builder(user_file=user).build(
        lora_stack="look", overrides={"quality_prompt": words(5, "dog"), "prompt_budget": 5}
    )
    with pytest.raises(ConfigError, match=r"over budget .* nothing left to drop") as caught:
        prompt_report(cfg)
    assert "prompt_budget" in str(caught.value)
    lenient = prompts.builder(user_file=user, lenient=True).build(
        lora_stack="look", overrides={"quality_prompt": words(5, "dog"), "prompt_budget": 5}
    )
    report = prompt_report(lenient)
    assert [d.part.key for d in report.drops] == ["style_prompt", "quality_prompt"]
    assert report.prompt.text == "film grain, a cowboy, <lora:film_grain:0.8>"
    assert not report.within_budget
    assert any("nothing left to drop" in w for w in lenient.warnings)
    assert sum(": dropped " in w for w in lenient.warnings) == 2


@needs_clip
def test_a_budget_error_names_the_file_and_line(prompts: Library) -> None:
    user = prompts.file("user.toml", f'prompt = "{words(10)}"\n\nprompt_budget = 3\n')
    with pytest.raises(FileError) as caught:
        prompts.builder(user_file=user).build().to_webui_payload()
    assert str(caught.value).startswith(f"{user}:3:1: prompt_budget: the prompt is over budget (10 tokens > ")


FLUX_TOML = """\
kind = "model_profile"
version = 1
model_name = "flux1-dev"
base_type = "flux"

[[recommended_presets]]
id = "flux_default"
label = "Default"
rating = "good"
source = "internet_prior"
sampler = "Euler"
steps = 20
cfg = 1.0
resolution = [1024, 1024]
"""


@needs_clip
def test_flux_truncation_is_reported(library: Library) -> None:
    library.model("flux1-dev", FLUX_TOML)
    cfg = library.builder().build(
        model="flux1-dev", overrides={"prompt": words(70), "style_prompt": "oil painting, dramatic lighting"}
    )
    report = prompt_report(cfg)
    assert not report.rule.chunked and report.count == 70 + 1 + 5
    assert report.lost == "lighting"
    warning = next(w for w in cfg.warnings if w.startswith("flux: the CLIP-L encoder truncates at 77 tokens"))
    assert "1 token(s) of style (1 of 5 tokens) are lost to it: 'lighting'" in warning
    assert report.t5 is not None and "T5 ~" in report.verdict() and "(estimate)" in report.verdict()
    # T5 takes at most 512 tokens (estimated): over it, the style is dropped.
    cfg = library.builder().build(model="flux1-dev", overrides={"prompt": words(300), "style_prompt": words(200)})
    report = prompt_report(cfg)
    assert [d.part.key for d in report.drops] == ["style_prompt"]
    assert "T5 ~" in report.drops[0].reason and "> 512" in report.drops[0].reason


# -- the estimate --------------------------------------------------------------------------


@pytest.fixture
def no_clip(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLIP tokenizer not installed: its import fails."""
    monkeypatch.setitem(sys.modules, "instant_clip_tokenizer", None)
    monkeypatch.setattr(tokenizer, "_shared", None)


@pytest.mark.usefixtures("no_clip")
def test_without_the_tokenizer_every_output_says_estimate(prompts: Library) -> None:
    with pytest.raises(ImportError):
        ClipTokenizer()
    assert isinstance(get_tokenizer(), EstimateTokenizer)
    cfg = prompts.builder().build(overrides={"prompt": "a photo of a cat, dramatic lighting"})
    report = prompt_report(cfg)
    assert not report.exact
    assert report.prompt.tokens == 8  # the real count is 8 too (not so for every prompt)
    assert "estimate" in render_report(report)
    assert "(estimate)" in report.verdict()
    assert json.loads(json.dumps(report.to_dict()))["estimate"] is True
    assert "composed prompt (estimate (CLIP tokenizer not installed" in cfg.explain("prompt")
    assert "~8  1       subject" in cfg.explain("prompt")
    code, out = _cli("tokens", "--set", 'prompt="a cat"')
    assert code == 0 and out.startswith("counted with estimate (CLIP tokenizer not installed")
    over = prompts.builder(lenient=True).build(overrides={"prompt": "a photo of a cat", "prompt_budget": 2})
    prompt_report(over)
    assert any("~5 tokens (estimate) > prompt_budget 2" in w for w in over.warnings)


def test_building_never_loads_the_tokenizer(prompts: Library, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokenizer, "_shared", None)
    cfg = prompts.builder().build(model="RealVisXL_V4.0", lora_stack="look", overrides={"prompt": words(300)})
    assert tokenizer._shared is None
    cfg.to_webui_payload()
    assert tokenizer._shared is not None


# -- the tokens command --------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={})
    return result.exit_code, result.stdout + result.stderr


@needs_clip
def test_tokens_command_table_and_json() -> None:
    code, out = _cli("tokens", "--model", "RealVisXL_V4.0", "--set", 'prompt="a photo of a cat, dramatic lighting"')
    assert code == 0
    assert "prompt: 'a photo of a cat, dramatic lighting'" in out
    assert "chunk 1 (8/75): a photo of a cat , dramatic lighting" in out
    assert "budget: 8 tokens in 1 chunk; no prompt_budget: within budget" in out
    code, out = _cli("tokens", "--model", "RealVisXL_V4.0", "--set", 'prompt="a cat BREAK a dog"', "-f", "json")
    data = json.loads(out)
    assert (data["estimate"], data["family"], data["prompt"]["tokens"], data["prompt"]["webui_count"]) == (
        False,
        "sdxl",
        4,
        77,
    )
    assert [c["tokens"] for c in data["prompt"]["chunks"]] == [2, 2]
    code, out = _cli("tokens", "--set", f'prompt="{words(10)}"', "--set", "prompt_budget=3")
    assert code == 2 and "config-layers: error: overrides: prompt_budget: the prompt is over budget" in out


# -- laws ----------------------------------------------------------------------------------

_WORD = st.sampled_from(["cat", "dog", "oil painting", "(sky:1.2)", "BREAK", "score_9", "Cat", "<lora:x:1>", "café"])
_PART = st.lists(_WORD, max_size=12).map(", ".join)


@needs_clip
@settings(max_examples=60, deadline=None)
@given(st.lists(_PART, min_size=1, max_size=5), st.integers(min_value=0, max_value=30))
def test_counts_add_up_and_chunks_hold_75(texts: list[str], backtrack: int) -> None:
    parts = dedupe([Part(f"p{i}", f"p{i}", text) for i, text in enumerate(texts)])
    composed = compose(parts, CLIP, backtrack=backtrack)
    assert sum(c.tokens for c in composed.parts) + composed.separators == composed.tokens
    assert all(len(chunk) <= 75 for chunk in composed.chunked.chunks)
    phrases = [p.casefold() for p in split_phrases(composed.text) if p != "BREAK"]
    assert len(phrases) == len(set(phrases))
    assert dedupe(parts) == [Part(p.key, p.label, p.text) for p in parts]
