"""``/import`` in the staff group, through the real Application: a customer list sent as a
document is reported, imported on the button, once, and only for administrators."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.handlers.staff_import import MAX_BYTES
from bot.shell import STAFF
from core.models import AuditEntry, LedgerEntry, Member
from tests.conftest import STAFF_CHAT_ID, BotHarness

CSV = (
    b"phone,name,balance,tier\n"
    b"09121234567,Sara,250,\n"
    b"0912 765 4321,Reza,1000,\n"
    b"not a phone,Nobody,5,\n"
    b"09121234567,Sara again,900,\n"
    b"09131112233,Mina,12x,\n"
)
STALE = "این دکمه دیگر معتبر نیست."


async def _as(bot: BotHarness, status: str, user: dict[str, Any] | None = None) -> None:
    user = user or STAFF
    bot.standin.chat_member_status[(STAFF_CHAT_ID, user["id"])] = status
    bot.chat.as_staff(STAFF_CHAT_ID, user)


async def _balances(bot: BotHarness) -> dict[str, int]:
    async with bot.club.sessions() as s:
        return dict((await s.execute(select(Member.phone, Member.balance))).all())


async def _count(bot: BotHarness, model: type) -> int:
    async with bot.club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def _downloads(bot: BotHarness) -> list[str]:
    return [c.method for c in bot.standin.calls if c.method in ("getFile", "download")]


async def test_an_admins_list_is_reported_then_imported_once_on_the_button(
    bot: BotHarness,
) -> None:
    await _as(bot, "administrator")

    [report] = await bot.chat.send_document(CSV, "/import")

    assert "۲ ردیف آماده‌ی ورود" in report.text and "از ۵ ردیف" in report.text
    assert "ردیف ۴: شماره‌ی موبایل درست نیست" in report.text
    assert "ردیف ۶: مانده‌ی امتیاز عدد درستی نیست" in report.text
    assert "ردیف ۵: همان شماره‌ی ردیف ۲ است" in report.text
    assert [b["text"] for b in report.buttons] == ["📥 ورود"]
    assert await _count(bot, Member) == 0  # the report is a dry run

    calls = await bot.chat.press(1, bot.standin.messages[max(bot.standin.messages)])

    applied = [c for c in calls if c.method == "sendMessage"][-1]
    assert "۲ عضو تازه" in applied.text and "۱٬۲۵۰ امتیاز" in applied.text
    assert await _balances(bot) == {"+989121234567": 250, "+989127654321": 1000}
    assert await _count(bot, LedgerEntry) == 2
    async with bot.club.sessions() as s:
        entry = await s.scalar(select(AuditEntry).where(AuditEntry.action == "import"))
        assert (entry.actor_id, entry.after["created"]) == (STAFF["id"], 2)


async def test_pressing_apply_again_is_stale_and_changes_nothing(bot: BotHarness) -> None:
    await _as(bot, "administrator")
    await bot.chat.send_document(CSV, "/import")
    report = bot.standin.messages[max(bot.standin.messages)]
    await bot.chat.press(1, report)
    before = len(bot.standin.calls)

    sent = await bot.chat.press(1, report)

    assert sent == []
    [answer] = [c for c in bot.standin.calls[before:] if c.method == "answerCallbackQuery"]
    assert answer.params["text"] == STALE
    assert await _count(bot, Member) == 2 and await _count(bot, LedgerEntry) == 2


@pytest.mark.parametrize(("status", "refusal"), [("member", "مدیران"), ("left", "کارکنان")])
async def test_staff_who_are_not_admins_and_outsiders_are_refused(
    bot: BotHarness, status: str, refusal: str
) -> None:
    await _as(bot, status)

    [refused] = await bot.chat.send_document(CSV, "/import")

    assert refusal in refused.text and not refused.buttons
    assert _downloads(bot) == []
    assert await _count(bot, Member) == 0


async def test_only_an_admin_may_press_apply(bot: BotHarness) -> None:
    await _as(bot, "administrator")
    await bot.chat.send_document(CSV, "/import")
    report = bot.standin.messages[max(bot.standin.messages)]
    clerk = {**STAFF, "id": STAFF["id"] + 1, "first_name": "Ali"}
    await _as(bot, "member", clerk)
    before = len(bot.standin.calls)

    assert await bot.chat.press(1, report) == []

    [answer] = [c for c in bot.standin.calls[before:] if c.method == "answerCallbackQuery"]
    assert "مدیران" in answer.params["text"]
    assert await _count(bot, Member) == 0
    await _as(bot, "administrator")
    await bot.chat.press(1, report)  # the report still stands for an administrator
    assert await _count(bot, Member) == 2


@pytest.mark.parametrize(
    "content", [b"", b"\xff\xfe not text", b"date,amount\n2024-01-01,5\n", b"PK\x03\x04broken"]
)
async def test_a_document_that_is_not_a_customer_list_is_explained(
    bot: BotHarness, content: bytes
) -> None:
    await _as(bot, "administrator")

    [answer] = await bot.chat.send_document(content, "/import")

    assert "فهرست مشتریان نیست" in answer.text and not answer.buttons
    assert await _count(bot, Member) == 0


async def test_a_file_over_the_bound_is_refused_before_downloading(bot: BotHarness) -> None:
    await _as(bot, "administrator")

    [refused] = await bot.chat.send_document(CSV, "/import", size=MAX_BYTES + 1)

    assert "بزرگ‌تر از ۱۰ مگابایت" in refused.text
    assert _downloads(bot) == []


async def test_a_document_without_the_command_is_not_an_import(bot: BotHarness) -> None:
    await _as(bot, "administrator")

    assert await bot.chat.send_document(CSV, "customers for later") == []
    assert _downloads(bot) == []


async def test_a_workbook_addressed_to_the_bot_by_name_is_imported(bot: BotHarness) -> None:
    workbook = Workbook()
    for row in (["Mobile", "Name", "Points"], ["۰۹۱۲۱۲۳۴۵۶۷", "سارا", "۱٬۵۰۰"]):
        workbook.active.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    await _as(bot, "administrator")

    [report] = await bot.chat.send_document(
        buffer.getvalue(), "/import@bashgah_demo_bot", name="customers.xlsx"
    )
    await bot.chat.press(1, bot.standin.messages[max(bot.standin.messages)])

    assert "۱ ردیف آماده‌ی ورود" in report.text
    assert await _balances(bot) == {"+989121234567": 1500}
