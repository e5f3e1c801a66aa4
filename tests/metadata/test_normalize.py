"""split_sampler, scheduler_label and round_to_precision (config_layers.names)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from config_layers.names import model_stem, round_to_precision, scheduler_label, split_sampler


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DPM++ 2M Karras", ("DPM++ 2M", "Karras")),
        ("Euler a", ("Euler a", None)),
        ("DPM++ SDE Karras", ("DPM++ SDE", "Karras")),
        ("DPM++ 2M SDE Exponential", ("DPM++ 2M SDE", "Exponential")),
        ("DPM++ 2M SDE Heun Karras", ("DPM++ 2M SDE Heun", "Karras")),
        ("DPM2 a Karras", ("DPM2 a", "Karras")),
        ("LMS Karras", ("LMS", "Karras")),
        ("Euler Polyexponential", ("Euler", "Polyexponential")),
        ("Euler SGM Uniform", ("Euler", "SGM Uniform")),  # longest suffix, not "Uniform"
        ("Euler SGMUniform", ("Euler", "SGM Uniform")),  # A1111's alias
        ("Euler Uniform", ("Euler", "Uniform")),
        ("DPM++ 2M Align Your Steps", ("DPM++ 2M", "Align Your Steps")),
        ("DPM++ 2M KL Optimal", ("DPM++ 2M", "KL Optimal")),
        ("Euler Simple", ("Euler", "Simple")),
        ("Euler Normal", ("Euler", "Normal")),
        ("Euler DDIM", ("Euler", "DDIM")),
        ("Euler Beta", ("Euler", "Beta")),
        ("DPM++ 2M Automatic", ("DPM++ 2M", "Automatic")),
        ("dpm++ 2m karras", ("dpm++ 2m", "Karras")),  # any letter case, as Forge matches
        ("DPM++ 2M sgm_uniform", ("DPM++ 2M", "SGM Uniform")),  # internal name
        ("  DPM++   2M  Karras ", ("DPM++ 2M", "Karras")),  # whitespace collapsed
        ("DDIM", ("DDIM", None)),  # a sampler named like a scheduler stays whole
        ("Karras", ("Karras", None)),
        ("UniPC", ("UniPC", None)),
        ("", ("", None)),
    ],
)
def test_split_sampler(name: str, expected: tuple[str, str | None]) -> None:
    assert split_sampler(name) == expected


@pytest.mark.parametrize(
    ("name", "label"),
    [("karras", "Karras"), ("sgm_uniform", "SGM Uniform"), ("SGMUniform", "SGM Uniform"), ("KL Optimal", "KL Optimal")],
)
def test_scheduler_label_known_spellings(name: str, label: str) -> None:
    assert scheduler_label(name) == label


def test_scheduler_label_keeps_unknown_names() -> None:
    assert scheduler_label("  my  custom ") == "my custom"


@pytest.mark.parametrize(
    ("value", "digits", "expected"),
    [
        (6.499999999999998, 2, 6.5),
        (0.1 + 0.2, 4, 0.3),
        (2.675, 2, 2.68),  # half up on the decimal form; plain round() says 2.67
        (0.6000000000000001, 4, 0.6),
        (7.0, 2, 7.0),
        (-1.005, 2, -1.01),
        (1e308, 2, 1e308),
        (12.345, 0, 12.0),
    ],
)
def test_round_to_precision(value: float, digits: int, expected: float) -> None:
    assert round_to_precision(value, digits) == expected


def test_round_to_precision_zero_has_no_sign() -> None:
    assert math.copysign(1.0, round_to_precision(-1e-9, 2)) == 1.0


def test_round_to_precision_non_finite_and_bad_digits() -> None:
    assert math.isnan(round_to_precision(math.nan, 2))
    assert round_to_precision(math.inf, 2) == math.inf
    with pytest.raises(ValueError, match="digits"):
        round_to_precision(1.0, -1)


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), st.integers(min_value=0, max_value=6))
def test_round_to_precision_moves_at_most_half_a_unit(value: float, digits: int) -> None:
    rounded = round_to_precision(value, digits)
    assert abs(rounded - value) <= 0.5 * 10**-digits + 1e-9
    assert round_to_precision(rounded, digits) == rounded  # idempotent


def test_existing_helpers_unchanged() -> None:
    assert model_stem("models/Lora/x.safetensors [abc12345]") == "x"
