"""Tests for core.exports: CSV files a spreadsheet opens with Persian intact, read page by page."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import exports, ledger, members, purchases
from core.errors import InvalidInput
from core.models import EntryKind, LedgerEntry, MemberStatus, Purchase, PurchaseStatus
from core.rules import Rules
from tests.helpers import new_member

DAY = timedelta(days=1)
PERSIAN_NAME = "\u0633\u0627\u0631\u0627 \u0645\u062d\u0645\u062f\u06cc"  # "Sara Mohammadi"
TEHRAN = "\u062a\u0647\u0631\u0627\u0646"


def parse(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


async def export(session: AsyncSession, kind: str) -> list[list[str]]:
    return parse(await exports.export_csv(session, kind))


async def test_members_export(session: AsyncSession, rules: Rules, now: datetime) -> None:
    sara = await new_member(session, rules, now - 3 * DAY, name=PERSIAN_NAME, phone="09121234567")
    await members.update_profile(session, sara.id, city=TEHRAN)
    plain = await new_member(session, rules, now - DAY, name='Ali "the" Baker, Jr')
    await ledger.credit(
        session, plain.id, 120, EntryKind.BONUS, "b", expires_at=now + 300 * DAY, now=now
    )
    plain.tier = "gold"
    plain.status = MemberStatus.BLOCKED
    await session.flush()

    data = await exports.export_csv(session, "members")
    table = parse(data)

    assert table == [
        ["id", "name", "phone", "tier", "balance", "joined_at", "status", "city"],
        [
            str(sara.id),
            PERSIAN_NAME,
            "+989121234567",
            "bronze",
            "0",
            "2026-02-26T09:00:00Z",
            "active",
            TEHRAN,
        ],
        [
            str(plain.id),
            'Ali "the" Baker, Jr',
            "",
            "gold",
            "120",
            "2026-02-28T09:00:00Z",
            "blocked",
            "",
        ],
    ]
    assert data.count(b"\r\n") == 3 and b"\n" not in data.replace(b"\r\n", b"")
    assert PERSIAN_NAME.encode("utf-8") in data


async def test_erased_members_keep_a_row_without_personal_data(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now, name=PERSIAN_NAME, phone="09121234567")
    await ledger.credit(
        session, member.id, 30, EntryKind.BONUS, "b", expires_at=now + 300 * DAY, now=now
    )
    await members.update_profile(session, member.id, city=TEHRAN)
    await members.anonymize(session, member.id)

    _, row = await export(session, "members")

    assert row == [str(member.id), "", "", "bronze", "30", "2026-03-01T09:00:00Z", "erased", ""]


async def test_the_ledger_export_has_every_entry(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    member = await new_member(session, rules, now - 10 * DAY, name="Reza")
    await purchases.record(session, rules, member.id, 250_000, reference="L-1", now=now - DAY)
    await purchases.record(session, rules, member.id, 100_000, reference="L-2", now=now - DAY)
    await purchases.refund(session, "L-2", actor_id=7, now=now)

    header, *rows = await export(session, "ledger")

    assert header == [
        "id",
        "member_id",
        "kind",
        "delta",
        "reason",
        "actor_id",
        "reverses_id",
        "created_at",
    ]
    entries = list(await session.scalars(select(LedgerEntry).order_by(LedgerEntry.id)))
    assert [int(row[0]) for row in rows] == [entry.id for entry in entries]
    assert [(row[2], int(row[3])) for row in rows] == [
        ("earn", 250),
        ("earn", 100),
        ("reversal", -100),
    ]
    assert sum(int(row[3]) for row in rows) == 250
    reversal = rows[-1]
    assert (reversal[4], reversal[5], reversal[6]) == ("refund L-2", "7", str(entries[1].id))
    assert datetime.fromisoformat(reversal[7]) == now


async def test_the_purchases_export(session: AsyncSession, rules: Rules, now: datetime) -> None:
    member = await new_member(session, rules, now - 10 * DAY, name="Reza")
    await purchases.record(
        session, rules, member.id, 250_000, reference="P-1", actor_id=3, now=now - DAY
    )
    await purchases.record(session, rules, member.id, 100_000, reference="P-2", now=now - DAY)
    await purchases.refund(session, "P-2", now=now)

    header, first, second = await export(session, "purchases")

    assert header[:7] == ["id", "member_id", "amount", "currency", "reference", "points", "status"]
    row = dict(zip(header, first, strict=True))
    assert row["amount"] == "250000" and row["reference"] == "P-1" and row["actor_id"] == "3"
    assert (row["status"], row["refunded_at"], row["created_at"]) == (
        "completed",
        "",
        "2026-02-28T09:00:00Z",
    )
    refunded = dict(zip(header, second, strict=True))
    assert (refunded["status"], refunded["refunded_at"], refunded["points_reversed"]) == (
        PurchaseStatus.REFUNDED.value,
        "2026-03-01T09:00:00Z",
        "100",
    )
    assert await session.scalar(select(func.count()).select_from(Purchase)) == 2


@pytest.mark.parametrize("batch", [1, 2, 3, 1000])
async def test_rows_are_read_in_pages(
    session: AsyncSession, rules: Rules, now: datetime, batch: int
) -> None:
    made = [await new_member(session, rules, now, name=f"M{n}") for n in range(5)]
    header, pages = exports.rows(session, "members", batch=batch)
    got = [row async for row in pages]
    assert header[0] == "id"
    assert [row[0] for row in got] == sorted(m.id for m in made)
    stream = io.BytesIO()
    assert await exports.write_csv(session, "members", stream, batch=batch) == 5
    assert stream.getvalue() == await exports.export_csv(session, "members")


async def test_an_empty_export_is_just_the_header(session: AsyncSession) -> None:
    assert await export(session, "purchases") == [exports.rows(session, "purchases")[0]]
    stream = io.BytesIO()
    assert await exports.write_csv(session, "ledger", stream) == 0
    assert parse(stream.getvalue()) == [exports.rows(session, "ledger")[0]]


@pytest.mark.parametrize("kind", ["", "Members", "rewards", "members;drop", "ledger "])
async def test_an_unknown_export_is_refused(session: AsyncSession, kind: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        exports.rows(session, kind)
    assert caught.value.reason == "unknown_export"
    with pytest.raises(InvalidInput):
        await exports.export_csv(session, kind)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (0, "0"),
        (-120, "-120"),
        (True, "true"),
        ("plain", "plain"),
        (PERSIAN_NAME, PERSIAN_NAME),
        (
            datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=3, minutes=30))),
            "2026-03-01T09:00:00Z",
        ),
        (datetime(2026, 3, 1, 9, 0, 5, 999, tzinfo=UTC), "2026-03-01T09:00:05Z"),
        (date(2026, 3, 1), "2026-03-01"),
        (MemberStatus.ERASED, "erased"),
        ("+989121234567", "+989121234567"),  # a phone is not a formula
        ("-42", "-42"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
    ],
)
def test_cells(value: object, text: str) -> None:
    assert exports.cell(value) == text


def test_to_csv_bytes_quotes_and_round_trips() -> None:
    header = ["id", "note"]
    rows = [(1, 'a, "b"'), (2, "line\nbreak"), (3, PERSIAN_NAME), (4, None)]
    data = exports.to_csv_bytes(header, rows)
    assert data.startswith("\ufeffid,note\r\n".encode())
    assert parse(data) == [
        ["id", "note"],
        ["1", 'a, "b"'],
        ["2", "line\nbreak"],
        ["3", PERSIAN_NAME],
        ["4", ""],
    ]
    assert data.endswith(b"\r\n")
