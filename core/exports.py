"""CSV exports for the shop owner's spreadsheet: members, the ledger, purchases, survey answers.

Rows are read in pages by primary key (``WHERE id > last ORDER BY id LIMIT n``), so an export of
millions of rows never holds more than one page of them, and a page costs the same at the end of
the table as at the start. The CSV is UTF-8 with a byte-order mark, which is what makes Excel show
Persian names instead of mojibake; lines end in ``\\r\\n``; times are ISO 8601 in UTC.

A cell that a spreadsheet would run as a formula (text starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return, unless it is a plain signed number such as a phone ``+98…``) gets a
leading apostrophe: a member's name must not become a formula on the owner's computer.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from enum import Enum
from typing import IO, Any

from sqlalchemy import ColumnElement, Row, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from core import audit, branches
from core.audit import Actor
from core.club import Club
from core.db import transaction
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
BATCH = 1000
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
    return (BOM + _csv_text([header, *rows])).encode("utf-8")


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
) -> int:
    """Stream one export into a binary file ``out``, a page at a time; returns the rows written."""
    header, pages = rows(session, kind, batch=batch, branch_id=branch_id)
    out.write((BOM + _csv_text([header])).encode("utf-8"))
    pending: list[tuple[Any, ...]] = []
    written = 0
    async for row in pages:
        pending.append(row)
        if len(pending) >= batch:
            out.write(_csv_text(pending).encode("utf-8"))
            written += len(pending)
            pending.clear()
    out.write(_csv_text(pending).encode("utf-8"))
    return written + len(pending)


async def export(
    club: Club, actor: Actor, kind: str, out: IO[bytes], *, branch: str | None = None
) -> int:
    """``/export <kind> [branch]``: one export streamed into ``out``, of one branch if a code is
    given, audited (kind, branch and rows, never the data), because it carries members' personal
    data off the premises. Returns the rows written.

    :raises BranchNotFound: no branch has that code.
    """
    async with transaction(club.sessions) as session:
        shop = await branches.by_optional_code(session, branch)
        count = await write_csv(session, kind, out, branch_id=shop.id if shop else None)
        done = {"kind": kind, "rows": count} | ({"branch": branch} if branch else {})
        await audit.record(session, actor, action="export", after=done)
    return count


def cell(value: Any) -> str:
    """One value as spreadsheet text: times in ISO 8601 UTC, ``None`` empty, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, datetime):
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


def _csv_text(lines: Iterable[Sequence[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    for line in lines:
        writer.writerow([cell(value) for value in line])
    return buffer.getvalue()


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
        page = (await session.execute(query)).all()
        for row in page:
            yield shape(row)
        if len(page) < batch:
            return
        last = page[-1][0]
