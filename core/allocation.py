"""Scarce rewards shared out by an explicit, fair rule: a lottery, or the top spenders of a window.

A first-come reward is redeemed as usual (:mod:`core.redemptions`). The other two are *allocated*
once, by :func:`draw`, and the prizes are gifts: each winner gets a reserved redemption worth zero
points, with its own code, and no ledger movement.

Every draw is recorded with everything needed to repeat it, and :func:`rerun` repeats it from the
record alone, so a member, an auditor or a sceptical shop owner can check the winners:

- **lottery**: entrants are the entered members still active at the draw, by ascending member
  number; each has weight 1, or ``tier rank + 1`` when the reward is ``weighted_draw`` (bronze 1,
  silver 2, ...). With ``rng = random.Random(seed)`` (a string seed), repeat ``prizes`` times:
  ``r = rng.randrange(total weight left)``; the winner is the first entrant still in the pool
  whose running weight sum, in entrant order, exceeds ``r``; take them out of the pool. That is
  weighted sampling without replacement; a Fenwick tree finds the same entrant in ``O(log n)``.
- **top_spenders**: entrants are the active members (of the reward's tier or above) with
  completed purchases in the ``spend_window_days`` (default 90) before the draw, with their spend
  and their first purchase in that window; the winners are the top ``prizes`` by spend, ties to the
  earliest first purchase, then the lower member number. No randomness: the seed is ``"-"``.

The record: ``entrants = {"ids": [...], "weights": [...]}`` (for top spenders the weights are the
spends, plus ``"first_purchase"``: ISO 8601 UTC times) and
``winners = {"ids": [...], "prizes": n}``.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import rewards
from core.clock import after_days
from core.errors import (
    AlreadyDrawn,
    InvalidInput,
    MemberInactive,
    MemberNotFound,
    RewardNotFound,
    RewardUnavailable,
)
from core.models import (
    Draw,
    LotteryEntry,
    Member,
    MemberStatus,
    Purchase,
    PurchaseStatus,
    Redemption,
    Reward,
    utcnow,
)
from core.redemptions import _insert_with_fresh_code
from core.rules import Allocation, Rules

DEFAULT_SPEND_WINDOW_DAYS = 90
NO_SEED = "-"  # recorded for a draw that uses no randomness
MAX_SEED_LENGTH = 64  # Draw.seed's column


# --- entering -------------------------------------------------------------------------------


async def enter_lottery(
    session: AsyncSession,
    rules: Rules,
    member_id: int,
    reward_id: int,
    now: datetime | None = None,
) -> LotteryEntry:
    """Give an active, eligible member a ticket; entering again returns the same ticket."""
    now = now or utcnow()
    member = await session.scalar(
        select(Member).where(Member.id == member_id).execution_options(populate_existing=True)
    )
    if member is None:
        raise MemberNotFound(member_id=member_id)
    if member.status != MemberStatus.ACTIVE:
        raise MemberInactive(member_id=member_id)
    # A shared lock: many members enter at once, but the draw (an exclusive lock) waits for them,
    # and whoever comes after the draw sees the reward closed.
    reward = await _lock_reward(session, reward_id, shared=True)
    if reward.allocation != Allocation.LOTTERY:
        raise InvalidInput("not_lottery", str(reward_id))
    if await _draw_of(session, reward_id) is not None:
        raise AlreadyDrawn(reward_id=reward_id)
    if not rewards.offered_to(rules, reward, member.tier, now):
        raise RewardUnavailable(reward_id=reward_id)
    earlier = await _entry(session, reward_id, member_id)
    if earlier is not None:
        return earlier
    entry = LotteryEntry(reward_id=reward_id, member_id=member_id, created_at=now)
    try:
        async with session.begin_nested():
            session.add(entry)
            await session.flush()
    except IntegrityError:
        # The same member tapped twice at once; the other request's ticket is the answer.
        earlier = await _entry(session, reward_id, member_id)
        if earlier is None:
            raise
        return earlier
    return entry


async def has_entered(session: AsyncSession, member_id: int, reward_id: int) -> bool:
    return await _entry(session, reward_id, member_id) is not None


async def entrant_count(session: AsyncSession, reward_id: int) -> int:
    total = await session.scalar(
        select(func.count()).select_from(LotteryEntry).where(LotteryEntry.reward_id == reward_id)
    )
    return int(total or 0)


# --- drawing --------------------------------------------------------------------------------


async def draw(
    session: AsyncSession,
    rules: Rules,
    reward_id: int,
    *,
    seed: str | None = None,
    actor_id: int | None = None,
    now: datetime | None = None,
) -> Draw:
    """Allocate the reward's prizes once, record how, and give each winner a gift redemption.

    The reward is closed afterwards (stock 0, inactive). ``seed`` fixes a lottery's randomness
    (default: 128 random bits); top spenders ignore it. ``actor_id`` is recorded on the draw; the
    staff audit entry is the caller's to write, as for every staff action.
    """
    now = now or utcnow()
    reward = await _lock_reward(session, reward_id)
    await check_drawable(session, reward, seed)
    prizes = reward.stock
    assert prizes is not None  # checked: a reward without a stock has no number of prizes

    if reward.allocation == Allocation.LOTTERY:
        seed = seed if seed is not None else secrets.token_hex(16)
        entrants = await _lottery_entrants(session, rules, reward)
    else:
        seed = NO_SEED
        entrants = await _spenders(session, rules, reward, now)
    record = Draw(
        reward_id=reward_id,
        policy=reward.allocation,
        seed=seed,
        entrants=entrants,
        winners={"ids": [], "prizes": prizes},
        actor_id=actor_id,
        created_at=now,
    )
    record.winners = {"ids": rerun(record), "prizes": prizes}
    try:
        async with session.begin_nested():
            session.add(record)
            await session.flush()
    except IntegrityError:
        raise AlreadyDrawn(reward_id=reward_id) from None

    for member_id in record.winners["ids"]:
        await _insert_with_fresh_code(
            session,
            Redemption(
                member_id=member_id,
                reward_id=reward_id,
                request_key=f"draw:{record.id}:{member_id}",
                points=0,
                entry_id=None,
                created_at=now,
                expires_at=after_days(now, rules.redemption.valid_days),
            ),
        )
    reward.stock = 0
    reward.active = False
    await session.flush()
    return record


async def check_drawable(session: AsyncSession, reward: Reward, seed: str | None) -> None:
    """Refuse a draw that could not run, before anything is drawn or held for a button: a
    first-come reward, one drawn already, one without a number of prizes, a malformed seed."""
    if reward.allocation not in (Allocation.LOTTERY, Allocation.TOP_SPENDERS):
        raise InvalidInput("not_allocated", reward.allocation)
    if await _draw_of(session, reward.id) is not None:
        raise AlreadyDrawn(reward_id=reward.id)
    if reward.stock is None:
        raise InvalidInput("unlimited_stock", str(reward.id))
    if seed is not None and reward.allocation == Allocation.LOTTERY:
        _check_seed(seed)


def rerun(draw: Draw) -> list[int]:
    """The winners again, from the draw's record alone (seed, entrants, weights, prizes)."""
    ids = [int(i) for i in draw.entrants.get("ids", [])]
    weights = [int(w) for w in draw.entrants.get("weights", [])]
    if len(weights) != len(ids):
        raise ValueError("draw record: ids and weights differ in length")
    prizes = int(draw.winners.get("prizes", len(draw.winners.get("ids", []))))
    if draw.policy == Allocation.LOTTERY:
        return [ids[i] for i in weighted_sample(draw.seed, weights, prizes)]
    if draw.policy == Allocation.TOP_SPENDERS:
        firsts = [datetime.fromisoformat(t) for t in draw.entrants.get("first_purchase", [])]
        if len(firsts) != len(ids):
            raise ValueError("draw record: ids and first purchases differ in length")
        ranked = sorted(range(len(ids)), key=lambda i: (-weights[i], firsts[i], ids[i]))
        return [ids[i] for i in ranked[:prizes]]
    raise InvalidInput("not_allocated", draw.policy)


