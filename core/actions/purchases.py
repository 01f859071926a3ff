"""Staff purchases: recorded at once or held for a button, a held one decided, a refund.

A purchase is keyed by its reference within its branch; without one the request's own ``key``
(the message that asked) is the reference, so a redelivered request records nothing twice. Each
action takes the ``branch`` (its code) the face acts for: the API key's, or the staff group's
(``main`` for the club's). One private path, :func:`_record`, writes a purchase with its audit
entry, for the command and for the confirm button alike, so both leave the same trail.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, branches, confirmations, events, members, notices, purchases
from core.audit import Actor
from core.club import Club
from core.confirmations import PendingPurchase
from core.errors import InvalidPhone
from core.models import Member, StaffConfirmation
from core.phones import normalize_phone
from core.purchases import PurchaseResult, RefundResult
from core.rules import Rules


@dataclass(frozen=True)
class Recorded:
    """The purchase is in the books; ``member`` is to be told."""

    member: Member
    result: PurchaseResult


@dataclass(frozen=True)
class Held:
    """The purchase waits for a confirm or cancel button (``request.id``) for ``reasons``."""

    member: Member
    held: PendingPurchase
    request: StaffConfirmation
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Decided:
    """A held purchase decided: ``result`` is the recorded purchase, None if it was cancelled."""

    member: Member
    held: PendingPurchase
    result: PurchaseResult | None


@dataclass(frozen=True)
class Refunded:
    """A refund; ``referrer`` lost the bonus this purchase had earned them (and is to be told)."""

    member: Member
    result: RefundResult
    referrer: Member | None


async def purchase(
    club: Club,
    actor: Actor,
    member_query: str,
    amount: int,
    *,
    reference: str | None,
    key: str,
    branch: str = branches.MAIN,
    render: notices.Render | None = None,
) -> Recorded | Held:
    """``/purchase``: record it in ``branch``, or hold it when it is large or names a phone
    nobody verified.

    ``key`` identifies the request and is the reference when none was given. With ``render`` (a
    face with no chat to answer in: the API), the member's notice goes into the outbox in the
    same transaction as the purchase, so it is never lost nor written twice.
    """
    purchases.check_amount(club.rules, amount)  # refused before it could be held for a button
    reference = purchases.clean_reference(reference or key)

    async def unit(session: AsyncSession) -> Recorded | Held:
        await branches.id_of(session, branch)  # an unknown branch is refused first
        member = await members.find(session, member_query)
        held = PendingPurchase(member.id, amount, reference, branch)
        reasons = confirmations.purchase_reasons(
            club.rules, member, amount, named_by_phone=_named_by_phone(member_query, member)
        )
        if reasons:
            request = await confirmations.request_purchase(
                session, held, reasons=reasons, requested_by=actor.id
            )
            return Held(member, held, request, tuple(reasons))
        result = await _record(session, club.rules, actor, held)
        if render is not None:
            text = render(notices.PURCHASE, member, result=result)
            await notices.write_to(
                session, member, notices.about(result.purchase, "purchase"), text
            )
        return Recorded(member, result)

    return await club.write(unit)


async def decide_purchase(
    club: Club, actor: Actor, confirmation_id: int, *, confirm: bool, branch: str | None = None
) -> Decided | None:
    """A confirm or cancel button of a held purchase; the first press decides.

    ``branch``: the desk pressing it may decide its own branch's purchases only (None: any, the
    club's staff group). None if the request is unknown, forged, another branch's, too old or
    already decided by another press.
    """
    decision = confirmations.CONFIRMED if confirm else confirmations.CANCELLED

    async def unit(session: AsyncSession) -> Decided | None:
        request = await confirmations.held(session, confirmation_id)
        if request is None or branch not in (None, PendingPurchase.of(request).branch):
            return None
        decided = await confirmations.decide(
            session, confirmation_id, decision, action=confirmations.PURCHASE, decided_by=actor.id
        )
        if decided is None:
            return None
        held = PendingPurchase.of(decided)
        member = await members.get(session, held.member_id)
        result = None
        if confirm:
            result = await _record(session, club.rules, actor, held, confirmation_id=decided.id)
        return Decided(member, held, result)

    return await club.write(unit)


async def refund(
    club: Club,
    actor: Actor,
    reference: str,
    *,
    branch: str = branches.MAIN,
    render: notices.Render | None = None,
) -> Refunded:
    """``/refund``: the points back of the purchase ``reference`` names in ``branch``, the
    referrer's bonus clawed back, audited.

    A second refund of the same reference is refused (:class:`~core.errors.AlreadyRefunded`).
    ``render``: the member's (and the referrer's) notice in the outbox, as for :func:`purchase`.
    """

    async def unit(session: AsyncSession) -> Refunded:
        branch_id = await branches.id_of(session, branch)
        result = await purchases.refund(session, reference, actor_id=actor.id, branch_id=branch_id)
        member = await members.get(session, result.purchase.member_id)
        clawback = result.clawback
        referrer = await members.get(session, clawback.referrer_id) if clawback else None
        await audit.record(
            session, actor, action="refund", member_id=member.id,
            before={"balance": member.balance + result.reversed},
            after={"balance": member.balance, "tier": member.tier,
                   "reference": result.purchase.reference, "branch": branch,
                   "reversed": result.reversed,
                   "unrecovered": result.unrecovered},
        )  # fmt: skip
        await events.emit(
            session, events.PURCHASE_REFUNDED, events.refund(member, result.purchase, branch)
        )
        if render is not None:
            told = render(notices.REFUND, member, result=result)
            await notices.write_to(session, member, notices.about(result.purchase, "refund"), told)
            if referrer is not None:
                told = render(notices.CLAWBACK, referrer, clawback=clawback)
                key = notices.about(result.purchase, "clawback")
                await notices.write_to(session, referrer, key, told)
        return Refunded(member, result, referrer)

    return await club.write(unit)


async def _record(
    session: AsyncSession,
    rules: Rules,
    actor: Actor,
    held: PendingPurchase,
    *,
    confirmation_id: int | None = None,
) -> PurchaseResult:
    """A purchase staff recorded, with its audit entry (``confirmation`` names the button's
    request, None for the command)."""
    branch_id = await branches.id_of(session, held.branch)
    result = await purchases.record(
        session, rules, held.member_id, held.amount,
        reference=held.reference, actor_id=actor.id, branch_id=branch_id,
    )  # fmt: skip
    await audit.record(
        session, actor, action="purchase", member_id=held.member_id,
        before={"balance": result.balance_before, "tier": result.tier_before},
        after={"balance": result.balance, "tier": result.tier_after, "amount": held.amount,
               "reference": result.purchase.reference, "branch": held.branch,
               "points": result.points, "confirmation": confirmation_id},
    )  # fmt: skip
    member = await members.get(session, held.member_id)
    await events.emit(
        session, events.PURCHASE_RECORDED, events.purchase(member, result.purchase, held.branch)
    )
    return result


def _named_by_phone(query: str, member: Member) -> bool:
    """Did staff name ``member`` by their phone number (not by number or @username)?"""
    try:
        return member.phone is not None and normalize_phone(query) == member.phone
    except InvalidPhone:
        return False
