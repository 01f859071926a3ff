"""Redemptions: points and stock reserved together, a short code, handed over by staff.

Redeeming takes the stock with a conditional ``UPDATE … WHERE stock > 0`` and the points through the
ledger's locked debit, both inside one savepoint: fifty members racing for the last item get one
winner and forty-nine clear refusals, and nobody's points move unless they won. A code not handed
over within the validity period expires and gives back its points and its stock.

When a member is erased their open codes become void (:func:`void_for_member`): nobody can hand the
reward over any more, the item goes back on the shelf, and the points go back to the erased
account they came from, where the ledger keeps them (and the expiry sweep closes them in time).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import events, ledger, rewards, surveys
from core.clock import after_days
from core.codes import new_code, normalize_code
from core.errors import (
    AlreadyConfirmed,
    CodeCancelled,
    CodeExpired,
    CodeNotFound,
    CodeVoid,
    IdempotencyConflict,
    MemberInactive,
    OutOfStock,
    RewardUnavailable,
)
from core.models import EntryKind, MemberStatus, Redemption, RedemptionStatus, Reward, utcnow
from core.rules import Allocation, Rules

CODE_LENGTH = 8
CODE_ATTEMPTS = 5


async def redeem(
    session: AsyncSession,
    rules: Rules,
    member_id: int,
    reward_id: int,
    *,
    request_key: str,
    now: datetime | None = None,
) -> Redemption:
    """Reserve the reward for the member and debit its cost; the same ``request_key`` replays.

    A replay answers only the member who made the request: another member's key is refused, so no
    one is ever shown someone else's code.
    """
    now = now or utcnow()
    earlier = await session.scalar(select(Redemption).where(Redemption.request_key == request_key))
    if earlier is not None:
        return _replayed(earlier, member_id)
    member = await ledger.lock_member(session, member_id)
    if member.status != MemberStatus.ACTIVE:
        raise MemberInactive(member_id=member_id)
    reward = await rewards.get(session, reward_id)
    if not rewards.offered_to(rules, reward, member.tier, now):
        raise RewardUnavailable(reward_id=reward_id)
    if reward.allocation != Allocation.FIRST_COME:  # a lottery or top-spender prize is drawn
        raise RewardUnavailable(reward_id=reward_id, allocation=reward.allocation)
    try:
        async with session.begin_nested():
            taken = await session.execute(
                update(Reward)
                .where(Reward.id == reward_id, Reward.stock > 0)
                .values(stock=Reward.stock - 1)
                .execution_options(synchronize_session=False)
            )
            if reward.stock is not None and taken.rowcount != 1:
                raise OutOfStock(reward_id=reward_id)
            entry = await ledger.debit(
                session,
                member_id,
                reward.cost,
                EntryKind.REDEEM,
                f"redeem:{request_key}",
                reason=reward.title,
                now=now,
            )
            redemption = Redemption(
                member_id=member_id,
                reward_id=reward_id,
                request_key=request_key,
                points=reward.cost,
                entry_id=entry.id,
                created_at=now,
                expires_at=after_days(now, rules.redemption.valid_days),
            )
            await _insert_with_fresh_code(session, redemption)
    except IntegrityError:
        earlier = await session.scalar(
            select(Redemption).where(Redemption.request_key == request_key)
        )
        if earlier is None:
            raise
        return _replayed(earlier, member_id)
    await session.refresh(reward, ["stock"])
    await events.emit(
        session, events.REWARD_REDEEMED, events.redemption(member, reward, redemption), now
    )
    return redemption


def _replayed(earlier: Redemption, member_id: int) -> Redemption:
    if earlier.member_id != member_id:
        raise IdempotencyConflict(request_key=earlier.request_key)
    return earlier


async def _insert_with_fresh_code(session: AsyncSession, redemption: Redemption) -> None:
    """Codes are unique forever; on the rare clash with an old one, draw again."""
    for attempt in range(CODE_ATTEMPTS):
        redemption.code = new_code(CODE_LENGTH)
        try:
            async with session.begin_nested():
                session.add(redemption)
                await session.flush()
            return
        except IntegrityError:
            taken = await session.scalar(
                select(Redemption.id).where(Redemption.code == redemption.code)
            )
            if taken is None or attempt == CODE_ATTEMPTS - 1:
                raise


async def by_code(session: AsyncSession, code: str) -> Redemption:
    redemption = await session.scalar(
        select(Redemption).where(Redemption.code == normalize_code(code)).with_for_update()
    )
    if redemption is None:
        raise CodeNotFound(code=code)
    return redemption


async def confirm(
    session: AsyncSession,
    code: str,
    *,
    actor_id: int | None,
    now: datetime | None = None,
    branch_id: int | None = None,
) -> Redemption:
    """Staff of branch ``branch_id`` hand the reward over, whichever branch's points paid for it.
    Each refusal says exactly why the code is not good."""
    now = now or utcnow()
    redemption = await by_code(session, code)
    # A code past its date is refused without touching it: the expiry sweep refunds it, in its
    # own transaction, so the refund cannot be lost with this refused request's rollback.
    past_due = redemption.status == RedemptionStatus.RESERVED and redemption.expires_at <= now
    if past_due or redemption.status == RedemptionStatus.EXPIRED:
        raise CodeExpired(code=redemption.code)
    if redemption.status == RedemptionStatus.VOID:
        raise CodeVoid(code=redemption.code)
    if redemption.status == RedemptionStatus.CANCELLED:
        raise CodeCancelled(code=redemption.code)
    if redemption.status == RedemptionStatus.CONFIRMED:
        raise AlreadyConfirmed(code=redemption.code, confirmed_at=redemption.closed_at)
    redemption.status = RedemptionStatus.CONFIRMED
    redemption.closed_at = now
    redemption.confirmed_by = actor_id
    redemption.branch_id = branch_id
    await session.flush()
    await surveys.after_redemption(session, None, redemption, now)
    return redemption


async def cancel(
    session: AsyncSession,
    redemption_id: int,
    *,
    member_id: int | None = None,
    now: datetime | None = None,
) -> Redemption:
    """Cancel an open redemption (the member's own, when ``member_id`` is given) and refund it."""
    now = now or utcnow()
    redemption = await session.scalar(
        select(Redemption).where(Redemption.id == redemption_id).with_for_update()
    )
    if redemption is None or (member_id is not None and redemption.member_id != member_id):
        raise CodeNotFound(redemption_id=redemption_id)
    if redemption.status == RedemptionStatus.CONFIRMED:
        raise AlreadyConfirmed(code=redemption.code)
    if redemption.status == RedemptionStatus.VOID:
        raise CodeVoid(code=redemption.code)
    if redemption.status != RedemptionStatus.RESERVED:
        raise CodeCancelled(code=redemption.code)
    await _close(session, redemption, RedemptionStatus.CANCELLED, now)
    return redemption


async def expire_due(session: AsyncSession, now: datetime | None = None, limit: int = 1000) -> int:
    """Expire and refund codes past their date; safe to run twice or concurrently."""
    now = now or utcnow()
    due = await session.scalars(
        select(Redemption)
        .where(Redemption.status == RedemptionStatus.RESERVED, Redemption.expires_at <= now)
        .order_by(Redemption.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    count = 0
    for redemption in due.all():
        await _close(session, redemption, RedemptionStatus.EXPIRED, now)
        count += 1
    return count


async def void_for_member(session: AsyncSession, member_id: int, now: datetime) -> int:
    """The member is being erased: each of their open codes void, refunded like a cancel."""
    open_codes = await session.scalars(
        select(Redemption)
        .where(Redemption.member_id == member_id, Redemption.status == RedemptionStatus.RESERVED)
        .order_by(Redemption.id)
        .with_for_update()
    )
    count = 0
    for redemption in open_codes.all():
        await _close(session, redemption, RedemptionStatus.VOID, now)
        count += 1
    return count


async def open_for_member(session: AsyncSession, member_id: int) -> list[Redemption]:
    rows = await session.scalars(
        select(Redemption)
        .where(Redemption.member_id == member_id, Redemption.status == RedemptionStatus.RESERVED)
        .order_by(Redemption.created_at)
    )
    return list(rows)


async def open_with_titles(session: AsyncSession, member_id: int) -> list[tuple[Redemption, str]]:
    """The member's open codes, oldest first, each with its reward's title (for ``/myrewards``)."""
    rows = await session.execute(
        select(Redemption, Reward.title)
        .join(Reward, Reward.id == Redemption.reward_id)
        .where(Redemption.member_id == member_id, Redemption.status == RedemptionStatus.RESERVED)
        .order_by(Redemption.created_at)
    )
    return [(redemption, title) for redemption, title in rows.all()]


async def _close(
    session: AsyncSession, redemption: Redemption, status: RedemptionStatus, now: datetime
) -> None:
    """Cancel or expire: give the points back to their lots and the item back to the shelf."""
    redemption.status = status
    redemption.closed_at = now
    if redemption.entry_id is None:  # a prize from a draw: no points to give back, no shelf
        await session.flush()
        return
    await ledger.refund(session, redemption.entry_id, reason=status.value, now=now)
    await session.execute(
        update(Reward)
        .where(Reward.id == redemption.reward_id, Reward.stock.is_not(None))
        .values(stock=Reward.stock + 1)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
