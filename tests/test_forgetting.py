"""Forgetting means forgetting, played through the real Application.

After /forget or /erase: a comeback earns no second welcome or referral, queued messages are
cancelled and blanked (and never sent), the erase audit keeps no name or number, open codes are
void (staff /confirm says so, the item goes back on the shelf), and old buttons in the chat never
show or act on the previous person's codes.
"""

from __future__ import annotations

import asyncio
import copy
from datetime import timedelta

from sqlalchemy import func, select

from bot.notifications.sender import Sender
from bot.shell import MEMBER, STAFF
from core import identities, ledger, members, outbox, redemptions, rewards
from core.models import (
    AuditEntry,
    ClubSecret,
    Delivery,
    DeliveryStatus,
    EntryKind,
    LedgerEntry,
    Member,
    Purchase,
    Redemption,
    RedemptionStatus,
    Referral,
    Reward,
    utcnow,
)
from tests.conftest import STAFF_CHAT_ID, BotHarness

SKIP = "رد شدن"
NUMBER = "+989121234567"


async def _join(bot: BotHarness, start: str = "/start") -> str:
    """Join as the member with the contact button; returns the welcome text."""
    bot.chat.as_member(MEMBER)
    await bot.chat.send(start)
    await bot.chat.share_contact(NUMBER)
    await bot.chat.press(1)
    [welcome] = await bot.chat.press(SKIP)
    return welcome.text


async def _forget(bot: BotHarness) -> None:
    bot.chat.as_member(MEMBER)
    await bot.chat.send("/forget")
    await bot.chat.press("بله، پاک شود")


async def _as_staff(bot: BotHarness, status: str = "member") -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = status
    bot.chat.as_staff(STAFF_CHAT_ID)


async def _me(bot: BotHarness) -> Member:
    async with bot.club.sessions() as s:
        member = await members.by_telegram_id(s, MEMBER["id"])
        assert member is not None
        return member


async def _count(bot: BotHarness, query) -> int:  # type: ignore[no-untyped-def]
    async with bot.club.sessions() as s:
        return int(await s.scalar(query) or 0)


async def _redeemed_code(bot: BotHarness, points: int = 500) -> tuple[Redemption, dict]:
    """The member, given ``points``, redeems a reward (stock 3) in the chat; returns the code and
    the reward's message as it was when its confirm button was pressed."""
    member = await _me(bot)
    async with bot.club.sessions() as s, s.begin():
        await ledger.credit(
            s, member.id, points, EntryKind.BONUS, f"gift:{member.id}",
            expires_at=utcnow() + timedelta(days=90),
        )  # fmt: skip
        await rewards.create(s, bot.club.rules, title="Coffee", cost=300, stock=3)
    bot.chat.as_member(MEMBER)
    await bot.chat.send("/rewards")
    await bot.chat.press(1)
    confirm = copy.deepcopy(bot.chat.last_bot_message())
    await bot.chat.press(1)
    async with bot.club.sessions() as s:
        code = await s.scalar(select(Redemption).where(Redemption.member_id == member.id))
    return code, confirm


async def test_rejoining_through_the_same_link_never_counts_again(bot: BotHarness) -> None:
    async with bot.club.sessions() as s, s.begin():
        referrer = (await members.join(s, bot.club.rules, telegram_id=5005, name="Reza")).member
    link = f"/start ref_{referrer.referral_code}"

    welcomes = []
    for round_ in range(3):
        welcomes.append(await _join(bot, link))
        await _as_staff(bot)
        await bot.chat.send(f"/purchase 09121234567 100000 R-{round_}")
        await bot.chat.send(f"/refund R-{round_}")
        await _forget(bot)

    assert "هدیه گرفتید" in welcomes[0]
    assert not any("هدیه گرفتید" in w for w in welcomes[1:])  # no bonus promised, none given
    assert await _count(bot, select(func.count()).select_from(Referral)) == 1
    welcome_bonuses = select(func.count()).where(
        LedgerEntry.idempotency_key.like("referral:welcome:%")
    )
    assert await _count(bot, welcome_bonuses) == 1
    referrer_bonuses = select(func.count()).where(
        LedgerEntry.idempotency_key.like("referral:referrer:%")
    )
    assert await _count(bot, referrer_bonuses) <= 1
    assert await _count(bot, select(func.count()).select_from(Purchase)) == 3


