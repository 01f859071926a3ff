"""/export as the owner opens it: headers in the club's language, times in Tehran with Jalali
dates, and an XLSX where a phone is text with its leading zero and no name runs as a formula."""

from __future__ import annotations

import csv
import io
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession

from bot.shell import STAFF
from core import exports, members, phones, purchases
from core.audit import Actor
from core.club import Club
from core.errors import InvalidInput
from core.locales import LOCALES
from core.rules import Rules
from tests.conftest import NOW, STAFF_CHAT_ID, BotHarness
from tests.helpers import audit_entries, new_member
from texts import Translator

# NOW, 1 March 2026 09:00 UTC, is 10 Esfand 1404, 12:30 in Tehran.
JOINED = "1404/12/10 12:30:00"
FORMULA = '=HYPERLINK("http://x","y")'
ADMIN = Actor(702, "Admin")


async def _members(bot: BotHarness) -> None:
    async with bot.club.sessions() as s, s.begin():
        sara = await new_member(s, bot.club.rules, NOW, name="سارا", phone="09121234567")
        await members.update_profile(s, sara.id, city="تهران")
        await new_member(s, bot.club.rules, NOW, name=FORMULA, phone="+447911123456")
        await purchases.record(s, bot.club.rules, sara.id, 250_000, reference="F-1",
                               now=NOW + timedelta(hours=12))  # fmt: skip


def _admin(bot: BotHarness) -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "administrator"
    bot.chat.as_staff(STAFF_CHAT_ID)


async def test_the_xlsx_keeps_phones_as_text_and_reads_persian(bot: BotHarness) -> None:
    await _members(bot)
    _admin(bot)

    [document] = await bot.chat.send("/export members xlsx")

    assert document.method == "sendDocument"
    data = next(iter(document.files.values()))
    assert data[:2] == b"PK"  # a zip, as every XLSX
    sheet = load_workbook(io.BytesIO(data)).active
    header, sara, other = (list(row) for row in sheet.iter_rows())
    assert [cell.value for cell in header] == [
        "شمارهٔ عضو", "نام", "تلفن", "سطح", "امتیاز", "زمان عضویت", "وضعیت", "شهر",
    ]  # fmt: skip
    assert [cell.value for cell in sara] == [
        1,
        "سارا",
        "09121234567",
        "برنزی",
        250,
        JOINED,
        "فعال",
        "تهران",
    ]  # the codes in words; fmt: skip
    phone = sara[2]
    assert phone.data_type == "s" and phone.value.startswith("0")
    assert other[2].value == "+447911123456"  # a foreign number keeps its country code
    assert other[1].value == FORMULA and other[1].data_type == "s"  # text, never a formula
    assert isinstance(sara[4].value, int)  # numbers stay numbers
    assert sheet.sheet_view.rightToLeft and sheet.freeze_panes == "A2"
    [entry] = await audit_entries(bot.club, "export")
    assert entry.after == {"kind": "members", "rows": 2, "format": "xlsx"}


async def test_the_csv_speaks_the_club_language_and_time(bot: BotHarness) -> None:
    await _members(bot)
    _admin(bot)

    [document] = await bot.chat.send("/export purchases")

    text = next(iter(document.files.values())).decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text)))
    assert header[:3] == ["شمارهٔ خرید", "شمارهٔ عضو", "مبلغ"] and header[-1] == "شعبه"
    sold = dict(zip(header, row, strict=True))
    assert sold["زمان خرید"] == "1404/12/11 00:30:00"  # 21:00 UTC is past midnight in Tehran
    assert (sold["مبلغ"], sold["شمارهٔ فاکتور"], sold["شعبه"]) == ("250000", "F-1", "main")
    assert sold["وضعیت"] == "ثبت‌شده"  # a purchase's status in the club's words


async def test_the_ledger_says_each_entrys_kind(bot: BotHarness) -> None:
    await _members(bot)
    _admin(bot)

    [document] = await bot.chat.send("/export ledger")

    text = next(iter(document.files.values())).decode("utf-8-sig")
    header, *entries = list(csv.reader(io.StringIO(text)))
    kinds = {dict(zip(header, entry, strict=True))["نوع"] for entry in entries}
    assert kinds == {"خرید"}


async def test_the_format_word_comes_last_and_is_checked(bot: BotHarness) -> None:
    await _members(bot)
    _admin(bot)

    [by_branch] = await bot.chat.send("/export purchases main XLSX")
    [csv_named] = await bot.chat.send("/export ledger csv")
    [refused] = await bot.chat.send("/export members main xlsx")
    [usage] = await bot.chat.send("/export members main xlsx extra")

    sheet = load_workbook(io.BytesIO(next(iter(by_branch.files.values())))).active
    assert [row[-1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["main"]
    assert next(iter(csv_named.files.values())).startswith(exports.BOM.encode())
    assert refused.method == "sendMessage" and "فقط خروجی خریدها" in refused.text
    assert "[csv|xlsx]" in usage.text


@pytest.mark.parametrize("kind", exports.KINDS)
@pytest.mark.parametrize("locale", LOCALES)
async def test_every_column_has_a_header_in_every_language(
    session: AsyncSession, kind: str, locale: str
) -> None:
    translate = Translator(ZoneInfo("Asia/Tehran"))
    keys, _ = exports.rows(session, kind)
    labels = [translate(locale, "labels/export_column", export_kind=kind, column=k) for k in keys]
    assert all(labels) and len(set(labels)) == len(labels)


@pytest.mark.parametrize("batch", [1, 2, 1000])
async def test_the_xlsx_streams_page_by_page(
    session: AsyncSession, rules: Rules, batch: int
) -> None:
    made = [await new_member(session, rules, NOW, name=f"M{n}") for n in range(5)]
    people = exports.People(lambda kind, key: key.upper(), UTC, "en")
    out = io.BytesIO()

    assert await exports.write_xlsx(session, "members", out, people, batch=batch) == 5

    rows = list(load_workbook(out).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("ID", "NAME", "PHONE")
    assert [row[0] for row in rows[1:]] == [m.id for m in made]
    assert rows[1][5] == "2026-03-01 09:00:00"  # English: Gregorian, in the given zone (UTC here)


async def test_an_unknown_format_is_refused_before_anything(club: Club) -> None:
    with pytest.raises(InvalidInput) as refused:
        await exports.export(club, ADMIN, "members", io.BytesIO(), file_format="ods")
    assert refused.value.reason == "unknown_export_format"
    assert await audit_entries(club, "export") == []


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+989121234567", "09121234567"),
        ("+982188776655", "02188776655"),
        ("+447911123456", "+447911123456"),
        ("not a phone", "not a phone"),
    ],
)
def test_phones_as_the_shop_writes_them(stored: str, shown: str) -> None:
    assert phones.national(stored) == shown
