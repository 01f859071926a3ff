"""Importing an existing customer list (issue 13): a CSV or XLSX file checked row by row, the
report as a dry run, and the apply that makes till members with their opening balances, once.

Driven as the owner drives it: ``core.imports`` over the club's database, and ``bashgah import
members`` at the command line. What is asserted is what is in the database afterwards: members,
balances, the ledger and its lots, the audit log; and that a refused row or a dry run wrote nothing.
"""

from __future__ import annotations

import asyncio
import io
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from bot.cli import main
from core import imports
from core.actions import joining
from core.audit import Actor
from core.club import Club
from core.errors import InvalidInput
from core.models import LedgerEntry, Member
from tests.helpers import assert_books_balance, audit_entries

OWNER = Actor(1001, "Owner")
HEADER = ["phone", "name", "birthday", "balance", "tier"]
CUSTOMERS = [
    ["09121234567", "مریم رضایی", "1370/05/12", "1500", ""],
    ["+98 912 765 4321", "Ali", "1991-08-03", "0", "silver"],
    ["۰۹۳۵۱۱۱۲۲۳۳", "سارا", "۱۳۶۵/۰۱/۰۲", "۲٬۰۰۰", ""],
]
PHONES = ["+989121234567", "+989127654321", "+989351112233"]


def _csv(rows: list[list[str]], *, bom: bool = False) -> bytes:
    text = "\n".join(",".join(f'"{c}"' for c in row) for row in [HEADER, *rows]) + "\n"
    return ("\ufeff" if bom else "").encode() + text.encode()


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in [HEADER, *rows]:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


async def _members(club: Club) -> dict[str, Member]:
    async with club.sessions() as s:
        return {m.phone: m for m in await s.scalars(select(Member))}


async def _count(club: Club, model: type) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def _books_balance(club: Club) -> None:
    async with club.sessions() as s:
        for member_id in await s.scalars(select(Member.id)):
            await assert_books_balance(s, member_id)


async def test_a_list_applied_twice_makes_each_customer_once_with_their_balance(
    club: Club,
) -> None:
    report = imports.check_file(club, _csv(CUSTOMERS, bom=True))
    assert (len(report.accepted), report.refused, report.duplicates) == (3, (), ())

    first = await imports.apply(club, OWNER, report)
    second = await imports.apply(club, OWNER, imports.check_file(club, _csv(CUSTOMERS)))

    assert (first.created, first.credited, first.points) == (3, 2, 3500)
    assert (second.created, second.credited, second.skipped, second.conflicts) == (0, 0, 2, ())
    found = await _members(club)
    assert sorted(found) == sorted(PHONES)
    assert [found[p].balance for p in PHONES] == [1500, 0, 2000]
    assert found[PHONES[0]].name == "مریم رضایی"
    assert found[PHONES[0]].birthday.isoformat() == "1991-08-03"  # 1370/05/12, Jalali
    assert found[PHONES[1]].birthday.isoformat() == "1991-08-03"
    assert found[PHONES[2]].birthday.isoformat() == "1986-03-22"
    assert found[PHONES[1]].tier == "silver"
    assert found[PHONES[0]].tier == club.rules.base_tier
    assert all(m.telegram_id is None and not m.phone_verified for m in found.values())
    assert await _count(club, LedgerEntry) == 2
    await _books_balance(club)
    [audited] = await audit_entries(club, "import")  # the second run changed nothing
    assert audited.actor_id == OWNER.id
    assert (audited.after["created"], audited.after["points"]) == (3, 3500)


async def test_refused_rows_are_reported_by_number_and_nothing_is_written_for_them(
    club: Club,
) -> None:
    rows = [
        CUSTOMERS[0],
        ["12345", "Bad phone", "", "10", ""],
        ["09120000001", "Negative", "", "-5", ""],
        ["09120000002", "Bad day", "1370/13/40", "10", ""],
        ["09120000003", "Unknown tier", "", "10", "diamond"],
        ["09120000004", "Future", "2999-01-01", "10", ""],
        ["09120000005", "Huge", "", "99999999999", ""],
    ]
    report = imports.check_file(club, _csv(rows))

    assert [(r.number, r.reason) for r in report.refused] == [
        (3, "phone"), (4, "balance"), (5, "birthday"), (6, "tier"), (7, "birthday"),
        (8, "balance"),
    ]  # fmt: skip
    await imports.apply(club, OWNER, report)
    assert list(await _members(club)) == [PHONES[0]]
    assert await _count(club, LedgerEntry) == 1


async def test_duplicates_by_normalized_phone_keep_the_first_row(club: Club) -> None:
    rows = [CUSTOMERS[0], ["0912 123 4567", "Again", "", "900", ""], CUSTOMERS[1]]
    report = imports.check_file(club, _csv(rows))

    assert [(d.number, d.phone, d.first) for d in report.duplicates] == [(3, PHONES[0], 2)]
    await imports.apply(club, OWNER, report)
    found = await _members(club)
    assert (len(found), found[PHONES[0]].name, found[PHONES[0]].balance) == (2, "مریم رضایی", 1500)


