"""Tests for core.phones: normalization of phone numbers to E.164."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.phones import (
    MAX_PHONE_INPUT_LENGTH,
    InvalidPhone,
    is_mobile,
    normalize_phone,
)

IR_MOBILE = "+989121234567"


@pytest.mark.parametrize(
    "raw",
    [
        "09121234567",
        "+98 912 123 4567",
        "+989121234567",
        "989121234567",
        "9121234567",
        "0098 912 123 4567",
        "00989121234567",
        "(0912) 123-4567",
        "0912-123-4567",
        "0912.123.4567",
        "  09121234567  ",
        "۰۹۱۲۱۲۳۴۵۶۷",  # Persian digits
        "٠٩١٢١٢٣٤٥٦٧",  # Arabic-Indic digits
        "+۹۸ ۹۱۲ ۱۲۳ ۴۵۶۷",
        "۰۰۹۸۹۱۲۱۲۳۴۵۶۷",
        "۰۹۱۲1٢٣4۵۶۷",  # mixed
        "\u200e+98 912 123 4567\u200f",  # bidi marks from RTL text
        "0912\u2011123\u20134567",  # non-ASCII dashes
        "0912\u00a0123\u20094567",  # non-ASCII spaces
    ],
)
def test_accepts_iranian_mobile(raw: str) -> None:
    assert normalize_phone(raw) == IR_MOBILE


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("02112345678", "+982112345678"),  # Tehran landline
        ("+98 21 1234 5678", "+982112345678"),
        ("+44 20 7946 0958", "+442079460958"),
        ("+1 415 555 2671", "+14155552671"),
        ("+1 (650) 253-0000", "+16502530000"),
        ("+49 151 23456789", "+4915123456789"),
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+971 50 123 4567", "+971501234567"),
        ("0044 20 7946 0958", "+442079460958"),  # 00 is Iran's intl prefix
        ("+۴۴ ۲۰ ۷۹۴۶ ۰۹۵۸", "+442079460958"),
    ],
)
def test_accepts_landlines_and_foreign(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


def test_default_region_is_used_for_national_numbers() -> None:
    assert normalize_phone("020 7946 0958", default_region="GB") == "+442079460958"
    assert normalize_phone("(415) 555-2671", default_region="US") == "+14155552671"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\u200e\u200f", "empty"),
        ("abc", "invalid_characters"),
        ("0912abc4567", "invalid_characters"),
        ("1-800-FLOWERS", "invalid_characters"),  # phonenumbers would map letters
        ("09121234567 ext. 12", "invalid_characters"),
        ("0912123456#", "invalid_characters"),
        ("9+89121234567", "invalid_characters"),  # "+" not leading
        ("++989121234567", "invalid_characters"),
        ("0912/123/4567", "invalid_characters"),
        ("+", "invalid"),
        ("0", "invalid"),
        ("123", "invalid"),
        ("0912123456", "invalid"),  # one digit short
        ("091212345678", "invalid"),  # one digit long
        ("+98912123456", "invalid"),
        ("+989121234567890", "invalid"),
        ("+999 123 4567", "invalid"),  # unassigned country code
        ("+44 20 7946 09", "invalid"),
        ("1" * MAX_PHONE_INPUT_LENGTH, "invalid"),
        ("1" * (MAX_PHONE_INPUT_LENGTH + 1), "too_long"),
        ("0" * 10_000, "too_long"),
        (" " * (MAX_PHONE_INPUT_LENGTH + 1), "too_long"),
    ],
)
def test_rejects(raw: str, reason: str) -> None:
    with pytest.raises(InvalidPhone) as info:
        normalize_phone(raw)
    assert info.value.reason == reason
    assert isinstance(info.value, ValueError)


def test_foreign_number_without_plus_is_not_guessed() -> None:
    # Without "+" the number is read as Iranian; we do not guess a country.
    with pytest.raises(InvalidPhone):
        normalize_phone("442079460958")


def test_unknown_default_region_is_a_programming_error() -> None:
    with pytest.raises(ValueError) as info:
        normalize_phone("09121234567", default_region="XX")
    assert not isinstance(info.value, InvalidPhone)


@pytest.mark.parametrize(
    ("e164", "expected"),
    [
        (IR_MOBILE, True),
        ("+982112345678", False),
        ("+442079460958", False),
        ("+4915123456789", True),
        ("+14155552671", True),  # US: fixed line or mobile
    ],
)
def test_is_mobile(e164: str, expected: bool) -> None:
    assert is_mobile(e164) is expected


@pytest.mark.parametrize("bad", ["", "abc", "09121234567"])
def test_is_mobile_rejects_unparseable(bad: str) -> None:
    with pytest.raises(InvalidPhone):
        is_mobile(bad)


@given(st.text(max_size=50))
def test_normalize_never_raises_anything_else(raw: str) -> None:
    try:
        result = normalize_phone(raw)
    except InvalidPhone:
        return
    assert result.startswith("+")
    assert result[1:].isascii() and result[1:].isdigit()
    assert normalize_phone(result) == result  # idempotent


@given(st.from_regex(r"9[0-9]{9}", fullmatch=True))
def test_iranian_mobile_formats_agree(national: str) -> None:
    forms = ["0" + national, "+98" + national, "0098" + national, national]
    results = set()
    for form in forms:
        try:
            results.add(normalize_phone(form))
        except InvalidPhone:
            results.add(None)
    assert len(results) == 1
