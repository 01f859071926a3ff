"""Bringing an existing customer list into the club: read a CSV or XLSX file, check every row,
report, and only on request apply it.

A shop that kept its customers in a spreadsheet should not retype them. The file has a header row
naming its columns (``phone``, ``name``, ``birthday``, ``balance``, ``tier``; only ``phone`` is
required). :func:`read` turns the file into rows of text and :func:`check` into a :class:`Report`:
the rows accepted, those refused (with the row number a spreadsheet shows, the header being row 1,
and a stable reason code), and the duplicates by normalized phone (the first row of a number wins).
Checking writes nothing, so the report is the dry run.

:func:`apply` makes each accepted row a till member (:func:`core.members.register`, no Telegram; the
owner claims the row later with the contact button) and its opening balance a ledger credit under
the key ``import:<phone>``. That key is what makes the import idempotent: applying the same file
again finds every key and changes nothing. Rows go in batches, one transaction each, so a long file
keeps moving and a failed batch leaves the earlier ones in place for the next run to skip.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Final

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, ledger, members
from core.audit import Actor
from core.clock import after_days
from core.club import Club
from core.db import transaction
from core.digits import to_latin_digits
from core.errors import InvalidInput
from core.jalali import parse_birthday
from core.models import EntryKind, LedgerEntry, Member, PointsLot, utcnow
from core.phones import normalize_phone
from core.rules import Rules

#: An opening balance above this is a typo (a phone number in the wrong column), not points.
MAX_OPENING_BALANCE: Final = 10**9
#: Rows per transaction: large enough to be quick, small enough that a failure loses little.
BATCH: Final = 1_000
#: The key of a row's opening balance in the ledger; one per number, whatever file brings it.
KEY_PREFIX: Final = "import:"
#: The ledger entry's reason, as the member's history shows it.
REASON: Final = "opening balance"

# Header spellings people use, folded to lower case with ``_`` for spaces and dashes.
_COLUMNS: Final = {
    "phone": "phone",
    "mobile": "phone",
    "phone_number": "phone",
    "name": "name",
    "birthday": "birthday",
    "birth_date": "birthday",
    "balance": "balance",
    "opening_balance": "balance",
    "points": "balance",
    "tier": "tier",
}
_XLSX_MAGIC: Final = b"PK\x03\x04"
# Thousands separators a spreadsheet or a Persian keyboard puts in numbers: comma, Arabic comma
# and Arabic thousands separator, and spaces.
_SEPARATORS: Final = str.maketrans(dict.fromkeys(",\u060c\u066c \u00a0", ""))

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Row:
    """An accepted row: ``number`` is its row in the file (the header is row 1)."""

    number: int
    phone: str
    name: str | None
    birthday: date | None
    balance: int
    tier: str | None


@dataclass(frozen=True)
class Refused:
    """A row left out: ``reason`` is one of ``phone``, ``name``, ``birthday``, ``balance``,
    ``tier``, the column that was wrong."""

    number: int
    reason: str


@dataclass(frozen=True)
class Duplicate:
    """A row whose number an earlier row (``first``) has already: the earlier one counts."""

    number: int
    phone: str
    first: int


@dataclass(frozen=True)
class Report:
    accepted: tuple[Row, ...]
    refused: tuple[Refused, ...]
    duplicates: tuple[Duplicate, ...]


@dataclass(frozen=True)
class Applied:
    """What applying changed: members ``created``, ``existing`` ones found by their number,
    ``credited`` opening balances (``points`` in all), rows ``skipped`` as imported before, and
    the row numbers whose balance differs from the one imported before (left as it was)."""

    created: int
    existing: int
    credited: int
    points: int
    skipped: int
    conflicts: tuple[int, ...]


def read(data: bytes) -> list[list[str]]:
    """The file's rows as text, header first: XLSX (told by its zip signature) or UTF-8 CSV.

    :raises InvalidInput: ``import_unreadable``: not UTF-8 text, a broken workbook, or empty.
    """
    rows = _xlsx_rows(data) if data.startswith(_XLSX_MAGIC) else _csv_rows(data)
    if not rows:
        raise InvalidInput("import_unreadable", "the file is empty")
    return rows


def check_file(club: Club, data: bytes) -> Report:
    """:func:`read` and :func:`check` against the club's rules and today's date in the club."""
    return check(read(data), club.rules, today=utcnow().astimezone(club.settings.tz).date())


def check(rows: Sequence[Sequence[str]], rules: Rules, *, today: date) -> Report:
    """Validate every row after the header; nothing is written.

    ``today`` is the club's local date, against which birthdays are checked for plausibility.

    :raises InvalidInput: ``import_unreadable`` if the header names no phone column.
    """
    columns = _header(rows[0] if rows else [])
    tiers = {t.key for t in rules.tiers}
    accepted: list[Row] = []
    refused: list[Refused] = []
    duplicates: list[Duplicate] = []
    first_of: dict[str, int] = {}
    for number, cells in enumerate(rows[1:], start=2):
        fields = {name: _cell(cells, i) for name, i in columns.items()}
        if not any(fields.values()):
            continue  # a blank line between customers is not a customer
        row = _row(number, fields, tiers, today)
        if isinstance(row, Refused):
            refused.append(row)
        elif row.phone in first_of:
            duplicates.append(Duplicate(number, row.phone, first_of[row.phone]))
        else:
            first_of[row.phone] = number
            accepted.append(row)
    return Report(tuple(accepted), tuple(refused), tuple(duplicates))


async def apply(
    club: Club,
    actor: Actor,
    report: Report,
    *,
    progress: Progress | None = None,
    batch: int = BATCH,
) -> Applied:
    """Make the accepted rows members with their opening balances; audited as one ``import``.

    Idempotent: a row whose key is in the ledger already is skipped, so the same file again
    changes nothing (and records no audit entry). The tier of a row is given only to a member this
    import creates: an existing member's tier is their own history's.
    """
    rows = report.accepted
    counts = _Counts()
    for start in range(0, len(rows), batch):
        async with transaction(club.sessions) as session:
            await _apply_batch(session, club, actor, rows[start : start + batch], counts)
        if progress is not None:
            progress(min(start + batch, len(rows)), len(rows))
    applied = counts.outcome()
    if applied.created or applied.credited:
        async with transaction(club.sessions) as session:
            await audit.record(
                session, actor, action="import",
                after={"created": applied.created, "existing": applied.existing,
                       "credited": applied.credited, "points": applied.points,
                       "skipped": applied.skipped, "conflicts": len(applied.conflicts)},
            )  # fmt: skip
    return applied


@dataclass
class _Counts:
    created: int = 0
    existing: int = 0
    credited: int = 0
    points: int = 0
    skipped: int = 0
    conflicts: list[int] = field(default_factory=list)

    def outcome(self) -> Applied:
        return Applied(
            self.created, self.existing, self.credited, self.points, self.skipped,
            tuple(self.conflicts),
        )  # fmt: skip


async def _apply_batch(
    session: AsyncSession, club: Club, actor: Actor, rows: Sequence[Row], counts: _Counts
) -> None:
    """One transaction's rows. The keys in the ledger and the numbers held are read in one query
    each; the new members, their entries and lots are inserted together, which is what makes a
    hundred thousand rows quick. Should a till register one of these numbers meanwhile (a unique
    index refuses the insert), the batch's new rows go one by one through the core instead."""
    found = await session.execute(
        select(LedgerEntry.idempotency_key, LedgerEntry.delta).where(
            LedgerEntry.idempotency_key.in_([KEY_PREFIX + r.phone for r in rows])
        )
    )
    done: dict[str, int] = {key: delta for key, delta in found.all()}
    todo: list[Row] = []
    for row in rows:
        earlier = done.get(KEY_PREFIX + row.phone)
        if earlier is None:
            todo.append(row)
            continue
        counts.skipped += 1
        if earlier != row.balance:
            counts.conflicts.append(row.number)
    holders = set(
        await session.scalars(select(Member.phone).where(Member.phone.in_([r.phone for r in todo])))
    )
    fresh = [r for r in todo if r.phone not in holders]
    one_by_one = [r for r in todo if r.phone in holders]
    now = utcnow()
    try:
        async with session.begin_nested():
            await _insert_fresh(session, club, actor, fresh, now)
        counts.created += len(fresh)
        counts.credited += sum(1 for r in fresh if r.balance)
        counts.points += sum(r.balance for r in fresh)
    except IntegrityError:
        one_by_one = todo  # a till registered one of these numbers meanwhile: the core decides
    for row in one_by_one:
        await _apply_row(session, club, actor, row, counts, now)


