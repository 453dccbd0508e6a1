"""Sizes and durations as people write them, and back again."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xenctl.units import (
    GIB,
    KIB,
    MAX_SIZE,
    MIB,
    TIB,
    UnitError,
    format_duration,
    format_size,
    parse_duration,
    parse_size,
)

# -- sizes ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4G", 4 * GIB),
        ("512M", 512 * MIB),
        ("2048k", 2 * MIB),
        ("2048K", 2 * MIB),
        ("1.5G", 1536 * MIB),
        ("1T", TIB),
        ("100", 100),
        ("0", 0),
        (" 8G ", 8 * GIB),
    ],
)
def test_a_size_is_read_in_binary_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(
    ("value", "unit", "size"),
    [(512, "M", 512 * MIB), ("512", "M", 512 * MIB), (4, "G", 4 * GIB), ("64", "K", 64 * KIB), (100, "B", 100)],
)
def test_a_bare_number_counts_the_default_unit(value: object, unit: str, size: int) -> None:
    assert parse_size(value, default_unit=unit) == size


def test_an_explicit_unit_wins_over_the_default_unit() -> None:
    assert parse_size("2G", default_unit="M") == 2 * GIB


def test_a_size_with_a_space_before_a_two_letter_unit_is_refused_with_how_to_write_it() -> None:
    with pytest.raises(UnitError) as caught:
        parse_size("512 MB")
    assert "'512 MB' is not a size" in str(caught.value)
    assert "512M" in str(caught.value)


@pytest.mark.parametrize("text", ["lots", "4Q", "G", "", "4 G B", "1e3"])
def test_a_size_that_is_not_a_size_says_how_to_write_one(text: str) -> None:
    with pytest.raises(UnitError, match="is not a size; write 512M or 1G"):
        parse_size(text)


@pytest.mark.parametrize("value", [-1, "-1G", "-512"])
def test_a_negative_size_is_refused(value: object) -> None:
    with pytest.raises(UnitError, match="is not a size"):
        parse_size(value)


@pytest.mark.parametrize("value", [True, False])
def test_a_boolean_is_not_a_size(value: bool) -> None:
    with pytest.raises(UnitError, match="is not a size"):
        parse_size(value)


@pytest.mark.parametrize("value", [None, 1.5, [4]])
def test_a_value_of_another_type_is_not_a_size(value: object) -> None:
    with pytest.raises(UnitError, match="is not a size"):
        parse_size(value)


def test_a_fraction_of_a_byte_is_refused() -> None:
    with pytest.raises(UnitError, match="not a whole number of bytes"):
        parse_size("1.1")


def test_a_unit_error_is_a_value_error() -> None:
    assert issubclass(UnitError, ValueError)


@pytest.mark.parametrize(
    ("size", "text"),
    [(4 * GIB, "4G"), (512 * MIB, "512M"), (1536 * KIB, "1536K"), (100, "100"), (0, "0"), (2 * TIB, "2T")],
)
def test_a_size_is_written_in_its_largest_exact_unit(size: int, text: str) -> None:
    assert format_size(size) == text


@given(st.integers(min_value=0, max_value=MAX_SIZE))
def test_every_size_comes_back_from_its_written_form(size: int) -> None:
    assert parse_size(format_size(size)) == size


@pytest.mark.parametrize("text", ["4194305T", "99999999999999999999999T", str(2**62 + 1)])
def test_a_size_beyond_4_exbibytes_is_refused_as_too_large(text: str) -> None:
    with pytest.raises(UnitError, match="too large"):
        parse_size(text)


@pytest.mark.parametrize("value", [float("inf"), float("nan"), 1e13, "9999999999h"])
def test_a_duration_that_is_not_finite_or_too_long_is_refused(value: object) -> None:
    with pytest.raises(UnitError):
        parse_duration(value)


# -- durations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30.0), ("5m", 300.0), ("250ms", 0.25), ("1h", 3600.0), ("1.5s", 1.5), ("45", 45.0), ("2H", 7200.0)],
)
def test_a_duration_is_read_in_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("value", [12, 2.5])
def test_a_bare_number_is_a_duration_in_seconds(value: float) -> None:
    assert parse_duration(value) == value


@pytest.mark.parametrize("value", ["soon", "5 minutes", "1d", "", "-5s", -5, True, None])
def test_a_duration_that_is_not_one_is_refused(value: object) -> None:
    with pytest.raises(UnitError, match="is not a duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.25, "250ms"), (30.0, "30s"), (300.0, "5m"), (3600.0, "1h"), (90.5, "90.5s"), (90.0, "90s"), (0.0, "0s")],
)
def test_a_duration_is_written_as_people_read_it(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=30 * 24 * 3600 * 1000))
def test_every_whole_millisecond_duration_up_to_a_month_comes_back_from_its_written_form(millis: int) -> None:
    seconds = millis / 1000
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds, abs=1e-9)


def test_a_long_duration_is_written_without_an_exponent() -> None:
    assert parse_duration(format_duration(1_234_567.0)) == 1_234_567.0
