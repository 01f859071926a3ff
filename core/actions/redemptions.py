"""Rewards changing hands: a member looks through the catalogue, redeems, sees and cancels their
codes or enters a lottery; staff hand a reward over (``/confirm``, audited).

A member's own action finds its member by the actor (:func:`core.actions.membership.member_of`),
so a face passes who pressed, never a member id it could get wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core import allocation, audit, branches, events, members, notices, redemptions, rewards
from core.actions.membership import member_of
from core.audit import Actor
from core.club import Club
from core.codes import format_redemption_code
from core.db import Session, transaction
from core.errors import RewardUnavailable
from core.models import Member, Redemption, Reward, utcnow
from core.notices import Render

#: The chat's message with a redeemed reward's code: a notice when another face redeemed it.
REDEEMED = "redeemed"


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


@dataclass(frozen=True)
class Catalogue:
    """The open rewards the member's tier may see, cheapest first."""

    member: Member
    rewards: list[Reward]


@dataclass(frozen=True)
class Offered:
    """One reward the member may ask for; ``entered``: they are in its lottery already."""

    member: Member
    reward: Reward
    entered: bool


@dataclass(frozen=True)
class Codes:
    """The member's open codes, oldest first, each with its reward's title."""

    member: Member
    codes: list[tuple[Redemption, str]]


async def catalogue(club: Club, actor: Actor, now: datetime | None = None) -> Catalogue:
    """The rewards open now for the member's tier (:func:`core.rewards.visible_to`)."""
    async with transaction(club.sessions) as session:
        member = await member_of(session, actor)
        offered = await rewards.visible_to(session, club.rules, member.tier, now or utcnow())
    return Catalogue(member, offered)


async def reward_details(
    club: Club, actor: Actor, reward_id: int, now: datetime | None = None
) -> Offered:
    """One reward of the catalogue, looked up again: a reward closed since, or not for the
    member's tier, is :class:`RewardUnavailable`, so an old button shows no more than the
    catalogue would today."""
    async with transaction(club.sessions) as session:
        member = await member_of(session, actor)
        reward = await rewards.get(session, reward_id)
        if not rewards.offered_to(club.rules, reward, member.tier, now or utcnow()):
            raise RewardUnavailable(reward_id=reward.id)
        entered = await allocation.has_entered(session, member.id, reward.id)
    return Offered(member, reward, entered)


async def my_codes(club: Club, actor: Actor) -> Codes:
    """``/myrewards``: the codes the member holds and has not used yet."""
    async with transaction(club.sessions) as session:
        member = await member_of(session, actor)
        codes = await redemptions.open_with_titles(session, member.id)
    return Codes(member, codes)


async def redeem(
    club: Club, actor: Actor, reward_id: int, *, key: str, render: Render | None = None
) -> Handed:
    """The member redeems a reward; the same ``key`` (the face's request) redeems once.

    The request is keyed by the member too, so a button pressed again after /forget and a new
    join is a new request of the new member, never a replay showing the previous member's code.
    With ``render`` (a face other than the chat: the Mini App) the code is also told in the chat,
    as the chat's own ``redeemed`` message, through the outbox in the same transaction: once,
    however often the request is replayed (:mod:`core.notices`).
    """

    async def unit(session: Session) -> Handed:
        member = await member_of(session, actor)
        redemption = await redemptions.redeem(
            session, club.rules, member.id, reward_id, request_key=_of_member(key, member.id)
        )
        reward = await rewards.get(session, redemption.reward_id)
        if render is not None:
            told = render(
                REDEEMED, member, reward=reward, code=format_redemption_code(redemption.code),
                expires_at=redemption.expires_at, balance=member.balance,
            )  # fmt: skip
            await notices.write_to(session, member, f"notice:{REDEEMED}:{redemption.id}", told)
        return Handed(member, reward, redemption)

    return await club.write(unit)


async def cancel_code(club: Club, actor: Actor, redemption_id: int) -> Cancelled:
    """The member cancels one of their open codes and has its points back; a code of someone
    else's is not found, and a second cancel is refused (:class:`~core.errors.CodeCancelled`)."""

    async def unit(session: Session) -> Cancelled:
        member = await member_of(session, actor)
        redemption = await redemptions.cancel(session, redemption_id, member_id=member.id)
        await session.refresh(member)
        return Cancelled(member, redemption)

    return await club.write(unit)


async def enter_lottery(club: Club, actor: Actor, reward_id: int) -> Entered:
    """The member enters a lottery; entering again changes nothing."""

    async def unit(session: Session) -> Entered:
        member = await member_of(session, actor)
        await allocation.enter_lottery(session, club.rules, member.id, reward_id)
        reward = await rewards.get(session, reward_id)
        return Entered(member, reward)

    return await club.write(unit)


async def confirm(club: Club, actor: Actor, code: str, *, branch: str = branches.MAIN) -> Handed:
    """``/confirm <code>``: staff of ``branch`` hand the reward over, audited; the redemption
    records the branch. A code is handed over once: again, it is
    :class:`~core.errors.AlreadyConfirmed`."""

    async def unit(session: Session) -> Handed:
        where = await branches.id_of(session, branch)
        redemption = await redemptions.confirm(session, code, actor_id=actor.id, branch_id=where)
        member = await members.get(session, redemption.member_id)
        reward = await rewards.get(session, redemption.reward_id)
        await audit.record(
            session, actor, action="confirm", member_id=member.id,
            after={"code": redemption.code, "reward": reward.title},
        )  # fmt: skip
        handed = events.redemption(member, reward, redemption, branch=branch)
        await events.emit(session, events.REWARD_CONFIRMED, handed)
        return Handed(member, reward, redemption)

    return await club.write(unit)


def _of_member(key: str, member_id: int) -> str:
    """The member's id after the face's prefix: ``tg:<chat>:<message>:<reward>`` becomes
    ``tg:<member>:<chat>:<message>:<reward>``, the form the stored requests already have."""
    face, _, rest = key.partition(":")
    return f"{face}:{member_id}:{rest}"