def weighted_sample(seed: str, weights: Sequence[int], k: int) -> list[int]:
    """Indexes of ``k`` picks without replacement, each with probability proportional to weight.

    Deterministic for a given seed on every platform and Python 3 version: ``random.Random`` seeds
    a string through SHA-512 and ``randrange`` uses only integer arithmetic. Entrants of weight 0
    are never picked; fewer than ``k`` positive weights give fewer picks.
    """
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    rng = random.Random(seed)
    pool = _Fenwick(weights)
    total = sum(weights)
    picks: list[int] = []
    while len(picks) < k and total > 0:
        index = pool.find(rng.randrange(total))
        picks.append(index)
        pool.add(index, -weights[index])
        total -= weights[index]
    return picks


async def losers(session: AsyncSession, draw: Draw) -> list[int]:
    """Lottery entrants who did not win and can still be told so (active members), by number.

    Top spenders never asked to take part, so they have no losers to tell.
    """
    if draw.policy != Allocation.LOTTERY:
        return []
    winners = set(draw.winners.get("ids", []))
    rows = await session.scalars(
        select(LotteryEntry.member_id)
        .join(Member, Member.id == LotteryEntry.member_id)
        .where(LotteryEntry.reward_id == draw.reward_id, Member.status == MemberStatus.ACTIVE)
        .order_by(LotteryEntry.member_id)
    )
    return [member_id for member_id in rows if member_id not in winners]


async def prizes(session: AsyncSession, draw: Draw) -> dict[int, Redemption]:
    """Each winner's gift (its code, as stored, and the moment it lapses), by member id."""
    rows = await session.scalars(
        select(Redemption).where(Redemption.request_key.like(f"draw:{draw.id}:%"))
    )
    return {redemption.member_id: redemption for redemption in rows}


