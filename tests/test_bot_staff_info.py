"""Staff reading the club: a member's file, numbers with a chart, CSV exports, the audit log."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from bot.shell import STAFF
from core.models import AuditEntry, LedgerEntry
from tests.conftest import STAFF_CHAT_ID, BotHarness

PNG = b"\x89PNG\r\n\x1a\n"


async def _club_with_a_purchase(bot: BotHarness, status: str = "administrator") -> None:
    await bot.chat.send("/start")
    await bot.chat.press(1)
    await bot.chat.press(1)
    await bot.chat.press(1)
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = status
    bot.chat.as_staff(STAFF_CHAT_ID)
    await bot.chat.send("/purchase 09121234567 1500000 INV-1")


async def test_member_file(bot: BotHarness) -> None:
    await _club_with_a_purchase(bot)
    [reply] = await bot.chat.send("/member ۰۹۱۲۱۲۳۴۵۶۷")
    assert "Sara Ahmadi" in reply.text
    assert "۱٬۵۰۰" in reply.text and "INV-1" in reply.text
    assert "نقره‌ای" in reply.text  # 1,500 points crossed the silver threshold
    [unknown] = await bot.chat.send("/member 09350000000")
    assert "پیدا نشد" in unknown.text


async def test_stats_send_a_chart_with_the_numbers(bot: BotHarness) -> None:
    await _club_with_a_purchase(bot, "member")
    [photo] = await bot.chat.send("/stats")

    assert photo.method == "sendPhoto"
    assert next(iter(photo.files.values())).startswith(PNG)
    assert "۱٬۵۰۰" in photo.text  # issued and outstanding


async def test_export_is_a_csv_excel_reads_with_every_row(bot: BotHarness) -> None:
    await _club_with_a_purchase(bot)
    for kind, expected_rows in (("members", 1), ("ledger", 1), ("purchases", 1)):
        [document] = await bot.chat.send(f"/export {kind}")
        assert document.method == "sendDocument"
        data = next(iter(document.files.values()))
        assert data.startswith("\ufeff".encode())
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert len(rows) == 1 + expected_rows
    [usage] = await bot.chat.send("/export everything")
    assert "/export members|ledger|purchases|surveys" in usage.text


async def test_exports_are_for_administrators(bot: BotHarness) -> None:
    await _club_with_a_purchase(bot, "member")
    [refused] = await bot.chat.send("/export members")
    assert refused.method == "sendMessage" and "مدیران" in refused.text


async def test_audit_shows_the_latest_actions(bot: BotHarness) -> None:
    await _club_with_a_purchase(bot)
    await bot.chat.send("/award #1 20 welcome gift")
    [reply] = await bot.chat.send("/audit #1")
    assert "دادن امتیاز" in reply.text and "ثبت خرید" in reply.text  # in Persian, not codes
    async with bot.club.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEntry)) == 2
        assert await s.scalar(select(func.count()).select_from(LedgerEntry)) == 2


async def test_an_administrator_erases_a_member(bot: BotHarness) -> None:
    await _club_with_a_purchase(bot)
    [reply] = await bot.chat.send("/erase #1")
    assert "پاک شد" in reply.text
    [gone] = await bot.chat.send("/member #1")
    assert "پیدا نشد" in gone.text
