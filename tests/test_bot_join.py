"""Joining through the real Application: updates in, Bot API calls out."""

from __future__ import annotations

from sqlalchemy import func, select

from core.models import Member
from tests.conftest import BotHarness


async def _members(bot: BotHarness) -> list[Member]:
    async with bot.club.sessions() as s:
        return list(await s.scalars(select(Member)))


async def test_a_newcomer_joins_with_the_contact_button(bot: BotHarness) -> None:
    [ask_phone] = await bot.chat.send("/start")
    assert ask_phone.buttons == [{"text": "📱 ارسال شمارهٔ من", "request_contact": True}]

    [ask_name] = await bot.chat.share_contact("989121234567")
    assert "Sara Ahmadi" in ask_name.text
    [ask_birthday] = await bot.chat.press("Sara Ahmadi")
    assert "۱۳۷۰/۰۵/۱۲" in ask_birthday.text
    [welcome] = await bot.chat.send("۱۳۷۰/۰۵/۱۲")

    assert "عضویت شما کامل شد" in welcome.text
    assert [b["text"] for b in welcome.buttons[:2]] == ["💰 امتیاز من", "🎁 جوایز"]
    [member] = await _members(bot)
    assert (member.phone, member.phone_verified, member.name, member.birthday.isoformat()) == (
        "+989121234567",
        True,
        "Sara Ahmadi",
        "1991-08-03",
    )
    assert "/profile" not in welcome.text  # a verified number needs no confirming


async def test_nothing_is_written_until_the_last_answer(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    await bot.chat.share_contact("+989121234567")
    await bot.chat.send("/cancel")

    async with bot.club.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Member)) == 0
