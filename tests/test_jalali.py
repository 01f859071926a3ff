"""Tests for core.jalali: parsing typed dates, birthdays, Jalali formatting and time zones.

Expected Jalali/Gregorian pairs were computed with ``jdatetime`` (and some are re-checked
against it below), not written from memory.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import jdatetime
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.digits import to_latin_digits, to_persian_digits
from core.errors import InvalidInput
from core.jalali import (
    MAX_DATE_INPUT_LENGTH,
    format_date,
    format_datetime,
    jalali_month_day,
    month_of,
    parse_birthday,
    parse_date,
)

TEHRAN = ZoneInfo("Asia/Tehran")
MORDAD_12_1370 = date(1991, 8, 3)


def _reason(text: str, **kwargs: object) -> str:
    with pytest.raises(InvalidInput) as info:
        parse_date(text, **kwargs)  # type: ignore[arg-type]
    return info.value.reason


# --- parse_date: valid inputs -------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "1370/5/12",
        "1370/05/12",
        "1370-5-12",
        "1370.5.12",
        "1370 / 5 / 12",
        "  1370/5/12  ",
        "\t1370/05/12\n",
        "1370/5-12",  # sloppy mixed separators, still unambiguous
        "۱۳۷۰/۵/۱۲",  # Persian digits
        "۱۳۷۰/۰۵/۱۲",
        "۱۳۷۰-۰۵-۱۲",
        "۱۳۷۰.۰۵.۱۲",
        "١٣٧٠/٥/١٢",  # Arabic-Indic digits
        "١٣٧٠-٠٥-١٢",
        "۱۳70/٥/12",  # mixed scripts
        "\u200f۱۳۷۰/۰۵/۱۲\u200f",  # RLM marks from copy-pasted RTL text
        "\u00a01370/5/12\u00a0",  # no-break spaces around
    ],
)
def test_parse_jalali(text: str) -> None:
    assert parse_date(text) == MORDAD_12_1370


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1991-08-03", MORDAD_12_1370),
        ("1991/8/3", MORDAD_12_1370),
        ("1991.08.03", MORDAD_12_1370),
        ("۱۹۹۱-۰۸-۰۳", MORDAD_12_1370),
        ("١٩٩١/٨/٣", MORDAD_12_1370),
        ("2024-02-29", date(2024, 2, 29)),  # Gregorian leap day
        ("2000-02-29", date(2000, 2, 29)),  # divisible by 400
        ("1700-01-01", date(1700, 1, 1)),  # the threshold itself is Gregorian
    ],
)
def test_parse_gregorian(text: str, expected: date) -> None:
    assert parse_date(text) == expected


def test_auto_threshold_1699_is_jalali() -> None:
    assert parse_date("1699/1/1") == jdatetime.date(1699, 1, 1).togregorian()


@pytest.mark.parametrize(
    ("text", "calendar", "expected"),
    [
        ("1370/5/12", "jalali", MORDAD_12_1370),
        ("1370/5/12", "gregorian", date(1370, 5, 12)),
        ("1991-08-03", "gregorian", MORDAD_12_1370),
        ("1991-08-03", "jalali", jdatetime.date(1991, 8, 3).togregorian()),
        ("1991-08-03", "auto", MORDAD_12_1370),
    ],
)
def test_forced_calendar(text: str, calendar: str, expected: date) -> None:
    assert parse_date(text, calendar=calendar) == expected  # type: ignore[arg-type]


def test_unknown_calendar_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="calendar") as info:
        parse_date("1370/5/12", calendar="julian")  # type: ignore[arg-type]
    assert not isinstance(info.value, InvalidInput)


# --- parse_date: calendar boundaries -------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1403/12/30", date(2025, 3, 20)),  # 1403 is a leap year: Esfand has 30 days
        ("۱۴۰۳/۱۲/۳۰", date(2025, 3, 20)),
        ("1402/12/29", date(2024, 3, 19)),  # last day of common-year 1402
        ("1404/01/01", date(2025, 3, 21)),  # Nowruz right after the leap day
        ("1370/6/31", date(1991, 9, 22)),  # months 1-6 have 31 days
        ("1370/1/1", date(1991, 3, 21)),
    ],
)
def test_jalali_boundaries_accepted(text: str, expected: date) -> None:
    assert parse_date(text) == expected
    y, m, d = (int(p) for p in to_latin_digits(text).split("/"))
    assert jdatetime.date(y, m, d).togregorian() == expected


@pytest.mark.parametrize(
    "text",
    [
        "1402/12/30",  # 1402 is not a leap year
        "۱۴۰۲/۱۲/۳۰",
        "1370/7/31",  # months 7-11 have 30 days
        "1370/11/31",
        "1370/12/31",
        "1370/0/12",  # month 0
        "1370/13/12",  # month 13
        "1370/5/0",  # day 0
        "1370/5/32",  # day 32
        "2023-02-29",  # Gregorian non-leap year
        "1900-02-29",  # divisible by 100 but not 400
        "1991-04-31",
        "1991-13-01",
        "1991-00-10",
        "1991-08-00",
        "1991-08-32",
        "0000/01/01",  # no year zero in either calendar
    ],
)
def test_no_such_date(text: str) -> None:
    assert _reason(text) == "no_such_date"


@pytest.mark.parametrize(
    ("text", "calendar"),
    [
        ("9999/12/29", "jalali"),  # beyond jdatetime's range
        ("1402/12/30", "jalali"),
        ("2023-02-29", "gregorian"),
        ("1370/5/32", "gregorian"),
    ],
)
def test_forced_calendar_rejects(text: str, calendar: str) -> None:
    assert _reason(text, calendar=calendar) == "no_such_date"


# --- parse_date: malformed input -----------------------------------------------


@pytest.mark.parametrize("text", ["", " ", "   \t\n", "\u200f", "\u200e \u200f"])
def test_empty(text: str) -> None:
    assert _reason(text) == "empty"


@pytest.mark.parametrize(
    "text",
    [
        "hello",
        "دوازده مرداد",
        "1370",
        "1370/5",
        "1370/5/12/1",
        "70/5/12",  # two-digit year is ambiguous
        "12/5/1370",  # day-first is not accepted
        "03-08-1991",
        "1370//5/12",
        "1370/5/12x",
        "1370/005/12",
        "1370/5/123",
        "13700/5/12",
        "+1370/5/12",
        "-1370/5/12",
        "1370,5,12",
        "1370 5 12",
        "1991-08-03T10:00",
        "१३७०/५/१२",  # Devanagari digits are not converted
        "１３７０/５/１２",  # fullwidth digits neither
        "1370/5/12" + " " * 5 + "1",
        "1" * (MAX_DATE_INPUT_LENGTH + 1),
        "1370/5/12" + "\u200c" * 30,  # zero-width non-joiner is not a bidi mark
    ],
)
def test_bad_format(text: str) -> None:
    assert _reason(text) == "bad_format"


def test_length_limit_counts_the_trimmed_text() -> None:
    at_limit = "1370 /   05   /   12"
    assert len(at_limit) == MAX_DATE_INPUT_LENGTH
    assert parse_date("   " + at_limit + "   ") == MORDAD_12_1370
    # One more space inside: a date shape, but too long to be something a person typed.
    assert _reason("1370 /   05   /    12") == "bad_format"


def test_huge_input_is_cheap() -> None:
    assert _reason("1" * 1_000_000) == "bad_format"


def test_error_carries_text_and_is_a_value_error() -> None:
    with pytest.raises(ValueError) as info:
        parse_date("1370/13/1")
    assert isinstance(info.value, InvalidInput)
    assert info.value.details == {"reason": "no_such_date"}


# --- parse_birthday --------------------------------------------------------------

TODAY = date(2025, 6, 15)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1370/5/12", MORDAD_12_1370),
        ("2025-06-15", TODAY),  # born today: accepted
        ("2025-06-14", date(2025, 6, 14)),
        ("1905-06-15", date(1905, 6, 15)),  # exactly 120 years ago: accepted
        ("1284/3/25", jdatetime.date(1284, 3, 25).togregorian()),
    ],
)
def test_birthday_plausible(text: str, expected: date) -> None:
    assert parse_birthday(text, today=TODAY) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2025-06-16",  # tomorrow
        "1404/03/26",  # tomorrow, in Jalali
        "2030-01-01",
        "1905-06-14",  # 120 years and one day ago
        "1904-06-15",  # 121 years ago
        "1200/1/1",
        "1700-01-01",
    ],
)
def test_birthday_not_plausible(text: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_birthday(text, today=TODAY)
    assert info.value.reason == "not_plausible"


def test_birthday_jalali_tomorrow_is_really_tomorrow() -> None:
    assert jdatetime.date(1404, 3, 26).togregorian() == TODAY + timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("abc", "bad_format"), ("1402/12/30", "no_such_date")],
)
def test_birthday_keeps_parse_reasons(text: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_birthday(text, today=TODAY)
    assert info.value.reason == reason


def test_birthday_on_leap_day_today() -> None:
    # 1900 was not a leap year: 1900-02-28 is more than 120 years before 2020-02-29.
    today = date(2020, 2, 29)
    assert parse_birthday("1900-03-01", today=today) == date(1900, 3, 1)
    with pytest.raises(InvalidInput) as info:
        parse_birthday("1900-02-28", today=today)
    assert info.value.reason == "not_plausible"


def test_birthday_forced_calendar() -> None:
    assert parse_birthday("1991-08-03", today=TODAY, calendar="gregorian") == MORDAD_12_1370


# --- format_date / format_datetime ---------------------------------------------


@pytest.mark.parametrize(
    ("d", "locale", "expected"),
    [
        (MORDAD_12_1370, "fa", "۱۲ مرداد ۱۳۷۰"),
        (MORDAD_12_1370, "en", "3 Aug 1991"),
        (date(2025, 3, 20), "fa", "۳۰ اسفند ۱۴۰۳"),
        (date(2025, 3, 21), "fa", "۱ فروردین ۱۴۰۴"),
        (date(2025, 3, 21), "en", "21 Mar 2025"),
        (date(2024, 12, 31), "fa", "۱۱ دی ۱۴۰۳"),
        (date(2024, 12, 31), "en", "31 Dec 2024"),
        (date(1991, 9, 23), "fa", "۱ مهر ۱۳۷۰"),
        (date(2000, 1, 1), "en", "1 Jan 2000"),
    ],
)
def test_format_date(d: date, locale: str, expected: str) -> None:
    assert format_date(d, locale) == expected


def test_format_date_fa_matches_jdatetime() -> None:
    j = jdatetime.date(1370, 5, 12, locale="fa_IR")
    expected = "۱۲ " + j.strftime("%B") + " ۱۳۷۰"
    assert format_date(MORDAD_12_1370, "fa") == expected


def test_all_persian_month_names() -> None:
    names = [format_date(jdatetime.date(1403, m, 1).togregorian(), "fa") for m in range(1, 13)]
    assert [n.split(" ")[1] for n in names] == [
        "فروردین",
        "اردیبهشت",
        "خرداد",
        "تیر",
        "مرداد",
        "شهریور",
        "مهر",
        "آبان",
        "آذر",
        "دی",
        "بهمن",
        "اسفند",
    ]


NOWRUZ_1405_UTC = datetime(2026, 3, 20, 21, 0, tzinfo=UTC)  # 00:30 on 21 March in Tehran


def test_nowruz_expectations_match_jdatetime() -> None:
    local = NOWRUZ_1405_UTC.astimezone(TEHRAN)
    assert (local.date(), local.hour, local.minute) == (date(2026, 3, 21), 0, 30)
    assert jdatetime.date.fromgregorian(date=local.date()) == jdatetime.date(1405, 1, 1)
    assert jdatetime.date.fromgregorian(date=NOWRUZ_1405_UTC.date()) == jdatetime.date(1404, 12, 29)


@pytest.mark.parametrize(
    ("moment", "locale", "tz", "expected"),
    [
        (NOWRUZ_1405_UTC, "fa", TEHRAN, "۱ فروردین ۱۴۰۵"),
        (NOWRUZ_1405_UTC, "en", TEHRAN, "21 Mar 2026"),
        (NOWRUZ_1405_UTC, "fa", UTC, "۲۹ اسفند ۱۴۰۴"),
        (NOWRUZ_1405_UTC, "en", UTC, "20 Mar 2026"),
        (NOWRUZ_1405_UTC, "fa", None, "۲۹ اسفند ۱۴۰۴"),  # its own (UTC) offset
        (NOWRUZ_1405_UTC - timedelta(minutes=31), "fa", TEHRAN, "۲۹ اسفند ۱۴۰۴"),
        (NOWRUZ_1405_UTC - timedelta(minutes=30), "fa", TEHRAN, "۱ فروردین ۱۴۰۵"),
        (datetime(2026, 3, 21, 0, 30, tzinfo=TEHRAN), "fa", UTC, "۲۹ اسفند ۱۴۰۴"),
        (
            datetime(2026, 3, 21, 2, 0, tzinfo=timezone(timedelta(hours=5))),
            "en",
            None,
            "21 Mar 2026",
        ),
        (MORDAD_12_1370, "fa", TEHRAN, "۱۲ مرداد ۱۳۷۰"),  # a plain date is not shifted
    ],
)
def test_format_date_converts_aware_datetimes(
    moment: date, locale: str, tz: ZoneInfo | None, expected: str
) -> None:
    assert format_date(moment, locale, tz) == expected


def test_format_date_naive_datetime() -> None:
    naive = datetime(2026, 3, 20, 21, 0)
    assert format_date(naive, "en") == "20 Mar 2026"  # taken as already local
    with pytest.raises(ValueError, match="naive"):
        format_date(naive, "fa", TEHRAN)


@pytest.mark.parametrize(
    ("moment", "locale", "tz", "expected"),
    [
        (NOWRUZ_1405_UTC, "fa", TEHRAN, "۱ فروردین ۱۴۰۵، ۰۰:۳۰"),
        (NOWRUZ_1405_UTC, "en", TEHRAN, "21 Mar 2026, 00:30"),
        (NOWRUZ_1405_UTC, "en", UTC, "20 Mar 2026, 21:00"),
        (NOWRUZ_1405_UTC, "fa", UTC, "۲۹ اسفند ۱۴۰۴، ۲۱:۰۰"),
        (datetime(1991, 8, 3, 14, 5, 59, tzinfo=TEHRAN), "fa", TEHRAN, "۱۲ مرداد ۱۳۷۰، ۱۴:۰۵"),
        (datetime(1991, 8, 3, 9, 7, tzinfo=UTC), "en", TEHRAN, "3 Aug 1991, 13:37"),
    ],
)
def test_format_datetime(moment: datetime, locale: str, tz: ZoneInfo, expected: str) -> None:
    assert format_datetime(moment, locale, tz) == expected


def test_format_datetime_rejects_naive() -> None:
    with pytest.raises(ValueError, match="naive"):
        format_datetime(datetime(2026, 3, 20, 21, 0), "fa", TEHRAN)


@pytest.mark.parametrize("locale", ["de", "", "FA", "fa_IR"])
def test_unsupported_locale(locale: str) -> None:
    with pytest.raises(ValueError, match="locale"):
        format_date(MORDAD_12_1370, locale)
    with pytest.raises(ValueError, match="locale"):
        format_datetime(NOWRUZ_1405_UTC, locale, TEHRAN)


def test_fa_output_has_no_latin_digits() -> None:
    text = format_datetime(NOWRUZ_1405_UTC, "fa", TEHRAN)
    assert not any(c.isascii() and c.isdigit() for c in text)


# --- month_of / jalali_month_day -------------------------------------------------


@pytest.mark.parametrize(
    ("d", "month", "day"),
    [
        (MORDAD_12_1370, 5, 12),
        (date(2025, 3, 20), 12, 30),
        (date(2025, 3, 21), 1, 1),
        (date(2024, 12, 31), 10, 11),
        (date(1991, 9, 22), 6, 31),
        (date(1991, 9, 23), 7, 1),
        (datetime(2026, 3, 20, 23, 59, tzinfo=UTC), 12, 29),  # its own wall date
    ],
)
def test_month_and_day(d: date, month: int, day: int) -> None:
    assert month_of(d) == month
    assert jalali_month_day(d) == (month, day)


# --- properties ---------------------------------------------------------------------

DATES = st.dates(min_value=date(1900, 1, 1), max_value=date(2100, 12, 31))


@given(DATES, st.sampled_from(["/", "-", "."]), st.booleans(), st.booleans())
def test_jalali_round_trip(d: date, sep: str, persian: bool, padded: bool) -> None:
    j = jdatetime.date.fromgregorian(date=d)
    fmt = "{:04d}{sep}{:02d}{sep}{:02d}" if padded else "{}{sep}{}{sep}{}"
    text = fmt.format(j.year, j.month, j.day, sep=sep)
    if persian:
        text = to_persian_digits(text)
    assert parse_date(text) == d
    assert parse_date(text, calendar="jalali") == d
    assert jalali_month_day(d) == (j.month, j.day)


@given(DATES)
def test_gregorian_round_trip(d: date) -> None:
    assert parse_date(d.isoformat()) == d


@given(DATES)
def test_format_fa_parses_back(d: date) -> None:
    day, _month_name, year = format_date(d, "fa").split(" ")
    j = jdatetime.date(int(to_latin_digits(year)), month_of(d), int(to_latin_digits(day)))
    assert j.togregorian() == d


@given(st.text(max_size=40))
def test_parse_never_crashes(text: str) -> None:
    try:
        parse_date(text)
    except InvalidInput as exc:
        assert exc.reason in {"empty", "bad_format", "no_such_date"}
