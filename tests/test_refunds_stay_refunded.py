"""Refunded purchases stay refunded, through the real Application, as the issue reproduced them.

The attack: earn 2,500 points with a purchase, spend them on a reward, let staff refund the
purchase (nothing left to take back), then cancel the code or let it expire to get the 2,500
points back. Also: a referral bonus clawed back with the friend's refunded purchase, a member
who blocked the bot still earning, and a reference reused for another purchase refused.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.context import BotContext
from bot.notifications import lifecycle as lifecycle_sweep
from bot.shell import MEMBER, STAFF
from core import purchases, rewards
from core.models import (
    EntryKind,
    LedgerEntry,
    Member,
    MemberStatus,
    PointsLot,
    Purchase,
    Referral,
    ReferralStatus,
    utcnow,
)
from tests.conftest import STAFF_CHAT_ID, BotHarness
from tests.helpers import assert_books_balance, join_user, reload_member

FRIEND = {"id": 1002, "is_bot": False, "first_name": "Ali", "language_code": "fa"}


async def _books(bot: BotHarness, member_id: int) -> None:
    async with bot.club.sessions() as s, s.begin():
        await assert_books_balance(s, member_id)


def _as_staff(bot: BotHarness) -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID)


async def _earn_and_spend_then_refund(bot: BotHarness) -> Member:
    """Steps 1-3 of the issue: 2,500 points earned, spent on a reward, the purchase refunded."""
    member = await join_user(bot.club.sessions, bot.club.rules, MEMBER, "+989121234567")
    async with bot.club.sessions() as s, s.begin():
        await rewards.create(s, bot.club.rules, title="Blender", cost=2_500, stock=3)
    _as_staff(bot)
    await bot.chat.send(f"/purchase #{member.id} 2500000 R-1")
    bot.chat.as_member(MEMBER)
    await bot.chat.send("/rewards")
    await bot.chat.press(1)
    await bot.chat.press(1)  # confirm: the code is reserved, the points spent
    assert (await reload_member(bot.club.sessions, member.id)).balance == 0
    _as_staff(bot)
    calls = await bot.chat.send("/refund R-1")
    [answer] = [c for c in calls if c.params["chat_id"] == STAFF_CHAT_ID]
    assert "۲٬۵۰۰ امتیاز این خرید پیش‌تر خرج شده بود" in answer.text
    bot.chat.as_member(MEMBER)
    return member


async def test_cancelling_the_code_after_a_refund_gives_nothing_back(bot: BotHarness) -> None:
    member = await _earn_and_spend_then_refund(bot)

    await bot.chat.send("/myrewards")
    await bot.chat.press(1)

    assert (await reload_member(bot.club.sessions, member.id)).balance == 0
    await _books(bot, member.id)
    async with bot.club.sessions() as s:
        [earned] = await s.scalars(select(LedgerEntry).where(LedgerEntry.kind == EntryKind.EARN))
        payoffs = list(await s.scalars(select(LedgerEntry).where(LedgerEntry.kind == "reversal")))
        lot = await s.scalar(select(PointsLot).where(PointsLot.entry_id == earned.id))
        purchase = await s.scalar(select(Purchase))
        assert [(p.delta, p.reverses_id) for p in payoffs] == [(-2_500, earned.id)]
        assert (lot.owed, lot.remaining) == (0, 0)
        assert await purchases.owed(s, purchase) == 0
        assert purchase.points_unrecovered == 2_500  # as it was at the refund
    [points] = await bot.chat.send("/points")
    assert "<b>۰</b> امتیاز" in points.text


async def test_an_expired_code_after_a_refund_gives_nothing_back(bot: BotHarness) -> None:
    member = await _earn_and_spend_then_refund(bot)

    later = utcnow() + timedelta(days=bot.club.rules.redemption.valid_days + 1)
    await lifecycle_sweep.run(BotContext(bot.app), later)

    assert (await reload_member(bot.club.sessions, member.id)).balance == 0
    await _books(bot, member.id)


async def test_points_earned_elsewhere_are_not_taken_for_a_paid_off_shortfall(
    bot: BotHarness,
) -> None:
    member = await _earn_and_spend_then_refund(bot)
    _as_staff(bot)
    await bot.chat.send(f"/purchase #{member.id} 400000 R-2")  # new points, honestly earned
    bot.chat.as_member(MEMBER)

    await bot.chat.send("/myrewards")
    await bot.chat.press(1)

    # The cancelled code's 2,500 paid the 2,500 owed; the new purchase's points are untouched.
    async with bot.club.sessions() as s:
        honest = await s.scalar(select(Purchase.points).where(Purchase.reference == "R-2"))
    assert honest and (await reload_member(bot.club.sessions, member.id)).balance == honest
    await _books(bot, member.id)


async def test_refunding_the_friends_purchase_claws_back_the_referrers_bonus(
    bot: BotHarness,
) -> None:
    referrer = await join_user(bot.club.sessions, bot.club.rules, MEMBER, "+989121234567")
    friend = await join_user(
        bot.club.sessions, bot.club.rules, FRIEND, "+989351234567", code=referrer.referral_code
    )
    _as_staff(bot)
    await bot.chat.send(f"/purchase #{friend.id} 100000 F-1")
    assert (await reload_member(bot.club.sessions, referrer.id)).balance == 200

    calls = await bot.chat.send("/refund F-1")

    [to_staff] = [c for c in calls if c.params["chat_id"] == STAFF_CHAT_ID]
    [to_referrer] = [c for c in calls if c.params["chat_id"] == MEMBER["id"]]
    assert "هدیهٔ معرفی این خرید (۲۰۰ امتیاز) از معرف پس گرفته شد" in to_staff.text
    assert "این هدیه پس گرفته شد" in to_referrer.text
    assert (await reload_member(bot.club.sessions, referrer.id)).balance == 0
    await _books(bot, referrer.id)
    async with bot.club.sessions() as s:
        referral = await s.scalar(select(Referral))
        assert referral.status == ReferralStatus.CLAWED_BACK


async def test_a_member_who_blocked_the_bot_still_earns(bot: BotHarness) -> None:
    member = await join_user(bot.club.sessions, bot.club.rules, MEMBER, "+989121234567")
    async with bot.club.sessions() as s, s.begin():
        (await s.get(Member, member.id)).status = MemberStatus.BLOCKED
    _as_staff(bot)

    calls = await bot.chat.send(f"/purchase #{member.id} 250000 B-1")

    [answer] = [c for c in calls if c.params["chat_id"] == STAFF_CHAT_ID]
    assert "ثبت شد" in answer.text
    assert (await reload_member(bot.club.sessions, member.id)).balance == 250


async def test_a_reference_used_for_another_purchase_is_refused(bot: BotHarness) -> None:
    member = await join_user(bot.club.sessions, bot.club.rules, MEMBER, "+989121234567")
    other = await join_user(bot.club.sessions, bot.club.rules, FRIEND, "+989351234567")
    _as_staff(bot)
    await bot.chat.send(f"/purchase #{member.id} 100000 1001")

    [same] = await bot.chat.send(f"/purchase #{member.id} 100000 1001")
    [other_member] = await bot.chat.send(f"/purchase #{other.id} 100000 1001")
    [other_amount] = await bot.chat.send(f"/purchase #{member.id} 200000 1001")

    assert "قبلاً ثبت شده" in same.text
    for refused in (other_member, other_amount):
        assert "برای خرید دیگری" in refused.text and "چیزی ثبت نشد" in refused.text
    async with bot.club.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Purchase)) == 1
    assert (await reload_member(bot.club.sessions, member.id)).balance == 100
    assert (await reload_member(bot.club.sessions, other.id)).balance == 0
