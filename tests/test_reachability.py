"""Whether a member can be reached: one predicate, its SQL twin, and the 403 and come-back moves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram.error import Forbidden

from bot.notifications.direct import tell_member
from core import reachability
from core.db import transaction
from core.models import Member, MemberStatus
from core.rules import Rules
from tests.helpers import new_member, reload_member


@pytest.mark.parametrize("status", list(MemberStatus))
@pytest.mark.parametrize("has_telegram", [True, False])
async def test_the_predicate_and_its_sql_agree(
    session: AsyncSession, rules: Rules, now: datetime, status: MemberStatus, has_telegram: bool
) -> None:
    member = await new_member(session, rules, now)
    member.status = status
    if not has_telegram:
        member.telegram_id = None
    await session.flush()

    found = await session.scalar(
        select(Member.id).where(Member.id == member.id, reachability.reachable_sql())
    )

    assert reachability.reachable(member) == (found is not None)
    assert reachability.reachable(member) == (has_telegram and status == MemberStatus.ACTIVE)
    assert reachability.has_chat(member) == (has_telegram and status != MemberStatus.ERASED)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (MemberStatus.ACTIVE, MemberStatus.BLOCKED),
        (MemberStatus.BLOCKED, MemberStatus.BLOCKED),
        (MemberStatus.ERASED, MemberStatus.ERASED),  # forgotten stays forgotten
    ],
)
async def test_a_403_blocks_only_an_active_member(
    session: AsyncSession, rules: Rules, now: datetime, before: MemberStatus, after: MemberStatus
) -> None:
    member = await new_member(session, rules, now)
    member.status = before
    await session.flush()

    await reachability.mark_blocked(session, member.id)

    assert (await session.get(Member, member.id, populate_existing=True)).status == after


@pytest.mark.parametrize(
    ("before", "after"),
    [(MemberStatus.BLOCKED, MemberStatus.ACTIVE), (MemberStatus.ERASED, MemberStatus.ERASED)],
)
async def test_a_member_who_writes_to_us_came_back(
    session: AsyncSession, rules: Rules, now: datetime, before: MemberStatus, after: MemberStatus
) -> None:
    member = await new_member(session, rules, now)
    member.status = before

    reachability.came_back(member)

    assert member.status == after


class _RefusingBot:
    """Telegram's answer to a member who blocked the bot."""

    def __init__(self) -> None:
        self.tried: list[int] = []

    async def send_message(self, chat_id: int, text: str) -> None:
        self.tried.append(chat_id)
        raise Forbidden("Forbidden: bot was blocked by the user")


@dataclass
class _Club:
    sessions: async_sessionmaker[AsyncSession]


@dataclass
class _Context:
    """What :func:`tell_member` uses of a handler's context."""

    club: _Club
    bot: _RefusingBot

    def t(self, locale: str, key: str, **values: Any) -> str:
        return key


async def test_a_direct_notice_refused_with_403_marks_the_member_blocked(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async with transaction(sessions) as s:
        member = await new_member(s, rules, now)
        erased = await new_member(s, rules, now, name="Gone")
        erased.status = MemberStatus.ERASED
    context = _Context(_Club(sessions), _RefusingBot())

    told = await tell_member(context, member, "any/key")  # type: ignore[arg-type]
    told_erased = await tell_member(context, erased, "any/key")  # type: ignore[arg-type]

    assert (told, told_erased) == (False, False)
    assert context.bot.tried == [member.telegram_id]  # the forgotten member is not even tried
    assert (await reload_member(sessions, member.id)).status == MemberStatus.BLOCKED
    assert (await reload_member(sessions, erased.id)).status == MemberStatus.ERASED
