"""Surveys in core: when they are asked (with a controllable clock), the score formulas against
hand-computed examples, stale and double answers, and the sweep surviving a restart."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import members, purchases, redemptions, rewards, survey_reports, surveys
from core.db import transaction
from core.errors import (
    AlreadyAnswered,
    AlreadyCommented,
    InvalidInput,
    SurveyNotFound,
    SurveyStale,
)
from core.models import (
    Delivery,
    Member,
    MemberStatus,
    SurveyAnswer,
    SurveyInvite,
    SurveyKind,
)
from core.rules import Rules, SurveyRules
from tests.helpers import new_member

MINUTE = timedelta(minutes=1)
DAY = timedelta(days=1)
TEHRAN = ZoneInfo("Asia/Tehran")


def _render(invite: SurveyInvite, member: Member) -> tuple[str, dict]:
    return f"ask {invite.kind}", {"inline_keyboard": [[{"text": "1", "callback_data": "sv:x:1"}]]}


async def _invites(session: AsyncSession, kind: SurveyKind | None = None) -> list[SurveyInvite]:
    query = select(SurveyInvite).order_by(SurveyInvite.id)
    if kind is not None:
        query = query.where(SurveyInvite.kind == kind)
    return list(await session.scalars(query))


async def _due(session: AsyncSession, rules: Rules, at: datetime) -> list[str]:
    return [invite.touchpoint for invite, _ in await surveys.due_invites(session, rules, at, 100)]


async def _send(
    session: AsyncSession, rules: Rules, at: datetime, tz: ZoneInfo = TEHRAN
) -> list[Delivery]:
    return await surveys.queue_due(session, rules, at, tz=tz, render=_render, limit=100)


async def _sent_invite(
    session: AsyncSession, rules: Rules, now: datetime, kind: SurveyKind = SurveyKind.NPS
) -> tuple[Member, SurveyInvite]:
    """A member (joined long ago) with one survey of ``kind`` sent at ``now``."""
    member = await new_member(session, rules, now - 100 * DAY)
    invite = SurveyInvite(
        member_id=member.id, kind=kind, touchpoint=f"test:{member.id}:{kind}", due_at=now,
        status="sent", sent_at=now, created_at=now,
    )  # fmt: skip
    session.add(invite)
    await session.flush()
    return member, invite


# --- when surveys are asked -----------------------------------------------------------------


async def test_csat_is_due_some_minutes_after_a_purchase(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now - 100 * DAY)
    result = await purchases.record(session, rules, member.id, 100_000, reference="R1", now=now)

    [invite] = await _invites(session)
    assert (invite.kind, invite.touchpoint) == (SurveyKind.CSAT, f"purchase:{result.purchase.id}")
    assert invite.due_at == now + 30 * MINUTE
    assert await _due(session, rules, now + 29 * MINUTE) == []
    assert await _due(session, rules, now + 30 * MINUTE) == [invite.touchpoint]


async def test_a_configured_delay_is_used(session: AsyncSession, now: datetime) -> None:
    rules = Rules(surveys=SurveyRules(csat_delay_minutes=0))
    member = await new_member(session, rules, now - 100 * DAY)
    await purchases.record(session, rules, member.id, 100_000, now=now)
    assert len(await _due(session, rules, now)) == 1


async def test_ces_is_due_when_a_redemption_is_confirmed(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now - 100 * DAY)
    await purchases.record(session, rules, member.id, 500_000, reference="R1", now=now - 20 * DAY)
    reward = await rewards.create(session, rules, title="Coffee", cost=100, stock=3)
    redemption = await redemptions.redeem(
        session, rules, member.id, reward.id, request_key="k1", now=now - DAY
    )
    assert await _invites(session, SurveyKind.CES) == []  # reserving is not the moment

    await redemptions.confirm(session, redemption.code, actor_id=7, now=now)

    [invite] = await _invites(session, SurveyKind.CES)
    assert (invite.touchpoint, invite.due_at) == (f"redemption:{redemption.id}", now)


async def test_one_touchpoint_asks_once(session: AsyncSession, rules: Rules, now: datetime) -> None:
    member = await new_member(session, rules, now - 100 * DAY)
    result = await purchases.record(session, rules, member.id, 100_000, now=now)
    again = await surveys.after_purchase(session, rules, result.purchase, now + MINUTE)
    assert again is not None and again.due_at == now + 30 * MINUTE
    assert len(await _invites(session)) == 1


@pytest.mark.parametrize(
    ("days_member", "expected"), [(0, 0), (13, 0), (14, 1), (200, 1)]
)  # fmt: skip
async def test_nps_never_in_the_first_14_days(
    session: AsyncSession, rules: Rules, now: datetime, days_member: int, expected: int
) -> None:
    await new_member(session, rules, now - days_member * DAY)
    assert await surveys.schedule_nps(session, rules, now) == expected
    assert len(await _invites(session, SurveyKind.NPS)) == expected


async def test_nps_every_90_days_and_idempotent(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now - 30 * DAY)
    assert await surveys.schedule_nps(session, rules, now) == 1
    assert await surveys.schedule_nps(session, rules, now) == 0  # a second sweep, or a restart
    assert await surveys.schedule_nps(session, rules, now + 89 * DAY) == 0
    assert await surveys.schedule_nps(session, rules, now + 90 * DAY) == 1

    first, second = await _invites(session, SurveyKind.NPS)
    period = surveys.nps_period(rules, now)
    assert first.touchpoint == f"nps:{member.id}:{period}"
    assert second.touchpoint == f"nps:{member.id}:{period + 1}"
    assert (first.due_at, second.due_at) == (now, now + 90 * DAY)


async def test_nps_skips_members_who_left_or_turned_surveys_off(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    active = await new_member(session, rules, now - 30 * DAY)
    no_offers = await new_member(session, rules, now - 30 * DAY)
    no_surveys = await new_member(session, rules, now - 30 * DAY)
    blocked = await new_member(session, rules, now - 30 * DAY)
    await members.update_profile(session, no_offers.id, offers_enabled=False)
    await members.update_profile(session, no_surveys.id, surveys_enabled=False)
    blocked.status = MemberStatus.BLOCKED
    await session.flush()

    await surveys.schedule_nps(session, rules, now)

    asked = {invite.member_id for invite in await _invites(session)}
    assert asked == {active.id, no_offers.id}


async def test_nps_is_written_in_batches(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    for _ in range(5):
        await new_member(session, rules, now - 30 * DAY)
    assert await surveys.schedule_nps(session, rules, now, limit=2) == 2
    assert await surveys.schedule_nps(session, rules, now, limit=2) == 2
    assert await surveys.schedule_nps(session, rules, now, limit=2) == 1
    assert await surveys.schedule_nps(session, rules, now, limit=2) == 0


async def test_cooldown_across_all_surveys(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now - 100 * DAY)
    await purchases.record(session, rules, member.id, 100_000, reference="R1", now=now)
    [first] = await _send(session, rules, now + 30 * MINUTE, tz=UTC)
    sent_at = first.not_before

    await surveys.schedule_nps(session, rules, now + DAY)  # another kind, due at once
    assert await _due(session, rules, now + DAY) == []
    assert await _due(session, rules, sent_at + 7 * DAY - MINUTE) == []
    [(invite, _)] = await surveys.due_invites(session, rules, sent_at + 7 * DAY, 100)
    assert invite.kind == SurveyKind.NPS


async def test_two_due_at_once_go_one_at_a_time(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    rules = Rules(surveys=SurveyRules(csat_delay_minutes=0, cooldown_days=0))
    member = await new_member(session, rules, now - 100 * DAY)
    await purchases.record(session, rules, member.id, 100_000, reference="R1", now=now)
    await purchases.record(session, rules, member.id, 100_000, reference="R2", now=now)
    assert len(await _send(session, rules, now, tz=UTC)) == 1
    assert len(await _send(session, rules, now + MINUTE, tz=UTC)) == 1


async def test_a_csat_kept_waiting_too_long_is_skipped_but_nps_waits(
    session: AsyncSession, now: datetime
) -> None:
    rules = Rules(surveys=SurveyRules(cooldown_days=20))
    member, _ = await _sent_invite(session, rules, now, SurveyKind.CES)  # cooldown to now + 20d
    await purchases.record(session, rules, member.id, 100_000, reference="R1", now=now + DAY)
    await surveys.schedule_nps(session, rules, now + DAY)
    csat_due = now + DAY + 30 * MINUTE

    assert await _due(session, rules, csat_due + 7 * DAY) == []
    [csat] = await _invites(session, SurveyKind.CSAT)
    assert csat.status == "pending"  # not yet stale: it could still go out
    await _due(session, rules, csat_due + 7 * DAY + MINUTE)
    await session.refresh(csat)
    assert csat.status == "skipped"

    [(nps, _)] = await surveys.due_invites(session, rules, now + 20 * DAY, 100)
    assert nps.kind == SurveyKind.NPS  # waited out the cooldown, then goes


async def test_offers_off_still_gets_surveys_surveys_off_does_not(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    no_offers = await new_member(session, rules, now - 100 * DAY, name="A")
    no_surveys = await new_member(session, rules, now - 100 * DAY, name="B")
    later_off = await new_member(session, rules, now - 100 * DAY, name="C")
    await members.update_profile(session, no_offers.id, offers_enabled=False)
    await members.update_profile(session, no_surveys.id, surveys_enabled=False)
    for member in (no_offers, no_surveys, later_off):
        await purchases.record(session, rules, member.id, 100_000, now=now)
    await members.update_profile(session, later_off.id, surveys_enabled=False)

    sent = await _send(session, rules, now + DAY, tz=UTC)

    assert [d.member_id for d in sent] == [no_offers.id]
    assert {i.member_id for i in await _invites(session)} == {no_offers.id, later_off.id}


async def test_a_member_who_blocked_the_bot_is_not_asked(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now - 100 * DAY)
    await purchases.record(session, rules, member.id, 100_000, now=now)
    member.status = MemberStatus.BLOCKED
    await session.flush()
    assert await _due(session, rules, now + DAY) == []


@pytest.mark.parametrize(
    ("utc_time", "quiet", "sent_at_utc"),
    [
        # Tehran is UTC+3:30. The club's quiet hours are 22-9 Tehran time.
        ("2026-03-01T10:00", None, "2026-03-01T10:00"),  # 13:30 Tehran: at once
        ("2026-03-01T18:29", None, "2026-03-01T18:29"),  # 21:59 Tehran: just in time
        ("2026-03-01T18:30", None, "2026-03-02T05:30"),  # 22:00 Tehran: 09:00 next morning
        ("2026-03-01T21:00", None, "2026-03-02T05:30"),  # 00:30 Tehran: 09:00 that morning
        ("2026-03-01T05:30", None, "2026-03-01T05:30"),  # 09:00 Tehran: the quiet is over
        ("2026-03-01T05:30", (0, 10), "2026-03-01T06:30"),  # the member's own hours win
        ("2026-03-01T19:00", (0, 10), "2026-03-01T19:00"),  # 22:30 Tehran is fine for them
    ],
)
async def test_quiet_hours_hold_the_message_until_morning(
    session: AsyncSession,
    rules: Rules,
    utc_time: str,
    quiet: tuple[int, int] | None,
    sent_at_utc: str,
) -> None:
    at = datetime.fromisoformat(utc_time).replace(tzinfo=UTC)
    member = await new_member(session, rules, at - 100 * DAY)
    if quiet:
        await members.update_profile(session, member.id, quiet_start=quiet[0], quiet_end=quiet[1])
    await surveys.schedule_nps(session, rules, at)

    [delivery] = await _send(session, rules, at)

    expected = datetime.fromisoformat(sent_at_utc).replace(tzinfo=UTC)
    assert delivery.not_before == expected
    [invite] = await _invites(session)
    assert (invite.status, invite.sent_at) == ("sent", expected)  # cooldown counts from then


async def test_the_delivery_carries_the_question_and_the_scale(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now - 100 * DAY)
    await surveys.schedule_nps(session, rules, now)
    [delivery] = await _send(session, rules, now, tz=UTC)
    [invite] = await _invites(session)
    assert (delivery.chat_id, delivery.member_id) == (member.telegram_id, member.id)
    assert (delivery.kind, delivery.dedupe_key) == ("survey", f"survey:{invite.id}")
    assert delivery.text == "ask nps" and delivery.reply_markup["inline_keyboard"]


# --- the sweep after a restart --------------------------------------------------------------


async def test_the_sweep_after_a_restart_writes_each_survey_once(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async with transaction(sessions) as s:
        for name in ("A", "B", "C"):
            await new_member(s, rules, now - 100 * DAY, name=name)
        await surveys.schedule_nps(s, rules, now)

    def crash_on_second(invite: SurveyInvite, member: Member) -> tuple[str, dict]:
        if member.name == "B":
            raise RuntimeError("the process died")
        return _render(invite, member)

    with pytest.raises(RuntimeError):  # died mid-sweep: the transaction is lost whole
        async with transaction(sessions) as s:
            await surveys.queue_due(s, rules, now, tz=UTC, render=crash_on_second, limit=100)
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Delivery)) == 0

    async with transaction(sessions) as s:  # the sweep runs; the process dies before sending
        assert len(await _send(s, rules, now)) == 3
    for later in (now, now + MINUTE, now + 8 * DAY):  # restarted: the sweep runs again
        async with transaction(sessions) as s:
            await surveys.schedule_nps(s, rules, later)
            assert await _send(s, rules, later) == []

    async with sessions() as s:
        keys = list(await s.scalars(select(Delivery.dedupe_key)))
        invites = await _invites(s)
    assert sorted(keys) == sorted(f"survey:{i.id}" for i in invites)
    assert {i.status for i in invites} == {"sent"}


# --- answers --------------------------------------------------------------------------------


async def test_an_answer_is_recorded(session: AsyncSession, rules: Rules, now: datetime) -> None:
    member, invite = await _sent_invite(session, rules, now)
    answer = await surveys.answer(session, rules, invite.id, member.id, 9, now + MINUTE)
    assert (answer.kind, answer.score, answer.member_id) == (SurveyKind.NPS, 9, member.id)


async def test_answering_twice_keeps_the_first_answer(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member, invite = await _sent_invite(session, rules, now)
    await surveys.answer(session, rules, invite.id, member.id, 3, now + MINUTE)

    with pytest.raises(AlreadyAnswered) as refused:
        await surveys.answer(session, rules, invite.id, member.id, 10, now + 2 * MINUTE)

    assert refused.value.survey_score == 3
    assert list(await session.scalars(select(SurveyAnswer.score))) == [3]


@pytest.mark.parametrize(("after", "stale"), [(7 * DAY, False), (7 * DAY + MINUTE, True)])
async def test_a_survey_button_goes_stale(
    session: AsyncSession, rules: Rules, now: datetime, after: timedelta, stale: bool
) -> None:
    member, invite = await _sent_invite(session, rules, now)
    if stale:
        with pytest.raises(SurveyStale):
            await surveys.answer(session, rules, invite.id, member.id, 5, now + after)
    else:
        await surveys.answer(session, rules, invite.id, member.id, 5, now + after)


async def test_a_stale_button_after_an_answer_says_the_first_is_kept(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member, invite = await _sent_invite(session, rules, now)
    await surveys.answer(session, rules, invite.id, member.id, 8, now)
    with pytest.raises(AlreadyAnswered):
        await surveys.answer(session, rules, invite.id, member.id, 2, now + 30 * DAY)


async def test_an_unsent_or_someone_elses_survey_cannot_be_answered(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member, invite = await _sent_invite(session, rules, now)
    other = await new_member(session, rules, now - 100 * DAY, name="Other")
    with pytest.raises(SurveyNotFound):
        await surveys.answer(session, rules, invite.id, other.id, 5, now)
    with pytest.raises(SurveyNotFound):
        await surveys.answer(session, rules, 999_999, member.id, 5, now)
    invite.status, invite.sent_at = "pending", None
    await session.flush()
    with pytest.raises(SurveyStale):
        await surveys.answer(session, rules, invite.id, member.id, 5, now)


@pytest.mark.parametrize(
    ("kind", "score", "valid"),
    [
        (SurveyKind.NPS, 0, True), (SurveyKind.NPS, 10, True), (SurveyKind.NPS, 11, False),
        (SurveyKind.NPS, -1, False), (SurveyKind.CES, 0, False), (SurveyKind.CES, 1, True),
        (SurveyKind.CES, 7, True), (SurveyKind.CES, 8, False), (SurveyKind.CSAT, 0, False),
        (SurveyKind.CSAT, 5, True), (SurveyKind.CSAT, 6, False),
    ],
)  # fmt: skip
async def test_scores_must_be_on_the_scale(
    session: AsyncSession, rules: Rules, now: datetime, kind: SurveyKind, score: int, valid: bool
) -> None:
    member, invite = await _sent_invite(session, rules, now, kind)
    if valid:
        assert (
            await surveys.answer(session, rules, invite.id, member.id, score, now)
        ).score == score
    else:
        with pytest.raises(InvalidInput):
            await surveys.answer(session, rules, invite.id, member.id, score, now)


@pytest.mark.parametrize(
    ("kind", "score", "follow_up"),
    [
        (SurveyKind.NPS, 6, True), (SurveyKind.NPS, 7, False), (SurveyKind.NPS, 0, True),
        (SurveyKind.CSAT, 2, True), (SurveyKind.CSAT, 3, False),
        (SurveyKind.CES, 3, True), (SurveyKind.CES, 4, False),
    ],
)  # fmt: skip
def test_who_needs_a_call(kind: SurveyKind, score: int, follow_up: bool) -> None:
    assert surveys.needs_follow_up(SurveyAnswer(kind=kind, score=score)) is follow_up


async def test_one_comment_within_the_window(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member, invite = await _sent_invite(session, rules, now)
    answer = await surveys.answer(session, rules, invite.id, member.id, 4, now)

    with pytest.raises(InvalidInput):
        await surveys.add_comment(session, answer.id, member.id, "x" * 1001, now)
    await surveys.add_comment(session, answer.id, member.id, "  The queue was long  ", now)
    assert answer.comment == "The queue was long"
    with pytest.raises(AlreadyCommented):
        await surveys.add_comment(session, answer.id, member.id, "And cold coffee", now)


async def test_a_late_comment_is_refused(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member, invite = await _sent_invite(session, rules, now)
    answer = await surveys.answer(session, rules, invite.id, member.id, 4, now)
    with pytest.raises(SurveyStale):
        await surveys.add_comment(session, answer.id, member.id, "hi", now + 31 * MINUTE)


async def test_the_first_staff_member_takes_the_follow_up(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member, invite = await _sent_invite(session, rules, now)
    answer = await surveys.answer(session, rules, invite.id, member.id, 2, now)

    first = await surveys.take_follow_up(session, answer.id, 7, "Reza", now)
    second = await surveys.take_follow_up(session, answer.id, 8, "Mina", now + MINUTE)

    assert first.taken and not second.taken
    assert (second.answer.followed_up_by, second.answer.followed_up_name) == (7, "Reza")
    assert second.answer.followed_up_at == now


# --- scores ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "value", "margin", "split"),
    [
        # 5 promoters, 3 passives, 2 detractors: NPS = 50 % - 20 % = 30. The +1/0/-1 variable
        # has mean 0.3 and variance 0.7 - 0.09 = 0.61; margin = 1.96 * sqrt(0.61 / 10) * 100.
        ({10: 5, 8: 3, 3: 2}, 30.0, 48.408, (2, 3, 5)),
        ({7: 4, 8: 6}, 0.0, 0.0, (0, 10, 0)),  # all passives: NPS 0, no spread
        ({9: 1, 0: 1}, 0.0, 138.59, (1, 0, 1)),  # variance 1: 1.96 * sqrt(1 / 2) * 100
        ({0: 2, 6: 2}, -100.0, 0.0, (4, 0, 0)),
        ({10: 1}, 100.0, None, (0, 0, 1)),  # one answer: no margin
        ({}, None, None, (0, 0, 0)),  # an empty period: no score
    ],
)
def test_nps(counts: dict[int, int], value, margin, split) -> None:
    score = survey_reports.nps_score(counts)
    assert score.n == sum(counts.values())
    assert (score.low, score.middle, score.high) == split
    assert score.value == (pytest.approx(value) if value is not None else None)
    assert score.margin == (pytest.approx(margin, abs=0.01) if margin is not None else None)


def test_ces() -> None:
    # 7, 7, 5, 3: mean 5.5; squared deviations 2.25 + 2.25 + 0.25 + 6.25 = 11, s^2 = 11 / 3;
    # margin = 1.96 * sqrt(11 / 3) / 2 = 1.8766; 5-7 is 3 of 4 = 75 %.
    score = survey_reports.ces_score({7: 2, 5: 1, 3: 1})
    assert (score.n, score.value) == (4, pytest.approx(5.5))
    assert score.margin == pytest.approx(1.96 * math.sqrt(11 / 3) / 2)
    assert score.margin == pytest.approx(1.8766, abs=1e-4)
    assert (score.low, score.middle, score.high, score.high_share) == (1, 0, 3, 75.0)
    assert survey_reports.ces_score({4: 3}).margin == 0.0
    assert survey_reports.ces_score({}).value is None


def test_csat() -> None:
    # 5, 5, 5, 4, 2: 4 of 5 satisfied = 80 %; margin = 1.96 * sqrt(0.8 * 0.2 / 5) * 100 = 35.06
    score = survey_reports.csat_score({5: 3, 4: 1, 2: 1})
    assert (score.n, score.value) == (5, pytest.approx(80.0))
    assert score.margin == pytest.approx(35.06, abs=0.01)
    assert (score.low, score.middle, score.high) == (1, 0, 4)
    assert survey_reports.csat_score({}).n == 0 and survey_reports.csat_score({}).value is None


@pytest.mark.parametrize(
    ("scorer", "counts"),
    [
        (survey_reports.nps_score, {11: 1}),
        (survey_reports.ces_score, {0: 1}),
        (survey_reports.csat_score, {6: 1}),
    ],
)
def test_scores_off_the_scale_are_a_bug(scorer, counts: dict[int, int]) -> None:
    with pytest.raises(ValueError):
        scorer(counts)


# --- the report -----------------------------------------------------------------------------


async def _answered(
    session: AsyncSession, rules: Rules, at: datetime, kind: SurveyKind, score: int,
    comment: str | None = None,
) -> SurveyAnswer:  # fmt: skip
    member, invite = await _sent_invite(session, rules, at, kind)
    answer = await surveys.answer(session, rules, invite.id, member.id, score, at)
    if comment:
        await surveys.add_comment(session, answer.id, member.id, comment, at)
    return answer


async def test_report_by_club_week_with_the_latest_comments(
    session: AsyncSession, rules: Rules
) -> None:
    # Saturday 2026-02-28 00:00 Tehran is Friday 20:30 UTC: the week starts there, not at UTC 0h.
    saturday = datetime(2026, 2, 27, 20, 30, tzinfo=UTC)
    since, until = saturday - 3 * DAY, saturday + 14 * DAY
    await _answered(session, rules, saturday - MINUTE, SurveyKind.NPS, 10)  # Friday in Tehran
    await _answered(session, rules, saturday, SurveyKind.NPS, 2, "rude")
    await _answered(session, rules, saturday + DAY, SurveyKind.NPS, 9, "great")
    await _answered(session, rules, saturday + 8 * DAY, SurveyKind.NPS, 7)
    await _answered(session, rules, saturday + DAY, SurveyKind.CSAT, 1, "not NPS")
    await _answered(session, rules, until, SurveyKind.NPS, 0)  # after the period

    result = await survey_reports.report(session, SurveyKind.NPS, since, until, tz=TEHRAN)

    assert (result.score.n, result.score.value) == (4, pytest.approx(25.0))
    assert [w.start.isoformat() for w in result.weeks] == ["2026-02-21", "2026-02-28",
                                                           "2026-03-07"]  # fmt: skip
    assert [w.score.n for w in result.weeks] == [1, 2, 1]
    assert [w.score.value for w in result.weeks] == [100.0, 0.0, 0.0]
    assert [(c.text, c.score) for c in result.comments] == [("great", 9), ("rude", 2)]


async def test_report_of_an_empty_period_and_of_all_passives(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    empty = await survey_reports.report(session, SurveyKind.NPS, now - 90 * DAY, now, tz=TEHRAN)
    assert (empty.score.n, empty.score.value, empty.score.margin) == (0, None, None)
    assert empty.comments == [] and all(w.score.value is None for w in empty.weeks)
    assert 13 <= len(empty.weeks) <= 14

    for score in (7, 8, 8):
        await _answered(session, rules, now - DAY, SurveyKind.NPS, score)
    passives = await survey_reports.report(session, SurveyKind.NPS, now - 90 * DAY, now, tz=TEHRAN)
    assert (passives.score.n, passives.score.value, passives.score.margin) == (3, 0.0, 0.0)


async def test_answers_are_exported(session: AsyncSession, rules: Rules, now: datetime) -> None:
    from core import exports

    await _answered(session, rules, now, SurveyKind.CSAT, 2, "=cmd|' /C calc'!A0")
    data = (await exports.export_csv(session, "surveys")).decode("utf-8-sig").splitlines()
    assert data[0].split(",")[:5] == ["id", "member_id", "kind", "touchpoint", "score"]
    assert "csat" in data[1] and "'=cmd" in data[1]  # a formula is defused


async def test_an_old_skipped_invite_does_not_count_as_sent(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now - 100 * DAY)
    await purchases.record(session, rules, member.id, 100_000, now=now)
    await session.execute(update(SurveyInvite).values(status="skipped"))
    await surveys.schedule_nps(session, rules, now)
    assert len(await _due(session, rules, now)) == 1
