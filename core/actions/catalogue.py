"""Staff managing the catalogue: a new reward, an edit, a restock, a withdrawal, the listing.

Each change is checked by :mod:`core.rewards` and audited with the reward as it stood before and
after, in the same transaction. Setting a field to the value it has is harmless, so a repeated
request needs no key: it changes nothing and leaves one more audit entry saying so.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from core import audit, rewards
from core.audit import Actor
from core.club import Club
from core.db import snapshot, transaction
from core.errors import InvalidInput
from core.models import Reward
from core.rules import Allocation

EDITABLE = frozenset({"title", "description", "cost", "min_tier", "ends_at"})


@dataclass(frozen=True)
class RewardDraft:
    """What ``/reward_add`` asks for, field by field (checked by :func:`core.rewards.create`)."""

    title: str
    cost: int
    description: str = ""
    stock: int | None = None
    min_tier: str | None = None
    allocation: str = Allocation.FIRST_COME.value
    ends_at: datetime | None = None


@dataclass(frozen=True)
class RewardAdded:
    reward: Reward


@dataclass(frozen=True)
class RewardChanged:
    reward: Reward
    before: dict[str, object]  # the reward as staff saw it before (:func:`view`)


@dataclass(frozen=True)
class Catalogue:
    """Every reward, offered ones first, and how many open codes each has."""

    rewards: list[Reward]
    open_codes: dict[int, int]


async def add_reward(club: Club, actor: Actor, draft: RewardDraft) -> RewardAdded:
    """``/reward_add``: the new reward, audited as ``reward_add``."""
    async with transaction(club.sessions) as session:
        reward = await rewards.create(session, club.rules, **asdict(draft))
        await audit.record(
            session, actor, action="reward_add",
            after={"reward_id": reward.id, "title": reward.title, "cost": reward.cost,
                   "stock": reward.stock},
        )  # fmt: skip
    return RewardAdded(reward)


async def edit_reward(
    club: Club, actor: Actor, reward_id: int, changes: dict[str, Any]
) -> RewardChanged:
    """``/reward_edit``: change any of :data:`EDITABLE`, audited as ``reward_edit``.

    :raises InvalidInput: ``not_editable`` for any other field, before anything is read.
    """
    unknown = sorted(set(changes) - EDITABLE)
    if unknown:
        raise InvalidInput("not_editable", ", ".join(unknown))
    return await _change(club, actor, reward_id, "reward_edit", changes)


async def restock(club: Club, actor: Actor, reward_id: int, stock: int | None) -> RewardChanged:
    """``/reward_stock``: how many are left (``None``: unlimited), audited as ``reward_stock``."""
    return await _change(club, actor, reward_id, "reward_stock", {"stock": stock})


async def withdraw(club: Club, actor: Actor, reward_id: int) -> RewardChanged:
    """``/reward_off``: no longer offered, while codes already issued stay valid."""
    return await _change(club, actor, reward_id, "reward_off", {"active": False})


async def catalogue(club: Club, actor: Actor) -> Catalogue:
    """``/rewards_admin``: the whole catalogue for staff, with the open codes of each reward."""
    async with snapshot(club.sessions) as session:
        return Catalogue(await rewards.listing(session), await rewards.open_codes(session))


def view(reward: Reward) -> dict[str, object]:
    """What the audit log keeps of a reward before and after a change."""
    return {"title": reward.title, "cost": reward.cost, "stock": reward.stock,
            "min_tier": reward.min_tier, "active": reward.active}  # fmt: skip


async def _change(
    club: Club, actor: Actor, reward_id: int, action: str, changes: dict[str, Any]
) -> RewardChanged:
    async with transaction(club.sessions) as session:
        before = view(await rewards.get(session, reward_id))
        reward = await rewards.update(session, club.rules, reward_id, **changes)
        await audit.record(session, actor, action=action, before=before, after=view(reward))
    return RewardChanged(reward, before)
