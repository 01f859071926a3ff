"""Campaigns in core: the sandbox, schedules in the club's time zone, states, quiet hours, caps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import campaigns, messaging, outbox
from core.campaigns import CampaignStatus, Draft
from core.errors import InvalidInput
from core.models import Member
from core.rules import Rules
from tests.helpers import new_member

TEHRAN = ZoneInfo("Asia/Tehran")


@pytest.mark.parametrize(
    "template",
    [
        "{{ name.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ name|attr('__class__') }}",
        "{% for x in range(10**9) %}{% endfor %}",
        "{{ unknown_variable }}",
        "{{ name",
        "",
        "x" * 3001,
    ],
)
def test_templates_that_reach_outside_the_sandbox_fail_safely(template: str) -> None:
    with pytest.raises(InvalidInput):
        campaigns.check_template(template)


def test_member_values_are_escaped() -> None:
    text = campaigns.render("Hi {{ name }}, {{ balance }} points", {"name": "<b>A</b> & co",
                                                                   "balance": "12"})  # fmt: skip
    assert text == "Hi &lt;b&gt;A&lt;/b&gt; &amp; co, 12 points"


def _campaign(**fields: object) -> object:
    from core.models import Campaign

    return Campaign(runs=0, **fields)


def test_a_recurring_campaign_runs_in_tehran_time() -> None:
    campaign = _campaign(cron="0 10 * * 5")  # Fridays at 10:00 in Tehran
    after = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a Wednesday
    assert campaigns.next_run(campaign, after, TEHRAN) == datetime(2026, 11, 28, 6, 30, tzinfo=UTC)


def test_a_one_off_campaign_runs_once() -> None:
    at = datetime(2026, 12, 1, 6, 30, tzinfo=UTC)
    campaign = _campaign(run_at=at)
    assert campaigns.next_run(campaign, at - timedelta(days=1), TEHRAN) == at
    campaign.runs = 1
    assert campaigns.next_run(campaign, at, TEHRAN) is None


@pytest.mark.parametrize("cron", ["", "61 * * * *", "* * *", "every friday"])
def test_bad_cron_is_refused(cron: str) -> None:
    with pytest.raises(InvalidInput):
        campaigns.check_cron(cron, TEHRAN)


async def test_pause_resume_cancel(session: AsyncSession, now: datetime) -> None:
    draft = Draft(name="Weekly", template="Hi {{ name }}", segment="tier >= bronze",
                  cron="0 10 * * 5")  # fmt: skip
    campaign = await campaigns.create(session, draft, TEHRAN, created_by=7, now=now)
    assert campaign.status == CampaignStatus.SCHEDULED and campaign.next_run_at > now

    await campaigns.set_status(session, campaign.id, CampaignStatus.PAUSED, TEHRAN, now)
    assert [c.id for c in await campaigns.due(session, now + timedelta(days=30))] == []
    with pytest.raises(InvalidInput):  # a paused campaign cannot be paused again
        await campaigns.set_status(session, campaign.id, CampaignStatus.PAUSED, TEHRAN, now)
    await campaigns.set_status(session, campaign.id, CampaignStatus.SCHEDULED, TEHRAN, now)
    await campaigns.set_status(session, campaign.id, CampaignStatus.CANCELLED, TEHRAN, now)
    with pytest.raises(InvalidInput):
        await campaigns.set_status(session, campaign.id, CampaignStatus.SCHEDULED, TEHRAN, now)


async def test_a_campaign_needs_exactly_one_schedule(session: AsyncSession, now: datetime) -> None:
    with pytest.raises(InvalidInput):
        await campaigns.create(session, Draft(name="x", template="hi", segment="champions"),
                               TEHRAN, created_by=None, now=now)  # fmt: skip


@pytest.mark.parametrize(
    ("local_time", "own", "expected_local"),
    [
        ("12:00", None, "12:00"),  # daytime: at once
        ("22:30", None, "09:00+1"),  # club quiet hours 22-9: next morning
        ("03:00", None, "09:00"),
        ("09:00", None, "09:00"),  # the quiet hours end at 9
        ("21:00", (20, 8), "08:00+1"),  # the member's own quiet hours win
        ("21:00", (0, 0), "21:00"),  # start == end: no quiet hours
    ],
)
def test_quiet_hours_delay_rather_than_drop(
    rules: Rules, local_time: str, own: tuple[int, int] | None, expected_local: str
) -> None:
    member = Member(quiet_start=own[0] if own else None, quiet_end=own[1] if own else None)
    hour, minute = map(int, local_time.split(":"))
    now = datetime(2026, 11, 25, hour, minute, tzinfo=TEHRAN)
    when = messaging.send_after(member, rules, now.astimezone(UTC), TEHRAN).astimezone(TEHRAN)
    expected_hm, _, plus = expected_local.partition("+")
    eh, em = map(int, expected_hm.split(":"))
    assert (when.day - now.day, when.hour, when.minute) == (int(plus or 0), eh, em)


async def test_the_frequency_cap_counts_offers_of_the_last_week(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    member.max_offers_per_week = 2
    for n in range(2):
        sent_at = now - timedelta(days=n * 4)
        await outbox.enqueue(session, chat_id=1, kind=messaging.OFFER, dedupe_key=f"o{n}",
                             text="x", member_id=member.id, now=sent_at)  # fmt: skip
    capped = select(Member.id).where(messaging.under_cap(rules, now))
    assert list(await session.scalars(capped)) == []
    later = now + timedelta(days=4)  # the older offer left the window
    assert list(await session.scalars(select(Member.id).where(messaging.under_cap(rules, later))))\
        == [member.id]  # fmt: skip