async def test_the_salt_is_made_once_and_only_digests_are_kept(bot: BotHarness) -> None:
    await _join(bot)
    await _forget(bot)
    await _join(bot)
    await _forget(bot)

    async with bot.club.sessions() as s:
        [salt] = await s.scalars(select(ClubSecret))
        assert await identities.is_forgotten(s, telegram_id=MEMBER["id"], verified_phone=NUMBER)
        assert not await identities.is_forgotten(s, telegram_id=1, verified_phone=None)
    assert len(salt.value) == 64


async def test_two_forgets_at_once_make_one_salt(bot: BotHarness) -> None:
    ids = []
    async with bot.club.sessions() as s, s.begin():
        for telegram_id in (1, 2):
            ids.append(
                (await members.join(s, bot.club.rules, telegram_id=telegram_id, name="N")).member.id
            )

    async def forget(member_id: int) -> None:
        async with bot.club.sessions() as s, s.begin():
            await members.anonymize(s, member_id)

    await asyncio.gather(*(forget(i) for i in ids))

    async with bot.club.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(ClubSecret)) == 1
        for telegram_id in (1, 2):
            assert await identities.is_forgotten(s, telegram_id=telegram_id, verified_phone=None)


async def test_forget_cancels_queued_messages_and_the_sender_never_sends_them(
    bot: BotHarness,
) -> None:
    await _join(bot)
    member = await _me(bot)
    async with bot.club.sessions() as s, s.begin():
        for key in ("offer", "survey"):
            await outbox.enqueue(
                s, chat_id=MEMBER["id"], member_id=member.id, kind="offer", dedupe_key=key,
                text=f"Dear {member.name}, …",
            )  # fmt: skip

    await _forget(bot)

    async with bot.club.sessions() as s:
        rows = list(await s.scalars(select(Delivery)))
    assert [(r.status, r.text) for r in rows] == [(DeliveryStatus.CANCELLED, "")] * 2
    before = len(bot.standin.calls)
    assert await Sender(bot.app.bot, bot.club.sessions).drain_once() == 0
    assert bot.standin.sent(before) == []


async def test_erase_voids_open_codes_and_its_audit_keeps_no_name_or_number(
    bot: BotHarness,
) -> None:
    await _join(bot)
    code, _ = await _redeemed_code(bot)
    await _as_staff(bot, "administrator")

    await bot.chat.send(f"/erase #{code.member_id}")
    [void] = await bot.chat.send(f"/confirm {code.code}")

    assert "این کد باطل است" in void.text
    async with bot.club.sessions() as s:
        redemption = await s.get(Redemption, code.id)
        reward = await s.get(Reward, code.reward_id)
        erased = await s.get(Member, code.member_id)
        [entry] = await s.scalars(select(AuditEntry).where(AuditEntry.action == "erase"))
    assert redemption.status == RedemptionStatus.VOID
    assert reward.stock == 3  # the item is back on the shelf
    assert erased.balance == 500  # the reserved points are back in the erased account's books
    assert await _ledger_matches(bot, erased.id)
    logged = str(entry.before) + str(entry.after)
    assert "Sara" not in logged and "912" not in logged


async def test_old_buttons_after_a_new_join_never_touch_the_previous_persons_codes(
    bot: BotHarness,
) -> None:
    await _join(bot)
    old, old_confirm = await _redeemed_code(bot)
    bot.chat.as_member(MEMBER)
    await bot.chat.send("/myrewards")
    old_list = bot.chat.last_bot_message()
    await _forget(bot)
    await _join(bot)

    before = len(bot.standin.calls)
    await bot.chat.press(1, message=old_list)  # cancel the previous person's code
    await bot.chat.press(1, message=old_confirm)  # the previous person's confirm, pressed again
    await bot.chat.send("/myrewards")

    shown = " ".join(str(c.params) for c in bot.standin.calls[before:])
    assert old.code[:4] not in shown  # neither the code nor any part of it, however formatted
    async with bot.club.sessions() as s:
        assert (await s.get(Redemption, old.id)).status == RedemptionStatus.VOID
        new_member = await members.by_telegram_id(s, MEMBER["id"])
        assert await redemptions.open_for_member(s, new_member.id) == []


async def _ledger_matches(bot: BotHarness, member_id: int) -> bool:
    async with bot.club.sessions() as s:
        member = await s.get(Member, member_id)
        return (
            member.balance
            == await ledger.ledger_sum(s, member_id)
            == await ledger.lots_sum(s, member_id)
        )
