"""Staff commands that move points, through the real Application, refused for outsiders."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.shell import MEMBER, STAFF
from core import members
from core.models import AuditEntry, LedgerEntry, Member, Purchase
from tests.conftest import STAFF_CHAT_ID, BotHarness


async def _join(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    await bot.chat.share_contact("+989121234567")
    await bot.chat.press(1)
    await bot.chat.press(1)


async def _staff(bot: BotHarness, status: str = "member") -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = status
    bot.chat.as_staff(STAFF_CHAT_ID)


async def _member(bot: BotHarness) -> Member:
    async with bot.club.sessions() as s:
        member = await members.by_telegram_id(s, MEMBER["id"])
        assert member is not None
        return member


async def _count(bot: BotHarness, model: type) -> int:
    async with bot.club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_purchase_awards_points_tells_the_member_and_is_audited(bot: BotHarness) -> None:
    await _join(bot)
    await _staff(bot)

    calls = await bot.chat.send("/purchase 0912 123 4567 ۲۵۰٬۰۰۰ INV-9")

    to_staff = [c for c in calls if c.params["chat_id"] == STAFF_CHAT_ID]
    to_member = [c for c in calls if c.params["chat_id"] == MEMBER["id"]]
    assert "۲۵۰" in to_staff[0].text and "INV-9" in to_staff[0].text
    assert "۲۵۰ امتیاز گرفتید" in to_member[0].text
    assert (await _member(bot)).balance == 250
    async with bot.club.sessions() as s:
        entry = await s.scalar(select(AuditEntry))
        assert (entry.action, entry.actor_id, entry.after["points"]) == (
            "purchase",
            STAFF["id"],
            250,
        )


async def test_the_same_reference_twice_awards_once(bot: BotHarness) -> None:
    await _join(bot)
    await _staff(bot)
    await bot.chat.send("/purchase #1 100000 R-1")

    [reply] = await bot.chat.send("/purchase #1 100000 R-1")

    assert "قبلاً ثبت شده" in reply.text
    assert (await _member(bot)).balance == 100
    assert await _count(bot, Purchase) == 1


@pytest.mark.parametrize(
    "command",
    [
        "/purchase",
        "/purchase #1",
        "/purchase #1 abc",
        "/purchase #1 -500",
        "/purchase #1 0",
        "/purchase #1 99999999999999999999999",
        "/purchase #1 1000 R extra",
        "/purchase #77 1000",
        "/award #1 10",
        "/deduct #1 5 too many",
        "/refund",
        "/refund nope",
        "/confirm ZZZZ-ZZZZ",
    ],
)
async def test_bad_staff_input_is_explained_and_changes_nothing(
    bot: BotHarness, command: str
) -> None:
    await _join(bot)
    await _staff(bot)

    [reply] = await bot.chat.send(command)

    assert reply.params["chat_id"] == STAFF_CHAT_ID and reply.text
    assert await _count(bot, LedgerEntry) == 0
    assert await _count(bot, AuditEntry) == 0


@pytest.mark.parametrize("where", ["private", "other_group", "left_the_group"])
async def test_outsiders_are_refused_and_nothing_changes(bot: BotHarness, where: str) -> None:
    await _join(bot)
    if where == "private":
        pass  # the member themself, in their private chat
    elif where == "other_group":
        bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "administrator"
        bot.chat.as_staff(-100999)
    else:
        await _staff(bot, "left")

    [reply] = await bot.chat.send("/purchase #1 5000000")

    assert "فقط برای همکاران" in reply.text
    assert "Sara" not in reply.text
    assert (await _member(bot)).balance == 0


async def test_big_adjustments_need_an_administrator(bot: BotHarness) -> None:
    await _join(bot)
    await _staff(bot, "member")
    [refused] = await bot.chat.send("/award #1 5000 birthday")
    assert "مدیران" in refused.text
    assert (await _member(bot)).balance == 0

    await _staff(bot, "administrator")
    bot.app.bot_data.pop("staff_roles", None)  # the cached role would last a minute
    await bot.chat.send("/award #1 5000 birthday")
    assert (await _member(bot)).balance == 5000


async def test_refund_and_deduct(bot: BotHarness) -> None:
    await _join(bot)
    await _staff(bot)
    await bot.chat.send("/purchase #1 300000 R-2")
    await bot.chat.send("/deduct #1 50 broken cup")
    [reply, *_] = await bot.chat.send("/refund R-2")

    assert "۲۵۰" in reply.text and "۵۰" in reply.text  # 250 taken back, 50 already gone
    assert (await _member(bot)).balance == 0
    assert await _count(bot, AuditEntry) == 3
