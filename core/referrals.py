"""Referrals: "introduce a friend and get a reward", with the guards that keep it honest.

The newcomer is thanked on joining; the referrer only once the friend makes a first qualifying
purchase, so inventing friends earns nothing. The referrer hears of both, the friend's joining and
the bonus, from the lifecycle sweep (:func:`core.lifecycle.friends_joined`,
:func:`core.lifecycle.referral_bonuses`), through the outbox. One referrer per member, no
self-referral, and a cap per referrer and period so one person cannot farm the programme.

The referrer's bonus follows the purchase that earned it: refunding that purchase claws the bonus
back (to zero at most, the rest owed like any reversal), and a clawed-back referral still counts
towards the cap, so buying and refunding does not farm it either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.clock import after_days
from core.codes import normalize_code
from core.models import (
    EntryKind,
    LedgerEntry,
    Member,
    MemberStatus,
    Purchase,
    Referral,
    ReferralStatus,
)
from core.rules import Rules

REFERRAL_LINK_PREFIX = "ref_"
REFERRER_BONUS_KEY = "referral:referrer:"  # + the referral's id: the bonus's idempotency key
# Referrals that used up the referrer's allowance for the period, refunded or not.
CAP_COUNTED = (ReferralStatus.REWARDED, ReferralStatus.CLAWED_BACK)


class Attribution(StrEnum):
    """What became of the referral code a newcomer brought."""

    NONE = "none"
    ATTRIBUTED = "attributed"
    UNKNOWN_CODE = "unknown_code"
    SELF = "self"


async def find_referrer(session: AsyncSession, code: str | None) -> Member | None:
    """The member (not erased) who owns ``code``; a ``ref_`` prefix, spacing and case are fine."""
    if not code:
        return None
    raw = code.strip()
    if raw.lower().startswith(REFERRAL_LINK_PREFIX):
        raw = raw[len(REFERRAL_LINK_PREFIX) :]
    normalized = normalize_code(raw)
    if not normalized:
        return None
    return await session.scalar(
        select(Member).where(
            Member.referral_code == normalized, Member.status != MemberStatus.ERASED
        )
    )


async def attribute(
    session: AsyncSession, rules: Rules, newcomer: Member, referrer: Member, now: datetime
) -> Referral:
    """Record who brought the newcomer and give the newcomer the welcome bonus."""
    referral = Referral(
        referrer_id=referrer.id, referred_id=newcomer.id, created_at=now, status="joined"
    )
    session.add(referral)
    newcomer.referred_by_id = referrer.id
    await session.flush()
    if rules.referral.welcome_bonus:
        await ledger.credit(
            session,
            newcomer.id,
            rules.referral.welcome_bonus,
            EntryKind.REFERRAL,
            f"referral:welcome:{referral.id}",
            expires_at=after_days(now, rules.expiry.days),
            reason="welcome",
            now=now,
        )
    return referral


@dataclass(frozen=True)
class ReferrerReward:
    referrer_id: int
    status: ReferralStatus
    points: int


async def reward_referrer(
    session: AsyncSession, rules: Rules, purchase: Purchase, now: datetime
) -> ReferrerReward | None:
    """At the friend's first purchase of at least ``min_purchase``, thank the referrer (capped)."""
    if purchase.amount < rules.referral.min_purchase:
        return None
    friend = await session.get(Member, purchase.member_id)  # locked by the purchase already
    if friend is None or friend.referred_by_id is None:
        return None  # nobody brought them: a referral is written only with this link
    referral = await session.scalar(
        select(Referral).where(
            Referral.referred_id == purchase.member_id,
            Referral.status == ReferralStatus.JOINED,
        )
    )
    if referral is None:
        return None
    # The referrer's row lock makes the cap count and the reward one step, even across processes.
    referrer = await ledger.lock_member(session, referral.referrer_id)
    if referrer.status == MemberStatus.ERASED:
        return None
    window_start = now - timedelta(days=rules.referral.cap_window_days)
    rewarded = await session.scalar(
        select(func.count()).where(
            Referral.referrer_id == referral.referrer_id,
            Referral.status.in_(CAP_COUNTED),
            Referral.rewarded_at > window_start,
        )
    )
    referral.purchase_id = purchase.id
    if rewarded >= rules.referral.cap or not rules.referral.referrer_bonus:
        referral.status = ReferralStatus.CAPPED
        await session.flush()
        return ReferrerReward(referral.referrer_id, ReferralStatus.CAPPED, 0)
    referral.status = ReferralStatus.REWARDED
    referral.rewarded_at = now
    await ledger.credit(
        session,
        referral.referrer_id,
        rules.referral.referrer_bonus,
        EntryKind.REFERRAL,
        _referrer_key(referral),
        expires_at=after_days(now, rules.expiry.days),
        reason="friend_purchase",
        now=now,
    )
    await session.flush()
    return ReferrerReward(
        referral.referrer_id, ReferralStatus.REWARDED, rules.referral.referrer_bonus
    )


