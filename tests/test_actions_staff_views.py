"""What staff read, through the core use cases the chat and the API call: a member's file, the
club's numbers, the audit log (core.actions.reports), a segment preview and the campaigns
(core.actions.campaigns), a survey report (core.actions.surveys.report).

Each is driven as the chat drives it (members joined, points awarded, surveys answered through the
actions), and each is a read: asked twice it answers the same, and it writes nothing, not even an
audit entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from core.actions import adjustments, campaigns, reports, surveys
from core.audit import Actor
from core.campaigns import Draft
from core.club import Club
from core.errors import MemberNotFound, SegmentError
from core.models import AuditEntry, Member, SurveyAnswer, SurveyInvite, SurveyKind, utcnow
from tests.helpers import new_member

STAFF = Actor(701, "Reza")
OWNER = Actor(502, "Owner")
WEEKLY = Draft(name="Weekly", template="Hi {{ name }}", segment="tier >= bronze", cron="0 10 * * 5")


async def _members(club: Club, *names: str) -> list[Member]:
    async with club.sessions() as s, s.begin():
        return [
            await new_member(s, club.rules, utcnow() - timedelta(days=30), name=n) for n in names
        ]


async def _award(club: Club, member: Member, points: int, key: str) -> None:
    await adjustments.adjust(
        club, OWNER, f"#{member.id}", points, reason="welcome", key=key, admin=True
    )


async def _audit_count(club: Club) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(AuditEntry)) or 0)


async def _answered(club: Club, member: Member, kind: SurveyKind, score: int) -> int:
    """The member answers a survey of ``kind`` they were just sent; the answer's id."""
    now = utcnow()
    async with club.sessions() as s, s.begin():
        invite = SurveyInvite(
            member_id=member.id, kind=kind, touchpoint=f"test:{member.id}:{score}", due_at=now,
            status="sent", sent_at=now, created_at=now,
        )  # fmt: skip
        s.add(invite)
        await s.flush()
    me = Actor(member.telegram_id, member.name)
    return (await surveys.answer(club, me, invite.id, score)).answer.id


# --- reports ----------------------------------------------------------------------------------


async def test_a_member_file_is_found_the_way_staff_type_it(club: Club) -> None:
    sara, _ = await _members(club, "Sara", "Ali")
    await _award(club, sara, 300, "award-1")
    written = await _audit_count(club)

    by_number = await reports.member_file(club, STAFF, f"#{sara.id}")
    again = await reports.member_file(club, STAFF, str(sara.id))

    assert (by_number.member.id, by_number.member.name, by_number.member.balance) == (
        sara.id, "Sara", 300,
    )  # fmt: skip
    assert by_number.next_tier is not None and by_number.points_to_next_tier is not None
    assert (again.member.id, again.member.balance) == (sara.id, 300)
    assert await _audit_count(club) == written


async def test_a_member_file_of_nobody_is_refused(club: Club) -> None:
    await _members(club, "Sara")

    with pytest.raises(MemberNotFound):
        await reports.member_file(club, STAFF, "#999999")


async def test_the_club_stats_count_members_and_points(club: Club) -> None:
    sara, ali = await _members(club, "Sara", "Ali")
    await _award(club, sara, 300, "award-1")
    await _award(club, ali, 200, "award-2")
    written = await _audit_count(club)

    numbers = await reports.club_stats(club, STAFF)

    assert numbers.members_total == 2 and sum(numbers.members_by_tier.values()) == 2
    assert (numbers.points_issued, numbers.points_outstanding) == (500, 500)
    assert await reports.club_stats(club, STAFF) == numbers
    assert await _audit_count(club) == written


