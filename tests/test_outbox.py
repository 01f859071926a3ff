"""The outbox core: written once per key, claimed once, settled, released after a crash."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import outbox
from core.models import Campaign, Delivery, DeliveryStatus, Member, MemberStatus
from core.rules import Rules
from tests.helpers import new_member

S = timedelta(seconds=1)


async def _write(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    keys: list[str],
    *,
    chat_id: int = 1,
    member_id: int | None = None,
    not_before: datetime | None = None,
) -> list[int]:
    async with sessions() as s, s.begin():
        ids = []
        for key in keys:
            row = await outbox.enqueue(
                s, chat_id=chat_id, kind="notice", dedupe_key=key, text=f"hi {key}",
                member_id=member_id, not_before=not_before, now=now,
            )  # fmt: skip
            assert row is not None
            ids.append(row.id)
        return ids


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> dict[int, Delivery]:
    async with sessions() as s:
        return {d.id: d for d in await s.scalars(select(Delivery))}


async def test_enqueue_writes_a_key_once(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    async with sessions() as s, s.begin():
        first = await outbox.enqueue(
            s, chat_id=5, kind="offer", dedupe_key="offer:1:5", text="<b>hi</b>",
            reply_markup={"inline_keyboard": [[{"text": "go", "url": "https://example.org"}]]},
            now=now,
        )  # fmt: skip
        again = await outbox.enqueue(
            s, chat_id=5, kind="offer", dedupe_key="offer:1:5", text="other", now=now
        )
    assert first is not None and again is None
    [row] = (await _rows(sessions)).values()
    assert (row.status, row.attempts, row.not_before, row.text) == (
        DeliveryStatus.PENDING, 0, now, "<b>hi</b>",
    )  # fmt: skip
    assert row.reply_markup == {"inline_keyboard": [[{"text": "go", "url": "https://example.org"}]]}


async def test_concurrent_enqueues_of_one_key_write_one_row(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    async def write() -> bool:
        async with sessions() as s, s.begin():
            row = await outbox.enqueue(
                s, chat_id=7, kind="notice", dedupe_key="same", text="x", now=now
            )
            return row is not None

    written = await asyncio.gather(*(write() for _ in range(12)))

    assert written.count(True) == 1
    async with sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Delivery)) == 1


async def test_enqueue_does_not_mistake_another_constraint_for_a_duplicate(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    with pytest.raises(IntegrityError):
        async with sessions() as s, s.begin():
            await outbox.enqueue(
                s, chat_id=7, kind="notice", dedupe_key="k", text="x", member_id=999_999, now=now
            )


async def test_claim_takes_due_rows_oldest_first_and_counts_an_attempt(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    [later] = await _write(sessions, now, ["later"], not_before=now + 10 * S)
    [second] = await _write(sessions, now, ["second"], not_before=now)
    [first] = await _write(sessions, now, ["first"], not_before=now - 5 * S)
    [third] = await _write(sessions, now, ["third"], not_before=now)

    async with sessions() as s, s.begin():
        claimed = await outbox.claim(s, 10, now=now)
    assert [d.id for d in claimed] == [first, second, third]
    async with sessions() as s, s.begin():
        assert [d.id for d in await outbox.claim(s, 10, now=now + 9 * S)] == []
    async with sessions() as s, s.begin():
        assert [d.id for d in await outbox.claim(s, 10, now=now + 10 * S)] == [later]

    rows = await _rows(sessions)
    for delivery_id in (first, second, third):
        assert rows[delivery_id].status == DeliveryStatus.SENDING
        assert rows[delivery_id].attempts == 1
        assert rows[delivery_id].claimed_at == now


async def test_claim_respects_the_limit_and_excluded_chats(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    a = await _write(sessions, now, ["a1", "a2"], chat_id=1)
    b = await _write(sessions, now, ["b1", "b2"], chat_id=2)
    c = await _write(sessions, now, ["c1"], chat_id=3)

    async with sessions() as s, s.begin():
        assert [d.id for d in await outbox.claim(s, 1, now=now)] == a[:1]
    async with sessions() as s, s.begin():
        claimed = await outbox.claim(s, 10, now=now, exclude_chat_ids=[1, 3])
    assert [d.id for d in claimed] == b
    async with sessions() as s, s.begin():
        assert [d.id for d in await outbox.claim(s, 10, now=now)] == [a[1], *c]


async def test_claim_skips_members_who_blocked_the_bot(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async with sessions() as s, s.begin():
        blocked = await new_member(s, rules, now, name="gone")
        active = await new_member(s, rules, now, name="here")
        blocked.status = MemberStatus.BLOCKED
    [theirs] = await _write(sessions, now, ["x"], chat_id=1, member_id=blocked.id)
    [ours] = await _write(sessions, now, ["y"], chat_id=2, member_id=active.id)
    [nobodys] = await _write(sessions, now, ["z"], chat_id=3)

    async with sessions() as s, s.begin():
        assert [d.id for d in await outbox.claim(s, 10, now=now)] == [ours, nobodys]
    async with sessions() as s, s.begin():
        assert await outbox.drop_blocked(s) == [None]
    row = (await _rows(sessions))[theirs]
    assert (row.status, row.last_error) == (DeliveryStatus.UNREACHABLE, outbox.BLOCKED_ERROR)


async def test_unclaim_puts_rows_back_and_refunds_the_attempt(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    ids = await _write(sessions, now, ["a", "b"])
    async with sessions() as s, s.begin():
        await outbox.claim(s, 10, now=now)
        assert await outbox.unclaim(s, ids[1:], not_before=now + 3 * S) == 1
    rows = await _rows(sessions)
    assert (rows[ids[0]].status, rows[ids[0]].attempts) == (DeliveryStatus.SENDING, 1)
    assert (rows[ids[1]].status, rows[ids[1]].attempts) == (DeliveryStatus.PENDING, 0)
    assert rows[ids[1]].not_before == now + 3 * S
    assert rows[ids[1]].claimed_at is None


@pytest.mark.parametrize(
    ("status", "error", "retry", "expected"),
    [
        (DeliveryStatus.SENT, None, False, DeliveryStatus.SENT),
        (DeliveryStatus.FAILED, "Bad Request: chat not found", False, DeliveryStatus.FAILED),
        (DeliveryStatus.UNREACHABLE, "Forbidden", False, DeliveryStatus.UNREACHABLE),
        (DeliveryStatus.PENDING, "Timed out", True, DeliveryStatus.PENDING),
    ],
)
async def test_settle_records_how_a_send_ended(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    status: DeliveryStatus,
    error: str | None,
    retry: bool,
    expected: DeliveryStatus,
) -> None:
    [delivery_id] = await _write(sessions, now, ["k"])
    async with sessions() as s, s.begin():
        await outbox.claim(s, 1, now=now)
    async with sessions() as s, s.begin():
        await outbox.settle(
            s, delivery_id, status, error=error,
            retry_at=now + 8 * S if retry else None, now=now + S,
        )  # fmt: skip
    row = (await _rows(sessions))[delivery_id]
    assert row.status == expected
    assert row.last_error == error
    assert row.sent_at == (now + S if expected == DeliveryStatus.SENT else None)
    assert row.attempts == 1
    if retry:
        assert (row.not_before, row.claimed_at) == (now + 8 * S, None)


async def test_settle_cuts_a_long_error(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    [delivery_id] = await _write(sessions, now, ["k"])
    async with sessions() as s, s.begin():
        await outbox.settle(s, delivery_id, DeliveryStatus.FAILED, error="x" * 1000, now=now)
    assert (await _rows(sessions))[delivery_id].last_error == "x" * outbox.MAX_ERROR


async def test_forbidden_blocks_the_member_and_drops_their_other_rows(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async with sessions() as s, s.begin():
        gone = await new_member(s, rules, now, name="gone")
        other = await new_member(s, rules, now, name="other")
    first, *rest = await _write(sessions, now, ["g1", "g2", "g3"], chat_id=11, member_id=gone.id)
    [by_chat] = await _write(sessions, now, ["g4"], chat_id=11)
    [theirs] = await _write(sessions, now, ["o1"], chat_id=12, member_id=other.id)
    async with sessions() as s, s.begin():
        await outbox.claim(s, 1, now=now)
    async with sessions() as s, s.begin():
        more = await outbox.settle_forbidden(
            s, first, chat_id=11, member_id=gone.id, error="Forbidden: bot was blocked", now=now
        )

    assert more == [None, None, None]
    rows = await _rows(sessions)
    assert rows[first].status == DeliveryStatus.UNREACHABLE
    assert rows[first].last_error == "Forbidden: bot was blocked"
    assert {rows[i].status for i in [*rest, by_chat]} == {DeliveryStatus.UNREACHABLE}
    assert rows[theirs].status == DeliveryStatus.PENDING
    async with sessions() as s:
        assert (await s.get(Member, gone.id)).status == MemberStatus.BLOCKED
        assert (await s.get(Member, other.id)).status == MemberStatus.ACTIVE


async def test_forbidden_leaves_an_erased_member_erased(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async with sessions() as s, s.begin():
        member = await new_member(s, rules, now)
        member.status = MemberStatus.ERASED
    [delivery_id] = await _write(sessions, now, ["e"], chat_id=4, member_id=member.id)
    async with sessions() as s, s.begin():
        await outbox.settle_forbidden(s, delivery_id, chat_id=4, member_id=member.id, now=now)
    async with sessions() as s:
        assert (await s.get(Member, member.id)).status == MemberStatus.ERASED


async def test_release_stale_frees_only_old_claims(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    old, fresh, done = await _write(sessions, now, ["old", "fresh", "done"], chat_id=1)
    async with sessions() as s, s.begin():
        await outbox.claim(s, 1, now=now)
    async with sessions() as s, s.begin():
        await outbox.claim(s, 2, now=now + 90 * S)
        await outbox.settle(s, done, DeliveryStatus.SENT, now=now + 90 * S)

    async with sessions() as s, s.begin():
        assert await outbox.release_stale(s, timedelta(minutes=2), now=now + 119 * S) == 0
    async with sessions() as s, s.begin():
        assert await outbox.release_stale(s, timedelta(minutes=2), now=now + 121 * S) == 1

    rows = await _rows(sessions)
    assert (rows[old].status, rows[old].claimed_at, rows[old].attempts) == (
        DeliveryStatus.PENDING, None, 1,
    )  # fmt: skip
    assert rows[fresh].status == DeliveryStatus.SENDING
    assert rows[done].status == DeliveryStatus.SENT


async def test_next_due_and_counts(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    async with sessions() as s:
        assert await outbox.next_due(s) is None
    async with sessions() as s, s.begin():
        campaign = Campaign(name="c", template="t", segment="all")
        s.add(campaign)
        await s.flush()
        for i in range(3):
            await outbox.enqueue(
                s, chat_id=i, kind="offer", dedupe_key=f"c{i}", text="t",
                campaign_id=campaign.id, not_before=now + i * S, now=now,
            )  # fmt: skip
    async with sessions() as s, s.begin():
        assert await outbox.next_due(s) == now
        [row] = await outbox.claim(s, 1, now=now)
        await outbox.settle(s, row.id, DeliveryStatus.SENT, now=now)
    async with sessions() as s:
        assert await outbox.next_due(s) == now + S
        assert await outbox.counts(s, campaign.id) == {"pending": 2, "sent": 1}


async def test_concurrent_claimers_never_share_a_row(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    """Five claimers in their own transactions until the outbox is empty: every row once."""
    ids = await _write(sessions, now, [f"r{i}" for i in range(120)])

    async def claimer() -> list[int]:
        got: list[int] = []
        while True:
            async with sessions() as s, s.begin():
                rows = await outbox.claim(s, 7, now=now)
            if not rows:
                return got
            got.extend(d.id for d in rows)
            await asyncio.sleep(0)

    taken = await asyncio.gather(*(claimer() for _ in range(5)))

    every = [i for got in taken for i in got]
    assert sorted(every) == sorted(ids)  # all of them, none twice


async def test_a_claim_held_open_is_skipped_not_waited_for(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    """PostgreSQL: while one claimer's transaction is open, another takes the next rows at once
    (SKIP LOCKED). SQLite has one writer at a time, so this cannot happen there."""
    if sessions.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite serializes writers: no two claims can be open at once")
    ids = await _write(sessions, now, [f"r{i}" for i in range(10)])

    async with sessions() as first, first.begin():
        held = [d.id for d in await outbox.claim(first, 4, now=now)]
        async with sessions() as second, second.begin():
            other = [
                d.id for d in await asyncio.wait_for(outbox.claim(second, 10, now=now), timeout=10)
            ]

    assert held == ids[:4]
    assert other == ids[4:]


async def test_a_row_cancelled_in_flight_stays_cancelled_and_is_never_claimed_again(
    sessions: async_sessionmaker[AsyncSession], now: datetime
) -> None:
    in_flight, queued, other = await _write(sessions, now, ["a", "b", "c"], chat_id=7)
    async with sessions() as s, s.begin():
        await outbox.claim(s, 1, now=now)  # "a" is being sent
        await s.execute(update(Delivery).where(Delivery.id == other).values(chat_id=8))
    async with sessions() as s, s.begin():
        assert await outbox.cancel_for_member(s, 999, chat_id=7) == 2
    async with sessions() as s, s.begin():  # the send failed: a retry would have put it back
        await outbox.settle(
            s, in_flight, DeliveryStatus.PENDING, error="timeout", retry_at=now + S, now=now
        )
        await outbox.release_stale(s, timedelta(0), now=now + 10 * S)
        claimed = await outbox.claim(s, 10, now=now + 10 * S)

    assert [d.id for d in claimed] == [other]
    rows = await _rows(sessions)
    assert [(rows[i].status, rows[i].text) for i in (in_flight, queued)] == [
        (DeliveryStatus.CANCELLED, "")
    ] * 2