async def _insert_fresh(
    session: AsyncSession, club: Club, actor: Actor, rows: Sequence[Row], now: datetime
) -> None:
    """Members nobody holds the number of, as :func:`core.members.register` makes them, with
    their opening balance already in (its entry and lot are written alongside, as
    :func:`core.ledger.credit` writes them)."""
    if not rows:
        return
    expires_at = after_days(now, club.rules.expiry.days)
    # Plain multi-row inserts on the tables, then one query for the ids they were given: the
    # ORM's inserts with RETURNING would go one row at a time on SQLite to keep their order.
    await session.execute(
        insert(Member.__table__),
        [
            {
                **members.new_member_fields(
                    club.rules,
                    name=row.name,
                    birthday=row.birthday,
                    locale=club.settings.locale,
                    now=now,
                ),
                "tier": row.tier or club.rules.base_tier,
                "phone": row.phone,
                "balance": row.balance,
            }
            for row in rows
        ],
    )
    made = await session.execute(
        select(Member.phone, Member.id).where(Member.phone.in_([r.phone for r in rows]))
    )
    member_of: dict[str, int] = {phone: member_id for phone, member_id in made.all()}
    credited = [row for row in rows if row.balance]
    if not credited:
        return
    await session.execute(
        insert(LedgerEntry.__table__),
        [
            {
                "member_id": member_of[row.phone],
                "delta": row.balance,
                "kind": EntryKind.ADJUST,
                "idempotency_key": KEY_PREFIX + row.phone,
                "reason": REASON,
                "actor_id": actor.id,
                "created_at": now,
            }
            for row in credited
        ],
    )
    entries = await session.execute(
        select(LedgerEntry.member_id, LedgerEntry.id).where(
            LedgerEntry.idempotency_key.in_([KEY_PREFIX + r.phone for r in credited])
        )
    )
    entry_of: dict[int, int] = {member_id: entry_id for member_id, entry_id in entries.all()}
    await session.execute(
        insert(PointsLot.__table__),
        [
            {
                "member_id": member_of[row.phone],
                "entry_id": entry_of[member_of[row.phone]],
                "points": row.balance,
                "remaining": row.balance,
                "earned_at": now,
                "expires_at": expires_at,
            }
            for row in credited
        ],
    )


