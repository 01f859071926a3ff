"""/stats over time: the club's last twelve weeks in its time zone, the expiry forecast, the
redemption rate of the period, and the chart the owner looks at."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from sqlalchemy.ext.asyncio import AsyncSession

from bot.shell import STAFF
from core import branches, ledger, lots, members, purchases, redemptions, rewards, trends
from core.actions import reports as report_actions
from core.jalali import MONDAY, SATURDAY
from core.models import EntryKind
from core.rules import Rules
from tests.conftest import NOW, STAFF_CHAT_ID, BotHarness
from tests.helpers import new_member

TEHRAN = ZoneInfo("Asia/Tehran")
DAY = timedelta(days=1)
# NOW is Sunday 1 March 2026, 12:30 in Tehran: this week began on Saturday 28 February, whose
# midnight in Tehran is 20:30 UTC on Friday 27 February.
SATURDAY_MIDNIGHT = datetime(2026, 2, 27, 20, 30, tzinfo=UTC)
FIRST_WEEK = date(2025, 12, 13)  # eleven weeks before 28 February


async def _club_over_weeks(session: AsyncSession, rules: Rules) -> None:
    """Members and purchases on both sides of week boundaries (in Tehran, not in UTC)."""
    a = await new_member(session, rules, datetime(2025, 12, 1, tzinfo=UTC), name="A")
    b = await new_member(session, rules, SATURDAY_MIDNIGHT - timedelta(seconds=1), name="B")
    c = await new_member(session, rules, SATURDAY_MIDNIGHT, name="C")
    d = await new_member(session, rules, datetime(2026, 2, 10, 10, tzinfo=UTC), name="D")
    e = await new_member(session, rules, datetime(2026, 2, 28, 10, tzinfo=UTC), name="E")
    await members.anonymize(session, e.id)  # erased: not a new member any more
    bought = [
        (a, 200_000, datetime(2025, 12, 12, 20, 29, tzinfo=UTC)),  # Friday night: before it all
        (a, 300_000, datetime(2025, 12, 12, 20, 30, tzinfo=UTC)),  # Saturday 13 Dec: week 0
        (a, 100_000, SATURDAY_MIDNIGHT - timedelta(seconds=1)),  # Friday 23:59:59: week 10
        (a, 400_000, SATURDAY_MIDNIGHT),  # the same UTC day, but Saturday in Tehran: week 11
        (a, 500_000, datetime(2026, 2, 28, 10, tzinfo=UTC)),  # week 11 again: A counts once
        (b, 250_000, datetime(2026, 2, 28, 11, tzinfo=UTC)),
        (c, 50_000, datetime(2026, 2, 28, 12, tzinfo=UTC)),  # refunded below: not a sale
        (d, 1_000_000, datetime(2026, 2, 10, 10, tzinfo=UTC)),  # week 8
    ]
    for number, (member, amount, at) in enumerate(bought):
        await purchases.record(session, rules, member.id, amount, reference=f"W-{number}", now=at)
    await purchases.refund(session, "W-6", now=datetime(2026, 2, 28, 13, tzinfo=UTC))


async def test_twelve_weeks_in_the_club_time_zone(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    await _club_over_weeks(session, rules)

    found = await trends.trend(session, now, TEHRAN, SATURDAY)

    assert [week.start for week in found.weeks] == [FIRST_WEEK + 7 * DAY * n for n in range(12)]
    assert found.weeks[-1].start == date(2026, 2, 28) and found.first_weekday == SATURDAY
    table = {
        index: (week.purchases, week.sales, week.active_members, week.new_members)
        for index, week in enumerate(found.weeks)
        if week.purchases or week.new_members
    }
    assert table == {
        0: (1, 300_000, 1, 0),
        8: (1, 1_000_000, 1, 1),
        10: (1, 100_000, 1, 1),
        11: (3, 1_150_000, 2, 1),
    }


async def test_weeks_start_on_monday_in_english(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    await _club_over_weeks(session, rules)

    found = await trends.trend(session, now, TEHRAN, MONDAY)

    assert found.weeks[-1].start == date(2026, 2, 23)  # Sunday 1 March is in Monday 23's week
    assert found.weeks[0].start == date(2025, 12, 8)  # so Friday 12 December is in, this time
    assert sum(week.purchases for week in found.weeks) == 7
    last = found.weeks[-1]  # Friday's and Saturday's sales together, as A and B
    assert (last.purchases, last.sales, last.active_members) == (4, 1_250_000, 2)


async def test_the_redemption_rate_is_of_the_same_weeks(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, datetime(2025, 11, 1, tzinfo=UTC))
    far = now + 300 * DAY
    for points, at in ((1_000, datetime(2025, 11, 2, tzinfo=UTC)), (400, now - 50 * DAY)):
        await ledger.credit(session, member.id, points, EntryKind.BONUS, f"b-{points}",
                            expires_at=far, now=at)  # fmt: skip
    cake = await rewards.create(session, rules, title="Cake", cost=100, stock=None)
    tea = await rewards.create(session, rules, title="Tea", cost=50, stock=None)
    await redemptions.redeem(session, rules, member.id, cake.id, request_key="r1", now=now - DAY)
    taken = await redemptions.redeem(
        session, rules, member.id, tea.id, request_key="r2", now=now - DAY
    )
    await redemptions.cancel(session, taken.id, now=now)  # refunded: it nets out

    found = await trends.trend(session, now, TEHRAN, SATURDAY)

    assert (found.points.issued, found.points.redeemed) == (400, 100)  # not the 1,000 before
    assert found.redemption_rate == pytest.approx(0.25)
    empty = await trends.trend(session, now - 200 * DAY, TEHRAN, SATURDAY)
    assert empty.redemption_rate is None


async def test_the_expiry_forecast(session: AsyncSession, rules: Rules, now: datetime) -> None:
    member = await new_member(session, rules, now - 400 * DAY)
    for points, days in ((10, -1), (20, 10), (40, 30), (80, 45), (160, 90), (320, 91)):
        await ledger.credit(session, member.id, points, EntryKind.BONUS, f"x-{days}",
                            expires_at=now + days * DAY, now=now - 100 * DAY)  # fmt: skip
    # 25 points spent: they come from the soonest lots (10, then 15 of the 20 days' lot).
    await ledger.debit(session, member.id, 25, EntryKind.REDEEM, "spent", now=now - 50 * DAY)

    assert await lots.forecast(session, now) == [
        lots.Expiring(30, 5 + 40),
        lots.Expiring(60, 5 + 40 + 80),
        lots.Expiring(90, 5 + 40 + 80 + 160),
    ]


async def test_stats_send_the_weekly_chart_and_the_numbers(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_actions, "utcnow", lambda: NOW)
    async with bot.club.sessions() as s, s.begin():
        await _club_over_weeks(s, bot.club.rules)
        member = await new_member(s, bot.club.rules, NOW - 5 * DAY, name="F")
        await ledger.credit(s, member.id, 70, EntryKind.BONUS, "soon",
                            expires_at=NOW + 20 * DAY, now=NOW)  # fmt: skip
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID)

    [photo] = await bot.chat.send("/stats")

    assert photo.method == "sendPhoto" and len(photo.text) <= 1024
    assert "۱۲ هفتهٔ اخیر: ۶ خرید، ۲٬۵۵۰٬۰۰۰ تومان" in photo.text
    forecast = "امتیاز رو به انقضا (اگر خرج نشود): تا ۳۰ روز ۷۰ · تا ۶۰ روز ۷۰ · تا ۹۰ روز ۷۰"
    assert forecast in photo.text
    assert "هر هفته از شنبه، به وقت باشگاه" in photo.text
    assert "نرخ خرج ۱۲ هفتهٔ اخیر: ۰٪" in photo.text  # nothing redeemed
    assert "فروش شعبه‌ها" not in photo.text  # one shop: no branch lines
    chart = Image.open(io.BytesIO(next(iter(photo.files.values()))))
    assert chart.format == "PNG" and chart.size == (1000, 2 * 600 + 24)  # two charts, stacked


async def test_branch_lines_appear_once_there_are_branches(bot: BotHarness) -> None:
    await branches.add(bot.club, "north", "North")
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID)

    [photo] = await bot.chat.send("/stats")

    assert "فروش شعبه‌ها" in photo.text and "north: ۰ خرید" in photo.text
