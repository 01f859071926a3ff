"""Survey scores and the staff reports: NPS, CES and CSAT over some answers, week by week.

Scores come with a 95 % margin of error (normal approximation):

- NPS: each answer is +1 (9-10), 0 (7-8) or -1 (0-6); NPS = 100 * mean, margin =
  1.96 * sqrt(variance / n) * 100 with variance = (P + D) / n - ((P - D) / n) ** 2;
- CES: the mean of 1-7, margin = 1.96 * s / sqrt(n) with the sample standard deviation s;
  also the share of 5-7;
- CSAT: the share of 4-5 in percent, margin = 1.96 * sqrt(p (1 - p) / n) * 100.

With fewer than two answers there is no margin; with none there is no score. The answers
themselves, and when surveys are asked, are :mod:`core.surveys`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Member, SurveyAnswer, SurveyKind
from core.surveys import LOW, SCALES

# Answers at or above these count as good (promoters, CES 5-7, CSAT 4-5); LOW are the poor ones.
HIGH: dict[SurveyKind, int] = {SurveyKind.NPS: 9, SurveyKind.CES: 5, SurveyKind.CSAT: 4}
#: How many decimals each score is shown with: NPS and CSAT whole, CES (a mean of 1-7) in tenths.
PLACES: dict[SurveyKind, int] = {SurveyKind.NPS: 0, SurveyKind.CES: 1, SurveyKind.CSAT: 0}
LATEST_COMMENTS = 5
SATURDAY = 5  # the Persian week starts on Saturday
Z = 1.96  # 95 % confidence


# --- scores ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Score:
    """One survey kind's score over some answers.

    ``value``: NPS -100..100, CES the mean 1..7, CSAT the percent of 4-5; ``None`` without
    answers. ``low``/``middle``/``high``: detractors/passives/promoters for NPS, 1-3/4/5-7 for
    CES, 1-2/3/4-5 for CSAT.
    """

    kind: SurveyKind
    n: int
    value: float | None
    margin: float | None
    low: int
    middle: int
    high: int

    def percent(self, part: int) -> float | None:
        return 100 * part / self.n if self.n else None

    @property
    def high_share(self) -> float | None:
        """Percent of good answers: promoters, CES 5-7, CSAT 4-5."""
        return self.percent(self.high)


def _split(kind: SurveyKind, counts: Mapping[int, int]) -> tuple[int, int, int, int]:
    scale = SCALES[kind]
    for score, count in counts.items():
        if score not in scale or count < 0:
            raise ValueError(f"{kind}: bad count {count} for score {score}")
    n = sum(counts.values())
    low = sum(c for s, c in counts.items() if s <= LOW[kind])
    high = sum(c for s, c in counts.items() if s >= HIGH[kind])
    return n, low, n - low - high, high


def nps_score(counts: Mapping[int, int]) -> Score:
    """NPS from ``{score: count}``: % promoters - % detractors, and its margin."""
    n, low, middle, high = _split(SurveyKind.NPS, counts)
    if not n:
        return Score(SurveyKind.NPS, 0, None, None, low, middle, high)
    mean = (high - low) / n
    variance = max((high + low) / n - mean**2, 0.0)
    margin = Z * math.sqrt(variance / n) * 100 if n > 1 else None
    return Score(SurveyKind.NPS, n, mean * 100, margin, low, middle, high)


def ces_score(counts: Mapping[int, int]) -> Score:
    """CES from ``{score: count}``: the mean of 1-7, and its margin."""
    n, low, middle, high = _split(SurveyKind.CES, counts)
    if not n:
        return Score(SurveyKind.CES, 0, None, None, low, middle, high)
    mean = sum(s * c for s, c in counts.items()) / n
    margin = None
    if n > 1:
        sd = math.sqrt(sum(c * (s - mean) ** 2 for s, c in counts.items()) / (n - 1))
        margin = Z * sd / math.sqrt(n)
    return Score(SurveyKind.CES, n, mean, margin, low, middle, high)


def csat_score(counts: Mapping[int, int]) -> Score:
    """CSAT from ``{score: count}``: the percent of 4-5, and its margin."""
    n, low, middle, high = _split(SurveyKind.CSAT, counts)
    if not n:
        return Score(SurveyKind.CSAT, 0, None, None, low, middle, high)
    p = high / n
    margin = Z * math.sqrt(p * (1 - p) / n) * 100 if n > 1 else None
    return Score(SurveyKind.CSAT, n, p * 100, margin, low, middle, high)


SCORERS: dict[SurveyKind, Callable[[Mapping[int, int]], Score]] = {
    SurveyKind.NPS: nps_score,
    SurveyKind.CES: ces_score,
    SurveyKind.CSAT: csat_score,
}


def score_of(kind: SurveyKind | str, counts: Mapping[int, int]) -> Score:
    return SCORERS[SurveyKind(kind)](counts)


# --- reports --------------------------------------------------------------------------------


class Comment(NamedTuple):
    member_id: int
    member_name: str | None
    score: int
    text: str
    created_at: datetime


@dataclass(frozen=True)
class Week:
    start: date  # the first day of the week in the club's time zone
    score: Score


@dataclass(frozen=True)
class Report:
    kind: SurveyKind
    since: datetime
    until: datetime
    score: Score
    weeks: list[Week]
    comments: list[Comment]


def week_starts(
    since: datetime, until: datetime, tz: tzinfo, first_weekday: int = SATURDAY
) -> list[datetime]:
    """Local midnights starting the weeks that ``[since, until)`` touches, the first <= since."""
    local = since.astimezone(tz)
    day = local.date() - timedelta(days=(local.weekday() - first_weekday) % 7)
    starts = []
    while (start := datetime.combine(day, time(), tzinfo=tz)) < until or not starts:
        starts.append(start)
        day += timedelta(days=7)
    return starts


async def report(
    session: AsyncSession,
    kind: SurveyKind | str,
    since: datetime,
    until: datetime,
    *,
    tz: tzinfo = UTC,
    first_weekday: int = SATURDAY,
) -> Report:
    """The score of the answers in ``[since, until)``, week by week (club time), and the latest
    comments. Two queries, both aggregated or limited in SQL."""
    kind = SurveyKind(kind)
    starts = week_starts(since, until, tz, first_weekday)
    in_period = and_(
        SurveyAnswer.kind == kind, SurveyAnswer.created_at >= since, SurveyAnswer.created_at < until
    )
    week_index: Any = (
        case(
            *((SurveyAnswer.created_at < start, i) for i, start in enumerate(starts[1:])),
            else_=len(starts) - 1,
        )
        if len(starts) > 1
        else literal(0)
    )
    # Grouped in an outer query: PostgreSQL would not match the bound CASE in a GROUP BY.
    bucketed = select(week_index.label("week"), SurveyAnswer.score).where(in_period).subquery()
    counts = await session.execute(
        select(bucketed.c.week, bucketed.c.score, func.count()).group_by(
            bucketed.c.week, bucketed.c.score
        )
    )
    by_week: list[dict[int, int]] = [{} for _ in starts]
    total: dict[int, int] = {}
    for week, score, count in counts:
        by_week[int(week)][int(score)] = int(count)
        total[int(score)] = total.get(int(score), 0) + int(count)
    latest = await session.execute(
        select(SurveyAnswer.member_id, Member.name, SurveyAnswer.score, SurveyAnswer.comment,
               SurveyAnswer.created_at)
        .join(Member, Member.id == SurveyAnswer.member_id)
        .where(in_period, SurveyAnswer.comment.is_not(None))
        .order_by(SurveyAnswer.created_at.desc(), SurveyAnswer.id.desc())
        .limit(LATEST_COMMENTS)
    )  # fmt: skip
    return Report(
        kind=kind,
        since=since,
        until=until,
        score=score_of(kind, total),
        weeks=[
            Week(start.date(), score_of(kind, week))
            for start, week in zip(starts, by_week, strict=True)
        ],
        comments=[Comment(*row) for row in latest],
    )
