"""The jobs' core functions, driven as the bot's sweeps drive them: each opens its own transactions,
writes every message to the outbox once, and keeps one batch in one transaction (a batch that
fails rolls back whole, what it announces with it)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core import (
    allocation,
    audit,
    broadcasts,
    housekeeping,
    lifecycle,
    reachability,
    rewards,
    surveys,
    sweeps,
)
from core.actions import draws
from core.club import Club
from core.models import (
    Campaign,
    Delivery,
    LedgerEntry,
    Member,
    MemberStatus,
    SurveyInvite,
    SurveyKind,
)
from tests.conftest import NOW
from tests.helpers import audit_entries, new_member, reload_member

DAY = timedelta(days=1)


async def _members(club: Club, names: str, **fields: Any) -> list[Member]:
    """One long-standing member per letter of ``names``, with ``fields`` set on each."""
    async with club.sessions() as s, s.begin():
        made = [await new_member(s, club.rules, NOW - 400 * DAY, name=name) for name in names]
        for member in made:
            for field, value in fields.items():
                setattr(member, field, value)
    return made


async def _outbox(club: Club) -> dict[str, Delivery]:
    async with club.sessions() as s:
        return {d.dedupe_key: d for d in await s.scalars(select(Delivery).order_by(Delivery.id))}


async def _gifts(club: Club) -> list[str]:
    async with club.sessions() as s:
        keys = await s.scalars(
            select(LedgerEntry.idempotency_key).where(
                LedgerEntry.idempotency_key.like("birthday:%")
            )
        )
        return sorted(keys)


def greet(notice: lifecycle.Notice) -> str:
    """Stands in for the face's templates."""
    return f"{notice.topic}|{notice.member.name}"


# --- the lifecycle sweep --------------------------------------------------------------------


async def test_the_lifecycle_sweep_greets_each_birthday_once_with_its_gift(club: Club) -> None:
    members = await _members(club, "ABC", birthday=date(1990, 3, 1))
    keys = {f"birthday:{m.id}:1404": m for m in members}

    report = await sweeps.run_lifecycle(club, NOW, render=greet)
    again = await sweeps.run_lifecycle(club, NOW + DAY / 4, render=greet)

    assert report.failed == [] and report.written["birthday_gifts"] == 3
    assert set(report.housekeeping) == {chore.__name__ for chore in housekeeping.HOUSEKEEPING}
    assert again.failed == [] and sum(again.written.values()) == 0
    rows = await _outbox(club)
    for key, member in keys.items():
        assert rows[key].text == f"birthday|{member.name}"
        assert rows[key].chat_id == member.telegram_id
    assert await _gifts(club) == sorted(keys)


async def test_a_lifecycle_page_that_fails_rolls_back_alone(
    club: Club, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lifecycle, "PAGE", 2)
    monkeypatch.setattr(lifecycle, "SELECTORS", (lifecycle.birthday_gifts,))
    a, b, c = await _members(club, "ABC", birthday=date(1990, 3, 1))

    def fails_on_c(notice: lifecycle.Notice) -> str:
        if notice.member.id == c.id:
            raise RuntimeError("template broke")
        return greet(notice)

    report = await sweeps.run_lifecycle(club, NOW, render=fails_on_c)

    assert report.failed == ["birthday_gifts"]
    paid = [f"birthday:{a.id}:1404", f"birthday:{b.id}:1404"]
    assert sorted(await _outbox(club)) == await _gifts(club) == sorted(paid)  # C: no gift, no word

    retry = await sweeps.run_lifecycle(club, NOW, render=greet)
    assert retry.failed == [] and retry.written["birthday_gifts"] == 1
    assert await _gifts(club) == sorted([*paid, f"birthday:{c.id}:1404"])


async def test_a_failing_chore_does_not_stop_the_sweep(
    club: Club, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_: object) -> int:
        raise RuntimeError("boom")

    monkeypatch.setattr(housekeeping, "HOUSEKEEPING", (broken,))
    await _members(club, "A", birthday=date(1990, 3, 1))

    report = await sweeps.run_lifecycle(club, NOW, render=greet)

    assert report.failed == ["broken"] and report.written["birthday_gifts"] == 1


# --- the survey sweep -----------------------------------------------------------------------


def ask(invite: SurveyInvite, member: Member) -> tuple[str, dict[str, Any]]:
    return f"ask {invite.kind} {member.name}", {"inline_keyboard": []}


