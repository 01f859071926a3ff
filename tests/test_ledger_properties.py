"""Random sequences of every point movement keep the books: balance = ledger = open lots >= 0.

A hypothesis state machine drives earn (at once or pending through a return window), spend,
redeem, cancel, refund, expire, activate and adjust against a fresh migrated SQLite database per
example; member 1 was brought by member 0, so refunds claw referral bonuses back too. After every
step it checks the books, and that refunds stay refunded: every refunded purchase (and clawed-back
bonus) nets to zero in the member's spendable points (earned == reversed + still owed, and a lot
owes only while it has nothing left), and no balance exceeds the credits the model has not
seen reversed.
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import expiry, ledger, purchases, redemptions, rewards
from core.clock import after_days
from core.errors import AlreadyRefunded, CodeCancelled, InsufficientPoints, OutOfStock
from core.models import (
    EntryKind,
    LedgerEntry,
    Member,
    PointsLot,
    Purchase,
    PurchaseStatus,
    Referral,
    ReferralStatus,
)
from core.rules import Rules
from tests.conftest import NOW
from tests.helpers import DatabaseMachine, new_member

RULES = Rules()
PENDING_RULES = Rules(earn={"pending_days": 14})
# Mostly purchases worth about one reward (150 points), so that spending a purchase's points on a
# code, refunding the purchase and getting the code's points back happens often.
AMOUNTS = st.one_of(st.sampled_from([150_000, 200_000, 300_000]), st.integers(1, 3_000_000))


class LedgerMachine(DatabaseMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = NOW
        self.steps = 0
        self.purchase_refs: list[str] = []
        self.open_redemptions: list[int] = []
        # The model: points each member was credited and not seen reversed, as an upper bound.
        self.credited = [0, RULES.referral.welcome_bonus]
        self.purchased: dict[str, tuple[int, int]] = {}  # reference: (member index, amount)
        self.refunded: set[str] = set()
        self.member_ids, self.reward_id = self.run(self._setup())

    async def _setup(self) -> tuple[list[int], int]:
        async with self.sessions() as s, s.begin():
            referrer = await new_member(s, RULES, self.now, name="m0")
            friend = await new_member(
                s, RULES, self.now, name="m1", referral_code=referrer.referral_code
            )
            ids = [referrer.id, friend.id]
            reward = await rewards.create(s, RULES, title="Gift", cost=150, stock=3)
            return ids, reward.id

    def key(self) -> str:
        self.steps += 1
        return f"step-{self.steps}"

    @rule(who=st.integers(0, 1), amount=AMOUNTS, pending=st.booleans())
    def purchase(self, who: int, amount: int, pending: bool) -> None:
        ref = self.key()

        async def go() -> None:
            async with self.sessions() as s, s.begin():
                await purchases.record(
                    s,
                    PENDING_RULES if pending else RULES,
                    self.member_ids[who],
                    amount,
                    reference=ref,
                    now=self.now,
                )

        self.run(go())
        self.purchase_refs.append(ref)
        self.purchased[ref] = (who, amount)

    @rule(who=st.integers(0, 1), points=st.integers(1, 5_000))
    def bonus(self, who: int, points: int) -> None:
        self.run(self._credit(who, points, EntryKind.BONUS))

    @rule(who=st.integers(0, 1), points=st.integers(1, 5_000), up=st.booleans())
    def adjust(self, who: int, points: int, up: bool) -> None:
        if up:
            self.run(self._credit(who, points, EntryKind.ADJUST))
        else:
            self.run(self._debit(who, points, EntryKind.ADJUST))

    @rule(who=st.integers(0, 1), points=st.integers(1, 5_000))
    def spend(self, who: int, points: int) -> None:
        self.run(self._debit(who, points, EntryKind.REDEEM))

    @rule(who=st.integers(0, 1))
    def redeem(self, who: int) -> None:
        async def go() -> int | None:
            async with self.sessions() as s, s.begin():
                try:
                    r = await redemptions.redeem(
                        s,
                        RULES,
                        self.member_ids[who],
                        self.reward_id,
                        request_key=self.key(),
                        now=self.now,
                    )
                except (InsufficientPoints, OutOfStock):
                    return None
                return r.id

        redemption_id = self.run(go())
        if redemption_id is not None:
            self.open_redemptions.append(redemption_id)

    @rule(who=st.integers(0, 1))
    def redeem_everything(self, who: int) -> None:
        """The attacker's move: a reward that costs the whole balance, so a refund finds nothing."""

        async def go() -> int | None:
            async with self.sessions() as s, s.begin():
                member = await s.get(Member, self.member_ids[who])
                if not member.balance:
                    return None
                reward = await rewards.create(s, RULES, title="All", cost=member.balance)
                redemption = await redemptions.redeem(
                    s, RULES, member.id, reward.id, request_key=self.key(), now=self.now
                )
                return redemption.id

        redemption_id = self.run(go())
        if redemption_id is not None:
            self.open_redemptions.append(redemption_id)

    @precondition(lambda self: self.open_redemptions)
    @rule(data=st.data())
    def cancel(self, data: st.DataObject) -> None:
        redemption_id = data.draw(st.sampled_from(self.open_redemptions))

        async def go() -> None:
            async with self.sessions() as s, s.begin():
                with contextlib.suppress(CodeCancelled):  # already expired by the sweep
                    await redemptions.cancel(s, redemption_id, now=self.now)

        self.run(go())
        self.open_redemptions.remove(redemption_id)

    @precondition(lambda self: self.purchase_refs)
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        ref = data.draw(st.sampled_from(self.purchase_refs))

        async def go() -> None:
            async with self.sessions() as s, s.begin():
                with contextlib.suppress(AlreadyRefunded):
                    await purchases.refund(s, ref, now=self.now)

        self.run(go())
        self.refunded.add(ref)

    @rule(days=st.sampled_from([1, 10, 100, 200, 364, 365, 400]))
    def time_passes_and_sweeps_run(self, days: int) -> None:
        self.now += timedelta(days=days)

        async def go() -> None:
            async with self.sessions() as s, s.begin():
                await redemptions.expire_due(s, self.now)
                await expiry.expire_due(s, self.now)
                await purchases.activate_due(s, RULES, self.now)

        self.run(go())

    @invariant()
    def books_balance(self) -> None:
        async def check() -> None:
            async with self.sessions() as s:
                for member_id in self.member_ids:
                    member = await s.get(Member, member_id)
                    assert member is not None
                    entries = await ledger.ledger_sum(s, member_id)
                    lots = await ledger.lots_sum(s, member_id)
                    assert member.balance == entries == lots >= 0

        self.run(check())

    @invariant()
    def refunds_stay_refunded(self) -> None:
        """A refunded purchase's points and a clawed-back bonus net to zero, whatever followed."""

        async def check() -> None:
            async with self.sessions() as s:
                refunded = await s.scalars(
                    select(Purchase.id).where(Purchase.status == PurchaseStatus.REFUNDED)
                )
                clawed = await s.scalars(
                    select(Referral.id).where(Referral.status == ReferralStatus.CLAWED_BACK)
                )
                keys = [f"purchase:{i}" for i in refunded] + [
                    f"referral:referrer:{i}" for i in clawed
                ]
                credits = [await ledger.by_key(s, key) for key in keys]
                for credit_id in [c.id for c in credits if c is not None]:
                    await _nets_to_zero(s, credit_id)

        self.run(check())

    @invariant()
    def no_balance_exceeds_the_credits_not_reversed(self) -> None:
        """The model's bound: purchases not refunded, a referral bonus whose purchase stands."""
        live = [ref for ref in self.purchased if ref not in self.refunded]
        bound = list(self.credited)
        for ref in live:
            who, amount = self.purchased[ref]
            bound[who] += RULES.purchase_points(amount, RULES.tiers[-1].key)
        if any(
            self.purchased[ref][0] == 1 and self.purchased[ref][1] >= RULES.referral.min_purchase
            for ref in live
        ):
            bound[0] += RULES.referral.referrer_bonus

        async def check() -> None:
            async with self.sessions() as s:
                for who, member_id in enumerate(self.member_ids):
                    member = await s.get(Member, member_id)
                    assert member.balance <= bound[who], (who, member.balance, bound[who])

        self.run(check())

    async def _credit(self, who: int, points: int, kind: EntryKind) -> None:
        self.credited[who] += points
        async with self.sessions() as s, s.begin():
            await ledger.credit(
                s,
                self.member_ids[who],
                points,
                kind,
                self.key(),
                expires_at=after_days(self.now, RULES.expiry.days),
                now=self.now,
            )

    async def _debit(self, who: int, points: int, kind: EntryKind) -> None:
        async with self.sessions() as s, s.begin():
            with contextlib.suppress(InsufficientPoints):
                await ledger.debit(s, self.member_ids[who], points, kind, self.key(), now=self.now)


async def _nets_to_zero(session: AsyncSession, credit_id: int) -> None:
    earned = await session.get(LedgerEntry, credit_id)
    reversed_ = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.delta), 0)).where(
            LedgerEntry.reverses_id == credit_id, LedgerEntry.kind == EntryKind.REVERSAL
        )
    )
    lot = await session.scalar(select(PointsLot).where(PointsLot.entry_id == credit_id))
    assert earned.delta == -reversed_ + lot.owed, (earned.delta, reversed_, lot.owed)
    assert lot.owed == 0 or lot.remaining == 0, (lot.owed, lot.remaining)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_random_movements_keep_the_books(sqlite_template: Path) -> None:
    LedgerMachine.template = sqlite_template
    runner = LedgerMachine.TestCase
    runner.settings = settings(
        max_examples=40,
        stateful_step_count=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    runner().runTest()
