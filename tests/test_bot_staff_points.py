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
    assert "R-1" in reply.text and "۱۰۰٬۰۰۰ تومان" in reply.text  # names the purchase it was
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


# --- amounts and arguments as a cashier types them ------------------------------------------


async def _purchases(bot: BotHarness) -> list[Purchase]:
    async with bot.club.sessions() as s:
        return list(await s.scalars(select(Purchase).order_by(Purchase.id)))


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        ("۲۵۰ هزار", 250_000),
        ("۲۵۰ هزار تومان", 250_000),
        ("250 هزار", 250_000),
        ("۲۵۰هزار", 250_000),
        ("۲٫۵ میلیون", 2_500_000),
        ("250k", 250_000),
        ("2.5m", 2_500_000),
        ("۲/۵ میلیون تومن", 2_500_000),
        ("250,000", 250_000),
    ],
)
async def test_the_amount_is_read_with_its_unit_words(
    bot: BotHarness, amount: str, expected: int
) -> None:
    await _join(bot)
    await _staff(bot)

    await bot.chat.send(f"/purchase 0912 123 4567 {amount}")

    [purchase] = await _purchases(bot)
    assert purchase.amount == expected
    assert purchase.reference.startswith("tg:")  # no unit word taken for a reference


async def test_a_three_digit_reference_after_the_currency_word(bot: BotHarness) -> None:
    await _join(bot)
    await _staff(bot)

    await bot.chat.send("/purchase #1 ۲۵۰۰۰۰ تومان ۱۲۳")

    [purchase] = await _purchases(bot)
    assert (purchase.amount, purchase.reference) == (250_000, "123")


@pytest.mark.parametrize(
    "command",
    [
        "/purchase 1 250 000",
        "/purchase #1 250 000",
        "/purchase 0912 123 4567 250 000",
        "/purchase #1 1,250 000 R-1",
        "/purchase #1 2.5",  # not whole Toman
        "/purchase #1 2500000 ریال",  # a rial is not a Toman
        "/purchase #1 1,2",  # grouping not by threes
        "/purchase #1 250 هزار INV-1 extra",
        "/award #1 1 000 birthday",
        "/deduct #1 2 500 mistake",
    ],
)
async def test_spaced_or_unclear_numbers_are_refused_with_the_usage(
    bot: BotHarness, command: str
) -> None:
    await _join(bot)
    await _staff(bot)

    [reply] = await bot.chat.send(command)

    assert "این‌طور نوشته می‌شود" in reply.text and "نمونه" in reply.text
    assert await _count(bot, Purchase) == 0
    assert await _count(bot, LedgerEntry) == 0


@pytest.mark.parametrize("phone", ["912 123 4567", "9121234567", "۹۱۲ ۱۲۳ ۴۵۶۷"])
async def test_ten_digits_starting_with_9_are_a_phone_not_member_912(
    bot: BotHarness, phone: str
) -> None:
    await _join(bot)
    await _staff(bot)

    await bot.chat.send(f"/purchase {phone} 250000 INV-912")

    [purchase] = await _purchases(bot)
    assert (purchase.member_id, purchase.amount, purchase.reference) == (1, 250_000, "INV-912")


async def test_another_registers_invoice_for_another_member_is_refused_in_words(
    bot: BotHarness,
) -> None:
    """Two tills both number invoices from 1001: the second is not "already recorded"."""
    await _join(bot)
    async with bot.club.sessions() as s, s.begin():
        other = await members.join(s, bot.club.rules, telegram_id=4004, name="Other")
    await _staff(bot)
    await bot.chat.send("/purchase #1 100000 1001")

    [reply] = await bot.chat.send(f"/purchase #{other.member.id} 100000 1001")

    translator = bot.app.bot_data["translator"]
    assert reply.text == translator("fa", "errors/reference_conflict", reference="1001")
    assert "قبلاً ثبت شده" not in reply.text
    assert [p.member_id for p in await _purchases(bot)] == [1]
    async with bot.club.sessions() as s:
        assert (await s.get(Member, other.member.id)).balance == 0


async def test_the_same_reference_with_another_amount_is_refused_in_words(bot: BotHarness) -> None:
    await _join(bot)
    await _staff(bot)
    await bot.chat.send("/purchase #1 100000 1001")

    [reply] = await bot.chat.send("/purchase #1 200000 1001")

    translator = bot.app.bot_data["translator"]
    assert reply.text == translator("fa", "errors/reference_conflict", reference="1001")
    assert [p.amount for p in await _purchases(bot)] == [100_000]
