"""Pending points through a return window (rule ``earn.pending_days``), through the Application.

A purchase's points wait 14 days: shown with their date, not spendable, not counted for tiers; a
refund inside the window cancels them with nothing owed; the lifecycle sweep activates them once,
tells the member through the outbox, and only then thanks the referrer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.context import BotContext
from bot.notifications import lifecycle as lifecycle_sweep
from bot.shell import MEMBER, STAFF
from core import rewards
from core.clock import after_days
from core.models import (
    Delivery,
    LedgerEntry,
    Member,
    PointsLot,
    Purchase,
    PurchaseStatus,
    Referral,
    ReferralStatus,
    utcnow,
)
from core.rules import Rules
from tests.conftest import STAFF_CHAT_ID, BotHarness
from tests.helpers import assert_books_balance, join_user, reload_member

FRIEND = {"id": 1002, "is_bot": False, "first_name": "Ali", "language_code": "fa"}
WINDOW = 14


async def _purchase(bot: BotHarness) -> Purchase:
    async with bot.club.sessions() as s:
        return await s.scalar(select(Purchase))


async def _count(bot: BotHarness, model: type) -> int:
    async with bot.club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def _to(calls: list, chat_id: int) -> list:
    return [c for c in calls if c.params["chat_id"] == chat_id]


async def _sweep(bot: BotHarness, at: datetime) -> None:
    await lifecycle_sweep.run(BotContext(bot.app), at)


def _as_staff(bot: BotHarness) -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID)


async def _pending_purchase(bot: BotHarness, member: Member, amount: int = 2_500_000) -> list:
    bot.club.rules = Rules(earn={"pending_days": WINDOW})
    _as_staff(bot)
    return await bot.chat.send(f"/purchase #{member.id} {amount} P-1")


async def test_pending_points_are_shown_with_their_date_and_cannot_be_spent(
    bot: BotHarness,
) -> None:
    member = await join_user(bot.club.sessions, bot.club.rules, MEMBER, "+989121234567")
    async with bot.club.sessions() as s, s.begin():
        await rewards.create(s, bot.club.rules, title="Blender", cost=2_500, stock=3)

    calls = await _pending_purchase(bot, member)

    [to_staff], [to_member] = _to(calls, STAFF_CHAT_ID), _to(calls, MEMBER["id"])
    assert "در انتظار تا پایان مهلت مرجوعی" in to_staff.text
    assert "۲٬۵۰۰ امتیاز آن پس از پایان مهلت مرجوعی" in to_member.text
    purchase = await _purchase(bot)
    assert purchase.status == PurchaseStatus.PENDING
    assert purchase.available_at == after_days(purchase.created_at, WINDOW)
    assert await _count(bot, LedgerEntry) == 0
    stored = await reload_member(bot.club.sessions, member.id)
    assert (stored.balance, stored.tier) == (0, "bronze")  # 2,500 would reach silver

    bot.chat.as_member(MEMBER)
    [points] = await bot.chat.send("/points")
    [history] = await bot.chat.send("/history")
    assert "امتیازهای در انتظار" in points.text and "• ۲٬۵۰۰ امتیاز، از" in points.text
    assert "🕓 +۲٬۵۰۰ · در انتظار، قابل استفاده از" in history.text
    await bot.chat.send("/rewards")
    await bot.chat.press(1)
    await bot.chat.press(1)
    assert (await reload_member(bot.club.sessions, member.id)).balance == 0
    assert await _count(bot, LedgerEntry) == 0


async def test_a_refund_inside_the_window_cancels_them_with_nothing_owed(bot: BotHarness) -> None:
    member = await join_user(bot.club.sessions, bot.club.rules, MEMBER, "+989121234567")
    await _pending_purchase(bot, member)

    calls = await bot.chat.send("/refund P-1")

    [to_staff] = _to(calls, STAFF_CHAT_ID)
    assert "امتیاز در انتظار این خرید لغو شد" in to_staff.text
    purchase = await _purchase(bot)
    assert (purchase.status, purchase.points_reversed, purchase.points_unrecovered) == (
        PurchaseStatus.REFUNDED,
        0,
        0,
    )
    await _sweep(bot, utcnow() + timedelta(days=WINDOW + 1))
    assert await _count(bot, LedgerEntry) == 0
    assert (await reload_member(bot.club.sessions, member.id)).balance == 0


async def test_the_sweep_activates_them_once_and_tells_the_member(bot: BotHarness) -> None:
    member = await join_user(bot.club.sessions, bot.club.rules, MEMBER, "+989121234567")
    await _pending_purchase(bot, member)
    rules = bot.club.rules

    await _sweep(bot, utcnow() + timedelta(days=WINDOW - 1))  # not yet
    assert await _count(bot, LedgerEntry) == 0
    later = utcnow() + timedelta(days=WINDOW, hours=1)
    await _sweep(bot, later)
    await _sweep(bot, later + timedelta(minutes=5))

    purchase = await _purchase(bot)
    stored = await reload_member(bot.club.sessions, member.id)
    assert purchase.status == PurchaseStatus.COMPLETED
    assert (stored.balance, stored.tier) == (2_500, "silver")
    async with bot.club.sessions() as s, s.begin():
        [entry] = await s.scalars(select(LedgerEntry))
        lot = await s.scalar(select(PointsLot))
        assert entry.idempotency_key == f"purchase:{purchase.id}"
        assert lot.expires_at == after_days(purchase.available_at, rules.expiry.days)
        [told] = await s.scalars(
            select(Delivery).where(Delivery.dedupe_key == f"activated:{purchase.id}")
        )
        assert "۲٬۵۰۰ امتیاز آن حالا قابل استفاده است" in told.text
        await assert_books_balance(s, member.id)


async def test_the_referrer_is_thanked_at_activation_and_never_for_a_refund_inside_the_window(
    bot: BotHarness,
) -> None:
    referrer = await join_user(bot.club.sessions, bot.club.rules, MEMBER, "+989121234567")
    friend = await join_user(
        bot.club.sessions, bot.club.rules, FRIEND, "+989351234567", code=referrer.referral_code
    )
    await _pending_purchase(bot, friend, amount=100_000)
    assert (await reload_member(bot.club.sessions, referrer.id)).balance == 0
    await bot.chat.send("/refund P-1")
    await bot.chat.send(f"/purchase #{friend.id} 100000 P-2")

    await _sweep(bot, utcnow() + timedelta(days=WINDOW + 1))

    assert (await reload_member(bot.club.sessions, referrer.id)).balance == 200
    async with bot.club.sessions() as s:
        referral = await s.scalar(select(Referral))
        paid_by = await s.scalar(
            select(Purchase.reference).where(Purchase.id == referral.purchase_id)
        )
        assert (referral.status, paid_by) == (ReferralStatus.REWARDED, "P-2")


async def test_staff_see_pending_points_in_the_member_file_and_the_liability(
    bot: BotHarness,
) -> None:
    member = await join_user(bot.club.sessions, bot.club.rules, MEMBER, "+989121234567")
    await _pending_purchase(bot, member)

    [file] = await bot.chat.send(f"/member #{member.id}")
    [stats] = await bot.chat.send("/stats")

    assert "در انتظار پایان مهلت مرجوعی: ۲٬۵۰۰ امتیاز" in file.text
    assert "در انتظار پایان مهلت مرجوعی: ۲٬۵۰۰" in stats.text
