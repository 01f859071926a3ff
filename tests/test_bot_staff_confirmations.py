"""Purchases held for a confirm button: large amounts and phones nobody verified.

Driven through the real Application as a cashier, a second cashier, and an outsider with forged
buttons: nothing is credited before a staff member confirms, and one request records once.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.shell import MEMBER, STAFF
from bot.standin import ApiCall
from core import members
from core.models import AuditEntry, LedgerEntry, Member, Purchase, StaffConfirmation
from tests.conftest import STAFF_CHAT_ID, BotHarness

OTHER_STAFF = {"id": 3003, "is_bot": False, "first_name": "Mina", "language_code": "fa"}
TYPED_PHONE = "09351234567"
STALE = "دیگر معتبر نیست"


async def _join_verified(bot: BotHarness) -> None:
    """Member #1: Sara, who shared her own contact (a verified phone)."""
    await bot.chat.send("/start")
    await bot.chat.share_contact("+989121234567")
    await bot.chat.press(1)
    await bot.chat.press(1)


async def _join_typed(bot: BotHarness) -> Member:
    """A member whose phone was typed, never verified by its owner."""
    async with bot.club.sessions() as s, s.begin():
        joined = await members.join(
            s, bot.club.rules, telegram_id=4004, name="Typed", phone=TYPED_PHONE
        )
    assert not joined.member.phone_verified
    return joined.member


def _staff(bot: BotHarness, user: dict[str, Any] = STAFF, status: str = "member") -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, user["id"])] = status
    bot.app.bot_data.pop("staff_roles", None)
    bot.chat.as_staff(STAFF_CHAT_ID, user)


async def _count(bot: BotHarness, model: type) -> int:
    async with bot.club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def _purchases(bot: BotHarness) -> list[Purchase]:
    async with bot.club.sessions() as s:
        return list(await s.scalars(select(Purchase).order_by(Purchase.id)))


def _to_staff(calls: list[ApiCall]) -> list[ApiCall]:
    return [c for c in calls if c.params.get("chat_id") == STAFF_CHAT_ID]


def _answers(calls: list[ApiCall]) -> list[str]:
    return [str(c.params.get("text", "")) for c in calls if c.method == "answerCallbackQuery"]


async def _press(bot: BotHarness, button: int, message: dict[str, Any]) -> list[ApiCall]:
    """Press a button of ``message`` as it was (a stale copy works like an old client's)."""
    before = len(bot.standin.calls)
    await bot.chat.press(button, copy.deepcopy(message))
    return bot.standin.calls[before:]


async def _ask_large(bot: BotHarness) -> dict[str, Any]:
    await _join_verified(bot)
    _staff(bot)
    [held] = await bot.chat.send("/purchase #1 ۶۰ میلیون INV-60")
    assert "تأیید" in held.text and "۶۰٬۰۰۰٬۰۰۰" in held.text and "INV-60" in held.text
    assert [b["callback_data"] for b in held.buttons] == ["pcf:1", "pcx:1"]
    message = bot.chat.last_bot_message()
    assert message is not None
    return copy.deepcopy(message)


async def test_a_purchase_above_the_rule_waits_for_the_button(bot: BotHarness) -> None:
    message = await _ask_large(bot)
    assert await _count(bot, Purchase) == 0 and await _count(bot, LedgerEntry) == 0

    calls = await _press(bot, 1, message)

    [purchase] = await _purchases(bot)
    assert (purchase.member_id, purchase.amount, purchase.reference) == (1, 60_000_000, "INV-60")
    [edit] = [c for c in calls if c.method == "editMessageText"]
    assert "۶۰٬۰۰۰" in edit.text and "INV-60" in edit.text and not edit.markup
    assert any(c.params.get("chat_id") == MEMBER["id"] for c in calls)  # the member is told
    async with bot.club.sessions() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "purchase"))
        assert entry is not None and entry.after["confirmation"] == 1
        decided = await s.get(StaffConfirmation, 1)
        assert (decided.decision, decided.decided_by) == ("confirmed", STAFF["id"])


async def test_a_second_press_records_nothing_more(bot: BotHarness) -> None:
    message = await _ask_large(bot)
    await _press(bot, 1, message)

    again = await _press(bot, 1, message)
    cancel_after = await _press(bot, 2, message)

    assert _answers(again) == _answers(cancel_after) and STALE in _answers(again)[0]
    assert [c.method for c in again if c.method != "answerCallbackQuery"] == []
    assert await _count(bot, Purchase) == 1
    assert await _count(bot, LedgerEntry) == 1


async def test_two_staff_pressing_at_once_record_once(bot: BotHarness) -> None:
    message = await _ask_large(bot)
    _staff(bot, OTHER_STAFF)
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"

    await asyncio.gather(*(_press(bot, 1, message) for _ in range(4)))

    assert await _count(bot, Purchase) == 1
    async with bot.club.sessions() as s:
        member = await s.get(Member, 1)
        assert member.balance == 60_000


