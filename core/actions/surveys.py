"""A member answers a survey (one tap, then an optional comment); staff take a low answer's
follow-up ("I'll call them", audited) and read the reports (``/nps``, ``/ces``, ``/csat``).

Each is idempotent by its nature rather than by a key: the first answer to an invite is kept and a
second is :class:`~core.errors.AlreadyAnswered`; a comment is written once
(:class:`~core.errors.AlreadyCommented`); the follow-up goes to the first staff member who takes it,
and a later press learns who did, leaving no second audit entry. Skipping the comment writes
nothing, so it is no action: the face only stops waiting for the comment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from core import audit, members, survey_reports, surveys
from core.actions.membership import member_of
from core.audit import Actor
from core.club import Club
from core.db import Session, snapshot
from core.models import Member, SurveyAnswer, SurveyKind, utcnow
from core.survey_reports import Report


@dataclass(frozen=True)
class Answered:
    """The member's answer; ``low``: staff should follow it up (the face alerts them)."""

    member: Member
    answer: SurveyAnswer
    low: bool


@dataclass(frozen=True)
class Commented:
    member: Member
    answer: SurveyAnswer


@dataclass(frozen=True)
class FollowUp:
    """``taken``: this staff member took it now; otherwise ``answer.followed_up_name`` did."""

    member: Member  # who answered
    answer: SurveyAnswer
    taken: bool


async def answer(club: Club, actor: Actor, invite_id: int, score: int) -> Answered:
    """The member's one-tap answer to a survey they were sent (:func:`core.surveys.answer`)."""

    async def unit(session: Session) -> Answered:
        member = await member_of(session, actor)
        recorded = await surveys.answer(session, club.rules, invite_id, member.id, score)
        return Answered(member, recorded, low=surveys.needs_follow_up(recorded))

    return await club.write(unit)


async def comment(club: Club, actor: Actor, answer_id: int, text: str) -> Commented:
    """The member's comment on their answer, once, within :data:`core.surveys.COMMENT_WINDOW`.

    :raises InvalidInput: empty, or longer than :data:`core.surveys.MAX_COMMENT` (``too_long``).
    :raises SurveyStale: the window closed.
    :raises AlreadyCommented: commented before.
    :raises SurveyNotFound: no such answer, or not this member's.
    """

    async def unit(session: Session) -> Commented:
        member = await member_of(session, actor)
        found = await surveys.add_comment(session, answer_id, member.id, text)
        return Commented(member, found)

    return await club.write(unit)


async def follow_up(club: Club, actor: Actor, answer_id: int) -> FollowUp:
    """A staff member takes a low answer's follow-up; the first one is recorded and audited."""
    now = utcnow()

    async def unit(session: Session) -> FollowUp:
        result = await surveys.take_follow_up(session, answer_id, actor.id, actor.name, now)
        found = result.answer
        member = await members.get(session, found.member_id)
        if result.taken:
            await audit.record(
                session, actor, action="survey_follow_up", member_id=member.id,
                after={"answer_id": found.id, "kind": str(found.kind), "score": found.score},
                now=now,
            )  # fmt: skip
        return FollowUp(member, found, taken=result.taken)

    return await club.write(unit)


async def report(club: Club, actor: Actor, kind: SurveyKind | str, days: int) -> Report:
    """A staff report: the answers of ``kind`` in the last ``days`` days, week by week in the
    club's time zone (:func:`core.survey_reports.report`)."""
    now = utcnow()
    async with snapshot(club.sessions) as session:
        return await survey_reports.report(
            session, kind, now - timedelta(days=days), now, tz=club.settings.tz
        )
