"""Tests for core.digits: digit conversion, parsing and formatting."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.digits import (
    MAX_INPUT_LENGTH,
    InvalidNumber,
    format_number,
    parse_positive_int,
    to_latin_digits,
    to_persian_digits,
)

MAXIMUM = 1_000_000


# --- to_latin_digits / to_persian_digits -----------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("۰۱۲۳۴۵۶۷۸۹", "0123456789"),  # Persian
        ("٠١٢٣٤٥٦٧٨٩", "0123456789"),  # Arabic-Indic
        ("0123456789", "0123456789"),
        ("۱2٣", "123"),  # mixed
        ("کد ۱۲۳-abc", "کد 123-abc"),  # everything else untouched
        ("", ""),
        ("١٢٫٥", "12٫5"),  # Arabic decimal separator left alone
        ("१२३", "१२३"),  # Devanagari digits are not converted
    ],
)
def test_to_latin_digits(text: str, expected: str) -> None:
    assert to_latin_digits(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0123456789", "۰۱۲۳۴۵۶۷۸۹"),
        ("12,500", "۱۲,۵۰۰"),
        ("abc", "abc"),
        ("", ""),
    ],
)
def test_to_persian_digits(text: str, expected: str) -> None:
    assert to_persian_digits(text) == expected


@given(st.text())
def test_digit_round_trip(text: str) -> None:
    assert to_latin_digits(to_persian_digits(to_latin_digits(text))) == to_latin_digits(text)


# --- parse_positive_int: accepted ------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("42", 42),
        ("۴۲", 42),
        ("٤٢", 42),
        ("۱2٣", 123),
        ("  42  ", 42),
        ("\t۴۲\n", 42),
        ("\u00a042\u200a", 42),  # Unicode whitespace around
        ("007", 7),
        ("12,500", 12_500),
        ("۱۲٬۵۰۰", 12_500),  # Persian thousands separator
        ("۱۲،۵۰۰", 12_500),  # Arabic comma
        ("12 500", 12_500),
        ("12\u00a0500", 12_500),  # no-break space
        ("12\u2009500", 12_500),  # thin space
        ("12\u202f500", 12_500),  # narrow no-break space
        ("1,000,000", 1_000_000),
        ("1,2", 12),  # grouping by three is not required
        ("12,50,0", 12_500),
        ("۱٬۰۰۰٬۰۰۰", 1_000_000),
    ],
)
def test_parse_accepts(text: str, expected: int) -> None:
    assert parse_positive_int(text, maximum=MAXIMUM) == expected


# --- parse_positive_int: rejected ------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\n\t", "empty"),
        ("abc", "not_a_number"),
        ("12a", "not_a_number"),
        ("a12", "not_a_number"),
        ("۱۲الف", "not_a_number"),
        ("+5", "not_a_number"),
        ("1.5", "not_a_number"),
        ("1.0", "not_a_number"),
        ("۱٫۵", "not_a_number"),  # Persian decimal separator
        ("1e3", "not_a_number"),
        ("1_000", "not_a_number"),  # int() would accept this
        ("0x10", "not_a_number"),
        ("१२३", "not_a_number"),  # Devanagari: int() would accept this
        ("１２", "not_a_number"),  # fullwidth: int() would accept this
        (",100", "not_a_number"),  # separator not between digits
        ("100,", "not_a_number"),
        ("1,,000", "not_a_number"),
        ("1, 000", "not_a_number"),
        ("1\t000", "not_a_number"),
        ("1\n000", "not_a_number"),
        ("--5", "not_a_number"),
        ("5-", "not_a_number"),
        ("-", "not_a_number"),
        ("½", "not_a_number"),
        ("0", "not_positive"),
        ("۰", "not_positive"),
        ("000", "not_positive"),
        ("0,000", "not_positive"),
        ("-5", "not_positive"),
        ("- 5", "not_positive"),
        ("\u22125", "not_positive"),  # MINUS SIGN
        ("-۱۲٬۵۰۰", "not_positive"),
        ("-0", "not_positive"),
        ("1000001", "too_large"),
        ("۱٬۰۰۰٬۰۰۱", "too_large"),
        ("9" * MAX_INPUT_LENGTH, "too_large"),
        ("9" * (MAX_INPUT_LENGTH + 1), "too_large"),
        ("1" + "0" * 10_000, "too_large"),
        ("1" * 10_000 + "x", "not_a_number"),
        ("x" * 100, "not_a_number"),
    ],
)
def test_parse_rejects(text: str, reason: str) -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_positive_int(text, maximum=MAXIMUM)
    assert info.value.reason == reason
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("maximum", [1, 9, 10, 999, 1_000, 12_500, 10**9, 10**18])
def test_maximum_boundary(maximum: int) -> None:
    assert parse_positive_int(str(maximum), maximum=maximum) == maximum
    assert parse_positive_int(format_number(maximum, "fa"), maximum=maximum) == maximum
    with pytest.raises(InvalidNumber) as info:
        parse_positive_int(str(maximum + 1), maximum=maximum)
    assert info.value.reason == "too_large"


@pytest.mark.parametrize("maximum", [0, -1])
def test_non_positive_maximum_is_a_programming_error(maximum: int) -> None:
    with pytest.raises(ValueError) as info:
        parse_positive_int("1", maximum=maximum)
    assert not isinstance(info.value, InvalidNumber)


def test_long_input_is_rejected_cheaply() -> None:
    text = "9" * 1_000_000
    start = time.perf_counter()
    with pytest.raises(InvalidNumber):
        parse_positive_int(text, maximum=MAXIMUM)
    assert time.perf_counter() - start < 1.0


def test_exception_message_is_truncated() -> None:
    with pytest.raises(InvalidNumber) as info:
        parse_positive_int("x" * 10_000, maximum=MAXIMUM)
    assert len(str(info.value)) < 100


# --- format_number ----------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "locale", "expected"),
    [
        (0, "en", "0"),
        (7, "en", "7"),
        (999, "en", "999"),
        (1_000, "en", "1,000"),
        (12_500, "en", "12,500"),
        (1_234_567, "en", "1,234,567"),
        (-12_500, "en", "-12,500"),
        (0, "fa", "۰"),
        (7, "fa", "۷"),
        (999, "fa", "۹۹۹"),
        (1_000, "fa", "۱٬۰۰۰"),
        (12_500, "fa", "۱۲٬۵۰۰"),
        (1_234_567, "fa", "۱٬۲۳۴٬۵۶۷"),
        (-12_500, "fa", "-۱۲٬۵۰۰"),
    ],
)
def test_format_number(n: int, locale: str, expected: str) -> None:
    assert format_number(n, locale) == expected


@pytest.mark.parametrize("locale", ["", "de", "FA", "fa_IR", "ar"])
def test_format_number_unknown_locale(locale: str) -> None:
    with pytest.raises(ValueError):
        format_number(1, locale)


# --- properties -------------------------------------------------------------

PROPERTY_MAXIMUM = 10**15


@pytest.mark.parametrize("locale", ["fa", "en"])
@given(n=st.integers(min_value=1, max_value=PROPERTY_MAXIMUM))
def test_format_then_parse_round_trips(locale: str, n: int) -> None:
    assert parse_positive_int(format_number(n, locale), maximum=PROPERTY_MAXIMUM) == n


@given(
    data=st.data(),
    maximum=st.integers(min_value=1, max_value=10**18),
)
def test_round_trip_for_any_maximum(data: st.DataObject, maximum: int) -> None:
    n = data.draw(st.integers(min_value=1, max_value=maximum))
    for locale in ("fa", "en"):
        assert parse_positive_int(format_number(n, locale), maximum=maximum) == n


@given(st.text(max_size=60))
def test_parse_never_raises_anything_else(text: str) -> None:
    try:
        value = parse_positive_int(text, maximum=MAXIMUM)
    except InvalidNumber as exc:
        assert exc.reason in {"empty", "not_a_number", "not_positive", "too_large"}
    else:
        assert 1 <= value <= MAXIMUM
