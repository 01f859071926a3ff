"""Staff actions held for a button press: asked once, decided exactly once.

A purchase above ``purchase.confirm_above``, or for a member named by a phone nobody verified, is
not recorded at once, nor is a draw asked for before its lottery's deadline: the request is stored
(:class:`core.models.StaffConfirmation`) and staff confirm or cancel it with a button. Everything
the action needs, the purchase reference included, is fixed in the request, so confirming it is the
same action however often it is retried.

Deciding is one conditional ``UPDATE … WHERE decision IS NULL``: of a double press, or two staff
members pressing at once, exactly one wins and the other finds the request already decided. The
decision belongs to the caller's transaction, so a confirmed action that then fails rolls the
decision back with it, and the request can still be cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import MAIN_BRANCH, Member, StaffConfirmation, utcnow
from core.rules import Rules

CONFIRMED: Final = "confirmed"
CANCELLED: Final = "cancelled"
PURCHASE: Final = "purchase"
DRAW: Final = "draw"
#: A request older than this is stale: a price or a face at the till is not confirmed days later.
MAX_AGE: Final = timedelta(days=1)
#: Ids are 64-bit; anything outside is a forged button, not a database question.
_MAX_ID: Final = 2**63 - 1

#: Why a purchase waits for a button: above the rule, or for a number its owner never verified.
LARGE: Final = "large"
UNVERIFIED: Final = "unverified"


@dataclass(frozen=True)
class PendingPurchase:
    """What a confirmed purchase request records: the same values the command would have."""

    member_id: int
    amount: int
    reference: str
    branch: str = MAIN_BRANCH  # the code of the branch it is sold in

    @classmethod
    def of(cls, confirmation: StaffConfirmation) -> PendingPurchase:
        """The held purchase; a request held before branches is ``main``'s."""
        payload = confirmation.payload
        return cls(
            int(payload["member_id"]), int(payload["amount"]), str(payload["reference"]),
            str(payload.get("branch", MAIN_BRANCH)),
        )  # fmt: skip


def purchase_reasons(
    rules: Rules, member: Member, amount: int, *, named_by_phone: bool
) -> list[str]:
    """Why this purchase must be confirmed first (empty: record it at once).

    A member named by number or @username was picked by something Telegram or the club issued
    (their card, their account), so only a *phone* that nobody verified is in doubt: it may have
    been typed by someone else at /start. A member registered at the till (no Telegram account)
    got their number from staff, not from a stranger at /start: nothing to doubt there.
    """
    reasons = []
    if amount > rules.purchase.confirm_above:
        reasons.append(LARGE)
    if named_by_phone and not member.phone_verified and member.telegram_id is not None:
        reasons.append(UNVERIFIED)
    return reasons


async def request_purchase(
    session: AsyncSession,
    purchase: PendingPurchase,
    *,
    reasons: list[str],
    requested_by: int,
    now: datetime | None = None,
) -> StaffConfirmation:
    """Hold ``purchase`` until staff decide; nothing is credited yet."""
    payload = {
        "member_id": purchase.member_id, "amount": purchase.amount,
        "reference": purchase.reference, "branch": purchase.branch, "reasons": reasons,
    }  # fmt: skip
    return await _hold(session, PURCHASE, payload, requested_by, now)


@dataclass(frozen=True)
class PendingDraw:
    """What a confirmed early draw runs: the reward, and the seed staff gave (None: random)."""

    reward_id: int
    seed: str | None

    @classmethod
    def of(cls, confirmation: StaffConfirmation) -> PendingDraw:
        payload = confirmation.payload
        return cls(int(payload["reward_id"]), payload.get("seed"))


async def request_draw(
    session: AsyncSession, draw: PendingDraw, *, requested_by: int, now: datetime | None = None
) -> StaffConfirmation:
    """Hold a draw asked for before its lottery's deadline until staff decide; nothing is drawn."""
    payload = {"reward_id": draw.reward_id, "seed": draw.seed}
    return await _hold(session, DRAW, payload, requested_by, now)


async def _hold(
    session: AsyncSession,
    action: str,
    payload: dict[str, object],
    requested_by: int,
    now: datetime | None,
) -> StaffConfirmation:
    confirmation = StaffConfirmation(
        action=action, payload=payload, requested_by=requested_by, created_at=now or utcnow()
    )
    session.add(confirmation)
    await session.flush()
    return confirmation


async def held(session: AsyncSession, confirmation_id: int) -> StaffConfirmation | None:
    """The request as it stands, decided or not; None for an id no request could have."""
    if not 0 < confirmation_id <= _MAX_ID:
        return None
    return await session.get(StaffConfirmation, confirmation_id)


async def decide(
    session: AsyncSession,
    confirmation_id: int,
    decision: str,
    *,
    action: str,
    decided_by: int,
    now: datetime | None = None,
) -> StaffConfirmation | None:
    """Decide the request once; None if it is unknown, of another action, too old, or decided.

    :raises ValueError: for a decision other than :data:`CONFIRMED` or :data:`CANCELLED`.
    """
    if decision not in (CONFIRMED, CANCELLED):
        raise ValueError(f"unknown decision {decision!r}")
    if not 0 < confirmation_id <= _MAX_ID:
        return None
    now = now or utcnow()
    result = await session.execute(
        update(StaffConfirmation)
        .where(
            StaffConfirmation.id == confirmation_id,
            StaffConfirmation.action == action,
            StaffConfirmation.decision.is_(None),
            StaffConfirmation.created_at >= now - MAX_AGE,
        )
        .values(decision=decision, decided_at=now, decided_by=decided_by)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    return await session.get(StaffConfirmation, confirmation_id, populate_existing=True)
