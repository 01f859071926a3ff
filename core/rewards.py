"""The rewards catalogue: what members can spend points on, for whom, and how many are left.

A starting catalogue may be declared in the rules file; :func:`sync_catalogue` seeds it into the
database by each reward's stable key at every start: a key the database does not have yet becomes a
new reward, and a reward it has is left exactly as staff keep it (``/reward_edit``,
``/reward_stock``, ``/reward_off``), so a restart never undoes their work. The file seeds; the
database is the catalogue.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, RewardNotFound
from core.models import Redemption, RedemptionStatus, Reward
from core.rules import Allocation, Rules

MAX_COST = 10**9
MAX_STOCK = 10**7


def _check_fields(rules: Rules, fields: dict[str, Any]) -> dict[str, Any]:
    if "title" in fields:
        title = " ".join(str(fields["title"]).split())
        if not title or len(title) > 120:
            raise InvalidInput("bad_title", title)
        fields["title"] = title
    if "cost" in fields and not _whole_in(fields["cost"], 1, MAX_COST):
        raise InvalidInput("bad_cost", str(fields["cost"]))
    if fields.get("stock") is not None and not _whole_in(fields["stock"], 0, MAX_STOCK):
        raise InvalidInput("bad_stock", str(fields["stock"]))
    if fields.get("min_tier") is not None and fields["min_tier"] not in rules.tier_keys:
        raise InvalidInput("unknown_tier", str(fields["min_tier"]))
    if "allocation" in fields:
        try:
            fields["allocation"] = Allocation(fields["allocation"]).value
        except ValueError:
            raise InvalidInput("unknown_allocation", str(fields["allocation"])) from None
        if fields["allocation"] != Allocation.FIRST_COME and fields.get("stock") is None:
            raise InvalidInput("limited_needs_stock", "")  # how many prizes is the whole point
    if fields.get("spend_window_days") is not None and not _whole_in(
        fields["spend_window_days"], 1, 3650
    ):
        raise InvalidInput("bad_window", str(fields["spend_window_days"]))
    return fields


def _whole_in(value: object, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


async def create(session: AsyncSession, rules: Rules, **fields: Any) -> Reward:
    reward = Reward(**_check_fields(rules, fields))
    session.add(reward)
    await session.flush()
    return reward


async def get(session: AsyncSession, reward_id: int) -> Reward:
    reward = await session.get(Reward, reward_id)
    if reward is None:
        raise RewardNotFound(reward_id=reward_id)
    return reward


async def update(session: AsyncSession, rules: Rules, reward_id: int, **fields: Any) -> Reward:
    reward = await get(session, reward_id)
    # Checked as the reward will stand, so a lottery cannot lose its number of prizes by an edit.
    merged = {"allocation": reward.allocation, "stock": reward.stock, **fields}
    for key, value in _check_fields(rules, merged).items():
        setattr(reward, key, value)
    await session.flush()
    return reward


def is_open(reward: Reward, now: datetime) -> bool:
    """Active and inside its window (stock and tier are checked at redemption)."""
    return (
        reward.active
        and (reward.starts_at is None or reward.starts_at <= now)
        and (reward.ends_at is None or now < reward.ends_at)
    )


def tier_allows(rules: Rules, reward: Reward, tier: str) -> bool:
    """A reward for a tier the rules no longer have is for nobody, as :func:`visible_to` shows."""
    if reward.min_tier is None:
        return True
    return reward.min_tier in rules.tier_keys and rules.tier_rank(tier) >= rules.tier_rank(
        reward.min_tier
    )


async def visible_to(session: AsyncSession, rules: Rules, tier: str, now: datetime) -> list[Reward]:
    """The open catalogue a member of ``tier`` may see, cheapest first."""
    allowed = [key for key in rules.tier_keys if rules.tier_rank(key) <= rules.tier_rank(tier)]
    rows = await session.scalars(
        select(Reward)
        .where(
            Reward.active.is_(True),
            or_(Reward.starts_at.is_(None), Reward.starts_at <= now),
            or_(Reward.ends_at.is_(None), Reward.ends_at > now),
            or_(Reward.min_tier.is_(None), Reward.min_tier.in_(allowed)),
        )
        .order_by(Reward.cost, Reward.id)
    )
    return list(rows)


async def sync_catalogue(session: AsyncSession, rules: Rules) -> int:
    """Create the rules file's rewards whose keys are new; returns how many were created.

    A key already in the database is skipped whatever the file now says of it: staff may have
    edited that reward, and their edit is what the members see.
    """
    seeds = {seed.key: seed for seed in rules.rewards}
    if not seeds:
        return 0
    known = set(await session.scalars(select(Reward.key).where(Reward.key.in_(seeds))))
    new = [seed for key, seed in seeds.items() if key not in known]
    for seed in new:
        session.add(Reward(key=seed.key, **seed.model_dump(exclude={"key"})))
    await session.flush()
    return len(new)


async def listing(session: AsyncSession) -> list[Reward]:
    """The whole catalogue for staff, withdrawn rewards too: the offered ones first, by number."""
    return list(await session.scalars(select(Reward).order_by(Reward.active.desc(), Reward.id)))


async def open_codes(session: AsyncSession) -> dict[int, int]:
    """Codes per reward that are still worth something (reserved or confirmed), by reward id."""
    rows = await session.execute(
        select(Redemption.reward_id, func.count())
        .where(Redemption.status.in_([RedemptionStatus.RESERVED, RedemptionStatus.CONFIRMED]))
        .group_by(Redemption.reward_id)
    )
    return {reward_id: int(n) for reward_id, n in rows.all()}


def offered_to(rules: Rules, reward: Reward, tier: str, now: datetime) -> bool:
    """Open now (:func:`is_open`) and for this tier (:func:`tier_allows`): what a member of
    ``tier`` may be shown and may ask for."""
    return is_open(reward, now) and tier_allows(rules, reward, tier)
