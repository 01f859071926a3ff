"""One definition each of qualifying points and of points expiring soon, read the same everywhere.

Tiers, segments and a campaign's personal values all count qualifying points; ``/points``'s
ledger query, the lifecycle's expiry notice and a campaign's ``expiring_points`` all read the
expiring lots. A member whose purchases and lots sit on both sides of each boundary must get the
same number from every one of them. Also: a campaign run (:func:`core.broadcasts.run`) writes each
member of its audience once, and a second run of a finished campaign writes nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import broadcasts, ledger, lifecycle, purchases, segments, tiers
from core.campaigns import CampaignStatus
from core.lots import EXPIRING_SOON
from core.models import Campaign, Delivery, EntryKind, Member, MemberStatus
from core.rules import Rules
from tests.helpers import new_member

TEHRAN = ZoneInfo("Asia/Tehran")
DAY = timedelta(days=1)
_keys = count(1)


async def _buy(
    session: AsyncSession, rules: Rules, member: Member, amount: int, at: datetime
) -> int:
    """Points the purchase earned."""
    result = await purchases.record(
        session, rules, member.id, amount, reference=f"Q-{next(_keys)}", now=at
    )
    return result.points


async def _lot(session: AsyncSession, member: Member, points: int, expires_at: datetime) -> None:
    await ledger.credit(
        session, member.id, points, EntryKind.BONUS, f"lot:{next(_keys)}", expires_at=expires_at
    )


async def _in_segment(session: AsyncSession, rule: str, rules: Rules, now: datetime) -> set[int]:
    return set(await session.scalars(segments.member_ids(segments.parse(rule, rules), now)))


async def test_qualifying_points_are_the_same_for_tiers_segments_and_campaigns(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    window = timedelta(days=rules.tier_policy.qualifying_window_days)
    member = await new_member(session, rules, now - 2 * window)
    other = await new_member(session, rules, now - 2 * window, name="Ali")
    await _buy(session, rules, member, 3_000_000, now - window - DAY)  # left the window
    counted = await _buy(session, rules, member, 1_000_000, now - window + DAY)  # still in it
    counted += await _buy(session, rules, member, 500_000, now - DAY)
    await _buy(session, rules, other, 200_000, now - window - DAY)

    points = await tiers.qualifying_points(session, rules, member.id, now)
    [mine, theirs] = await broadcasts.recipients(session, rules, [member, other], now)
    grouped = dict((await session.execute(tiers.qualifying_points_per_member(
        tiers.qualifying_cutoff(rules, now)))).all())  # fmt: skip

    assert points == counted > 0
    assert (mine.qualifying_points, theirs.qualifying_points) == (points, 0)
    assert grouped == {member.id: points}
    assert await _in_segment(session, f"qualifying_points = {points}", rules, now) == {member.id}
    assert await _in_segment(session, "qualifying_points = 0", rules, now) == {other.id}


async def test_points_expiring_soon_are_the_same_for_points_campaigns_and_notices(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now)
    await _lot(session, member, 10, now + 10 * DAY)
    await _lot(session, member, 20, now + 29 * DAY)
    await _lot(session, member, 40, now + 31 * DAY)  # beyond the 30 days

    shown = await ledger.expiring_points(session, member.id, now, EXPIRING_SOON)
    [recipient] = await broadcasts.recipients(session, rules, [member], now)
    page = await lifecycle.expiring(session, now, TEHRAN, 30, 0, lifecycle.PAGE)
    [notice] = page.notices

    assert shown == [(now + 10 * DAY, 10), (now + 29 * DAY, 20)]
    assert (recipient.expiring_points, recipient.expiring_at) == (30, now + 10 * DAY)
    assert (notice.values["points"], notice.values["expires_at"]) == (30, now + 10 * DAY)
    assert (await lifecycle.expiring(session, now, TEHRAN, 7, 0, lifecycle.PAGE)).notices == []


async def test_a_campaign_run_writes_each_member_once_and_finishes(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    noon = now.replace(hour=8, minute=30)  # 12:00 in Tehran, outside quiet hours
    members = [await new_member(session, rules, now, name=f"M{n}") for n in range(4)]
    members[1].offers_enabled = False
    members[2].status = MemberStatus.BLOCKED
    await _lot(session, members[3], 70, noon + 3 * DAY)
    campaign = Campaign(
        name="Hello", template="{{ name }}: {{ soon }}", segment="balance >= 0",
        run_at=noon, next_run_at=noon, status=CampaignStatus.SCHEDULED, runs=0,
    )  # fmt: skip
    session.add(campaign)
    await session.flush()

    def variables(recipient: broadcasts.Recipient) -> dict[str, object]:
        return {"name": recipient.member.name, "soon": recipient.expiring_points}

    run = await broadcasts.run(session, rules, campaign.id, noon, TEHRAN,
                               variables=variables, markup=lambda _: None)  # fmt: skip
    again = await broadcasts.run(session, rules, campaign.id, noon, TEHRAN,
                                 variables=variables, markup=lambda _: None)  # fmt: skip

    assert run is not None and run.written == 2 and again is None
    assert (campaign.runs, campaign.status, campaign.next_run_at) == (1, CampaignStatus.DONE, None)
    rows = list(await session.scalars(select(Delivery).order_by(Delivery.member_id)))
    assert [(r.member_id, r.text) for r in rows] == [
        (members[0].id, "M0: 0"),
        (members[3].id, "M3: 70"),
    ]
    assert rows[0].dedupe_key == f"campaign:{campaign.id}:1:{members[0].id}"
    assert await session.scalar(select(func.count()).select_from(Delivery)) == 2