async def _apply_row(
    session: AsyncSession, club: Club, actor: Actor, row: Row, counts: _Counts, now: datetime
) -> None:
    """One row through the core: the number's holder (or a new till member), then the credit.

    The key is looked up first: a concurrent import of the same row may have committed it since
    the batch began, and then this row is one imported before."""
    if row.balance and await ledger.by_key(session, KEY_PREFIX + row.phone) is not None:
        counts.skipped += 1
        return
    member, created = await members.register(
        session, club.rules, phone=row.phone, name=row.name, birthday=row.birthday,
        locale=club.settings.locale, now=now,
    )  # fmt: skip
    if created:
        counts.created += 1
        if row.tier is not None:
            member.tier = row.tier
    else:
        counts.existing += 1
    if row.balance:
        await ledger.credit(
            session, member.id, row.balance, EntryKind.ADJUST, KEY_PREFIX + row.phone,
            expires_at=after_days(now, club.rules.expiry.days), reason=REASON,
            actor_id=actor.id, now=now,
        )  # fmt: skip
        counts.credited += 1
        counts.points += row.balance


def _row(number: int, fields: dict[str, str], tiers: set[str], today: date) -> Row | Refused:
    try:
        phone = normalize_phone(fields.get("phone", ""))
    except InvalidInput:
        return Refused(number, "phone")
    try:
        name = members.clean_name(fields["name"]) if fields.get("name") else None
    except InvalidInput:
        return Refused(number, "name")
    try:
        text = fields.get("birthday", "")
        birthday = parse_birthday(text, today=today) if text else None
    except InvalidInput:
        return Refused(number, "birthday")
    balance = _balance(fields.get("balance", ""))
    if balance is None:
        return Refused(number, "balance")
    tier = fields.get("tier") or None
    if tier is not None and tier not in tiers:
        return Refused(number, "tier")
    return Row(number, phone, name, birthday, balance, tier)


def _balance(text: str) -> int | None:
    """Whole points, Persian digits and thousands separators allowed; empty is none."""
    digits = to_latin_digits(text).translate(_SEPARATORS)
    if not digits:
        return 0
    if not (digits.isascii() and digits.isdigit()) or len(digits) > len(str(MAX_OPENING_BALANCE)):
        return None
    value = int(digits)
    return value if value <= MAX_OPENING_BALANCE else None


def _header(cells: Sequence[str]) -> dict[str, int]:
    columns: dict[str, int] = {}
    for i, cell in enumerate(cells):
        name = _COLUMNS.get(cell.strip().lower().replace(" ", "_").replace("-", "_"))
        if name is not None:
            columns.setdefault(name, i)
    if "phone" not in columns:
        raise InvalidInput("import_unreadable", "the header row names no phone column")
    return columns


def _cell(cells: Sequence[str], i: int) -> str:
    return cells[i].strip() if i < len(cells) else ""


def _csv_rows(data: bytes) -> list[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("import_unreadable", "not UTF-8 text") from exc
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InvalidInput("import_unreadable", str(exc)) from exc


def _xlsx_rows(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook  # only a workbook needs it, and it is slow to import

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise InvalidInput("import_unreadable", "not a readable workbook") from exc
    try:
        return [
            [_xlsx_text(v) for v in values] for values in book.active.iter_rows(values_only=True)
        ]
    finally:
        book.close()


def _xlsx_text(value: object) -> str:
    """A cell as the text it shows: a date as ISO, a whole float without ``.0``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
