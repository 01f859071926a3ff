"""The phone attacks of issue 11, played through the real Application by attacker, owner and staff.

An attacker types someone else's number; the owner then shares her contact (Telegram-verified) and
must get her number; the cashier's purchase by that number must credit her. And /start must not be
an oracle: typing a member's number and a free one gets the same answers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.shell import MEMBER, STAFF
from core import members
from core.models import AuditEntry, Member
from tests.conftest import STAFF_CHAT_ID, BotHarness

SKIP = "رد شدن"
NUMBER = "+989121234567"
ATTACKER = {**MEMBER, "id": 6666, "first_name": "Mallory", "username": "mallory"}
STRANGER = {**MEMBER, "id": 7777, "first_name": "Mallory", "username": "mallory2"}
OWNER = MEMBER


async def _join(bot: BotHarness, user: dict[str, Any], phone: str, *, contact: bool) -> list[str]:
    """Join as ``user``; every answer the user got, in order."""
    bot.chat.as_member(user)
    answers = [*await bot.chat.send("/start")]
    if contact:
        answers += await bot.chat.share_contact(phone)
    else:
        answers += await bot.chat.send(phone)
    answers += await bot.chat.press(1)  # the suggested name
    answers += await bot.chat.press(SKIP)
    return [a.text for a in answers if a.params.get("chat_id") == user["id"]]


async def _by_telegram_id(bot: BotHarness, telegram_id: int) -> Member:
    async with bot.club.sessions() as s:
        member = await members.by_telegram_id(s, telegram_id)
        assert member is not None
        return member


def _staff_texts(bot: BotHarness, before: int) -> list[str]:
    return [c.text for c in bot.standin.sent(before) if c.params.get("chat_id") == STAFF_CHAT_ID]


async def test_the_owners_verified_contact_beats_an_attackers_typed_number(
    bot: BotHarness,
) -> None:
    await _join(bot, ATTACKER, "0912 123 4567", contact=False)
    before = len(bot.standin.calls)

    answers = await _join(bot, OWNER, NUMBER, contact=True)

    assert "عضویت شما کامل شد" in answers[-1]
    assert not any("قبلاً" in a for a in answers)  # not "already registered"
    owner = await _by_telegram_id(bot, OWNER["id"])
    attacker = await _by_telegram_id(bot, ATTACKER["id"])
    assert (owner.phone, owner.phone_verified) == (NUMBER, True)
    assert (attacker.phone, attacker.phone_verified) == (None, False)
    [notice] = _staff_texts(bot, before)
    assert f"عضو {_fa(attacker.id)}" in notice and NUMBER in notice
    async with bot.club.sessions() as s:
        [moved] = await s.scalars(select(AuditEntry).where(AuditEntry.action == "phone_moved"))
    assert (moved.member_id, moved.after["taken_by"]) == (attacker.id, owner.id)
    assert NUMBER not in str(moved.before) + str(moved.after)

    # The cashier's purchase by that number now credits the owner, and nobody else.
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID)
    await bot.chat.send("/purchase 09121234567 250000")
    owner, attacker = [await _by_telegram_id(bot, u["id"]) for u in (OWNER, ATTACKER)]
    assert (owner.balance, attacker.balance) == (250, 0)


async def test_start_is_no_oracle_a_members_number_and_a_free_one_get_the_same_answers(
    bot: BotHarness,
) -> None:
    await _join(bot, OWNER, NUMBER, contact=True)

    taken = await _join(bot, ATTACKER, "09121234567", contact=False)
    free = await _join(bot, STRANGER, "09351112233", contact=False)

    attacker, stranger = [await _by_telegram_id(bot, u["id"]) for u in (ATTACKER, STRANGER)]
    assert _without_number(taken, attacker.id) == _without_number(free, stranger.id)
    assert "/profile" in taken[-1]  # both are asked to confirm their number with the button
    owner = await _by_telegram_id(bot, OWNER["id"])
    assert (owner.phone, owner.phone_verified, owner.balance) == (NUMBER, True, 0)
    assert (attacker.phone, stranger.phone) == (None, "+989351112233")


async def test_a_member_confirms_their_number_later_from_the_profile(bot: BotHarness) -> None:
    await _join(bot, ATTACKER, "09121234567", contact=False)
    await _join(bot, OWNER, "09121234567", contact=False)  # typed: not attached, not told
    bot.chat.as_member(OWNER)
    await bot.chat.send("/profile")
    [ask] = await bot.chat.press("📱 شمارهٔ همراه")
    assert ask.buttons == [{"text": "📱 ارسال شمارهٔ من", "request_contact": True}]

    [someone_elses] = await bot.chat.share_contact(NUMBER, owner_id=ATTACKER["id"])
    assert "مال حساب خودتان نیست" in someone_elses.text
    assert (await _by_telegram_id(bot, OWNER["id"])).phone is None

    before = len(bot.standin.calls)
    answers = await bot.chat.press("📱 ارسال شمارهٔ من")
    assert "تأیید شد" in answers[0].text
    owner, attacker = [await _by_telegram_id(bot, u["id"]) for u in (OWNER, ATTACKER)]
    assert (owner.phone, owner.phone_verified) == (NUMBER, True)
    assert attacker.phone is None
    assert len(_staff_texts(bot, before)) == 1
    [summary] = await bot.chat.send("/profile")
    assert f"{NUMBER} ✅" in summary.text


async def test_staff_see_whether_a_number_is_verified(bot: BotHarness) -> None:
    await _join(bot, ATTACKER, "09351112233", contact=False)
    await _join(bot, OWNER, NUMBER, contact=True)
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID)

    [verified] = await bot.chat.send("/member 09121234567")
    [unverified] = await bot.chat.send("/member 09351112233")

    assert "تأییدشده ✅" in verified.text
    assert "تأییدنشده ⚠️" in unverified.text


def _fa(number: int) -> str:
    return str(number).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


def _without_number(answers: list[str], member_id: int) -> list[str]:
    """The answers with the member's own number (which differs by design) blanked out."""
    label = f"شمارهٔ عضویت: {_fa(member_id)}"
    return [a.replace(label, "شمارهٔ عضویت: #") for a in answers]
