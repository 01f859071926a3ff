"""Random sequences of every point movement keep the books: balance = ledger = open lots >= 0.

A hypothesis state machine drives earn, spend, redeem, cancel, refund, expire and adjust against a
fresh migrated SQLite database per example, and checks the invariant after every step.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from core import ledger, purchases, redemptions, rewards
from core.clock import after_days
from core.db import make_engine, make_sessionmaker
from core.errors import AlreadyRefunded, CodeCancelled, InsufficientPoints, OutOfStock
from core.models import EntryKind, Member
from core.rules import Rules
from tests.conftest import NOW, fresh_sqlite_url
from tests.helpers import new_member

RULES = Rules()


class LedgerMachine(RuleBasedStateMachine):
    template: Path

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.runner = asyncio.Runner()
        self.engine = make_engine(fresh_sqlite_url(self.template, Path(self.folder.name)))
        self.sessions = make_sessionmaker(self.engine)
        self.now = NOW
        self.steps = 0
        self.purchase_refs: list[str] = []
        self.open_redemptions: list[int] = []
        self.member_ids, self.reward_id = self.run(self._setup())

    def run(self, coro):  # type: ignore[no-untyped-def]
        return self.runner.run(coro)

    async def _setup(self) -> tuple[list[int], int]:
        async with self.sessions() as s, s.begin():
            ids = [(await new_member(s, RULES, self.now, name=f"m{i}")).id for i in range(2)]
            reward = await rewards.create(s, RULES, title="Gift", cost=150, stock=3)
            return ids, reward.id

    def key(self) -> str:
        self.steps += 1
        return f"step-{self.steps}"

    @rule(who=st.integers(0, 1), amount=st.integers(1, 3_000_000))
    def purchase(self, who: int, amount: int) -> None:
        ref = self.key()

        async def go() -> None:
            async with self.sessions() as s, s.begin():
                await purchases.record(
                    s, RULES, self.member_ids[who], amount, reference=ref, now=self.now
                )

        self.run(go())
        self.purchase_refs.append(ref)

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

    @rule(days=st.sampled_from([1, 10, 100, 200, 364, 365, 400]))
    def time_passes_and_sweeps_run(self, days: int) -> None:
        self.now += timedelta(days=days)

        async def go() -> None:
            async with self.sessions() as s, s.begin():
                await redemptions.expire_due(s, self.now)
                await ledger.expire_due(s, self.now)

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

    async def _credit(self, who: int, points: int, kind: EntryKind) -> None:
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

    def teardown(self) -> None:
        self.run(self.engine.dispose())
        self.runner.close()
        self.folder.cleanup()


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
