"""core.digits.parse_amount: the amounts a cashier types, read exactly or refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.digits import (
    MAX_AMOUNT_LENGTH,
    InvalidNumber,
    amount_length,
    format_number,
    parse_amount,
    to_persian_digits,
)

MAXIMUM = 10_000_000_000  # the default earn.max_purchase_amount
ARABIC_DIGITS = str.maketrans({str(d): chr(0x0660 + d) for d in range(10)})

UNITS = {
    10**3: ["k", "K", "هزار"],
    10**6: ["m", "M", "میلیون", "ملیون", "ميليون"],
    10**9: ["b", "میلیارد", "ملیارد"],
}
DECIMALS = [".", "٫", "/"]
GROUPS = [",", "٬", "،"]
TOMAN = ["تومان", "تومن", "toman", "Toman"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("۲۵۰ هزار", 250_000),
        ("۲٫۵ میلیون", 2_500_000),
        ("250k", 250_000),
        ("2.5m", 2_500_000),
        ("۲۵۰ هزار تومان", 250_000),
        ("250 هزار", 250_000),
        ("۲۵۰هزار", 250_000),
        ("۲۵۰\u200cهزار", 250_000),  # a zero-width non-joiner between number and word
        ("1.5 میلیارد", 1_500_000_000),
        ("۲/۵ میلیون", 2_500_000),  # the slash Iranians write as a decimal point
        ("٢٫٥ مليون", 2_500_000),  # Arabic digits and the Arabic yeh
        ("0.5m", 500_000),
        ("250000", 250_000),
        ("250,000", 250_000),
        ("۲۵۰٬۰۰۰", 250_000),
        ("1,250,000 تومان", 1_250_000),
        ("250000.0", 250_000),  # a decimal that is still whole Toman
        ("1.001k", 1_001),
        ("1", 1),
        ("  250K  toman ", 250_000),
        ("10b", MAXIMUM),  # the maximum itself
        ("9,999,999,999", MAXIMUM - 1),
    ],
)
def test_amounts_a_cashier_types(text: str, expected: int) -> None:
    assert parse_amount(text, maximum=MAXIMUM) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("0", "not_positive"),
        ("0k", "not_positive"),
        ("-5", "not_positive"),
        ("−250k", "not_positive"),
        ("250 000", "not_a_number"),  # a space never groups digits
        ("1 250 000", "not_a_number"),
        ("1,2", "not_a_number"),  # grouping not by threes: money is not guessed
        ("2,5m", "not_a_number"),  # a decimal comma would be a guess too
        ("1,0000", "not_a_number"),
        ("2.5.1", "not_a_number"),
        ("k", "not_a_number"),
        ("هزار", "not_a_number"),
        ("250 kk", "not_a_number"),
        ("250 هزار میلیون", "not_a_number"),
        ("250 dollars", "not_a_number"),
        ("१२३", "not_a_number"),  # Devanagari digits are not ours
        ("2.5", "not_whole"),  # not whole Toman
        ("1.0005k", "not_whole"),
        ("0.0000000001b", "not_whole"),
        ("2500000 ریال", "rial"),  # ten times smaller: never read as Toman
        ("2500000 rials", "rial"),
        ("10,000,000,001", "too_large"),
        ("10.000000001b", "too_large"),
        ("11b", "too_large"),
        ("9" * (MAX_AMOUNT_LENGTH + 1), "too_large"),
        ("x" * (MAX_AMOUNT_LENGTH + 1), "not_a_number"),
    ],
)
def test_amounts_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidNumber) as refused:
        parse_amount(text, maximum=MAXIMUM)
    assert refused.value.reason == reason


def test_a_non_positive_maximum_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        parse_amount("1", maximum=0)


@pytest.mark.parametrize(
    ("tokens", "taken"),
    [
        ([], 0),
        (["250000"], 1),
        (["250000", "INV-1"], 1),
        (["250", "هزار"], 2),
        (["250", "هزار", "تومان", "INV-1"], 3),
        (["250", "تومان", "123"], 2),
        (["250k", "تومان"], 2),
        (["2500000", "ریال"], 2),  # so the rial is refused, not taken as a reference
        (["250", "000"], 1),
    ],
)
def test_the_amount_takes_its_unit_and_currency_words(tokens: list[str], taken: int) -> None:
    assert amount_length(tokens) == taken


# --- properties -------------------------------------------------------------------------------


def _grouped(n: int, separator: str) -> str:
    return f"{n:,}".replace(",", separator)


@st.composite
def written_amounts(draw: st.DrawFn) -> tuple[int, str]:
    """Any amount, written any way a cashier would: the amount and its text."""
    n = draw(st.integers(1, MAXIMUM))
    style = draw(st.sampled_from(["plain", "grouped", "unit"]))
    if style == "plain":
        text = str(n)
    elif style == "grouped":
        text = _grouped(n, draw(st.sampled_from(GROUPS)))
    else:
        multiple = draw(st.sampled_from([m for m in UNITS if m <= n * 1000]))
        whole, rest = divmod(n, multiple)
        fraction = str(rest).rjust(len(str(multiple)) - 1, "0").rstrip("0")
        number = _grouped(whole, draw(st.sampled_from(["", *GROUPS])))
        if fraction:
            number += draw(st.sampled_from(DECIMALS)) + fraction
        space = draw(st.sampled_from(["", " "]))
        text = number + space + draw(st.sampled_from(UNITS[multiple]))
    if draw(st.booleans()):
        text += " " + draw(st.sampled_from(TOMAN))
    digits = draw(st.sampled_from(["latin", "persian", "arabic"]))
    if digits == "persian":
        text = to_persian_digits(text)
    elif digits == "arabic":
        text = text.translate(ARABIC_DIGITS)
    return n, text


@given(written_amounts())
def test_any_amount_written_any_way_reads_back(case: tuple[int, str]) -> None:
    n, text = case
    if len(text) <= MAX_AMOUNT_LENGTH:
        assert parse_amount(text, maximum=MAXIMUM) == n


@given(st.integers(1, MAXIMUM), st.sampled_from(["en", "fa"]))
def test_what_the_bot_shows_reads_back(n: int, locale: str) -> None:
    assert parse_amount(format_number(n, locale), maximum=MAXIMUM) == n


@given(
    st.integers(0, 10**6),
    st.sampled_from(sorted(UNITS)),
    st.integers(1, 9),
    st.integers(0, 5),
    st.sampled_from(DECIMALS),
)
def test_an_amount_that_is_not_whole_toman_is_refused(
    whole: int, multiple: int, last: int, zeros: int, decimal: str
) -> None:
    """A fraction one digit finer than the multiple can express is never rounded into money."""
    places = len(str(multiple))  # one more decimal place than the multiple has zeros
    fraction = "0" * (places - 1) + str(last)
    text = f"{whole}{decimal}{fraction}{'0' * zeros}{UNITS[multiple][0]}"
    with pytest.raises(InvalidNumber) as refused:
        parse_amount(text, maximum=10**30)
    assert refused.value.reason == "not_whole"


@given(st.text(max_size=60))
def test_anything_typed_is_an_amount_or_a_reasoned_refusal(text: str) -> None:
    try:
        assert 1 <= parse_amount(text, maximum=MAXIMUM) <= MAXIMUM
    except InvalidNumber as refused:
        assert refused.reason in {
            "empty", "not_a_number", "not_positive", "too_large", "not_whole", "rial"
        }  # fmt: skip