@dataclass(frozen=True)
class Clawback:
    """A referrer's bonus taken back: what came back, and what was already spent (now owed)."""

    referrer_id: int
    points: int
    recovered: int
    unrecovered: int


async def claw_back(
    session: AsyncSession, purchase: Purchase, *, reason: str, now: datetime
) -> Clawback | None:
    """Take back the referrer's bonus that ``purchase`` earned, if it earned one.

    Under the referrer's lock the referral is re-read, so a refund replayed or raced claws back
    once; the referral is marked ``clawed_back`` for good (a later purchase does not earn again).
    """
    referral = await session.scalar(
        select(Referral).where(
            Referral.purchase_id == purchase.id, Referral.status == ReferralStatus.REWARDED
        )
    )
    if referral is None:
        return None
    await ledger.lock_member(session, referral.referrer_id)
    await session.refresh(referral)
    bonus = await ledger.by_key(session, _referrer_key(referral))
    if referral.status != ReferralStatus.REWARDED or bonus is None:
        return None
    outcome = await ledger.reverse(session, bonus.id, reason=reason, now=now)
    referral.status = ReferralStatus.CLAWED_BACK
    await session.flush()
    return Clawback(referral.referrer_id, bonus.delta, outcome.recovered, outcome.unrecovered)


def _referrer_key(referral: Referral) -> str:
    return f"{REFERRER_BONUS_KEY}{referral.id}"


@dataclass(frozen=True)
class ReferralStats:
    joined: int
    rewarded: int
    points_earned: int


async def stats(session: AsyncSession, member_id: int) -> ReferralStats:
    """How many friends a member brought, how many were rewarded, and the points it earned."""
    rows = await session.execute(
        select(Referral.status, func.count())
        .where(Referral.referrer_id == member_id)
        .group_by(Referral.status)
    )
    counts = dict(rows.all())
    bonuses = select(LedgerEntry.id).where(
        LedgerEntry.member_id == member_id,
        LedgerEntry.kind == EntryKind.REFERRAL,
        LedgerEntry.idempotency_key.like("referral:referrer:%"),
    )
    # Net of clawbacks: a bonus taken back (or still owed back) was not earned.
    points = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
            or_(LedgerEntry.id.in_(bonuses), LedgerEntry.reverses_id.in_(bonuses))
        )
    )
    owed = await ledger.owed(session, list(await session.scalars(bonuses)))
    return ReferralStats(
        joined=sum(counts.values()),
        rewarded=counts.get(ReferralStatus.REWARDED, 0),
        points_earned=int(points or 0) - sum(owed.values()),
    )


def invite_link(bot_username: str, member: Member) -> str:
    """The member's referral deep link: ``t.me/<bot>?start=ref_<code>`` opens the join with it."""
    return f"https://t.me/{bot_username}?start={REFERRAL_LINK_PREFIX}{member.referral_code}"
