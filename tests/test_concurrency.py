"""Races that must never overdraw points or stock, or award twice: each in its own transaction."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import ledger, members, purchases, redemptions, rewards
from core.clock import after_days
from core.errors import DuplicateReference, InsufficientPoints, OutOfStock
from core.models import EntryKind, LedgerEntry, Member, Purchase, Redemption, Reward
from core.rules import Rules
from tests.helpers import assert_books_balance, new_member


async def _members_with_points(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime, n: int, points: int
) -> list[int]:
    async with sessions() as s, s.begin():
        ids = []
        for i in range(n):
            member = await new_member(s, rules, now, name=f"m{i}")
            await ledger.credit(
                s,
                member.id,
                points,
                EntryKind.BONUS,
                f"seed:{member.id}",
                expires_at=after_days(now, 365),
                now=now,
            )
            ids.append(member.id)
        return ids


async def test_fifty_members_race_for_the_last_item(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    ids = await _members_with_points(sessions, rules, now, 50, 500)
    async with sessions() as s, s.begin():
        reward_id = (await rewards.create(s, rules, title="Hotel night", cost=300, stock=1)).id

    async def attempt(member_id: int) -> str:
        try:
            async with sessions() as s, s.begin():
                await redemptions.redeem(
                    s, rules, member_id, reward_id, request_key=f"r{member_id}", now=now
                )
        except OutOfStock:
            return "out"
        return "won"

    outcomes = await asyncio.gather(*(attempt(i) for i in ids))

    assert sorted(outcomes).count("won") == 1
    assert outcomes.count("out") == 49
    async with sessions() as s:
        assert (await s.get(Reward, reward_id)).stock == 0
        assert await s.scalar(select(func.count()).select_from(Redemption)) == 1
        balances = sorted((await s.scalars(select(Member.balance))).all())
        assert balances == [200] + [500] * 49
        for member_id in ids:
            await assert_books_balance(s, member_id)


async def test_concurrent_spends_never_overdraw(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    """20 spends of 70 against 1,000 points: 14 succeed, 6 are refused, nothing goes below 0."""
    [member_id] = await _members_with_points(sessions, rules, now, 1, 1_000)

    async def spend(i: int) -> bool:
        try:
            async with sessions() as s, s.begin():
                await ledger.debit(s, member_id, 70, EntryKind.REDEEM, f"spend:{i}", now=now)
        except InsufficientPoints:
            return False
        return True

    results = await asyncio.gather(*(spend(i) for i in range(20)))

    assert results.count(True) == 14
    async with sessions() as s:
        await assert_books_balance(s, member_id)
        assert (await s.get(Member, member_id)).balance == 1_000 - 14 * 70


async def test_same_purchase_reference_concurrently_awards_once(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async with sessions() as s, s.begin():
        member_id = (await new_member(s, rules, now)).id

    async def submit() -> str:
        try:
            async with sessions() as s, s.begin():
                await purchases.record(s, rules, member_id, 250_000, reference="INV-77", now=now)
        except DuplicateReference:
            return "duplicate"
        return "recorded"

    outcomes = await asyncio.gather(*(submit() for _ in range(10)))

    assert outcomes.count("recorded") == 1
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Purchase)) == 1
        earned = await s.scalar(select(func.count()).where(LedgerEntry.kind == EntryKind.EARN))
        assert earned == 1
        assert (await s.get(Member, member_id)).balance == 250
        await assert_books_balance(s, member_id)


async def test_same_redemption_request_concurrently_debits_once(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    """A double-tapped "redeem" button: one code, one debit."""
    [member_id] = await _members_with_points(sessions, rules, now, 1, 1_000)
    async with sessions() as s, s.begin():
        reward_id = (await rewards.create(s, rules, title="Cake", cost=100, stock=5)).id

    async def tap() -> int:
        async with sessions() as s, s.begin():
            r = await redemptions.redeem(
                s, rules, member_id, reward_id, request_key="tap-1", now=now
            )
            return r.id

    ids = await asyncio.gather(*(tap() for _ in range(5)))

    assert len(set(ids)) == 1
    async with sessions() as s:
        assert (await s.get(Member, member_id)).balance == 900
        assert (await s.get(Reward, reward_id)).stock == 4
        await assert_books_balance(s, member_id)


async def test_concurrent_joins_of_one_user_make_one_member(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async def start() -> int:
        async with sessions() as s, s.begin():
            result = await members.join(s, rules, telegram_id=4242, name="Reza", now=now)
            return result.member.id

    ids = await asyncio.gather(*(start() for _ in range(8)))

    assert len(set(ids)) == 1
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Member)) == 1