async def test_cancel_records_nothing_and_the_confirm_button_is_then_stale(
    bot: BotHarness,
) -> None:
    message = await _ask_large(bot)

    cancelled = await _press(bot, 2, message)
    confirm_later = await _press(bot, 1, message)

    [edit] = [c for c in cancelled if c.method == "editMessageText"]
    assert "ثبت نشد" in edit.text and "Reza" in edit.text and not edit.markup
    assert STALE in _answers(confirm_later)[0]
    assert await _count(bot, Purchase) == 0 and await _count(bot, LedgerEntry) == 0


@pytest.mark.parametrize("who", ["left_the_group", "private_chat", "other_group"])
async def test_only_staff_in_the_staff_group_may_press(bot: BotHarness, who: str) -> None:
    message = await _ask_large(bot)
    if who == "left_the_group":
        _staff(bot, OTHER_STAFF, status="left")
    elif who == "private_chat":
        bot.chat.as_member()
        message["chat"] = {"id": MEMBER["id"], "type": "private", "first_name": "Sara"}
    else:
        _staff(bot, OTHER_STAFF, status="administrator")
        bot.chat.as_staff(-100999, OTHER_STAFF)
        message["chat"] = {"id": -100999, "type": "supergroup", "title": "Other"}

    calls = await _press(bot, 1, message)

    assert "فقط برای همکاران" in _answers(calls)[0]
    assert await _count(bot, Purchase) == 0
    async with bot.club.sessions() as s:
        assert (await s.get(StaffConfirmation, 1)).decision is None


@pytest.mark.parametrize(
    "data",
    ["pcf:99999999999999999999999", "pcf:9223372036854775807", "pcf:999999999999999999",
     "pcf:abc", "pcf:", "pcf:-1", "pcx:0", "pcf:1e3", "pcx:٢"],
)  # fmt: skip
async def test_forged_buttons_are_stale_and_change_nothing(bot: BotHarness, data: str) -> None:
    message = await _ask_large(bot)
    message["reply_markup"] = {"inline_keyboard": [[{"text": "x", "callback_data": data}]]}

    calls = await _press(bot, 1, message)

    assert STALE in _answers(calls)[0]
    assert await _count(bot, Purchase) == 0
    async with bot.club.sessions() as s:
        assert (await s.get(StaffConfirmation, 1)).decision is None


async def test_a_retried_confirmed_request_is_already_recorded(bot: BotHarness) -> None:
    """The reference is fixed when the button is made: a second request for it awards nothing."""
    first = await _ask_large(bot)
    await _press(bot, 1, first)
    await bot.chat.send("/purchase #1 60m INV-60")
    second = copy.deepcopy(bot.chat.last_bot_message())

    calls = await _press(bot, 1, second)

    assert "قبلاً ثبت شده" in _answers(calls)[0]
    assert await _count(bot, Purchase) == 1


async def test_a_typed_phone_asks_before_it_credits_anyone(bot: BotHarness) -> None:
    typed = await _join_typed(bot)
    _staff(bot)

    [held] = await bot.chat.send(f"/purchase {TYPED_PHONE} 100000")

    assert "تأیید نکرده" in held.text and held.buttons
    assert await _count(bot, Purchase) == 0
    await _press(bot, 1, bot.chat.last_bot_message())
    [purchase] = await _purchases(bot)
    assert (purchase.member_id, purchase.amount) == (typed.id, 100_000)
    assert purchase.reference.startswith(f"tg:{STAFF_CHAT_ID}:")  # the request's own key


async def test_the_same_member_by_number_is_recorded_at_once(bot: BotHarness) -> None:
    """A member number comes from the member's card, not from a typed phone: no doubt to clear."""
    typed = await _join_typed(bot)
    _staff(bot)

    [reply] = _to_staff(await bot.chat.send(f"/purchase #{typed.id} 100000 INV-5"))

    assert not reply.buttons and "INV-5" in reply.text
    assert [p.member_id for p in await _purchases(bot)] == [typed.id]


async def test_a_verified_phone_is_recorded_at_once(bot: BotHarness) -> None:
    await _join_verified(bot)
    _staff(bot)

    [reply] = _to_staff(await bot.chat.send("/purchase 0912 123 4567 100000 INV-6"))

    assert not reply.buttons
    assert await _count(bot, Purchase) == 1 and await _count(bot, StaffConfirmation) == 0


async def test_the_rule_itself_is_not_above_the_rule(bot: BotHarness) -> None:
    await _join_verified(bot)
    _staff(bot)

    await bot.chat.send("/purchase #1 50m INV-50")

    assert await _count(bot, Purchase) == 1 and await _count(bot, StaffConfirmation) == 0
