"""The lifecycle sweep: housekeeping, and each lifecycle message written to the outbox once."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from itertools import count
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot.context import BotContext
from bot.notifications import lifecycle as sweeps
from core import club_calendar, jalali, ledger, lifecycle, members, outbox, purchases, redemptions
from core.models import (
    Delivery,
    EntryKind,
    LedgerEntry,
    Member,
    MemberStatus,
    PointsLot,
    Redemption,
    RedemptionStatus,
    Reward,
    TierChange,
    TierEvaluation,
)
from core.rules import ClubCalendar, Rules
from tests.conftest import NOW, BotHarness
from tests.helpers import assert_books_balance

TEHRAN = ZoneInfo("Asia/Tehran")  # the bot fixture's club time zone
DAY = timedelta(days=1)
_references = count(1)
_telegram_ids = count(70_000)


# --- helpers --------------------------------------------------------------------------------


async def join(bot: BotHarness, *, at: datetime = NOW - 500 * DAY, **fields: object) -> Member:
    async with bot.club.sessions() as s, s.begin():
        result = await members.join(
            s, bot.club.rules, telegram_id=next(_telegram_ids), name="Sara", now=at
        )
        member = result.member
        for name, value in fields.items():
            setattr(member, name, value)
    return member


async def buy(bot: BotHarness, member: Member, amount: int, at: datetime) -> None:
    async with bot.club.sessions() as s, s.begin():
        await purchases.record(
            s, bot.club.rules, member.id, amount, reference=f"L-{next(_references)}", now=at
        )


async def run(bot: BotHarness, now: datetime = NOW) -> sweeps.Report:
    report = await sweeps.run(BotContext(bot.app), now)
    assert report.failed == []
    return report


async def outbox_rows(bot: BotHarness) -> dict[str, Delivery]:
    async with bot.club.sessions() as s:
        return {d.dedupe_key: d for d in await s.scalars(select(Delivery).order_by(Delivery.id))}


async def books_balance(bot: BotHarness) -> None:
    async with bot.club.sessions() as s, s.begin():
        for member_id in await s.scalars(select(Member.id)):
            await assert_books_balance(s, member_id)


def winback_key(member: Member, now: datetime = NOW, churn_days: int = 60) -> str:
    local = now.astimezone(TEHRAN).date()
    return f"winback:{member.id}:{(local - date(1970, 1, 1)).days // churn_days}"


@dataclass
class World:
    """One member for each lifecycle message, at ``NOW`` (2026-03-01 12:30 in Tehran)."""

    upgraded: Member
    expiring_month: Member
    expiring_week: Member
    birthday: Member
    at_risk: Member
    holder: Member
    slipping: Member
    redemption: Redemption
    stale_redemption: Redemption
    change_id: int


async def world(bot: BotHarness) -> World:
    upgraded = await join(bot, locale="en")
    await buy(bot, upgraded, 1_000_000, NOW - DAY)  # 1,000 points: silver, yesterday

    expiring_month = await join(bot)
    await buy(bot, expiring_month, 200_000, NOW - 340 * DAY)  # expires in 25 days
    expiring_week = await join(bot)
    await buy(bot, expiring_week, 100_000, NOW - 360 * DAY)  # expires in 5 days

    birthday = await join(bot, birthday=date(1990, 3, 1))

    at_risk = await join(bot)
    for days in (200, 150, 100):
        await buy(bot, at_risk, 10_000, NOW - days * DAY)

    holder = await join(bot)
    await buy(bot, holder, 100_000, NOW - 20 * DAY)
    async with bot.club.sessions() as s, s.begin():
        reward = Reward(title="Coffee & cake", cost=30)
        s.add(reward)
        await s.flush()
        redemption = await redemptions.redeem(
            s, bot.club.rules, holder.id, reward.id, request_key="soon", now=NOW - 13 * DAY
        )
        stale = await redemptions.redeem(
            s, bot.club.rules, holder.id, reward.id, request_key="stale", now=NOW - 15 * DAY
        )

    slipping = await join(bot, at=NOW - 400 * DAY)
    await buy(bot, slipping, 5_000_000, NOW - 380 * DAY)  # gold then, 0 qualifying points now

    async with bot.club.sessions() as s:
        change_id = await s.scalar(select(TierChange.id).where(TierChange.member_id == upgraded.id))
    return World(
        upgraded, expiring_month, expiring_week, birthday, at_risk, holder, slipping,
        redemption, stale, change_id,
    )  # fmt: skip


# --- the whole sweep ------------------------------------------------------------------------


async def test_each_message_is_written_once_with_its_key_and_text(bot: BotHarness) -> None:
    w = await world(bot)
    report = await run(bot)

    rows = await outbox_rows(bot)
    expected = {
        f"tier:{w.change_id}": w.upgraded,
        f"expiring30:{w.expiring_month.id}:2026-03-26": w.expiring_month,
        f"expiring7:{w.expiring_week.id}:2026-03-06": w.expiring_week,
        f"birthday:{w.birthday.id}:1404": w.birthday,
        winback_key(w.at_risk): w.at_risk,
        f"codeexp:{w.redemption.id}": w.holder,
        f"tierwarn:{w.slipping.id}:1404-12": w.slipping,
    }
    assert set(rows) == set(expected)
    for key, member in expected.items():
        row = rows[key]
        assert (row.chat_id, row.member_id) == (member.telegram_id, member.id)
        assert row.kind == ("offer" if key.startswith("winback:") else "lifecycle")
        assert row.not_before == NOW  # 12:30 in Tehran: nobody's quiet hours
        assert row.status == "pending"
    assert sum(report.written.values()) == len(expected)

    texts = {key.split(":")[0]: row.text for key, row in rows.items()}
    assert "You are now a <b>Silver</b> member" in texts["tier"]  # an English member
    assert "25% more points" in texts["tier"]
    assert "۲۰۰ امتیاز" in texts["expiring30"] and "۶ فروردین ۱۴۰۵" in texts["expiring30"]
    assert "۱۰۰ امتیاز" in texts["expiring7"] and "۱۵ اسفند ۱۴۰۴" in texts["expiring7"]
    assert "تولدتان مبارک" in texts["birthday"] and "۱۰۰ امتیاز هدیه" in texts["birthday"]
    assert "دلمان برایتان تنگ شده" in texts["winback"]
    assert "Coffee &amp; cake" in texts["codeexp"]
    assert "<code>" in texts["codeexp"] and "۱۱ اسفند ۱۴۰۴" in texts["codeexp"]
    assert "طلایی" in texts["tierwarn"] and "۵٬۰۰۰ امتیاز" in texts["tierwarn"]
    assert "۲۹ اسفند ۱۴۰۴" in texts["tierwarn"]  # the end of Esfand: the club's calendar is Jalali
    for key, text in texts.items():
        if key != "tier":  # Persian digits only, outside the code itself
            assert not re.search("[0-9]", re.sub("<code>.*?</code>", "", text)), key

    assert sum((await run(bot)).written.values()) == 0
    assert set(await outbox_rows(bot)) == set(expected)
    await books_balance(bot)


async def test_two_sweeps_at_once_write_everything_once(bot: BotHarness) -> None:
    await world(bot)
    first, second = await asyncio.gather(run(bot), run(bot))

    rows = await outbox_rows(bot)
    assert len(rows) == 7
    assert sum(first.written.values()) + sum(second.written.values()) == 7
    async with bot.club.sessions() as s:
        bonuses = await s.scalar(select(func.count()).where(LedgerEntry.kind == EntryKind.BONUS))
        assert bonuses == 1
        assert await s.scalar(select(func.count()).select_from(TierEvaluation)) == 1
    await books_balance(bot)


async def test_a_failing_step_does_not_stop_the_others(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await join(bot, birthday=date(1990, 3, 1))

    async def broken(*_: object) -> lifecycle.Page:
        raise RuntimeError("boom")

    broken.__name__ = "tier_changes"
    monkeypatch.setattr(lifecycle, "SELECTORS", (broken, lifecycle.birthday_gifts))
    report = await sweeps.run(BotContext(bot.app), NOW)
    assert report.failed == ["tier_changes"]
    assert report.written["birthday_gifts"] == 1


# --- quiet hours ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "quiet", "not_before"),
    [
        (NOW, None, NOW),  # 12:30 in Tehran
        (datetime(2026, 3, 1, 20, 0, tzinfo=UTC), None,  # 23:30: the club's 22-9 quiet hours
         datetime(2026, 3, 2, 5, 30, tzinfo=UTC)),
        (NOW, (8, 13), datetime(2026, 3, 1, 9, 30, tzinfo=UTC)),  # the member's own: until 13:00
    ],
)  # fmt: skip
async def test_quiet_hours_delay_the_message(
    bot: BotHarness, now: datetime, quiet: tuple[int, int] | None, not_before: datetime
) -> None:
    start, end = quiet or (None, None)
    member = await join(bot, birthday=date(1990, 3, 1), quiet_start=start, quiet_end=end)
    await run(bot, now)
    rows = await outbox_rows(bot)
    assert rows[f"birthday:{member.id}:1404"].not_before == not_before


# --- who gets what --------------------------------------------------------------------------


async def at_risk_member(bot: BotHarness, **fields: object) -> Member:
    member = await join(bot, **fields)
    for days in (300, 200, 61):
        await buy(bot, member, 10_000, NOW - days * DAY)
    return member


async def test_winback_respects_offers_off_and_the_weekly_cap(bot: BotHarness) -> None:
    for _ in range(6):  # "once frequent" is relative: the top frequency quintiles of the year
        await buy(bot, await join(bot), 10_000, NOW - 10 * DAY)
    offers_off = await at_risk_member(bot, offers_enabled=False, birthday=date(1990, 3, 1))
    capped = await at_risk_member(bot)
    welcome = await at_risk_member(bot)
    recent = await join(bot)
    for days in (300, 200, 59):  # bought 59 days ago: not at risk
        await buy(bot, recent, 10_000, NOW - days * DAY)
    async with bot.club.sessions() as s, s.begin():
        for n in range(2):  # the default cap is two offers a week
            await outbox.enqueue(s, chat_id=capped.telegram_id, kind="offer", text="Offer",
                                 dedupe_key=f"campaign:1:{n}:{capped.id}", member_id=capped.id,
                                 now=NOW - 2 * DAY)  # fmt: skip

    await run(bot)
    await run(bot)

    rows = await outbox_rows(bot)
    winbacks = {key for key in rows if key.startswith("winback:")}
    assert winbacks == {winback_key(welcome)}
    # a service message still reaches the member who switched offers off
    assert f"birthday:{offers_off.id}:1404" in rows

    # A week later the cap has room again, and the member who bought 59 days ago is at risk now.
    # The key's period has just turned (2026-03-08), yet the first one gets no second offer.
    later = NOW + 8 * DAY
    await run(bot, later)
    winbacks = {key for key in await outbox_rows(bot) if key.startswith("winback:")}
    assert winback_key(welcome) != winback_key(welcome, later)
    assert winbacks == {
        winback_key(welcome),
        winback_key(capped, later),
        winback_key(recent, later),
    }


async def test_members_who_cannot_be_reached_get_nothing(bot: BotHarness) -> None:
    blocked = await join(bot, birthday=date(1990, 3, 1), status=MemberStatus.BLOCKED)
    await run(bot)
    assert await outbox_rows(bot) == {}
    async with bot.club.sessions() as s:
        assert (await s.get(Member, blocked.id)).balance == 0


# --- birthdays ------------------------------------------------------------------------------


async def test_the_birthday_bonus_is_credited_once(bot: BotHarness) -> None:
    member = await join(bot, birthday=date(1990, 3, 1))
    await run(bot)
    await run(bot, NOW + timedelta(hours=6))  # later the same day
    async with bot.club.sessions() as s:
        entries = list(
            await s.scalars(select(LedgerEntry).where(LedgerEntry.member_id == member.id))
        )
        assert [(e.kind, e.delta, e.idempotency_key) for e in entries] == [
            (EntryKind.BONUS, 100, f"birthday:{member.id}:1404")
        ]
        lot = await s.scalar(select(PointsLot).where(PointsLot.member_id == member.id))
        assert lot.expires_at == NOW + 365 * DAY
        assert (await s.get(Member, member.id)).balance == 100
    await books_balance(bot)

    await run(bot, NOW + 365 * DAY)  # next year: a new gift
    rows = await outbox_rows(bot)
    assert set(rows) == {f"birthday:{member.id}:1404", f"birthday:{member.id}:1405"}  # Jalali years


@pytest.mark.parametrize(
    ("today", "celebrated"),
    [
        (date(2026, 3, 1), [(3, 1)]),
        (date(2026, 2, 28), [(2, 28), (2, 29)]),  # a common year: 29 February on the 28th
        (date(2028, 2, 28), [(2, 28)]),  # a leap year: the 29th comes tomorrow
        (date(2028, 2, 29), [(2, 29)]),
    ],
)
def test_birthday_dates(today: date, celebrated: list[tuple[int, int]]) -> None:
    assert club_calendar.birthday_candidates(today, ClubCalendar.GREGORIAN) == celebrated


@pytest.mark.parametrize(
    ("born", "now", "greeted"),
    [
        (date(2000, 2, 29), datetime(2026, 2, 28, 9, 0, tzinfo=UTC), True),
        (date(2000, 2, 29), datetime(2028, 2, 28, 9, 0, tzinfo=UTC), False),
        (date(2000, 2, 29), datetime(2028, 2, 29, 9, 0, tzinfo=UTC), True),
        # 21:00 UTC on 28 February is already 00:30 on 1 March in Tehran
        (date(1990, 3, 1), datetime(2026, 2, 28, 21, 0, tzinfo=UTC), True),
        (date(1990, 2, 28), datetime(2026, 2, 28, 21, 0, tzinfo=UTC), False),
    ],
)
async def test_birthdays_follow_the_club_calendar(
    bot: BotHarness, born: date, now: datetime, greeted: bool
) -> None:
    bot.club.rules = Rules(calendar=ClubCalendar.GREGORIAN)  # Jalali since issue 14: see below
    member = await join(bot, birthday=born)
    await run(bot, now)
    keys = set(await outbox_rows(bot))
    assert keys == ({f"birthday:{member.id}:{now.astimezone(TEHRAN).year}"} if greeted else set())


@pytest.mark.parametrize(
    ("born", "today", "greeted"),
    [
        ("1370/05/12", "1405/05/12", True),  # 3 August 1991; 3 August 2026
        ("1370/05/12", "1405/05/11", False),
        ("1370/05/12", "1405/05/13", False),
        ("1378/12/10", "1404/12/10", True),  # born 29 February 2000; 1 March 2026
        ("1403/12/30", "1404/12/29", True),  # Esfand 30, kept on the 29th in a common year
        ("1403/12/30", "1403/12/29", False),  # ... but not in a leap year, which has the 30th
    ],
)
async def test_birthdays_follow_the_jalali_calendar_by_default(
    bot: BotHarness, born: str, today: str, greeted: bool
) -> None:
    member = await join(bot, birthday=jalali.parse_date(born))
    day = jalali.parse_date(today)
    now = datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC)
    await run(bot, now)
    year = int(today[:4])
    assert set(await outbox_rows(bot)) == ({f"birthday:{member.id}:{year}"} if greeted else set())


@pytest.mark.parametrize("born", [date(2026, 3, 1), date(2027, 3, 1)], ids=["today", "future"])
async def test_a_birthday_of_today_or_later_gives_nothing(bot: BotHarness, born: date) -> None:
    member = await join(bot, birthday=born)
    await run(bot)  # NOW is 1 March 2026 in Tehran
    assert await outbox_rows(bot) == {}
    async with bot.club.sessions() as s:
        assert (await s.get(Member, member.id)).balance == 0


@pytest.mark.parametrize(("joined_days_ago", "gift"), [(10, 0), (29, 0), (30, 100)])
async def test_no_birthday_gift_in_the_first_thirty_days(
    bot: BotHarness, joined_days_ago: int, gift: int
) -> None:
    member = await join(bot, at=NOW - joined_days_ago * DAY, birthday=date(1990, 3, 1), locale="en")
    await run(bot)
    greeting = (await outbox_rows(bot))[f"birthday:{member.id}:1404"]
    assert "Happy birthday" in greeting.text
    assert ("gift point" in greeting.text) == bool(gift)
    async with bot.club.sessions() as s:
        assert (await s.get(Member, member.id)).balance == gift
        entries = await s.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.member_id == member.id)
        )
        assert entries == (1 if gift else 0)


# --- expiry ---------------------------------------------------------------------------------


async def test_points_expiring_are_announced_a_month_and_a_week_before(bot: BotHarness) -> None:
    member = await join(bot)
    await buy(bot, member, 200_000, NOW - 340 * DAY)  # 200 points, expiring 2026-03-26
    await buy(bot, member, 50_000, NOW - 337 * DAY)  # 50 more, expiring 2026-03-29

    await run(bot)
    await run(bot, NOW + DAY)
    rows = await outbox_rows(bot)
    assert set(rows) == {f"expiring30:{member.id}:2026-03-26"}
    assert "۲۵۰ امتیاز" in rows[f"expiring30:{member.id}:2026-03-26"].text

    await run(bot, NOW + 20 * DAY)  # five days left for the first lot, eight for the second
    await run(bot, NOW + 21 * DAY)
    rows = await outbox_rows(bot)
    week = rows[f"expiring7:{member.id}:2026-03-26"]
    assert "۲۰۰ امتیاز" in week.text and "۶ فروردین ۱۴۰۵" in week.text
    assert len(rows) == 2

    await run(bot, NOW + 26 * DAY)  # the first lot has expired; the second is two days away
    rows = await outbox_rows(bot)
    assert "۵۰ امتیاز" in rows[f"expiring7:{member.id}:2026-03-29"].text
    assert len(rows) == 3
    await books_balance(bot)


async def test_expired_lots_and_codes_are_expired_and_refunded(bot: BotHarness) -> None:
    w = await world(bot)
    report = await run(bot)

    assert report.housekeeping["expire_codes"] == 1
    assert report.housekeeping["expire_points"] > 0
    async with bot.club.sessions() as s:
        stale = await s.get(Redemption, w.stale_redemption.id)
        assert stale.status == RedemptionStatus.EXPIRED
        assert (await s.get(Redemption, w.redemption.id)).status == RedemptionStatus.RESERVED
        holder = await s.get(Member, w.holder.id)
        assert holder.balance == 100 - 30  # the stale code's 30 points came back
        slipping = await s.get(Member, w.slipping.id)
        assert slipping.balance == 0  # its one lot, 380 days old, expired
        expired = await s.scalar(select(func.count()).where(LedgerEntry.kind == EntryKind.EXPIRE))
    again = (await run(bot)).housekeeping
    assert (again["expire_points"], again["expire_codes"]) == (0, 0)
    async with bot.club.sessions() as s:
        assert await s.scalar(
            select(func.count()).where(LedgerEntry.kind == EntryKind.EXPIRE)
        ) == expired  # fmt: skip
    await books_balance(bot)


async def test_a_code_is_reminded_once_in_its_last_two_days(bot: BotHarness) -> None:
    holder = await join(bot)
    await buy(bot, holder, 100_000, NOW - 20 * DAY)
    async with bot.club.sessions() as s, s.begin():
        reward = Reward(title="Tea", cost=10)
        s.add(reward)
        await s.flush()
        later = await redemptions.redeem(
            s, bot.club.rules, holder.id, reward.id, request_key="later", now=NOW - 11 * DAY
        )
    await run(bot)
    assert await outbox_rows(bot) == {}  # three days left
    await run(bot, NOW + DAY + timedelta(hours=1))
    await run(bot, NOW + 2 * DAY)
    assert set(await outbox_rows(bot)) == {f"codeexp:{later.id}"}


# --- tiers ----------------------------------------------------------------------------------


async def test_the_monthly_evaluation_warns_then_downgrades_once(bot: BotHarness) -> None:
    slipping = await join(bot, at=NOW - 400 * DAY)
    await buy(bot, slipping, 5_000_000, NOW - 380 * DAY)  # gold, 0 qualifying points now
    april = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)

    await run(bot)
    await run(bot, NOW + 10 * DAY)
    rows = await outbox_rows(bot)
    assert set(rows) == {f"tierwarn:{slipping.id}:1404-12"}

    await run(bot, april)
    await run(bot, april + DAY)
    rows = await outbox_rows(bot)
    async with bot.club.sessions() as s:
        [change] = await s.scalars(select(TierChange).where(TierChange.reason == "evaluation"))
        member = await s.get(Member, slipping.id)
        evaluations = await s.scalar(select(func.count()).select_from(TierEvaluation))
    assert (change.old_tier, change.new_tier, member.tier) == ("gold", "bronze", "bronze")
    assert evaluations == 2
    assert set(rows) == {f"tierwarn:{slipping.id}:1404-12", f"tier:{change.id}"}
    down = rows[f"tier:{change.id}"].text
    assert "از طلایی به <b>برنزی</b>" in down
    assert "۱٬۰۰۰ امتیاز دیگر" in down and "نقره‌ای می‌رسید" in down


async def test_a_tier_change_is_announced_only_while_it_is_news(bot: BotHarness) -> None:
    member = await join(bot)
    await buy(bot, member, 1_000_000, NOW - 4 * DAY)  # silver four days ago: old news
    await run(bot)
    assert await outbox_rows(bot) == {}
    await buy(bot, member, 4_000_000, NOW)  # gold now
    await run(bot)
    [row] = (await outbox_rows(bot)).values()
    assert "<b>طلایی</b>" in row.text and "۵۰٪" in row.text


async def test_ledger_stays_balanced_under_a_birthday_and_expiry_on_one_day(
    bot: BotHarness,
) -> None:
    member = await join(bot, birthday=date(1990, 3, 1))
    await buy(bot, member, 100_000, NOW - 366 * DAY)  # expired yesterday
    await run(bot)
    async with bot.club.sessions() as s, s.begin():
        assert (await ledger.lock_member(s, member.id)).balance == 100  # the gift, not the lot
    await books_balance(bot)


async def test_pending_points_are_activated_and_announced_once_by_two_sweeps_at_once(
    bot: BotHarness,
) -> None:
    bot.club.rules = bot.club.rules.model_copy(
        update={"earn": bot.club.rules.earn.model_copy(update={"pending_days": 14})}
    )
    waiting = [await join(bot) for _ in range(3)]
    for member in waiting:
        await buy(bot, member, 300_000, NOW - 15 * DAY)
    late = await join(bot)
    await buy(bot, late, 300_000, NOW - 13 * DAY)  # one more day to wait

    first, second = await asyncio.gather(run(bot), run(bot))

    activated = first.housekeeping["activate_points"] + second.housekeeping["activate_points"]
    assert activated == 3
    assert sum(first.written.values()) + sum(second.written.values()) == 3
    rows = await outbox_rows(bot)
    assert sorted(k for k in rows if k.startswith("activated:")) == sorted(
        f"activated:{i}" for i in (1, 2, 3)
    )
    async with bot.club.sessions() as s:
        earned = await s.scalars(select(LedgerEntry.member_id).where(LedgerEntry.kind == "earn"))
        assert sorted(earned) == sorted(m.id for m in waiting)
        assert await purchases.pending(s, late.id) == purchases.PendingPoints(
            300, [(NOW - 13 * DAY + 14 * DAY, 300)]
        )
    await books_balance(bot)
