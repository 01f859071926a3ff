"""Rewards changing hands: a member redeems, cancels a code or enters a lottery; staff hand a
reward over (``/confirm``, audited).

A member's own action finds its member by the actor (:func:`core.actions.membership.member_of`),
so a face passes who pressed, never a member id it could get wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import allocation, audit, members, redemptions, rewards
from core.actions.membership import member_of
from core.audit import Actor
from core.club import Club
from core.db import transaction
from core.models import Member, Redemption, Reward


@dataclass(frozen=True)
class Handed:
    """A reward with its code: redeemed by the member, or handed over by staff."""

    member: Member
    reward: Reward
    redemption: Redemption


@dataclass(frozen=True)
class Cancelled:
    """A code the member gave back; ``member.balance`` has its points again."""

    member: Member
    redemption: Redemption


@dataclass(frozen=True)
class Entered:
    member: Member
    reward: Reward


async def redeem(club: Club, actor: Actor, reward_id: int, *, key: str) -> Handed:
    """The member redeems a reward; the same ``key`` (the face's request) redeems once.

    The request is keyed by the member too, so a button pressed again after /forget and a new
    join is a new request of the new member, never a replay showing the previous member's code.
    """
    async with transaction(club.sessions) as session:
        member = await member_of(session, actor)
        redemption = await redemptions.redeem(
            session, club.rules, member.id, reward_id, request_key=_of_member(key, member.id)
        )
        reward = await rewards.get(session, redemption.reward_id)
    return Handed(member, reward, redemption)


async def cancel_code(club: Club, actor: Actor, redemption_id: int) -> Cancelled:
    """The member cancels one of their open codes and has its points back; a code of someone
    else's is not found, and a second cancel is refused (:class:`~core.errors.CodeCancelled`)."""
    async with transaction(club.sessions) as session:
        member = await member_of(session, actor)
        redemption = await redemptions.cancel(session, redemption_id, member_id=member.id)
        await session.refresh(member)
    return Cancelled(member, redemption)


async def enter_lottery(club: Club, actor: Actor, reward_id: int) -> Entered:
    """The member enters a lottery; entering again changes nothing."""
    async with transaction(club.sessions) as session:
        member = await member_of(session, actor)
        await allocation.enter_lottery(session, club.rules, member.id, reward_id)
        reward = await rewards.get(session, reward_id)
    return Entered(member, reward)


async def confirm(club: Club, actor: Actor, code: str) -> Handed:
    """``/confirm <code>``: staff hand the reward over, audited. A code is handed over once:
    again, it is :class:`~core.errors.AlreadyConfirmed`."""
    async with transaction(club.sessions) as session:
        redemption = await redemptions.confirm(session, code, actor_id=actor.id)
        member = await members.get(session, redemption.member_id)
        reward = await rewards.get(session, redemption.reward_id)
        await audit.record(
            session, actor, action="confirm", member_id=member.id,
            after={"code": redemption.code, "reward": reward.title},
        )  # fmt: skip
    return Handed(member, reward, redemption)


def _of_member(key: str, member_id: int) -> str:
    """The member's id after the face's prefix: ``tg:<chat>:<message>:<reward>`` becomes
    ``tg:<member>:<chat>:<message>:<reward>``, the form the stored requests already have."""
    face, _, rest = key.partition(":")
    return f"{face}:{member_id}:{rest}"
