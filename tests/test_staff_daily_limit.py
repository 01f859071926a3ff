"""adjust.staff_daily_limit: what one non-administrator may award plus deduct in a club day.

Today (before the limit) plain staff could award any total, 1,000 at a time. The limit counts
awards and deductions alike, per staff member, from midnight in the club's time zone.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.shell import STAFF
from core import adjustments, members, purchases
from core.errors import StaffDailyLimit
from core.models import LedgerEntry, Member
from core.rules import Rules
from tests.conftest import STAFF_CHAT_ID, BotHarness

TEHRAN = ZoneInfo("Asia/Tehran")
# 23:00 in Tehran (UTC+3:30) on 1 March; the club day turns at 20:30 UTC.
LATE_EVENING = datetime(2026, 3, 1, 19, 30, tzinfo=UTC)
CASHIER, OTHER_CASHIER = 7, 8
KEYS = itertools.count()


async def _member(session: AsyncSession, rules: Rules) -> int:
    joined = await members.join(session, rules, telegram_id=1, name="Sara")
    await purchases.record(session, rules, joined.member.id, 5_000_000, reference="R-1")
    return joined.member.id


async def _adjust(
    sessions: async_sessionmaker[AsyncSession],
    rules: Rules,
    delta: int,
    *,
    actor: int = CASHIER,
    limited: bool = True,
    at: datetime = LATE_EVENING,
) -> None:
    async with sessions() as s, s.begin():
        await adjustments.adjust(
            s, rules, 1, delta, reason="by hand", actor_id=actor, limited=limited,
            key=f"adjust:{next(KEYS)}",
            tz=TEHRAN, now=at,
        )  # fmt: skip


@pytest.fixture
async def club(sessions: async_sessionmaker[AsyncSession], rules: Rules) -> None:
    async with sessions() as s, s.begin():
        await _member(s, rules)


async def test_awards_and_deductions_add_up_to_the_daily_limit(
    club: None, sessions: async_sessionmaker[AsyncSession], rules: Rules
) -> None:
    await _adjust(sessions, rules, +600)
    await _adjust(sessions, rules, -300)

    with pytest.raises(StaffDailyLimit) as refused:
        await _adjust(sessions, rules, +101)

    assert refused.value.details == {"limit": 1_000, "used": 900, "left": 100}
    await _adjust(sessions, rules, +100)  # exactly up to the limit is fine
    with pytest.raises(StaffDailyLimit):
        await _adjust(sessions, rules, -1)


async def test_a_refused_adjustment_changes_nothing(
    club: None, sessions: async_sessionmaker[AsyncSession], rules: Rules
) -> None:
    await _adjust(sessions, rules, +1_000)
    async with sessions() as s:
        before = await s.scalar(select(func.count()).select_from(LedgerEntry))

    with pytest.raises(StaffDailyLimit):
        await _adjust(sessions, rules, +1)

    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(LedgerEntry)) == before
        assert (await s.get(Member, 1)).balance == 5_000 + 1_000


async def test_each_staff_member_has_their_own_limit(
    club: None, sessions: async_sessionmaker[AsyncSession], rules: Rules
) -> None:
    await _adjust(sessions, rules, +1_000)
    await _adjust(sessions, rules, +1_000, actor=OTHER_CASHIER)


async def test_administrators_are_not_limited(
    club: None, sessions: async_sessionmaker[AsyncSession], rules: Rules
) -> None:
    await _adjust(sessions, rules, +1_000)
    await _adjust(sessions, rules, +50_000, limited=False)
    with pytest.raises(StaffDailyLimit) as refused:
        await _adjust(sessions, rules, +1)
    assert refused.value.details["left"] == 0  # an administrator's points count for no one else


async def test_the_club_day_turns_at_midnight_in_tehran_not_utc(
    club: None, sessions: async_sessionmaker[AsyncSession], rules: Rules
) -> None:
    await _adjust(sessions, rules, +1_000)
    with pytest.raises(StaffDailyLimit):  # 20:29 UTC is 23:59 in Tehran: the same club day
        await _adjust(sessions, rules, +1, at=datetime(2026, 3, 1, 20, 29, tzinfo=UTC))

    await _adjust(sessions, rules, +1_000, at=datetime(2026, 3, 1, 20, 30, tzinfo=UTC))


async def test_yesterdays_adjustments_do_not_count(
    club: None, sessions: async_sessionmaker[AsyncSession], rules: Rules
) -> None:
    await _adjust(sessions, rules, +1_000, at=LATE_EVENING - timedelta(days=1))
    await _adjust(sessions, rules, +1_000)


async def test_two_commands_at_once_cannot_both_slip_under_the_limit(
    club: None, sessions: async_sessionmaker[AsyncSession], rules: Rules
) -> None:
    """Two members, one cashier, two tills at once: the actor's sum is read under a lock."""
    async with sessions() as s, s.begin():
        second = await members.join(s, rules, telegram_id=2, name="Ali")

    async def award(member_id: int) -> None:
        async with sessions() as s, s.begin():
            await adjustments.adjust(
                s, rules, member_id, 600, reason="gift", actor_id=CASHIER, limited=True,
                key=f"adjust:{next(KEYS)}", tz=TEHRAN,
            )  # fmt: skip

    outcomes = await asyncio.gather(award(1), award(second.member.id), return_exceptions=True)

    assert sorted(type(o).__name__ for o in outcomes) == ["NoneType", "StaffDailyLimit"]


# --- through the bot ---------------------------------------------------------------------------


async def _join_and_staff(bot: BotHarness, status: str) -> None:
    await bot.chat.send("/start")
    await bot.chat.share_contact("+989121234567")
    await bot.chat.press(1)
    await bot.chat.press(1)
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = status
    bot.app.bot_data.pop("staff_roles", None)
    bot.chat.as_staff(STAFF_CHAT_ID)


async def _balance(bot: BotHarness) -> int:
    async with bot.club.sessions() as s:
        return (await s.get(Member, 1)).balance


async def test_plain_staff_cannot_award_1000_at_a_time_all_day(bot: BotHarness) -> None:
    await _join_and_staff(bot, "member")
    await bot.chat.send("/award #1 1000 gift")

    [refused] = await bot.chat.send("/award #1 1000 another gift")

    assert "۱٬۰۰۰" in refused.text and "مدیران" in refused.text
    assert await _balance(bot) == 1_000


async def test_the_refusal_says_what_is_left_today(bot: BotHarness) -> None:
    await _join_and_staff(bot, "member")
    await bot.chat.send("/award #1 600 gift")

    [refused] = await bot.chat.send("/deduct #1 500 mistake")

    assert "۴۰۰" in refused.text  # 1,000 a day, 600 used
    assert await _balance(bot) == 600


async def test_an_administrator_is_not_held_to_it(bot: BotHarness) -> None:
    await _join_and_staff(bot, "administrator")
    for _ in range(3):
        await bot.chat.send("/award #1 1000 gift")

    assert await _balance(bot) == 3_000
