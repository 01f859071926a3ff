"""Any sequence of typed and verified claims on a few numbers by a few people keeps the rule.

A hypothesis state machine lets people join (typing a number or sharing their contact), type a new
number in their profile, and verify one later, against a fresh migrated SQLite database per
example. After every step: whoever verified a number last holds it, verified; a typed claim never
took a number from anyone; a typist is answered alike whether the number was free or held; and no
points ever moved between members.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule
from sqlalchemy import select

from core import ledger, members
from core.models import EntryKind, Member
from core.rules import Rules
from tests.conftest import NOW
from tests.helpers import DatabaseMachine

RULES = Rules()
PEOPLE = 4
NUMBERS = ["+989121234567", "+989351112233", "+989190000000"]
STARTING_POINTS = 100


class PhoneMachine(DatabaseMachine):
    def __init__(self) -> None:
        super().__init__()
        self.member_of: dict[int, int] = {}  # person -> member id
        self.owner: dict[str, int] = {}  # number -> the person who verified it last
        self.typed_answers: set[tuple[bool, bool, bool]] = set()

    async def _holders(self) -> dict[str, tuple[int, bool]]:
        """number -> (member id, verified), as stored."""
        async with self.sessions() as s:
            rows = await s.execute(
                select(Member.phone, Member.id, Member.phone_verified).where(
                    Member.phone.is_not(None)
                )
            )
            return {phone: (member_id, verified) for phone, member_id, verified in rows.all()}

    @rule(
        person=st.integers(0, PEOPLE - 1), number=st.sampled_from(NUMBERS), verified=st.booleans()
    )
    def join(self, person: int, number: str, verified: bool) -> None:
        if person in self.member_of:
            return
        before = self.run(self._holders())

        async def go() -> members.JoinResult:
            async with self.sessions() as s, s.begin():
                result = await members.join(
                    s, RULES, telegram_id=1000 + person, name=f"p{person}", phone=number,
                    phone_verified=verified, now=NOW,
                )  # fmt: skip
                await ledger.credit(
                    s, result.member.id, STARTING_POINTS, EntryKind.BONUS, f"start:{person}",
                    expires_at=NOW.replace(year=NOW.year + 1), now=NOW,
                )  # fmt: skip
                return result

        result = self.run(go())
        self.member_of[person] = result.member.id
        if verified:
            self.owner[number] = person
        else:
            # What a face can read of a typist's join must not depend on the number being held.
            self.typed_answers.add((result.created, result.referral is None, result.displaced))
            self._typed_took_nothing(before, number)

    @rule(person=st.integers(0, PEOPLE - 1), number=st.sampled_from(NUMBERS))
    def verify(self, person: int, number: str) -> None:
        if person not in self.member_of:
            return

        async def go() -> None:
            async with self.sessions() as s, s.begin():
                await members.verify_phone(s, self.member_of[person], number, NOW)

        self.run(go())
        self.owner = {n: p for n, p in self.owner.items() if p != person}  # one number each
        self.owner[number] = person

    @rule(person=st.integers(0, PEOPLE - 1), number=st.sampled_from(NUMBERS))
    def type_in_profile(self, person: int, number: str) -> None:
        if person not in self.member_of:
            return
        before = self.run(self._holders())

        async def go() -> None:
            async with self.sessions() as s, s.begin():
                await members.update_profile(s, self.member_of[person], phone=number)

        self.run(go())
        self.owner = {n: p for n, p in self.owner.items() if p != person}  # they gave theirs up
        self._typed_took_nothing(before, number)

    def _typed_took_nothing(self, before: dict[str, tuple[int, bool]], number: str) -> None:
        after = self.run(self._holders())
        if number in before:
            assert after.get(number) == before[number]

    @invariant()
    def a_verified_owner_holds_their_number(self) -> None:
        holders = self.run(self._holders())
        for number, person in self.owner.items():
            assert holders.get(number) == (self.member_of[person], True)

    @invariant()
    def a_typist_is_answered_alike(self) -> None:
        assert self.typed_answers <= {(True, True, None)}

    @invariant()
    def no_points_move_between_members(self) -> None:
        async def balances() -> list[int]:
            async with self.sessions() as s:
                return list(await s.scalars(select(Member.balance)))

        assert all(balance == STARTING_POINTS for balance in self.run(balances()))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_phone_claims_keep_the_rule(sqlite_template: Path) -> None:
    PhoneMachine.template = sqlite_template
    PhoneMachine.TestCase.settings = settings(
        max_examples=40, stateful_step_count=15, deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )  # fmt: skip
    PhoneMachine.TestCase().runTest()
