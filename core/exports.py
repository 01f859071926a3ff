"""Exports for the shop owner's spreadsheet: members, the ledger, purchases, survey answers, as
CSV or XLSX.

Rows are read in pages by primary key (``WHERE id > last ORDER BY id LIMIT n``), so an export of
millions of rows never holds more than one page of them, and a page costs the same at the end of
the table as at the start. Both files are written as the pages come: the CSV line by line, the
XLSX through openpyxl's write-only mode, which streams each row to a temporary file and writes
strings inline (no shared-string table growing with the rows).

The CSV is UTF-8 with a byte-order mark, which is what makes Excel show Persian names instead of
mojibake; lines end in ``\\r\\n``. A cell that a spreadsheet would run as a formula (text starting
with ``=``, ``+``, ``-``, ``@``, tab or carriage return, unless it is a plain signed number such as
a phone ``+98…``) gets a leading apostrophe: a member's name must not become a formula on the
owner's computer. In the XLSX every text is a text cell, which no spreadsheet runs, so it is
written as typed.

What the staff's ``/export`` sends reads the club's way (:class:`People`): headers in the club's
language, times in the club's time zone, Jalali in Persian (``1405/01/15 10:30:05``, text with
Latin digits so the column sorts). :func:`export_csv` and :func:`write_csv` without it write the
plain form for programs: the column keys and ISO 8601 times in UTC.

Phones: a CSV has no cell types, so Excel guesses, and it takes any phone for a number (the
``0`` of ``0912…`` is dropped, ``+98912…`` becomes ``9.89E+11``); only a formula such as
``="0912…"`` would stop it, and every other program would then read that formula instead of the
number. So the CSV keeps the one exact spelling, E.164 (``+989121234567``), which programs and a
re-import read as the same number, and the XLSX is the file for Excel: there a phone is a text
cell in the form the shop dials (:func:`core.phones.national`: ``09121234567``), kept exactly.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from enum import Enum
from typing import IO, Any, Final

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core import audit, branches, jalali, phones
from core.audit import Actor
from core.club import Club
from core.db import snapshot, transaction
from core.errors import InvalidInput
from core.models import (
    Branch,
    LedgerEntry,
    Member,
    MemberStatus,
    Purchase,
    SurveyAnswer,
    SurveyInvite,
)

KINDS = ("members", "ledger", "purchases", "surveys")
FORMATS = ("csv", "xlsx")
BATCH = 1000
#: Rows an export reads and writes on the event loop before it lets everyone else's work run
#: (about half a millisecond): a purchase made meanwhile waits that long at each of its steps (some
#: 40 turns of the loop), not for a page. Turns cut by time instead were slower for the purchase.
ROWS_PER_TURN = 20
XLSX_ROWS_PER_TURN = 4  # openpyxl's cells cost about five times a CSV line
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SIGNED_NUMBER = re.compile(r"^[+-]\d+(\.\d+)?$")

_MEMBER_COLUMNS: tuple[InstrumentedAttribute[Any], ...] = (
    Member.id,
    Member.name,
    Member.phone,
    Member.tier,
    Member.balance,
    Member.joined_at,
    Member.status,
    Member.city,
)
_LEDGER_COLUMNS: tuple[InstrumentedAttribute[Any], ...] = (
    LedgerEntry.id,
    LedgerEntry.member_id,
    LedgerEntry.kind,
    LedgerEntry.delta,
    LedgerEntry.reason,
    LedgerEntry.actor_id,
    LedgerEntry.reverses_id,
    LedgerEntry.created_at,
)
_PURCHASE_COLUMNS: tuple[Any, ...] = (
    Purchase.id,
    Purchase.member_id,
    Purchase.amount,
    Purchase.currency,
    Purchase.reference,
    Purchase.points,
    Purchase.status,
    Purchase.actor_id,
    Purchase.created_at,
    Purchase.refunded_at,
    Purchase.points_reversed,
    Purchase.points_unrecovered,
    select(Branch.code).where(Branch.id == Purchase.branch_id).scalar_subquery().label("branch"),
)
_SURVEY_COLUMNS: tuple[Any, ...] = (
    SurveyAnswer.id,
    SurveyAnswer.member_id,
    SurveyAnswer.kind,
    select(SurveyInvite.touchpoint)  # the moment asked about: purchase:17, redemption:4, nps:...
    .where(SurveyInvite.id == SurveyAnswer.invite_id)
    .scalar_subquery()
    .label("touchpoint"),
    SurveyAnswer.score,
    SurveyAnswer.comment,
    SurveyAnswer.created_at,
    SurveyAnswer.followed_up_by,
    SurveyAnswer.followed_up_name,
    SurveyAnswer.followed_up_at,
)
_PERSONAL = frozenset({"name", "phone", "city"})

Header = Callable[[str, str], str]  # (kind, column key) -> the column's header
Values = tuple[Any, ...]  # one row of an export
Word = Callable[[str, str, str], str]  # (kind, column key, a code) -> the code in the club's words
#: The columns that hold codes (a tier, a status, an entry's kind), said in the club's words.
CODED: Final = {"members": ("tier", "status"), "ledger": ("kind",), "purchases": ("status",)}


@dataclass(frozen=True)
class People:
    """How an export reads to the club's staff: ``header`` names each column in the club's
    language (the face renders it: core has no words), times are shown in ``tz``, in the
    calendar of ``locale`` (:func:`core.jalali.format_sortable`)."""

    header: Header
    tz: tzinfo
    locale: str
    word: Word | None = None

    def headers(self, kind: str, keys: Sequence[str]) -> list[str]:
        return [self.header(kind, key) for key in keys]

    def worded(
        self, kind: str, keys: Sequence[str]
    ) -> Callable[[tuple[Any, ...]], tuple[Any, ...]]:
        """What turns a row's codes into the club's words (each code rendered once, then
        remembered: an export of a million rows has a handful of codes)."""
        columns = [keys.index(key) for key in CODED.get(kind, ()) if key in keys]
        if self.word is None or not columns:
            return lambda row: row
        said: dict[tuple[int, Any], str] = {}
        word = self.word

        def in_words(row: tuple[Any, ...]) -> tuple[Any, ...]:
            values = list(row)
            for index in columns:
                code = values[index]
                if code is not None:
                    if (index, code) not in said:
                        said[index, code] = word(
                            kind, keys[index], str(getattr(code, "value", code))
                        )
                    values[index] = said[index, code]
            return tuple(values)

        return in_words

    def moment(self, value: datetime) -> str:
        return jalali.format_sortable(value, self.locale, self.tz)


def rows(
    session: AsyncSession, kind: str, *, batch: int = BATCH, branch_id: int | None = None
) -> tuple[list[str], AsyncIterator[tuple[Any, ...]]]:
    """The header and an async iterator of the rows of one export, in id order.

    Not a coroutine: an unknown ``kind`` raises ``InvalidInput("unknown_export")`` at once, and
    the rows are read page by page as the iterator is consumed (inside the caller's transaction).
    Values are raw (ints, strings, aware datetimes, ``None``); :func:`to_csv_bytes` formats them.
    ``branch_id`` keeps one branch's purchases; the other kinds are the whole club's (members and
    points belong to no branch), and refuse it: ``InvalidInput("export_not_by_branch")``.
    """
    if branch_id is not None and kind in KINDS and kind != "purchases":
        raise InvalidInput("export_not_by_branch", kind)
    if kind == "members":
        return _header(_MEMBER_COLUMNS), _pages(session, _MEMBER_COLUMNS, batch, _member_row)
    if kind == "ledger":
        return _header(_LEDGER_COLUMNS), _pages(session, _LEDGER_COLUMNS, batch, tuple)
    if kind == "purchases":
        only = Purchase.branch_id == branch_id if branch_id is not None else None
        return _header(_PURCHASE_COLUMNS), _pages(session, _PURCHASE_COLUMNS, batch, tuple, only)
    if kind == "surveys":
        return _header(_SURVEY_COLUMNS), _pages(session, _SURVEY_COLUMNS, batch, tuple)
    raise InvalidInput("unknown_export", kind)


def to_csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A whole CSV file: BOM, header, rows; UTF-8, ``\\r\\n`` line ends."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = _csv_writer(buffer)
    writer.writerow(header)
    writer.writerows([cell(value) for value in row] for row in rows)
    return buffer.getvalue().encode("utf-8")


async def export_csv(session: AsyncSession, kind: str) -> bytes:
    """One export as CSV bytes, for a document message; for huge tables prefer :func:`write_csv`."""
    header, pages = rows(session, kind)
    return to_csv_bytes(header, [row async for row in pages])


async def write_csv(
    session: AsyncSession,
    kind: str,
    out: IO[bytes],
    *,
    batch: int = BATCH,
    branch_id: int | None = None,
    people: People | None = None,
) -> int:
    """Stream one export into a binary file ``out``, a page at a time; returns the rows written.
    With ``people``, the headers and times read the club's way."""
    keys, pages = rows(session, kind, batch=batch, branch_id=branch_id)
    moment = people.moment if people else None
    worded = people.worded(kind, keys) if people else (lambda row: row)
    header = people.headers(kind, keys) if people else keys
    # Each row is written as it comes (the wrapper buffers the bytes), so the export's turns of
    # the event loop stay a few rows long (see ROWS_PER_TURN).
    text = io.TextIOWrapper(out, encoding="utf-8", newline="")
    writer = _csv_writer(text)
    text.write(BOM)
    writer.writerow(header)
    written = 0
    async for row in pages:
        writer.writerow([cell(value, moment) for value in worded(row)])
        written += 1
    text.flush()
    text.detach()  # ``out`` stays open: it is the caller's
    return written


async def write_xlsx(
    session: AsyncSession,
    kind: str,
    out: IO[bytes],
    people: People,
    *,
    batch: int = BATCH,
    branch_id: int | None = None,
) -> int:
    """Stream one export into ``out`` as an XLSX workbook of one sheet; returns the rows written.

    Numbers are number cells, everything else (times and phones included) a text cell; the
    header row is bold and stays in view, and a Persian sheet reads right to left.
    """
    keys, pages = rows(session, kind, batch=batch, branch_id=branch_id)
    book = Workbook(write_only=True)
    sheet: WriteOnlyWorksheet = book.create_sheet(kind)
    sheet.sheet_view.rightToLeft = people.locale == "fa"
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    sheet.append([_xlsx_cell(sheet, text, font=bold) for text in people.headers(kind, keys)])
    phone = keys.index("phone") if "phone" in keys else None
    worded = people.worded(kind, keys)
    written = 0
    async for row in pages:
        values = [
            phones.national(value) if index == phone and value else value
            for index, value in enumerate(worded(row))
        ]
        sheet.append([_xlsx_cell(sheet, _xlsx_value(value, people)) for value in values])
        written += 1
        if written % XLSX_ROWS_PER_TURN == 0:
            await asyncio.sleep(0)  # an XLSX row costs several CSV rows: more turns
    # Saving zips the rows written so far: seconds for a large sheet, so off the event loop.
    await asyncio.to_thread(book.save, out)
    return written


async def export(
    club: Club,
    actor: Actor,
    kind: str,
    out: IO[bytes],
    *,
    branch: str | None = None,
    file_format: str = "csv",
    header: Header | None = None,
    word: Word | None = None,
) -> int:
    """``/export <kind> [branch] [csv|xlsx]``: one export streamed into ``out``, of one branch if
    a code is given, read the club's way (:class:`People`: ``header`` names the columns, the
    column keys without it; ``word`` says the codes of :data:`CODED`, kept as codes without it),
    audited (kind, branch, format and rows, never the data), because it
    carries members' personal data off the premises. Returns the rows written.

    The rows are read from one :func:`core.db.snapshot`: the file is the club as it stood when
    the export began, however long it runs, and no purchase waits for it. Only the audit entry,
    written after, is a (short) write.

    :raises BranchNotFound: no branch has that code.
    :raises InvalidInput: ``unknown_export_format``: neither ``csv`` nor ``xlsx``.
    """
    if file_format not in FORMATS:
        raise InvalidInput("unknown_export_format", file_format)
    people = People(header or _column_key, club.settings.tz, club.settings.locale, word)
    async with snapshot(club.sessions) as session:
        shop = await branches.by_optional_code(session, branch)
        branch_id = shop.id if shop else None
        if file_format == "xlsx":
            count = await write_xlsx(session, kind, out, people, branch_id=branch_id)
        else:
            count = await write_csv(session, kind, out, branch_id=branch_id, people=people)
    done = {"kind": kind, "rows": count} | ({"branch": branch} if branch else {})
    if file_format != "csv":
        done["format"] = file_format
    async with transaction(club.sessions) as session:
        await audit.record(session, actor, action="export", after=done)
    return count


def cell(value: Any, moment: Callable[[datetime], str] | None = None) -> str:
    """One value as spreadsheet text: times by ``moment`` (ISO 8601 UTC without it), ``None``
    empty, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        if moment is not None:
            return moment(value)
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    text = str(value)
    if text.startswith(_FORMULA_START) and not _SIGNED_NUMBER.match(text):
        return "'" + text
    return text


# --- internals ------------------------------------------------------------------------------


def _header(columns: Sequence[InstrumentedAttribute[Any]]) -> list[str]:
    return [column.key for column in columns]


def _csv_writer(text: IO[str]) -> Any:  # the csv module's writer type is not public
    return csv.writer(text, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)


def _column_key(kind: str, key: str) -> str:
    return key


def _xlsx_value(value: Any, people: People) -> Any:
    """A number stays a number; a time becomes the club's text; anything else is text."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, datetime):
        return people.moment(value)
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _xlsx_cell(sheet: WriteOnlyWorksheet, value: Any, *, font: Font | None = None) -> Cell:
    """A cell whose text is always text: openpyxl would read ``=…`` as a formula, and refuses the
    control characters XML cannot hold (they are dropped)."""
    if not isinstance(value, str):
        return WriteOnlyCell(sheet, value)
    written = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
    written.data_type = "s"
    if font is not None:
        written.font = font
    return written


def _member_row(row: Row[Any]) -> tuple[Any, ...]:
    """An erased member keeps a row (their points are still on the books) but no personal data."""
    values = row._asdict()
    if values["status"] == MemberStatus.ERASED:
        values.update(dict.fromkeys(_PERSONAL))
    return tuple(values.values())


async def _pages(
    session: AsyncSession,
    columns: Sequence[InstrumentedAttribute[Any]],
    batch: int,
    shape: Callable[[Row[Any]], tuple[Any, ...]],
    only: ColumnElement[bool] | None = None,
) -> AsyncIterator[tuple[Any, ...]]:
    """Keyset pagination on the first column, the primary key; ``only`` keeps some rows."""
    key = columns[0]
    last: int | None = None
    while True:
        query = select(*columns).order_by(key).limit(batch)
        if only is not None:
            query = query.where(only)
        if last is not None:
            query = query.where(key > last)
        read = 0
        # Rows are made from the fetched page as they are iterated (times parsed, codes typed),
        # and the caller writes each before the next: the export's turn of the event loop ends
        # every ROWS_PER_TURN rows, wherever it is in the page.
        for row in await session.execute(query):
            yield shape(row)
            last, read = row[0], read + 1
            if read % ROWS_PER_TURN == 0:
                await asyncio.sleep(0)  # every other update's turn
        if read < batch:
            return
