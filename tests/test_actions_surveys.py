"""The survey use cases (core.actions.surveys), driven as the chat drives them: the member answers
and comments as themselves (their Telegram id), staff take a low answer's follow-up (audited once),
and pressing a button again changes nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from core.actions import surveys
from core.audit import Actor
from core.club import Club
from core.errors import (
    AlreadyAnswered,
    AlreadyCommented,
    InvalidInput,
    NotJoined,
    SurveyNotFound,
    SurveyStale,
)
from core.models import AuditEntry, SurveyAnswer, SurveyInvite, SurveyKind, utcnow
from tests.helpers import new_member

STAFF = Actor(701, "Reza")
OTHER_STAFF = Actor(702, "Mina")


async def _sent(club: Club, kind: SurveyKind = SurveyKind.CSAT) -> tuple[Actor, int]:
    """A member with one survey of ``kind`` sent just now: the member's actor and the invite."""
    now = utcnow()
    async with club.sessions() as s, s.begin():
        member = await new_member(s, club.rules, now - timedelta(days=100))
        invite = SurveyInvite(
            member_id=member.id, kind=kind, touchpoint=f"test:{member.id}", due_at=now,
            status="sent", sent_at=now, created_at=now,
        )  # fmt: skip
        s.add(invite)
        await s.flush()
        return Actor(member.telegram_id, member.name), invite.id


async def _follow_up_entries(club: Club) -> list[AuditEntry]:
    async with club.sessions() as s:
        query = select(AuditEntry).where(AuditEntry.action == "survey_follow_up")
        return list(await s.scalars(query))


async def test_a_low_answer_is_kept_once_and_asks_for_a_follow_up(club: Club) -> None:
    me, invite_id = await _sent(club)

    answered = await surveys.answer(club, me, invite_id, 2)

    assert (answered.answer.score, answered.low) == (2, True)
    assert answered.member.telegram_id == me.id
    with pytest.raises(AlreadyAnswered):
        await surveys.answer(club, me, invite_id, 5)
    async with club.sessions() as s:
        [kept] = await s.scalars(select(SurveyAnswer))
    assert kept.score == 2


async def test_a_good_answer_needs_no_follow_up(club: Club) -> None:
    me, invite_id = await _sent(club)

    assert not (await surveys.answer(club, me, invite_id, 5)).low


async def test_only_the_invited_member_answers(club: Club) -> None:
    _, invite_id = await _sent(club)
    stranger, _ = await _sent(club)

    with pytest.raises(SurveyNotFound):
        await surveys.answer(club, stranger, invite_id, 5)
    with pytest.raises(NotJoined):
        await surveys.answer(club, Actor(999_999), invite_id, 5)


async def test_a_comment_is_written_once_and_a_too_long_one_not_at_all(club: Club) -> None:
    me, invite_id = await _sent(club)
    answer_id = (await surveys.answer(club, me, invite_id, 1)).answer.id

    with pytest.raises(InvalidInput):
        await surveys.comment(club, me, answer_id, "x" * 1001)
    commented = await surveys.comment(club, me, answer_id, "  slow checkout  ")

    assert commented.answer.comment == "slow checkout"
    with pytest.raises(AlreadyCommented):
        await surveys.comment(club, me, answer_id, "again")
    async with club.sessions() as s:
        assert (await s.get(SurveyAnswer, answer_id)).comment == "slow checkout"


async def test_the_first_staff_member_takes_the_follow_up_audited_once(club: Club) -> None:
    me, invite_id = await _sent(club)
    answer_id = (await surveys.answer(club, me, invite_id, 1)).answer.id

    first = await surveys.follow_up(club, STAFF, answer_id)
    again = await surveys.follow_up(club, STAFF, answer_id)
    later = await surveys.follow_up(club, OTHER_STAFF, answer_id)

    assert (first.taken, again.taken, later.taken) == (True, False, False)
    assert later.answer.followed_up_name == "Reza"
    assert first.member.telegram_id == me.id
    [entry] = await _follow_up_entries(club)
    assert (entry.actor_id, entry.actor_name, entry.member_id) == (
        STAFF.id,
        "Reza",
        first.member.id,
    )
    assert entry.after == {"answer_id": answer_id, "kind": "csat", "score": 1}


async def test_a_follow_up_of_no_answer_is_not_found_and_not_audited(club: Club) -> None:
    with pytest.raises(SurveyNotFound):
        await surveys.follow_up(club, STAFF, 404)
    assert await _follow_up_entries(club) == []


async def test_a_comment_after_the_window_is_refused(club: Club) -> None:
    me, invite_id = await _sent(club)
    answer_id = (await surveys.answer(club, me, invite_id, 3)).answer.id
    async with club.sessions() as s, s.begin():
        await s.execute(
            update(SurveyAnswer)
            .where(SurveyAnswer.id == answer_id)
            .values(created_at=utcnow() - timedelta(hours=1))
        )

    with pytest.raises(SurveyStale):
        await surveys.comment(club, me, answer_id, "late")