async def test_a_workbook_imports_as_its_csv_does(club: Club) -> None:
    rows: list[list[object]] = [
        ["09121234567", "مریم رضایی", "1370/05/12", 1500, None],
        [9127654321, "Ali", datetime(1991, 8, 3), 0, "silver"],
        ["۰۹۳۵۱۱۱۲۲۳۳", "سارا", "۱۳۶۵/۰۱/۰۲", "۲٬۰۰۰", None],
    ]
    from_xlsx = imports.check_file(club, _xlsx(rows))
    from_csv = imports.check_file(club, _csv(CUSTOMERS))

    assert from_xlsx == from_csv
    applied = await imports.apply(club, OWNER, from_xlsx)
    assert (applied.created, applied.points) == (3, 3500)


async def test_a_changed_balance_is_not_imported_again(club: Club) -> None:
    await imports.apply(club, OWNER, imports.check_file(club, _csv(CUSTOMERS[:1])))
    changed = [[*CUSTOMERS[0][:3], "9999", ""]]

    again = await imports.apply(club, OWNER, imports.check_file(club, _csv(changed)))

    assert (again.skipped, again.conflicts) == (1, (2,))
    assert (await _members(club))[PHONES[0]].balance == 1500


async def test_an_existing_member_gets_the_opening_balance_once_through_the_core(
    club: Club,
) -> None:
    till = (await joining.register(club, OWNER, phone=PHONES[0], name="Maryam")).member
    progress: list[tuple[int, int]] = []

    applied = await imports.apply(
        club,
        OWNER,
        imports.check_file(club, _csv(CUSTOMERS)),
        progress=lambda *p: progress.append(p),
        batch=2,
    )

    assert (applied.created, applied.existing, applied.points) == (2, 1, 3500)
    assert progress == [(2, 3), (3, 3)]
    found = await _members(club)
    assert (found[PHONES[0]].id, found[PHONES[0]].name, found[PHONES[0]].balance) == (
        till.id, "Maryam", 1500
    )  # fmt: skip
    await _books_balance(club)


async def test_an_imported_customer_claims_their_account_with_the_contact_button(
    club: Club,
) -> None:
    await imports.apply(club, OWNER, imports.check_file(club, _csv(CUSTOMERS)))
    imported = (await _members(club))[PHONES[0]]

    joined = await joining.join(
        club, Actor(5555), name="Maryam", phone=PHONES[0], phone_verified=True, birthday=None,
        locale="fa", username=None, referral_code=None,
    )  # fmt: skip

    assert (joined.claimed, joined.member.id, joined.member.balance) == (True, imported.id, 1500)
    await _books_balance(club)


async def test_two_applies_of_one_list_at_once_import_it_once(club: Club) -> None:
    report = imports.check_file(club, _csv(CUSTOMERS))

    await asyncio.gather(*(imports.apply(club, OWNER, report) for _ in range(2)))

    found = await _members(club)
    assert [found[p].balance for p in PHONES] == [1500, 0, 2000]
    assert await _count(club, LedgerEntry) == 2
    await _books_balance(club)


@pytest.mark.parametrize(
    "data",
    [b"\xff\xfe\x00bad", b"name,balance\nAli,10\n", b"", b"PK\x03\x04 not a workbook"],
)
async def test_an_unreadable_file_is_refused_whole(club: Club, data: bytes) -> None:
    with pytest.raises(InvalidInput) as caught:
        imports.check_file(club, data)
    assert caught.value.reason == "import_unreadable"


def test_the_cli_dry_run_changes_nothing_and_apply_imports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BASHGAH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'club.db'}")
    monkeypatch.delenv("BASHGAH_RULES", raising=False)
    source = tmp_path / "customers.csv"
    source.write_bytes(_csv([*CUSTOMERS, ["12345", "Bad", "", "1", ""], CUSTOMERS[0]]))

    assert main(["import", "members", str(source)]) == 0
    dry = capsys.readouterr().out
    assert "rows: 3 accepted, 1 refused, 1 duplicates" in dry
    assert "row 5: refused, bad phone" in dry
    assert "row 6: +989121234567 is row 2's already" in dry
    assert "dry run: nothing was written" in dry
    with sqlite3.connect(tmp_path / "club.db") as db:
        assert db.execute("SELECT count(*) FROM members").fetchone() == (0,)
    assert main(["import", "members", str(source), "--apply"]) == 0
    applied = capsys.readouterr().out
    assert "imported 3/3" in applied
    assert "applied: 3 created, 0 existing, 2 balances credited (3500 points)" in applied
    assert main(["import", "members", str(source), "--apply"]) == 0
    again = capsys.readouterr().out
    assert (
        "applied: 0 created, 1 existing, 0 balances credited (0 points), 2 imported before" in again
    )


def test_the_cli_refuses_a_missing_or_unreadable_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BASHGAH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'club.db'}")
    monkeypatch.delenv("BASHGAH_RULES", raising=False)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not a workbook")

    assert main(["import", "members", str(tmp_path / "missing.csv")]) == 1
    assert "cannot read" in capsys.readouterr().err
    assert main(["import", "members", str(broken)]) == 1
    assert "is not a customer list" in capsys.readouterr().err