async def test_the_audit_log_is_newest_first_and_of_one_member_when_named(club: Club) -> None:
    sara, ali = await _members(club, "Sara", "Ali")
    await _award(club, sara, 300, "award-1")
    await _award(club, ali, 200, "award-2")
    await campaigns.create(club, OWNER, WEEKLY)
    await _award(club, sara, -50, "deduct-1")

    everyone = await reports.audit_log(club, STAFF)
    hers = await reports.audit_log(club, STAFF, f"#{sara.id}")
    latest = await reports.audit_log(club, STAFF, limit=2)

    assert everyone.member is None
    assert [e.action for e in everyone.entries] == ["deduct", "campaign_new", "award", "award"]
    assert hers.member is not None and hers.member.id == sara.id
    assert [(e.action, e.member_id) for e in hers.entries] == [
        ("deduct", sara.id), ("award", sara.id),
    ]  # fmt: skip
    assert [e.id for e in latest.entries] == [e.id for e in everyone.entries[:2]]
    assert await _audit_count(club) == 4


async def test_the_audit_log_of_nobody_is_refused(club: Club) -> None:
    with pytest.raises(MemberNotFound):
        await reports.audit_log(club, STAFF, "#999999")


# --- segments and campaigns -------------------------------------------------------------------


async def test_a_segment_preview_counts_and_shows_the_first_members(club: Club) -> None:
    sara, ali, mina = await _members(club, "Sara", "Ali", "Mina")
    for i, member in enumerate((sara, ali, mina)):
        await _award(club, member, 100 * (i + 1), f"award-{i}")
    written = await _audit_count(club)

    found = await campaigns.preview_segment(club, STAFF, "balance >= 200", sample=1)
    counted = await campaigns.preview_segment(club, STAFF, "balance >= 200", sample=0)

    assert (found.segment.text, found.count) == ("balance >= 200", 2)
    assert [m.id for m in found.sample] == [ali.id]  # lowest member number first
    assert (counted.count, counted.sample) == (2, [])
    assert await _audit_count(club) == written


async def test_a_segment_that_does_not_read_is_refused_where_it_stops(club: Club) -> None:
    with pytest.raises(SegmentError) as caught:
        await campaigns.preview_segment(club, STAFF, "balance >= 100 and wealth > 3")
    assert (caught.value.reason, caught.value.token) == ("unknown_field", "wealth")


async def test_the_campaigns_are_listed_newest_first(club: Club) -> None:
    assert await campaigns.listing(club, STAFF) == []
    first = await campaigns.create(club, OWNER, WEEKLY)
    second = await campaigns.create(club, OWNER, Draft(**{**vars(WEEKLY), "name": "Friday"}))

    listed = await campaigns.listing(club, STAFF)

    assert [c.id for c in listed] == [second.campaign.id, first.campaign.id]
    assert [c.name for c in listed] == ["Friday", "Weekly"]


# --- survey reports ---------------------------------------------------------------------------


async def test_a_survey_report_reads_the_answers_of_its_days(club: Club) -> None:
    sara, ali, mina = await _members(club, "Sara", "Ali", "Mina")
    await _answered(club, sara, SurveyKind.NPS, 10)
    await _answered(club, ali, SurveyKind.NPS, 3)
    old = await _answered(club, mina, SurveyKind.NPS, 9)
    await _answered(club, mina, SurveyKind.CSAT, 5)  # another kind: not in the NPS report
    async with club.sessions() as s, s.begin():
        await s.execute(
            update(SurveyAnswer)
            .where(SurveyAnswer.id == old)
            .values(created_at=utcnow() - timedelta(days=40))
        )

    month = await surveys.report(club, STAFF, SurveyKind.NPS, 30)
    quarter = await surveys.report(club, STAFF, "nps", 90)

    assert (month.kind, month.score.n, month.score.value) == (SurveyKind.NPS, 2, 0.0)
    assert (quarter.score.n, quarter.score.high, quarter.score.low) == (3, 2, 1)
    assert sum(week.score.n for week in quarter.weeks) == 3
    assert month.until - month.since == timedelta(days=30)
    assert await _audit_count(club) == 0