async def test_the_survey_sweep_invites_and_queues_in_batches_once(club: Club) -> None:
    await _members(club, "AB")

    first = await sweeps.run_surveys(club, NOW, nps=True, render=ask, limit=1)
    second = await sweeps.run_surveys(club, NOW, nps=True, render=ask, limit=1)
    third = await sweeps.run_surveys(club, NOW, nps=False, render=ask, limit=1)

    assert (first.nps_written, first.queued) == (2, 1)
    assert (second.nps_written, second.queued) == (0, 1)  # NPS written once; the next batch
    assert (third.nps_written, third.queued) == (None, 0)
    assert not first.more_nps and sweeps.SurveySweep(surveys.NPS_BATCH, 0).more_nps
    rows = await _outbox(club)
    async with club.sessions() as s:
        invites = list(await s.scalars(select(SurveyInvite).order_by(SurveyInvite.id)))
    assert [i.kind for i in invites] == [SurveyKind.NPS] * 2
    assert {i.status for i in invites} == {surveys.SENT}
    assert sorted(rows) == sorted(f"survey:{i.id}" for i in invites)
    assert {r.text for r in rows.values()} == {"ask nps A", "ask nps B"}


# --- campaigns ------------------------------------------------------------------------------


def _variables(recipient: broadcasts.Recipient) -> dict[str, object]:
    return {"name": recipient.member.name}


async def _campaign(club: Club, name: str, template: str) -> int:
    async with club.sessions() as s, s.begin():
        campaign = Campaign(
            name=name, template=template, segment="tier >= bronze", run_at=NOW,
            next_run_at=NOW - DAY, status="scheduled", runs=0,
        )  # fmt: skip
        s.add(campaign)
        await s.flush()
        return campaign.id


async def test_due_campaigns_run_once_and_a_broken_one_is_skipped(club: Club) -> None:
    await _members(club, "AB")
    broken = await _campaign(club, "Broken", "{{ name / 0 }}")
    good = await _campaign(club, "Hello", "Hi {{ name }}")

    runs = [r async for r in broadcasts.launch_due(club, NOW, variables=_variables, markup=_none)]
    again = [r async for r in broadcasts.launch_due(club, NOW, variables=_variables, markup=_none)]

    assert [(r.campaign.id, r.written) for r in runs] == [(good, 2)] and again == []
    rows = await _outbox(club)
    assert sorted(r.text for r in rows.values()) == ["Hi A", "Hi B"]
    assert {r.campaign_id for r in rows.values()} == {good}
    progress = await broadcasts.progress_of(club, good)
    assert progress.counts == {"pending": 2} and not progress.done
    assert (progress.campaign.runs, progress.campaign.status) == (1, "done")
    still = await broadcasts.progress_of(club, broken)
    assert (still.campaign.runs, still.campaign.status, still.counts) == (0, "scheduled", {})


async def test_the_progress_message_is_remembered(club: Club) -> None:
    campaign_id = await _campaign(club, "Hello", "Hi {{ name }}")

    await broadcasts.remember_progress_message(club, campaign_id, -100, 42)

    campaign = (await broadcasts.progress_of(club, campaign_id)).campaign
    assert (campaign.progress_chat_id, campaign.progress_message_id) == (-100, 42)
    assert (await broadcasts.progress_of(club, campaign_id)).done  # nothing to send


def _none(campaign: Campaign) -> None:
    return None


# --- lotteries ------------------------------------------------------------------------------


def announce(key: str, member: Member | None, /, **values: Any) -> str:
    return f"{key}|{'staff' if member is None else member.id}"


async def _lottery(club: Club, ends_at: datetime) -> int:
    """A lottery for two prizes with three entrants, its deadline at ``ends_at``."""
    now = datetime.now(NOW.tzinfo)
    async with club.sessions() as s, s.begin():
        reward = await rewards.create(
            s, club.rules, title="Trip", cost=1, stock=2, allocation="lottery"
        )
        for n in range(3):
            member = await new_member(s, club.rules, now, name=f"M{n}")
            await allocation.enter_lottery(s, club.rules, member.id, reward.id, now)
        reward.ends_at = ends_at
        return reward.id


async def test_lotteries_past_their_deadline_are_drawn_once_by_the_system(club: Club) -> None:
    now = datetime.now(NOW.tzinfo)
    due = await _lottery(club, now - DAY)
    later = await _lottery(club, now + DAY)

    drawn = await draws.draw_due(club, render=announce)
    again = await draws.draw_due(club, render=announce)

    assert [d.reward.id for d in drawn] == [due] and again == []
    assert len(drawn[0].winners) == 2 and drawn[0].notices == 4  # the staff and three entrants
    [entry] = await audit_entries(club, "draw")
    assert entry.actor_id == audit.SYSTEM.id and entry.after["reward_id"] == due
    async with club.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Delivery)) == 4
        assert await allocation.get_draw(s, later) is None


# --- reachability ---------------------------------------------------------------------------


async def test_a_refused_notice_marks_an_active_member_blocked_once(club: Club) -> None:
    member, erased = await _members(club, "AE")
    async with club.sessions() as s, s.begin():
        (await s.get(Member, erased.id)).status = MemberStatus.ERASED

    await reachability.refused(club, member.id)
    await reachability.refused(club, member.id)
    await reachability.refused(club, erased.id)

    assert (await reload_member(club.sessions, member.id)).status == MemberStatus.BLOCKED
    assert (await reload_member(club.sessions, erased.id)).status == MemberStatus.ERASED
