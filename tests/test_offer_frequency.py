"""The profile's "how often would you like special offers?" is each member's own frequency cap.

Members answer through the profile's core action; a daily campaign then runs on chosen days with a
fixed clock (:func:`core.broadcasts.launch`), and the outbox shows who got an offer each day. The
win-back offer goes through the same rule (:func:`core.messaging.under_cap`).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core import broadcasts, campaigns, members, messaging, profile
from core.actions import joining
from core.audit import Actor
from core.campaigns import Draft
from core.club import Club
from core.db import transaction
from core.models import Delivery, Member
from tests.conftest import NOW

DAY = timedelta(days=1)


async def _member(club: Club, telegram_id: int, frequency: str | None) -> Member:
    async with transaction(club.sessions) as session:
        joined = await members.join(
            session, club.rules, telegram_id=telegram_id, name=f"M{telegram_id}", now=NOW - DAY
        )
    if frequency is not None:
        await joining.answer_profile(club, Actor(telegram_id), "frequency", frequency)
    return joined.member


async def _offered_on(club: Club, campaign_id: int, day: int) -> set[int]:
    """Run the campaign ``day`` days after NOW; the members it wrote an offer for."""
    now = NOW + day * DAY
    run = await broadcasts.launch(
        club, campaign_id, now, variables=lambda r: {}, markup=lambda c: None
    )
    assert run is not None
    async with club.sessions() as s:
        rows = await s.scalars(
            select(Delivery.member_id).where(
                Delivery.dedupe_key.like(f"campaign:{campaign_id}:{run.campaign.runs}:%")
            )
        )
        return set(rows)


def test_every_frequency_answer_has_an_interval() -> None:
    assert set(messaging.OFFER_INTERVALS) == set(profile.PROFILE_SECTIONS["frequency"])


async def test_each_member_gets_offers_as_often_as_they_asked(club: Club) -> None:
    unanswered = await _member(club, 5001, None)
    weekly = await _member(club, 5002, "weekly")
    monthly = await _member(club, 5003, "monthly")
    rarely = await _member(club, 5004, "rarely")
    async with transaction(club.sessions) as session:
        draft = Draft(name="Daily", template="Hi", segment="tier >= bronze", cron="0 10 * * *")
        campaign = await campaigns.create(
            session, draft, club.settings.tz, created_by=None, now=NOW
        )

    u, w, m, r = unanswered.id, weekly.id, monthly.id, rarely.id
    assert await _offered_on(club, campaign.id, 0) == {u, w, m, r}
    # The club's cap (2 in any seven days) is all that holds back the member who did not answer.
    assert await _offered_on(club, campaign.id, 1) == {u}
    assert await _offered_on(club, campaign.id, 6) == set()
    assert await _offered_on(club, campaign.id, 7) == {u, w}  # a week after the first
    assert await _offered_on(club, campaign.id, 8) == {u}
    assert await _offered_on(club, campaign.id, 30) == {u, w, m}  # thirty days after the first
    assert await _offered_on(club, campaign.id, 31) == {u}
    assert await _offered_on(club, campaign.id, 89) == {u, w, m}
    assert await _offered_on(club, campaign.id, 90) == {u, r}  # ninety days after the first


async def test_changing_the_answer_changes_the_spacing_at_once(club: Club) -> None:
    member = await _member(club, 5011, "monthly")
    async with transaction(club.sessions) as session:
        draft = Draft(name="Daily", template="Hi", segment="tier >= bronze", cron="0 10 * * *")
        campaign = await campaigns.create(
            session, draft, club.settings.tz, created_by=None, now=NOW
        )
    assert await _offered_on(club, campaign.id, 0) == {member.id}
    assert await _offered_on(club, campaign.id, 7) == set()
    await joining.answer_profile(club, Actor(5011), "frequency", "weekly")
    assert await _offered_on(club, campaign.id, 7) == {member.id}
