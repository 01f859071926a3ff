"""Surveys: NPS, CES and CSAT asked at the moments that matter, and the scores staff act on.

An invite is a row written when the moment happens (a purchase, a confirmed redemption, a member's
NPS period) and sent when due by a periodic sweep, so a restart loses nothing and the unique
touchpoint keeps one moment from asking twice. The sweep sends an invite only to an active member
who has surveys on (offers switched off do not matter) and has had no survey in the cooldown; an
invite that waits too long is skipped rather than sent late.

Answers are one tap; the first one is kept. A low answer (NPS detractor, CSAT 1-2, CES 1-3) is one
staff should follow up, and the first staff member who takes it is recorded. The scores staff read
are :mod:`core.survey_reports`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import String, and_, cast, exists, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core import messaging, outbox
from core.db import insert_for, insert_once
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
# Answers at or below these are "low": staff follow up.
LOW: dict[SurveyKind, int] = {SurveyKind.NPS: 6, SurveyKind.CES: 3, SurveyKind.CSAT: 2}
MAX_COMMENT = 1000
COMMENT_WINDOW = timedelta(minutes=30)  # the member's next text within this is their comment
NPS_BATCH = 2000  # NPS invites written per call: one bounded transaction, the next call goes on
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
    invite = await insert_once(
        session,
        SurveyInvite(
            member_id=member_id, kind=kind, touchpoint=touchpoint, due_at=due_at, status=PENDING,
            created_at=now,
        ),
    )  # fmt: skip
    if invite is None:  # written before, or concurrently: once is enough
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
    statement = (
        insert_for(session, SurveyInvite)
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
