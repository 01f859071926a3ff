"""kill -9 during a burst of 200 ``/purchase ... REF-n`` in the staff group, then a restart.

The purchases are queued at the fake all at once; after the first few are answered the process is
killed and started again, and the end is when Telegram has nothing left to deliver (the bot
confirms an update only once handled, :mod:`bot.updates`). What must hold: every purchase recorded,
none awarded twice (one purchase row and one ledger entry per reference), every purchase staff saw
confirmed in the books, and each balance the sum of its purchases' points, as in the ledger and the
lots.

And a busy staff group does not hold members up: updates of different chats are handled side by
side, and answers in the staff group go out beside the handler, merged while Telegram's 20 messages
a minute per group hold them back (:mod:`bot.group_replies`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core import members
from core.rules import Rules
from tests.e2e.harness import (
    STAFF_CHAT,
    BotProcess,
    Club,
    Person,
    Telegram,
    bot_processes,
    fake_telegram,
    member_chat,
    new_club,
    plain,
    settle,
    staff_chat,
    wait_until,
)

PURCHASES = 200
KILL_AFTER = 5  # purchases answered in the staff group
SHOPPERS = [Person(3000 + n, f"Shopper{n}") for n in range(4)]
CATCH_UP = 120.0  # seconds the restarted bot may take to handle what is left of the burst
RUSH = 40  # purchases queued before a member's /points
PROMPT = 10.0  # seconds: how long a member should wait for /points then


def phone(n: int) -> str:
    return f"0912000000{n}"


def amount(n: int) -> int:
    return 10_000 * (1 + n % 7)


@dataclass
class Burst:
    club: Club
    answered_before_kill: set[str]  # references staff saw confirmed before the kill
    answered: set[str]  # ... by the end
    confirmed_at_kill: int  # the getUpdates offset the bot had confirmed when it died
    first_purchase_update: int
    pending_after_restart: list[int]  # updates Telegram still had for the restarted bot


async def _seed(session: AsyncSession, rules: Rules) -> None:
    for n, person in enumerate(SHOPPERS):
        await members.join(
            session, rules, telegram_id=person.id, name=person.full_name, phone=phone(n),
            phone_verified=True, locale="en",
        )  # fmt: skip


def _references(messages: list[str]) -> set[str]:
    """The purchases confirmed in the staff group (several answers may share a message)."""
    return {
        ref
        for text in messages
        for ref in re.findall(r"recorded for.*?Reference: (\S+)", text, re.S)
    }


@pytest.fixture(scope="module")
def burst(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Burst]:
    club = new_club(sqlite_template, tmp_path_factory.mktemp("burst"))
    club.seed(_seed)
    with fake_telegram() as tg, bot_processes(tg, club) as make:
        bot = make()
        staff = staff_chat(tg, bot, status="member")
        bot.start()

        def staff_answers() -> set[str]:
            return _references([plain(m.text) for m in tg.messages(STAFF_CHAT)])

        updates = [
            staff.text_update(f"/purchase {phone(n % 4)} {amount(n)} REF-{n}")
            for n in range(PURCHASES)
        ]
        first = tg.push_many(updates)[0]
        wait_until(lambda: len(staff_answers()) >= KILL_AFTER, 30, "the first answers", bot=bot)
        bot.kill()
        settle(lambda: len(tg.api.messages))
        before_kill = staff_answers()
        confirmed_at_kill = tg.api.confirmed_offset

        bot.start()
        pending = tg.api.pending_update_ids
        wait_until(
            lambda: not tg.api.pending_update_ids, CATCH_UP, "the rest of the burst", bot=bot
        )
        member_chat(tg, SHOPPERS[0], bot).ask("/points", "you have")
        yield Burst(club, before_kill, staff_answers(), confirmed_at_kill, first, pending)


def test_each_purchase_is_awarded_at_most_once_and_the_books_balance(burst: Burst) -> None:
    club = burst.club
    assert len(burst.answered_before_kill) < PURCHASES, "the kill came after the burst"
    per_reference = club.query(
        """
        SELECT p.reference, COUNT(DISTINCT p.id),
               (SELECT COUNT(*) FROM ledger_entries l
                 WHERE l.idempotency_key = 'purchase:' || p.id),
               (SELECT COUNT(*) FROM ledger_entries l WHERE l.reason = 'purchase ' || p.reference)
        FROM purchases p GROUP BY p.reference
        """
    )
    assert per_reference, "nothing was recorded"
    assert all(rows == earns == by_reason == 1 for _, rows, earns, by_reason in per_reference)
    recorded = {reference for reference, *_ in per_reference}
    assert recorded <= {f"REF-{n}" for n in range(PURCHASES)}
    assert burst.answered <= recorded, "staff saw a purchase confirmed that is not in the books"

    balances = club.query(
        """
        SELECT m.telegram_id, m.balance, COALESCE(SUM(p.points), 0)
        FROM members m LEFT JOIN purchases p ON p.member_id = m.id GROUP BY m.id
        """
    )
    assert all(balance == points for _, balance, points in balances), balances
    assert club.unbalanced_books() == []


def test_no_purchase_is_lost_when_the_process_is_killed(burst: Burst) -> None:
    recorded = {r for (r,) in burst.club.query("SELECT reference FROM purchases")}
    missing = {f"REF-{n}" for n in range(PURCHASES)} - recorded
    assert not missing, (
        f"{len(missing)} of {PURCHASES} purchases were never recorded; the bot had confirmed "
        f"updates up to {burst.confirmed_at_kill - 1} (the burst started at "
        f"{burst.first_purchase_update}) when it died, and Telegram had "
        f"{len(burst.pending_after_restart)} left for the restarted bot"
    )


def test_a_member_is_answered_while_staff_record_a_rush_of_purchases(
    tg: Telegram, bot: BotProcess, club: Club
) -> None:
    club.seed(_seed)
    staff = staff_chat(tg, bot, status="member")
    bot.start()
    tg.push_many(
        [staff.text_update(f"/purchase {phone(n % 4)} 10000 RUSH-{n}") for n in range(RUSH)]
    )
    member_chat(tg, SHOPPERS[1], bot).ask("/points", "you have", timeout=PROMPT)

    def confirmed() -> set[str]:
        return _references([plain(m.text) for m in tg.messages(STAFF_CHAT)])

    wait_until(lambda: len(confirmed()) == RUSH, PROMPT * 3, "every purchase confirmed", bot=bot)
    assert confirmed() == {f"RUSH-{n}" for n in range(RUSH)}
    # Telegram takes 20 messages a minute in a group: the answers held back went out together
    assert len(tg.messages(STAFF_CHAT)) <= 20
