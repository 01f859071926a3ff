"""Surveys: NPS, CES and CSAT asked at the moments that matter, and the scores staff act on.

An invite is a row written when the moment happens (a purchase, a confirmed redemption, a member's
NPS period) and sent when due by a periodic sweep, so a restart loses nothing and the unique
touchpoint keeps one moment from asking twice. The sweep sends an invite only to an active member
who has surveys on (offers switched off do not matter) and has had no survey in the cooldown; an
invite that waits too long is skipped rather than sent late.

Answers are one tap; the first one is kept. A low answer (NPS detractor, CSAT 1-2, CES 1-3) is one
staff should follow up, and the first staff member who takes it is recorded.

Scores come with a 95 % margin of error (normal approximation):

- NPS: each answer is +1 (9-10), 0 (7-8) or -1 (0-6); NPS = 100 * mean, margin =
  1.96 * sqrt(variance / n) * 100 with variance = (P + D) / n - ((P - D) / n) ** 2;
- CES: the mean of 1-7, margin = 1.96 * s / sqrt(n) with the sample standard deviation s;
  also the share of 5-7;
- CSAT: the share of 4-5 in percent, margin = 1.96 * sqrt(p (1 - p) / n) * 100.

With fewer than two answers there is no margin; with none there is no score.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple

from sqlalchemy import String, and_, case, cast, exists, func, literal, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core import messaging, outbox
from core.errors import AlreadyAnswered, AlreadyCommented, InvalidInput, SurveyNotFound, SurveyStale
from core.models import (
    Delivery,
    Member,
    MemberStatus,
    Purchase,
    Redemption,
    SurveyAnswer,
    SurveyInvite,
    SurveyKind,
    UTCDateTime,
    utcnow,
)
from core.rules import Rules

PENDING, SENT, SKIPPED = "pending", "sent", "skipped"
DELIVERY_KIND = "survey"
SCALES: dict[SurveyKind, range] = {
    SurveyKind.NPS: range(0, 11),
    SurveyKind.CES: range(1, 8),
    SurveyKind.CSAT: range(1, 6),
}
# Answers at or below these are "low" (staff follow up); answers at or above HIGH count as good.
LOW: dict[SurveyKind, int] = {SurveyKind.NPS: 6, SurveyKind.CES: 3, SurveyKind.CSAT: 2}
HIGH: dict[SurveyKind, int] = {SurveyKind.NPS: 9, SurveyKind.CES: 5, SurveyKind.CSAT: 4}
MAX_COMMENT = 1000
COMMENT_WINDOW = timedelta(minutes=30)  # the member's next text within this is their comment
LATEST_COMMENTS = 5
NPS_BATCH = 2000  # NPS invites written per call: one bounded transaction, the next call goes on
SATURDAY = 5  # the Persian week starts on Saturday
Z = 1.96  # 95 % confidence
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# --- scheduling -----------------------------------------------------------------------------


async def after_purchase(
    session: AsyncSession, rules: Rules, purchase: Purchase, now: datetime
) -> SurveyInvite | None:
    """A CSAT about the purchase experience, due ``csat_delay_minutes`` after it."""
    due = now + timedelta(minutes=rules.surveys.csat_delay_minutes)
    return await _invite(
        session, purchase.member_id, SurveyKind.CSAT, f"purchase:{purchase.id}", due, now
    )


async def after_redemption(
    session: AsyncSession, rules: Rules | None, redemption: Redemption, now: datetime
) -> SurveyInvite | None:
    """A CES about getting the reward, due at once (the sweep still respects quiet hours)."""
    return await _invite(
        session, redemption.member_id, SurveyKind.CES, f"redemption:{redemption.id}", now, now
    )


async def _invite(
    session: AsyncSession,
    member_id: int,
    kind: SurveyKind,
    touchpoint: str,
    due_at: datetime,
    now: datetime,
) -> SurveyInvite | None:
    """Write the invite once per touchpoint; none for a member who turned surveys off."""
    member = await session.get(Member, member_id)
    if member is None or not member.surveys_enabled:
        return None
    existing = await session.scalar(
        select(SurveyInvite).where(SurveyInvite.touchpoint == touchpoint)
    )
    if existing is not None:
        return existing
    invite = SurveyInvite(
        member_id=member_id, kind=kind, touchpoint=touchpoint, due_at=due_at, status=PENDING,
        created_at=now,
    )  # fmt: skip
    try:
        async with session.begin_nested():
            session.add(invite)
            await session.flush()
    except IntegrityError:  # written concurrently: once is enough
        return await session.scalar(
            select(SurveyInvite).where(SurveyInvite.touchpoint == touchpoint)
        )
    return invite


def nps_period(rules: Rules, now: datetime) -> int:
    """Which NPS period ``now`` falls in: days since the epoch, in periods of ``nps_every_days``."""
    return (now - _EPOCH).days // rules.surveys.nps_every_days


async def schedule_nps(
    session: AsyncSession, rules: Rules, now: datetime, *, limit: int = NPS_BATCH
) -> int:
    """Write NPS invites, up to ``limit``, for every active member with surveys on who joined at
    least ``nps_min_member_days`` ago and had no NPS invite in the last ``nps_every_days``.

    One ``INSERT … SELECT``: no member is loaded into Python. Safe to run twice or concurrently
    (the touchpoint ``nps:<member>:<period>`` is unique and conflicts are ignored). Returns how
    many were written; when that is ``limit``, call again (in a new transaction) for the rest.
    """
    survey_rules = rules.surveys
    earlier = aliased(SurveyInvite)
    touchpoint = (
        literal("nps:", String) + cast(Member.id, String) + literal(f":{nps_period(rules, now)}")
    )
    stamp = literal(now, UTCDateTime())
    eligible = (
        select(
            Member.id,
            literal(SurveyKind.NPS.value, String),
            touchpoint,
            stamp,
            literal(PENDING, String),
            stamp,
        )
        .where(
            Member.status == MemberStatus.ACTIVE,
            Member.surveys_enabled.is_(True),
            Member.telegram_id.is_not(None),
            Member.joined_at <= now - timedelta(days=survey_rules.nps_min_member_days),
            ~exists().where(
                earlier.member_id == Member.id,
                earlier.kind == SurveyKind.NPS,
                earlier.created_at > now - timedelta(days=survey_rules.nps_every_days),
            ),
        )
        .order_by(Member.id)
        .limit(limit)
    )
    columns = ["member_id", "kind", "touchpoint", "due_at", "status", "created_at"]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(SurveyInvite)
        .from_select(columns, eligible)
        .on_conflict_do_nothing(index_elements=["touchpoint"])
    )
    result = await session.execute(statement)
    return max(int(result.rowcount or 0), 0)


# --- sending --------------------------------------------------------------------------------


async def expire_waiting(session: AsyncSession, rules: Rules, now: datetime) -> int:
    """Skip invites that waited too long to be sent (cooldown, surveys off, member away).

    A CSAT or CES is about one moment: past ``answer_valid_days`` after it was due, asking is
    pointless. An NPS waits through a cooldown, up to the end of its period, when the next
    period's invite takes over.
    """
    survey_rules = rules.surveys
    result = await session.execute(
        update(SurveyInvite)
        .where(
            SurveyInvite.status == PENDING,
            or_(
                and_(
                    SurveyInvite.kind != SurveyKind.NPS,
                    SurveyInvite.due_at < now - timedelta(days=survey_rules.answer_valid_days),
                ),
                and_(
                    SurveyInvite.kind == SurveyKind.NPS,
                    SurveyInvite.due_at < now - timedelta(days=survey_rules.nps_every_days),
                ),
            ),
        )
        .values(status=SKIPPED)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)


async def due_invites(
    session: AsyncSession, rules: Rules, now: datetime, limit: int
) -> list[tuple[SurveyInvite, Member]]:
    """Invites to send now, oldest first, at most one per member: pending and due, for an active
    member with surveys on and no survey sent within ``cooldown_days``. Stale ones are skipped
    first (:func:`expire_waiting`). Rows are locked (``SKIP LOCKED`` on PostgreSQL) until commit.
    """
    await expire_waiting(session, rules, now)
    sent = aliased(SurveyInvite)
    cooldown_start = now - timedelta(days=rules.surveys.cooldown_days)
    rows = await session.execute(
        select(SurveyInvite, Member)
        .join(Member, Member.id == SurveyInvite.member_id)
        .where(
            SurveyInvite.status == PENDING,
            SurveyInvite.due_at <= now,
            Member.status == MemberStatus.ACTIVE,
            Member.surveys_enabled.is_(True),
            Member.telegram_id.is_not(None),
            ~exists().where(
                sent.member_id == SurveyInvite.member_id,
                sent.status == SENT,
                sent.sent_at > cooldown_start,
            ),
        )
        .order_by(SurveyInvite.due_at, SurveyInvite.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=SurveyInvite)
    )
    chosen: dict[int, tuple[SurveyInvite, Member]] = {}
    for invite, member in rows:
        chosen.setdefault(member.id, (invite, member))  # the rest wait for the cooldown
    return list(chosen.values())


async def mark_sent(session: AsyncSession, invite: SurveyInvite, at: datetime) -> None:
    """The invite is on its way; ``at`` is when the member gets it (after quiet hours)."""
    invite.status = SENT
    invite.sent_at = at
    await session.flush()


Render = Callable[[SurveyInvite, Member], tuple[str, dict[str, Any]]]


async def queue_due(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    *,
    tz: tzinfo,
    render: Render,
    limit: int,
) -> list[Delivery]:
    """Write one outbox message per due invite and mark it sent, in the caller's transaction.

    ``render(invite, member)`` gives the text and the inline keyboard (a dict). A message waits
    for the end of the member's quiet hours (their own, else the club's). The dedupe key
    ``survey:<invite>`` makes a repeated sweep write nothing twice.
    """
    written = []
    for invite, member in await due_invites(session, rules, now, limit):
        text, markup = render(invite, member)
        at = messaging.send_after(member, rules, now, tz)
        delivery = await outbox.enqueue(
            session, chat_id=member.telegram_id, kind=DELIVERY_KIND,
            dedupe_key=f"survey:{invite.id}", text=text, member_id=member.id,
            reply_markup=markup, not_before=at, now=now,
        )  # fmt: skip
        await mark_sent(session, invite, at)
        if delivery is not None:
            written.append(delivery)
    return written


# --- answers --------------------------------------------------------------------------------


def check_score(kind: SurveyKind | str, score: int) -> int:
    if isinstance(score, bool) or not isinstance(score, int):
        raise InvalidInput("not_a_number", repr(score))
    if score not in SCALES[SurveyKind(kind)]:
        raise InvalidInput("out_of_range", str(score))
    return score


def needs_follow_up(answer: SurveyAnswer) -> bool:
    """A detractor (NPS 0-6), a CSAT of 1-2 or a CES of 1-3: someone should call them."""
    return answer.score <= LOW[SurveyKind(answer.kind)]


async def answer(
    session: AsyncSession,
    rules: Rules,
    invite_id: int,
    member_id: int,
    score: int,
    now: datetime | None = None,
) -> SurveyAnswer:
    """Record the member's answer to a survey they were sent; the first answer is kept.

    :raises SurveyNotFound: no such invite, or not this member's.
    :raises InvalidInput: the score is off the survey's scale.
    :raises AlreadyAnswered: answered before; carries the first score.
    :raises SurveyStale: never sent, or sent more than ``answer_valid_days`` ago.
    """
    now = now or utcnow()
    invite = await session.scalar(
        select(SurveyInvite).where(SurveyInvite.id == invite_id).with_for_update()
    )
    if invite is None or invite.member_id != member_id:
        raise SurveyNotFound(invite_id=invite_id)
    check_score(invite.kind, score)
    first = await _answer_of(session, invite_id)
    if first is not None:
        raise AlreadyAnswered(first.score, answer_id=first.id)
    valid_until = (invite.sent_at or now) + timedelta(days=rules.surveys.answer_valid_days)
    if invite.status != SENT or now > valid_until:
        raise SurveyStale(invite_id=invite_id)
    recorded = SurveyAnswer(
        invite_id=invite.id, member_id=member_id, kind=invite.kind, score=score, created_at=now
    )
    try:
        async with session.begin_nested():
            session.add(recorded)
            await session.flush()
    except IntegrityError:  # the same button pressed twice at once: the other press won
        first = await _answer_of(session, invite_id)
        if first is None:
            raise
        raise AlreadyAnswered(first.score, answer_id=first.id) from None
    return recorded


async def _answer_of(session: AsyncSession, invite_id: int) -> SurveyAnswer | None:
    return await session.scalar(select(SurveyAnswer).where(SurveyAnswer.invite_id == invite_id))


async def get_answer(session: AsyncSession, answer_id: int) -> SurveyAnswer:
    found = await session.get(SurveyAnswer, answer_id)
    if found is None:
        raise SurveyNotFound(answer_id=answer_id)
    return found


async def add_comment(
    session: AsyncSession, answer_id: int, member_id: int, text: str, now: datetime | None = None
) -> SurveyAnswer:
    """The optional comment after the score: once, within :data:`COMMENT_WINDOW`, at most
    :data:`MAX_COMMENT` characters."""
    now = now or utcnow()
    cleaned = text.strip()
    if not cleaned:
        raise InvalidInput("empty", text)
    if len(cleaned) > MAX_COMMENT:
        raise InvalidInput("too_long", cleaned)
    found = await session.scalar(
        select(SurveyAnswer).where(SurveyAnswer.id == answer_id).with_for_update()
    )
    if found is None or found.member_id != member_id:
        raise SurveyNotFound(answer_id=answer_id)
    if found.comment is not None:
        raise AlreadyCommented(answer_id=answer_id)
    if now > found.created_at + COMMENT_WINDOW:
        raise SurveyStale(answer_id=answer_id)
    found.comment = cleaned
    await session.flush()
    return found


@dataclass(frozen=True)
class FollowUp:
    answer: SurveyAnswer
    taken: bool  # True: this staff member took it now; False: someone already had


async def take_follow_up(
    session: AsyncSession, answer_id: int, staff_id: int, staff_name: str | None, now: datetime
) -> FollowUp:
    """The "I'll call them" button: the first staff member is recorded; later ones learn who."""
    result = await session.execute(
        update(SurveyAnswer)
        .where(SurveyAnswer.id == answer_id, SurveyAnswer.followed_up_by.is_(None))
        .values(followed_up_by=staff_id, followed_up_name=staff_name, followed_up_at=now)
        .execution_options(synchronize_session=False)
    )
    found = await session.scalar(
        select(SurveyAnswer)
        .where(SurveyAnswer.id == answer_id)
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise SurveyNotFound(answer_id=answer_id)
    return FollowUp(found, taken=result.rowcount == 1)


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
