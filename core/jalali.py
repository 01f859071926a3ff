"""Dates as Persian-speaking people type and read them: the Jalali (Solar Hijri) calendar.

Members type birthdays like ``1370/5/12`` or with Persian digits, and expect to read
dates back as ``12 Mordad 1370`` in Persian. The rest of the system (database, rules,
schedules) only knows :class:`datetime.date` in the Gregorian calendar, so this module
is the single border crossing: :func:`parse_date` / :func:`parse_birthday` turn text
into a ``date``, :func:`format_date` / :func:`format_datetime` turn a ``date`` or an
aware ``datetime`` back into text, and :func:`month_of` / :func:`jalali_month_day`
answer "which Jalali month/day is this" for birthday segments, as :func:`jalali_month_spans`
answers "which Gregorian days make up each Jalali month" for their SQL.

The calendar arithmetic (leap years, month lengths) is delegated to ``jdatetime``; we
never re-implement it. Persian month names also come from ``jdatetime``
(``jdatetime.date.j_months_fa``) and every other non-ASCII character is written as a
``\\u`` escape, because a repository checker forbids Persian characters in ``core/*.py``.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, tzinfo
from typing import Final, Literal

import jdatetime

from core.digits import to_latin_digits, to_persian_digits
from core.errors import InvalidInput

__all__ = [
    "GREGORIAN_YEAR_THRESHOLD",
    "MAX_AGE_YEARS",
    "MAX_DATE_INPUT_LENGTH",
    "Calendar",
    "InvalidDateReason",
    "first_weekday",
    "format_date",
    "format_datetime",
    "format_day_month",
    "format_sortable",
    "jalali_month_day",
    "jalali_month_spans",
    "mmdd",
    "month_of",
    "parse_birthday",
    "parse_date",
]

Calendar = Literal["auto", "jalali", "gregorian"]
InvalidDateReason = Literal["empty", "bad_format", "no_such_date", "not_plausible"]

#: Inputs longer than this (after trimming) are rejected as ``bad_format`` before the
#: regular expression runs. ``"1370 / 05 / 12"`` is 14 characters; anything past 20 is
#: not a date, and the bound keeps hostile messages cheap.
MAX_DATE_INPUT_LENGTH: Final = 20

#: With ``calendar="auto"`` a year below this is Jalali, otherwise Gregorian. The two
#: ranges people actually use (Jalali ~1300-1500, Gregorian ~1900-2100) are centuries
#: apart, so a single threshold is unambiguous in practice.
GREGORIAN_YEAR_THRESHOLD: Final = 1700

#: A birthday further back than this many years is treated as a typo, not a member.
MAX_AGE_YEARS: Final = 120

#: Invisible bidirectional controls that Persian keyboards and copy-paste from RTL text
#: slip into "numbers": LRM, RLM, ALM, the embeddings/overrides U+202A-U+202E and the
#: isolates U+2066-U+2069. They carry no meaning in a date, so they are dropped.
_BIDI_CONTROLS: Final = dict.fromkeys(
    [0x200E, 0x200F, 0x061C, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)

# ``[0-9]`` rather than ``\d`` so Devanagari, fullwidth etc. digits stay rejected (Persian
# and Arabic-Indic digits are already converted by ``to_latin_digits``). The year must have
# exactly four digits: a two-digit year ("70/5/12") is ambiguous, so it is refused rather
# than guessed. The two separators need not match: "1370/5-12" is sloppy but unambiguous.
_DATE_PATTERN: Final = re.compile(
    r"([0-9]{4})\s*[-/.]\s*([0-9]{1,2})\s*[-/.]\s*([0-9]{1,2})",
    re.ASCII,
)

#: English month abbreviations, fixed here rather than taken from ``strftime("%b")``,
#: whose output depends on the process's C locale.
_EN_MONTHS: Final = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)

#: The Persian (Arabic) comma U+060C, used between date and time in ``fa``.
_FA_COMMA: Final = "\u060c"

MONDAY: Final = 0
SATURDAY: Final = 5


def _jalali(d: date) -> jdatetime.date:
    """The Jalali date of a calendar date (a ``datetime`` counts by its own wall-clock date)."""
    return jdatetime.date.fromgregorian(date=date(d.year, d.month, d.day))


def parse_date(text: str, *, calendar: Calendar = "auto") -> date:
    """Parse a date a person typed, Jalali or Gregorian, into a Gregorian :class:`date`.

    Accepted: ``year<sep>month<sep>day`` with a four-digit year, one- or two-digit month
    and day, separators ``/``, ``-`` or ``.`` (optionally surrounded by spaces), ASCII,
    Persian or Arabic-Indic digits (mixed too), whitespace and invisible bidi marks
    around. With ``calendar="auto"`` the year decides: below
    :data:`GREGORIAN_YEAR_THRESHOLD` it is Jalali (``1370/5/12``), otherwise Gregorian
    (``1991-08-03``); ``"jalali"`` or ``"gregorian"`` forces one reading.

    Only year-month-day order is accepted: day-first orders are ambiguous between
    countries, and a wrong guess would silently store the wrong birthday.

    :raises InvalidInput: ``reason`` is ``"empty"``, ``"bad_format"`` (not a date shape,
        or longer than :data:`MAX_DATE_INPUT_LENGTH`) or ``"no_such_date"`` (month 13,
        day 32, 1402/12/30 in a non-leap Jalali year, 2023-02-29, a year out of range).
    :raises ValueError: for an unknown ``calendar`` -- a programming error, not user input.
    """
    if calendar not in ("auto", "jalali", "gregorian"):
        raise ValueError(f"unsupported calendar: {calendar!r}")

    stripped = text.translate(_BIDI_CONTROLS).strip()
    if not stripped:
        raise InvalidInput("empty", text)
    if len(stripped) > MAX_DATE_INPUT_LENGTH:
        raise InvalidInput("bad_format", text)

    match = _DATE_PATTERN.fullmatch(to_latin_digits(stripped))
    if match is None:
        raise InvalidInput("bad_format", text)
    year, month, day = (int(part) for part in match.groups())

    jalali = calendar == "jalali" or (calendar == "auto" and year < GREGORIAN_YEAR_THRESHOLD)
    try:
        if jalali:
            # jdatetime validates month lengths and leap years (Esfand 30 only in leap years).
            return jdatetime.date(year, month, day).togregorian()
        return date(year, month, day)
    except (ValueError, OverflowError):
        raise InvalidInput("no_such_date", text) from None


def parse_birthday(text: str, *, today: date, calendar: Calendar = "auto") -> date:
    """Parse a birthday: :func:`parse_date` plus a plausibility check.

    ``today`` is passed in (the club's local date, from the caller's clock) so the check
    is deterministic and testable. A birthday in the future, or more than
    :data:`MAX_AGE_YEARS` years before ``today``, is almost certainly a typo (for example a
    Gregorian year typed where a Jalali one was meant), so it is refused rather than
    stored. Today itself and exactly 120 years ago are accepted.

    :raises InvalidInput: the reasons of :func:`parse_date`, or ``"not_plausible"``.
    """
    born = parse_date(text, calendar=calendar)
    if born > today:
        raise InvalidInput("not_plausible", text)
    try:
        oldest = today.replace(year=today.year - MAX_AGE_YEARS)
    except ValueError:
        # today is 29 February and the year 120 years ago was not a leap year (e.g. 1900):
        # 1 March is the first day that is not more than 120 years ago.
        oldest = date(today.year - MAX_AGE_YEARS, 3, 1)
    if born < oldest:
        raise InvalidInput("not_plausible", text)
    return born


def _local_date(d: date | datetime, tz: tzinfo | None) -> date:
    """The calendar date to show for ``d``, converting an aware ``datetime`` to ``tz`` first.

    Conversion matters: 2026-03-20 21:00 UTC is already 1 Farvardin (Nowruz) in Tehran.
    A naive ``datetime`` together with a ``tz`` is refused because its zone is unknown
    (the database hands out aware UTC datetimes; a naive one is a bug upstream).
    """
    if isinstance(d, datetime):
        if tz is not None:
            if d.tzinfo is None or d.utcoffset() is None:
                raise ValueError("naive datetime: pass an aware datetime to convert to tz")
            d = d.astimezone(tz)
        return d.date()
    return d


def _format_local_date(d: date, locale: str) -> str:
    if locale == "fa":
        j = _jalali(d)
        month = jdatetime.date.j_months_fa[j.month - 1]
        return f"{to_persian_digits(str(j.day))} {month} {to_persian_digits(str(j.year))}"
    if locale == "en":
        return f"{d.day} {_EN_MONTHS[d.month - 1]} {d.year}"
    raise ValueError(f"unsupported locale: {locale!r}")


def format_date(d: date | datetime, locale: str, tz: tzinfo | None = None) -> str:
    """Format a date for people: Jalali in Persian, Gregorian in English.

    * ``"fa"``: day, Persian month name, year, in Persian digits, e.g. 12 Mordad 1370
      rendered as ``"\u06f1\u06f2 \u0645\u0631\u062f\u0627\u062f \u06f1\u06f3\u06f7\u06f0"``.
    * ``"en"``: ``"3 Aug 1991"`` (month abbreviations independent of the C locale).

    An aware ``datetime`` is first converted to ``tz`` (the club's zone), because the
    date of a moment depends on where it is read; with ``tz=None`` its own offset is used.
    A plain ``date`` is shown as is.

    :raises ValueError: for an unsupported locale, or a naive ``datetime`` with a ``tz``.
    """
    return _format_local_date(_local_date(d, tz), locale)


def format_datetime(dt: datetime, locale: str, tz: tzinfo) -> str:
    """Format a moment as :func:`format_date` plus ``HH:MM`` (24-hour) in ``tz``.

    ``tz`` is required: a time shown to a member must be on the club's clock, never on
    whatever zone the value happened to carry (the database's UTC). ``"fa"`` uses Persian
    digits and the Persian comma, e.g. ``"<date>\u060c \u06f0\u06f0:\u06f3\u06f0"``;
    ``"en"`` gives ``"21 Mar 2026, 00:30"``.

    :raises ValueError: for a naive ``datetime`` or an unsupported locale.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("naive datetime: pass an aware datetime")
    local = dt.astimezone(tz)
    day = _format_local_date(local.date(), locale)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if locale == "fa":
        return f"{day}{_FA_COMMA} {to_persian_digits(clock)}"
    return f"{day}, {clock}"


def format_day_month(d: date, locale: str) -> str:
    """A day without its year, ``12 Esfand`` or ``3 Mar``: week labels under a chart."""
    return _format_local_date(d, locale).rsplit(" ", 1)[0]


def format_sortable(dt: datetime, locale: str, tz: tzinfo) -> str:
    """A moment for a spreadsheet cell: ``1405/01/15 10:30:05`` (Jalali) in ``"fa"``,
    ``2026-04-04 10:30:05`` in ``"en"``, in ``tz``, with Latin digits and zero padding.

    Latin digits and fixed widths make the text sort and filter in date order in any
    spreadsheet; a Jalali date cannot be a spreadsheet's own date value, so it is text.

    :raises ValueError: for a naive ``datetime`` or an unsupported locale.
    """
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("naive datetime: pass an aware datetime")
    local = dt.astimezone(tz)
    clock = f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    if locale == "fa":
        j = _jalali(local.date())
        return f"{j.year:04d}/{j.month:02d}/{j.day:02d} {clock}"
    if locale == "en":
        return f"{local.date().isoformat()} {clock}"
    raise ValueError(f"unsupported locale: {locale!r}")


def first_weekday(locale: str) -> int:
    """The day a week starts on (``date.weekday()``: Monday 0): Saturday in Persian, as
    Iranian calendars have it, Monday (ISO 8601) otherwise."""
    return SATURDAY if locale == "fa" else MONDAY


def month_of(d: date) -> int:
    """The Jalali month (1 = Farvardin ... 12 = Esfand) of a Gregorian date.

    Birthday segments and greetings are by Jalali month, which does not line up with
    Gregorian months (Farvardin starts around 21 March).
    """
    return _jalali(d).month


def jalali_month_day(d: date) -> tuple[int, int]:
    """The Jalali ``(month, day)`` of a Gregorian date: a birthday's yearly anniversary key.

    Note that Esfand 30 exists only in Jalali leap years; a caller scheduling yearly
    greetings has to decide what to do with it in common years.
    """
    j = _jalali(d)
    return j.month, j.day


def mmdd(d: date) -> int:
    """A Gregorian month and day as one number, ``month * 100 + day``: 21 March is ``321``."""
    return d.month * 100 + d.day


def jalali_month_spans(jalali_year: int) -> dict[int, tuple[int, int]]:
    """For each Jalali month of the year, its Gregorian days as ``(first, last)`` in ``mmdd``.

    ``first > last`` means the month runs over the Gregorian year end (Dey). The twelve spans
    cover every ``mmdd`` of a leap year exactly once.
    """
    spans: dict[int, tuple[int, int]] = {}
    for month in range(1, 13):
        first = jdatetime.date(jalali_year, month, 1).togregorian()
        if month < 12:
            last = jdatetime.date(jalali_year, month + 1, 1).togregorian() - timedelta(days=1)
        else:
            # Esfand runs to the day before Farvardin 1 of this year's Gregorian calendar: a year
            # of 366 days would give 20 March to both Farvardin and Esfand, a year of 365 days
            # over a 29 February none of them.
            last = jdatetime.date(jalali_year, 1, 1).togregorian() - timedelta(days=1)
        spans[month] = (mmdd(first), mmdd(last))
    return spans


_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_datetime(text: str, tz: tzinfo) -> datetime:
    """A moment staff type, ``1405/01/15 10:30`` (Jalali or Gregorian), in the club's time zone.

    Without a time it means the start of that day.
    """
    date_part, _, time_part = to_latin_digits(text).strip().partition(" ")
    day = parse_date(date_part)
    hour = minute = 0
    if time_part.strip():
        match = _TIME.match(time_part.strip())
        if match is None or int(match[1]) > 23 or int(match[2]) > 59:
            raise InvalidInput("bad_format", text)
        hour, minute = int(match[1]), int(match[2])
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)
