"""The club's calendar: the month a tier evaluation belongs to, and the day a birthday comes round.

The rules choose it (``calendar``): ``jalali`` (the default) or ``gregorian``. In the Jalali
calendar the evaluation runs at the start of each Jalali month and a birthday is kept on its Jalali
day: a member born on 12 Mordad is greeted on 12 Mordad, which is 3 August in some years and 4 in
others. Esfand 30, which only leap years have, is kept on Esfand 29 in the others, as 29 February
is kept on the 28th in the Gregorian calendar.
"""

from __future__ import annotations

import calendar as gregorian
from datetime import date, timedelta
from typing import Final

import jdatetime

from core.rules import ClubCalendar

#: Every Gregorian day a Jalali day falls on, over the years, is this close to today's.
_DRIFT: Final = 2


def month_key(day: date, calendar: ClubCalendar) -> str:
    """The month ``day`` is in, as ``YYYY-MM`` of the calendar (``1404-12``, ``2026-03``)."""
    if calendar is ClubCalendar.JALALI:
        j = jdatetime.date.fromgregorian(date=day)
        return f"{j.year:04d}-{j.month:02d}"
    return f"{day.year:04d}-{day.month:02d}"


def last_day_of_month(day: date, calendar: ClubCalendar) -> date:
    """The last day of the month ``day`` is in, as a (Gregorian) date."""
    if calendar is ClubCalendar.JALALI:
        j = jdatetime.date.fromgregorian(date=day)
        first_of_next = (
            jdatetime.date(j.year + 1, 1, 1)
            if j.month == 12
            else jdatetime.date(j.year, j.month + 1, 1)
        )
        return first_of_next.togregorian() - timedelta(days=1)
    return day.replace(day=gregorian.monthrange(day.year, day.month)[1])


def year_of(day: date, calendar: ClubCalendar) -> int:
    """The calendar's year of ``day``: a birthday is kept once in each."""
    if calendar is ClubCalendar.JALALI:
        return jdatetime.date.fromgregorian(date=day).year
    return day.year


def birthday_candidates(today: date, calendar: ClubCalendar) -> list[tuple[int, int]]:
    """The Gregorian (month, day)s a birthday kept ``today`` may have been on, for SQL to narrow
    the members down (:func:`celebrates` decides): in the Gregorian calendar today's, and
    29 February on the 28th in common years."""
    if calendar is ClubCalendar.JALALI:
        days = [today + timedelta(days=n) for n in range(-_DRIFT, _DRIFT + 1)]
        candidates = {(d.month, d.day) for d in days}
        if candidates & {(2, 28), (3, 1)}:
            candidates.add((2, 29))  # someone born on a leap day keeps their Jalali day near here
        return sorted(candidates)
    dates = [(today.month, today.day)]
    if (today.month, today.day) == (2, 28) and not gregorian.isleap(today.year):
        dates.append((2, 29))
    return dates


def celebrates(birthday: date, today: date, calendar: ClubCalendar) -> bool:
    """Is ``today`` the birthday's anniversary in the club's calendar?"""
    if calendar is ClubCalendar.JALALI:
        born, now = (
            jdatetime.date.fromgregorian(date=birthday),
            jdatetime.date.fromgregorian(date=today),
        )
        kept = (born.month, born.day)
        if kept == (12, 30) and not now.isleap():
            kept = (12, 29)
        return kept == (now.month, now.day)
    return (birthday.month, birthday.day) in birthday_candidates(today, calendar)
