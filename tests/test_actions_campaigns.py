"""Staff running campaigns through core.actions.campaigns: a new one saved and audited, and one
paused, resumed or cancelled, each change audited with the status before and after, and a
change that is not allowed (a repeat, say) refused with nothing written."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core.actions import campaigns
from core.audit import Actor
from core.campaigns import CampaignStatus, Draft
from core.club import Club
from core.errors import InvalidInput
from core.models import AuditEntry, Campaign, utcnow
from tests.helpers import audit_entries

OWNER = Actor(502, "Owner")
WEEKLY = Draft(name="Weekly", template="Hi {{ name }}", segment="tier >= bronze", cron="0 10 * * 5")


async def _all_audit(club: Club) -> list[AuditEntry]:
    async with club.sessions() as s:
        return list(await s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


async def test_a_new_campaign_is_scheduled_and_audited(club: Club) -> None:
    saved = await campaigns.create(club, OWNER, WEEKLY)

    async with club.sessions() as s:
        [stored] = list(await s.scalars(select(Campaign)))
    assert (stored.id, stored.status, stored.created_by) == (
        saved.campaign.id, CampaignStatus.SCHEDULED, 502,
    )  # fmt: skip
    assert stored.next_run_at is not None and stored.next_run_at > utcnow()
    [entry] = await audit_entries(club, "campaign_new")
    assert (entry.actor_id, entry.actor_name) == (502, "Owner")
    assert entry.after == {"campaign_id": stored.id, "name": "Weekly", "segment": "tier >= bronze"}


@pytest.mark.parametrize(
    "draft",
    [
        Draft(name="x", template="hi", segment="champions"),  # no schedule
        Draft(name="x", template="hi", segment="champions", cron="0 10 * * 5",
              run_at=utcnow() + timedelta(days=1)),  # two schedules
        Draft(name="x", template="{{ name", segment="champions", cron="0 10 * * 5"),
    ],
)  # fmt: skip
async def test_a_bad_campaign_is_refused_and_nothing_is_written(club: Club, draft: Draft) -> None:
    with pytest.raises(InvalidInput):
        await campaigns.create(club, OWNER, draft)
    async with club.sessions() as s:
        assert list(await s.scalars(select(Campaign))) == []
    assert await _all_audit(club) == []


async def test_pause_resume_cancel_are_audited_before_and_after(club: Club) -> None:
    campaign_id = (await campaigns.create(club, OWNER, WEEKLY)).campaign.id

    paused = await campaigns.pause(club, OWNER, campaign_id)
    resumed = await campaigns.resume(club, OWNER, campaign_id)
    cancelled = await campaigns.cancel(club, OWNER, campaign_id)

    assert (paused.before, paused.campaign.status) == ("scheduled", "paused")
    assert (resumed.before, resumed.campaign.status) == ("paused", "scheduled")
    assert (cancelled.before, cancelled.campaign.status) == ("scheduled", "cancelled")
    assert resumed.campaign.next_run_at is not None
    trail = [(e.action, e.before, e.after, e.actor_id) for e in await _all_audit(club)][1:]
    assert trail == [
        ("campaign_pause", {"status": "scheduled"}, {"status": "paused"}, 502),
        ("campaign_resume", {"status": "paused"}, {"status": "scheduled"}, 502),
        ("campaign_cancel", {"status": "scheduled"}, {"status": "cancelled"}, 502),
    ]


async def test_a_repeated_or_impossible_change_is_refused_and_not_audited(club: Club) -> None:
    campaign_id = (await campaigns.create(club, OWNER, WEEKLY)).campaign.id
    await campaigns.pause(club, OWNER, campaign_id)

    with pytest.raises(InvalidInput):
        await campaigns.pause(club, OWNER, campaign_id)  # the same request again
    await campaigns.cancel(club, OWNER, campaign_id)
    for change in (campaigns.resume, campaigns.pause, campaigns.cancel):
        with pytest.raises(InvalidInput):
            await change(club, OWNER, campaign_id)

    actions = [e.action for e in await _all_audit(club)]
    assert actions == ["campaign_new", "campaign_pause", "campaign_cancel"]
    async with club.sessions() as s:
        assert (await s.get(Campaign, campaign_id)).status == CampaignStatus.CANCELLED


async def test_a_one_off_campaign_resumed_after_its_time_is_done(club: Club) -> None:
    soon = Draft(name="Once", template="Hi", segment="tier >= bronze", run_at=utcnow())
    campaign_id = (await campaigns.create(club, OWNER, soon)).campaign.id
    await campaigns.pause(club, OWNER, campaign_id)
    async with club.sessions() as s, s.begin():
        (await s.get(Campaign, campaign_id)).runs = 1  # it ran before it was paused

    resumed = await campaigns.resume(club, OWNER, campaign_id)

    assert resumed.campaign.status == CampaignStatus.DONE
    [entry] = await audit_entries(club, "campaign_resume")
    assert entry.after == {"status": "done"}


async def test_an_unknown_campaign_is_refused(club: Club) -> None:
    with pytest.raises(InvalidInput):
        await campaigns.pause(club, OWNER, 999)
    assert await _all_audit(club) == []
