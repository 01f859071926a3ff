"""The club's shops: ``main`` from the start, more with ``bashgah branch add``.

A purchase records the branch it was sold in and a handed-over reward the branch that handed it
over; points are the member's, earned in one branch and spent in any. A branch may have its own
staff group, where its cashiers run the till's commands for that branch alone; the club's staff
group is ``main``'s desk and sees every branch, as a key of ``main`` does in the API.
"""

from __future__ import annotations

import re
import weakref
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, Engine, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import snapshot, transaction
from core.errors import BranchForbidden, BranchNotFound, InvalidInput
from core.models import MAIN_BRANCH, Branch

if TYPE_CHECKING:  # the club's modules read branches: core.club is imported for its type only
    from core.club import Club

MAIN = MAIN_BRANCH
MAX_CODE = 32
MAX_NAME = 120
_CODE = re.compile(rf"[A-Za-z0-9_-]{{1,{MAX_CODE}}}")


def clean_code(code: str) -> str:
    """A branch code as typed: 1 to 32 letters, digits, ``-`` or ``_`` (it goes into commands)."""
    code = code.strip()
    if not _CODE.fullmatch(code):
        raise InvalidInput("branch_code", code)
    return code


def scope(own: str, asked: str | None) -> str | None:
    """The branch a request from ``own``'s desk reads when it asks for ``asked`` (None: every
    branch). ``main``'s desk sees any branch; another branch's sees itself only.

    :raises BranchForbidden: a branch's desk asked about another branch.
    """
    if own == MAIN:
        return asked
    if asked is None or asked == own:
        return own
    raise BranchForbidden(branch=asked, own=own)


async def add(club: Club, code: str, name: str, *, staff_chat_id: int | None = None) -> Branch:
    """A new branch, with its cashiers' group if given.

    :raises InvalidInput: a bad code (``branch_code``) or name (``branch_name``), a code taken
        (``branch_code_taken``), a chat id that is no group's (``branch_chat``: a group's is
        negative), a group that is another branch's (``branch_chat_taken``) or the club's own
        staff group (``branch_chat_is_club``), which is ``main``'s already.
    """
    code = clean_code(code)
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput("branch_name", name)
    if staff_chat_id is not None and staff_chat_id >= 0:
        raise InvalidInput("branch_chat", str(staff_chat_id))
    if staff_chat_id is not None and staff_chat_id == club.settings.staff_chat_id:
        raise InvalidInput("branch_chat_is_club", str(staff_chat_id))
    async with transaction(club.sessions) as session:
        if await _by(session, Branch.code == code) is not None:
            raise InvalidInput("branch_code_taken", code)
        if staff_chat_id is not None and await _by(session, Branch.staff_chat_id == staff_chat_id):
            raise InvalidInput("branch_chat_taken", str(staff_chat_id))
        branch = Branch(code=code, name=name, staff_chat_id=staff_chat_id)
        session.add(branch)
    return branch


async def listing(club: Club) -> list[Branch]:
    """Every branch, ``main`` (the first) first."""
    async with snapshot(club.sessions) as session:
        return list(await session.scalars(select(Branch).order_by(Branch.id)))


async def of_chat(club: Club, chat_id: int) -> Branch | None:
    """The branch whose cashiers' group this chat is, if any."""
    async with snapshot(club.sessions) as session:
        return await _by(session, Branch.staff_chat_id == chat_id)


async def by_code(session: AsyncSession, code: str) -> Branch:
    """:raises BranchNotFound: no branch has this code."""
    branch = await _by(session, Branch.code == code)
    if branch is None:
        raise BranchNotFound(branch=code)
    return branch


async def id_of(session: AsyncSession, code: str | None) -> int:
    """The id of the branch ``code`` names, ``main``'s for None (a row written before branches).

    Read once per process and database: branches are only ever added, never renamed or removed,
    so a code once found names the same row for good, and every purchase asks.

    :raises BranchNotFound: no branch has this code (asked again next time: it may be added).
    """
    code = code or MAIN
    known = _IDS.setdefault(session.get_bind(), {})
    if code not in known:
        known[code] = (await by_code(session, code)).id
    return known[code]


_IDS: weakref.WeakKeyDictionary[Engine, dict[str, int]] = weakref.WeakKeyDictionary()


async def by_optional_code(session: AsyncSession, code: str | None) -> Branch | None:
    """The branch of a filter: None (every branch) stays None."""
    return None if code is None else await by_code(session, code)


async def _by(session: AsyncSession, condition: ColumnElement[bool]) -> Branch | None:
    return await session.scalar(select(Branch).where(condition))