async def due_lotteries(session: AsyncSession, now: datetime | None = None) -> list[Reward]:
    """Active lottery rewards whose deadline has come and that are not drawn yet, oldest first.

    A lottery without a stock limit has no number of prizes to draw, so it is never due.
    """
    now = now or utcnow()
    rows = await session.scalars(
        select(Reward)
        .where(
            Reward.allocation == Allocation.LOTTERY,
            Reward.active.is_(True),
            Reward.stock.is_not(None),
            Reward.ends_at.is_not(None),
            Reward.ends_at <= now,
            ~exists().where(Draw.reward_id == Reward.id),
        )
        .order_by(Reward.ends_at, Reward.id)
    )
    return list(rows)


async def get_draw(session: AsyncSession, reward_id: int) -> Draw | None:
    return await _draw_of(session, reward_id)


# --- internals ------------------------------------------------------------------------------


class _Fenwick:
    """Prefix sums of integer weights with point updates, and "first prefix above r" search."""

    def __init__(self, weights: Sequence[int]) -> None:
        self.size = len(weights)
        self.tree = [0] * (self.size + 1)
        for position, weight in enumerate(weights, 1):
            self.tree[position] += weight
            parent = position + (position & -position)
            if parent <= self.size:
                self.tree[parent] += self.tree[position]
        self.top = 1 << (self.size.bit_length() - 1) if self.size else 0

    def add(self, index: int, delta: int) -> None:
        position = index + 1
        while position <= self.size:
            self.tree[position] += delta
            position += position & -position

    def find(self, r: int) -> int:
        """The smallest index whose inclusive prefix sum exceeds ``r`` (0 <= r < total)."""
        position, step = 0, self.top
        while step:
            ahead = position + step
            if ahead <= self.size and self.tree[ahead] <= r:
                position = ahead
                r -= self.tree[ahead]
            step >>= 1
        return position


async def _lock_reward(session: AsyncSession, reward_id: int, *, shared: bool = False) -> Reward:
    reward = await session.scalar(
        select(Reward)
        .where(Reward.id == reward_id)
        .with_for_update(read=shared)
        .execution_options(populate_existing=True)
    )
    if reward is None:
        raise RewardNotFound(reward_id=reward_id)
    return reward


async def _draw_of(session: AsyncSession, reward_id: int) -> Draw | None:
    return await session.scalar(select(Draw).where(Draw.reward_id == reward_id))


async def _entry(session: AsyncSession, reward_id: int, member_id: int) -> LotteryEntry | None:
    return await session.scalar(
        select(LotteryEntry).where(
            LotteryEntry.reward_id == reward_id, LotteryEntry.member_id == member_id
        )
    )


def _check_seed(seed: str) -> None:
    if not seed or len(seed) > MAX_SEED_LENGTH or seed == NO_SEED or not seed.isprintable():
        raise InvalidInput("bad_seed", seed)


async def _lottery_entrants(
    session: AsyncSession, rules: Rules, reward: Reward
) -> dict[str, list[int]]:
    rows = await session.execute(
        select(LotteryEntry.member_id, Member.tier)
        .join(Member, Member.id == LotteryEntry.member_id)
        .where(LotteryEntry.reward_id == reward.id, Member.status == MemberStatus.ACTIVE)
        .order_by(LotteryEntry.member_id)
    )
    ids: list[int] = []
    weights: list[int] = []
    for member_id, tier in rows.all():
        ids.append(int(member_id))
        weights.append(rules.tier_rank(tier) + 1 if reward.weighted_draw else 1)
    return {"ids": ids, "weights": weights}


async def _spenders(
    session: AsyncSession, rules: Rules, reward: Reward, now: datetime
) -> dict[str, list[int] | list[str]]:
    """Completed spend in the window ``(now - days, now]`` of each active, eligible member."""
    days = reward.spend_window_days or DEFAULT_SPEND_WINDOW_DAYS
    rows = await session.execute(
        select(
            Purchase.member_id,
            Member.tier,
            func.sum(Purchase.amount),
            func.min(Purchase.created_at),
        )
        .join(Member, Member.id == Purchase.member_id)
        .where(
            Member.status == MemberStatus.ACTIVE,
            Purchase.status == PurchaseStatus.COMPLETED,
            Purchase.created_at > now - timedelta(days=days),
            Purchase.created_at <= now,
        )
        .group_by(Purchase.member_id, Member.tier)
        .order_by(Purchase.member_id)
    )
    ids: list[int] = []
    spends: list[int] = []
    firsts: list[str] = []
    for member_id, tier, spend, first in rows.all():
        if not rewards.tier_allows(rules, reward, tier):
            continue
        ids.append(int(member_id))
        spends.append(int(spend))
        firsts.append(first.isoformat(timespec="microseconds"))
    return {"ids": ids, "weights": spends, "first_purchase": firsts}
