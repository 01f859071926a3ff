"""Tests for core.allocation: lottery entries, reproducible draws, top spenders, gift codes."""

from __future__ import annotations

import asyncio
import json
import random
from collections import Counter
from datetime import datetime, timedelta
from itertools import accumulate, count
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import allocation, ledger, members, purchases, redemptions, rewards
from core.codes import ALPHABET
from core.db import transaction
from core.errors import (
    AlreadyDrawn,
    InvalidInput,
    MemberInactive,
    MemberNotFound,
    RewardNotFound,
    RewardUnavailable,
)
from core.models import (
    Draw,
    EntryKind,
    LedgerEntry,
    LotteryEntry,
    Member,
    MemberStatus,
    Redemption,
    RedemptionStatus,
    Reward,
)
from core.rules import Rules
from tests.helpers import new_member

SECOND = timedelta(seconds=1)
DAY = timedelta(days=1)
_refs = count(1)


# --- helpers --------------------------------------------------------------------------------


async def member(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    *,
    tier: str | None = None,
    status: MemberStatus = MemberStatus.ACTIVE,
    name: str = "Sara",
) -> Member:
    person = await new_member(session, rules, now - 200 * DAY, name=name)
    if tier is not None:
        person.tier = tier
    person.status = status
    await session.flush()
    return person


async def lottery(
    session: AsyncSession, rules: Rules, now: datetime, *, stock: int | None = 3, **fields: Any
) -> Reward:
    values: dict[str, Any] = {"ends_at": now + 7 * DAY, "allocation": "lottery", **fields}
    return await rewards.create(session, rules, title="Hotel room", cost=1, stock=stock, **values)


async def top_spenders(
    session: AsyncSession, rules: Rules, *, stock: int | None = 3, **fields: Any
) -> Reward:
    return await rewards.create(
        session, rules, title="Spa day", cost=1, stock=stock, allocation="top_spenders", **fields
    )


async def entrants_of(session: AsyncSession, rules: Rules, now: datetime, reward: Reward, n: int):
    people = [await member(session, rules, now, name=f"E{i}") for i in range(n)]
    for person in people:
        await allocation.enter_lottery(session, rules, person.id, reward.id, now)
    return people


async def buy(
    session: AsyncSession, rules: Rules, member_id: int, amount: int, at: datetime
) -> str:
    reference = f"r-{next(_refs)}"
    await purchases.record(session, rules, member_id, amount, reference=reference, now=at)
    return reference


async def entry_count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(LotteryEntry))


async def gifts(session: AsyncSession, reward_id: int) -> list[Redemption]:
    rows = await session.scalars(
        select(Redemption).where(Redemption.reward_id == reward_id).order_by(Redemption.id)
    )
    return list(rows)


async def ledger_rows(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(LedgerEntry))


def naive_sample(seed: str, weights: list[int], k: int) -> list[int]:
    """The documented rule, written the slow obvious way: a reference for the Fenwick version."""
    rng = random.Random(seed)
    pool = list(range(len(weights)))
    picks: list[int] = []
    while len(picks) < k and sum(weights[i] for i in pool) > 0:
        r = rng.randrange(sum(weights[i] for i in pool))
        for position, running in enumerate(accumulate(weights[i] for i in pool)):
            if running > r:
                picks.append(pool.pop(position))
                break
    return picks


# --- entering -------------------------------------------------------------------------------


async def test_entering_twice_gives_one_ticket(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    person = await member(session, rules, now)
    prize = await lottery(session, rules, now)
    first = await allocation.enter_lottery(session, rules, person.id, prize.id, now)
    again = await allocation.enter_lottery(session, rules, person.id, prize.id, now + SECOND)
    assert again.id == first.id
    assert (first.member_id, first.reward_id, first.created_at) == (person.id, prize.id, now)
    assert await entry_count(session) == 1
    assert await allocation.has_entered(session, person.id, prize.id)
    assert await allocation.entrant_count(session, prize.id) == 1


async def test_a_concurrent_duplicate_entry_returns_the_winners_ticket(
    session: AsyncSession, rules: Rules, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The unique constraint is the last word: the pre-check missing a ticket is survived."""
    person = await member(session, rules, now)
    prize = await lottery(session, rules, now)
    first = await allocation.enter_lottery(session, rules, person.id, prize.id, now)
    real_entry = allocation._entry
    calls = Counter[str]()

    async def miss_once(session: AsyncSession, reward_id: int, member_id: int):
        calls["entry"] += 1
        return None if calls["entry"] == 1 else await real_entry(session, reward_id, member_id)

    monkeypatch.setattr(allocation, "_entry", miss_once)
    again = await allocation.enter_lottery(session, rules, person.id, prize.id, now)
    assert again.id == first.id
    assert calls["entry"] == 2
    assert await entry_count(session) == 1


REFUSALS = [
    # (case, member fields, reward fields, error, reason)
    ("blocked member", {"status": MemberStatus.BLOCKED}, {}, MemberInactive, None),
    ("left member", {"status": MemberStatus.LEFT}, {}, MemberInactive, None),
    ("erased member", {"status": MemberStatus.ERASED}, {}, MemberInactive, None),
    ("first come", {}, {"allocation": "first_come"}, InvalidInput, "not_lottery"),
    ("top spenders", {}, {"allocation": "top_spenders"}, InvalidInput, "not_lottery"),
    ("inactive", {}, {"active": False}, RewardUnavailable, None),
    ("not started", {}, {"starts_at_in": DAY}, RewardUnavailable, None),
    ("at the deadline", {}, {"ends_at_in": timedelta(0)}, RewardUnavailable, None),
    ("after the deadline", {}, {"ends_at_in": -SECOND}, RewardUnavailable, None),
    ("tier too low", {"tier": "silver"}, {"min_tier": "gold"}, RewardUnavailable, None),
]


@pytest.mark.parametrize(
    ("member_fields", "reward_fields", "error", "reason"),
    [case[1:] for case in REFUSALS],
    ids=[case[0] for case in REFUSALS],
)
async def test_entry_refusals_write_nothing(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    member_fields: dict[str, Any],
    reward_fields: dict[str, Any],
    error: type[Exception],
    reason: str | None,
) -> None:
    person = await member(session, rules, now, **member_fields)
    fields = dict(reward_fields)
    if "starts_at_in" in fields:
        fields["starts_at"] = now + fields.pop("starts_at_in")
    if "ends_at_in" in fields:
        fields["ends_at"] = now + fields.pop("ends_at_in")
    prize = await lottery(session, rules, now, **fields)
    with pytest.raises(error) as caught:
        await allocation.enter_lottery(session, rules, person.id, prize.id, now)
    if reason is not None:
        assert caught.value.reason == reason
    assert await entry_count(session) == 0


@pytest.mark.parametrize(
    ("tier", "allowed"), [("silver", False), ("gold", True), ("platinum", True)]
)
async def test_entry_respects_the_minimum_tier(
    session: AsyncSession, rules: Rules, now: datetime, tier: str, allowed: bool
) -> None:
    person = await member(session, rules, now, tier=tier)
    prize = await lottery(session, rules, now, min_tier="gold")
    if allowed:
        await allocation.enter_lottery(session, rules, person.id, prize.id, now)
    else:
        with pytest.raises(RewardUnavailable):
            await allocation.enter_lottery(session, rules, person.id, prize.id, now)
    assert await entry_count(session) == int(allowed)


async def test_unknown_member_or_reward(session: AsyncSession, rules: Rules, now: datetime) -> None:
    person = await member(session, rules, now)
    prize = await lottery(session, rules, now)
    with pytest.raises(MemberNotFound):
        await allocation.enter_lottery(session, rules, 999_999, prize.id, now)
    with pytest.raises(RewardNotFound):
        await allocation.enter_lottery(session, rules, person.id, 999_999, now)
    with pytest.raises(RewardNotFound):
        await allocation.draw(session, rules, 999_999, seed="s", now=now)
    assert await entry_count(session) == 0


async def test_no_entries_after_the_draw(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    early, late = await member(session, rules, now), await member(session, rules, now)
    prize = await lottery(session, rules, now)
    await allocation.enter_lottery(session, rules, early.id, prize.id, now)
    await allocation.draw(session, rules, prize.id, seed="s", now=now)
    with pytest.raises(AlreadyDrawn):
        await allocation.enter_lottery(session, rules, late.id, prize.id, now)
    assert await entry_count(session) == 1


async def test_many_members_enter_at_once(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async with transaction(sessions) as session:
        people = [await member(session, rules, now, name=f"P{i}") for i in range(8)]
        prize = await lottery(session, rules, now)

    async def enter(member_id: int) -> int:
        async with transaction(sessions) as session:
            entry = await allocation.enter_lottery(session, rules, member_id, prize.id, now)
            return entry.id

    # Every member twice, all at once: one ticket each.
    ids = await asyncio.gather(*(enter(p.id) for p in people + people))
    assert ids[: len(people)] == ids[len(people) :]
    async with transaction(sessions) as session:
        assert await entry_count(session) == len(people)


# --- the lottery draw -----------------------------------------------------------------------


async def test_a_seeded_draw_reruns_to_the_same_winners(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    prize = await lottery(session, rules, now, stock=3)
    people = await entrants_of(session, rules, now, prize, 10)
    record = await allocation.draw(session, rules, prize.id, seed="club-2026", actor_id=77, now=now)

    ids = sorted(p.id for p in people)
    assert (record.policy, record.seed, record.actor_id) == ("lottery", "club-2026", 77)
    assert record.entrants == {"ids": ids, "weights": [1] * 10}
    assert len(record.winners["ids"]) == len(set(record.winners["ids"])) == 3
    assert set(record.winners["ids"]) <= set(ids)
    assert record.winners["prizes"] == 3
    assert allocation.rerun(record) == record.winners["ids"]
    # Anyone holding only the published record (as JSON) gets the same answer.
    published = json.loads(
        json.dumps(
            {
                "policy": record.policy,
                "seed": record.seed,
                "e": record.entrants,
                "w": record.winners,
            }
        )
    )
    copy = Draw(
        policy=published["policy"],
        seed=published["seed"],
        entrants=published["e"],
        winners=published["w"],
    )
    assert allocation.rerun(copy) == record.winners["ids"]
    # ... and the documented rule, written the slow way, agrees.
    picks = naive_sample("club-2026", [1] * 10, 3)
    assert [ids[i] for i in picks] == record.winners["ids"]
    stored = await session.scalar(select(Draw).where(Draw.reward_id == prize.id))
    assert stored is not None and stored.winners == record.winners


async def test_the_same_seed_gives_the_same_winners_and_another_seed_may_not(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    first = await lottery(session, rules, now, stock=2)
    second = await lottery(session, rules, now, stock=2)
    people = [await member(session, rules, now, name=f"E{i}") for i in range(12)]
    for person in people:
        for prize in (first, second):
            await allocation.enter_lottery(session, rules, person.id, prize.id, now)
    one = await allocation.draw(session, rules, first.id, seed="same", now=now)
    two = await allocation.draw(session, rules, second.id, seed="same", now=now)
    assert one.winners["ids"] == two.winners["ids"]
    outcomes = {tuple(allocation.weighted_sample(f"seed-{n}", [1] * 12, 2)) for n in range(50)}
    assert len(outcomes) > 20  # the seed really matters


async def test_a_draw_without_a_seed_records_a_random_one(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    prize = await lottery(session, rules, now, stock=1)
    await entrants_of(session, rules, now, prize, 4)
    record = await allocation.draw(session, rules, prize.id, now=now)
    assert len(record.seed) == 32 and int(record.seed, 16) >= 0
    assert allocation.rerun(record) == record.winners["ids"]


@pytest.mark.parametrize("seed", ["", "-", "x" * 65, "tab\there"])
async def test_a_bad_seed_is_refused(
    session: AsyncSession, rules: Rules, now: datetime, seed: str
) -> None:
    prize = await lottery(session, rules, now, stock=1)
    await entrants_of(session, rules, now, prize, 2)
    with pytest.raises(InvalidInput) as caught:
        await allocation.draw(session, rules, prize.id, seed=seed, now=now)
    assert caught.value.reason == "bad_seed"
    assert await session.scalar(select(func.count()).select_from(Draw)) == 0


@pytest.mark.parametrize(
    ("weighted", "weights"), [(False, [1, 1, 1, 1]), (True, [1, 2, 3, 4])], ids=["flat", "tiers"]
)
async def test_weights_follow_the_tier_only_when_asked(
    session: AsyncSession, rules: Rules, now: datetime, weighted: bool, weights: list[int]
) -> None:
    prize = await lottery(session, rules, now, stock=1, weighted_draw=weighted)
    # Join in reverse ladder order, so the record's ascending ids are not the tier order by luck.
    people = {}
    for tier in ("platinum", "gold", "silver", "bronze"):
        people[tier] = await member(session, rules, now, tier=tier)
        await allocation.enter_lottery(session, rules, people[tier].id, prize.id, now)
    record = await allocation.draw(session, rules, prize.id, seed="w", now=now)
    by_id = dict(zip(record.entrants["ids"], record.entrants["weights"], strict=True))
    assert [by_id[people[t].id] for t in ("bronze", "silver", "gold", "platinum")] == weights
    assert record.entrants["ids"] == sorted(by_id)


async def test_a_weighted_draw_favours_higher_tiers(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    prize = await lottery(session, rules, now, stock=1, weighted_draw=True)
    bronze = await member(session, rules, now, tier="bronze")
    platinum = await member(session, rules, now, tier="platinum")
    for person in (bronze, platinum):
        await allocation.enter_lottery(session, rules, person.id, prize.id, now)
    record = await allocation.draw(session, rules, prize.id, seed="seed-0", now=now)
    assert record.entrants["weights"] == [1, 4]

    # The same entrants over 400 fixed seeds: platinum holds 4 of 5 tickets, so wins ~320 times.
    wins = Counter(
        allocation.rerun(
            Draw(
                policy="lottery", seed=f"seed-{n}", entrants=record.entrants, winners={"prizes": 1}
            )
        )[0]
        for n in range(400)
    )
    assert wins[platinum.id] + wins[bronze.id] == 400
    assert 280 <= wins[platinum.id] <= 360  # 320 +- 5 standard deviations
    flat = Counter(allocation.weighted_sample(f"seed-{n}", [1, 1], 1)[0] for n in range(400))
    assert 160 <= flat[1] <= 240  # without weights, a fair coin


@pytest.mark.parametrize("trial", range(30))
def test_the_fast_sampler_matches_the_documented_rule(trial: int) -> None:
    rng = random.Random(trial)
    weights = [rng.randint(0, 5) for _ in range(rng.randint(0, 40))]
    k = rng.randint(0, len(weights) + 2)
    picks = allocation.weighted_sample(f"t{trial}", weights, k)
    assert picks == naive_sample(f"t{trial}", weights, k)
    assert len(picks) == len(set(picks)) == min(k, sum(1 for w in weights if w > 0))
    assert all(weights[i] > 0 for i in picks)


def test_the_sampler_is_pinned() -> None:
    """Published draws must stay verifiable: if this changes, old records no longer rerun."""
    assert allocation.weighted_sample("bashgah", [1, 2, 3, 4, 5, 6], 6) == PINNED


PINNED = [5, 4, 1, 2, 3, 0]


@pytest.mark.parametrize(("entrants", "stock", "winners"), [(2, 5, 2), (0, 3, 0), (4, 0, 0)])
async def test_fewer_entrants_than_prizes(
    session: AsyncSession, rules: Rules, now: datetime, entrants: int, stock: int, winners: int
) -> None:
    prize = await lottery(session, rules, now, stock=stock)
    people = await entrants_of(session, rules, now, prize, entrants)
    record = await allocation.draw(session, rules, prize.id, seed="few", now=now)
    assert len(record.winners["ids"]) == winners
    if winners == entrants:
        assert sorted(record.winners["ids"]) == sorted(p.id for p in people)
    assert len(await gifts(session, prize.id)) == winners
    await session.refresh(prize)
    assert (prize.stock, prize.active) == (0, False)


async def test_members_no_longer_active_are_left_out_of_the_draw(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    prize = await lottery(session, rules, now, stock=5)
    people = await entrants_of(session, rules, now, prize, 4)
    people[1].status = MemberStatus.BLOCKED
    await members.anonymize(session, people[2].id)
    record = await allocation.draw(session, rules, prize.id, seed="s", now=now)
    assert record.entrants["ids"] == sorted([people[0].id, people[3].id])
    assert sorted(record.winners["ids"]) == sorted([people[0].id, people[3].id])


async def test_winners_get_free_reserved_codes_and_no_ledger_movement(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    prize = await lottery(session, rules, now, stock=2)
    people = await entrants_of(session, rules, now, prize, 5)
    await ledger.credit(
        session, people[0].id, 40, EntryKind.BONUS, "gift", expires_at=now + 300 * DAY, now=now
    )
    entries_before = await ledger_rows(session)
    balances_before = {p.id: p.balance for p in people}

    record = await allocation.draw(session, rules, prize.id, seed="codes", now=now)

    won = await gifts(session, prize.id)
    assert [g.member_id for g in won] == record.winners["ids"]
    for gift in won:
        assert (gift.points, gift.entry_id, gift.status) == (0, None, RedemptionStatus.RESERVED)
        assert gift.request_key == f"draw:{record.id}:{gift.member_id}"
        assert len(gift.code) == 8 and set(gift.code) <= set(ALPHABET)
        assert (gift.created_at, gift.expires_at) == (now, now + 14 * DAY)
    assert len({g.code for g in won}) == 2
    assert await ledger_rows(session) == entries_before
    for person in people:
        await session.refresh(person)
        assert person.balance == balances_before[person.id]

    # Staff hand the prize over with the code like any other; cancelling one moves no points.
    confirmed = await redemptions.confirm(session, won[0].code, actor_id=5, now=now + DAY)
    assert confirmed.status == RedemptionStatus.CONFIRMED
    cancelled = await redemptions.cancel(session, won[1].id, now=now + DAY)
    assert cancelled.status == RedemptionStatus.CANCELLED
    assert await ledger_rows(session) == entries_before


async def test_drawing_twice_is_refused(session: AsyncSession, rules: Rules, now: datetime) -> None:
    prize = await lottery(session, rules, now, stock=1)
    await entrants_of(session, rules, now, prize, 3)
    first = await allocation.draw(session, rules, prize.id, seed="one", now=now)
    with pytest.raises(AlreadyDrawn) as caught:
        await allocation.draw(session, rules, prize.id, seed="two", now=now)
    assert caught.value.code == "already_drawn"
    assert await session.scalar(select(func.count()).select_from(Draw)) == 1
    assert len(await gifts(session, prize.id)) == 1
    assert await allocation.get_draw(session, prize.id) is first


async def test_racing_draws_make_one_draw(
    sessions: async_sessionmaker[AsyncSession], rules: Rules, now: datetime
) -> None:
    async with transaction(sessions) as session:
        prize = await lottery(session, rules, now, stock=2)
        await entrants_of(session, rules, now, prize, 5)

    async def attempt(seed: str) -> str:
        try:
            async with transaction(sessions) as session:
                await allocation.draw(session, rules, prize.id, seed=seed, now=now)
        except AlreadyDrawn:
            return "refused"
        return "drawn"

    outcomes = await asyncio.gather(*(attempt(f"s{i}") for i in range(4)))
    assert sorted(outcomes) == ["drawn", "refused", "refused", "refused"]
    async with transaction(sessions) as session:
        assert await session.scalar(select(func.count()).select_from(Draw)) == 1
        assert len(await gifts(session, prize.id)) == 2


@pytest.mark.parametrize(
    ("fields", "reason"),
    [({"allocation": "first_come"}, "not_allocated"), ({"stock": None}, "unlimited_stock")],
)
async def test_draw_refusals(
    session: AsyncSession, rules: Rules, now: datetime, fields: dict[str, Any], reason: str
) -> None:
    prize = await rewards.create(
        session, rules, title="Room", cost=1, stock=3, allocation="lottery"
    )
    for name, value in fields.items():  # past the catalogue's own checks, as old data could be
        setattr(prize, name, value)
    with pytest.raises(InvalidInput) as caught:
        await allocation.draw(session, rules, prize.id, seed="s", now=now)
    assert caught.value.reason == reason
    assert await session.scalar(select(func.count()).select_from(Draw)) == 0
    await session.refresh(prize)
    assert prize.active


async def test_losers_are_the_active_entrants_who_did_not_win(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    prize = await lottery(session, rules, now, stock=2)
    people = await entrants_of(session, rules, now, prize, 6)
    record = await allocation.draw(session, rules, prize.id, seed="lose", now=now)
    everyone = sorted(p.id for p in people)
    lost = await allocation.losers(session, record)
    assert lost == sorted(set(everyone) - set(record.winners["ids"]))
    people_by_id = {p.id: p for p in people}
    people_by_id[lost[0]].status = MemberStatus.BLOCKED  # blocked the bot: cannot be told
    await session.flush()
    assert await allocation.losers(session, record) == lost[1:]


async def test_due_lotteries(session: AsyncSession, rules: Rules, now: datetime) -> None:
    due_now = await lottery(session, rules, now, ends_at=now)
    overdue = await lottery(session, rules, now, ends_at=now - DAY)
    await lottery(session, rules, now, ends_at=now + SECOND)  # still open
    await lottery(session, rules, now, ends_at=None)  # drawn by hand only
    await lottery(session, rules, now, ends_at=now - DAY, active=False)  # withdrawn
    await rewards.create(
        session, rules, title="Coffee", cost=1, stock=3, ends_at=now - DAY
    )  # first come
    await top_spenders(session, rules, ends_at=now - DAY)
    drawn = await lottery(session, rules, now, ends_at=now - 2 * DAY)
    await allocation.draw(session, rules, drawn.id, seed="s", now=now)

    due = await allocation.due_lotteries(session, now)
    assert [r.id for r in due] == [overdue.id, due_now.id]
    for reward in due:
        await allocation.draw(session, rules, reward.id, now=now)
    assert await allocation.due_lotteries(session, now) == []


# --- top spenders ---------------------------------------------------------------------------

# Each purchase: (member label, amount, when, refunded). "when" is days before the draw; the
# window is 30 days unless a case says otherwise.
W = 30
TOP_SPENDER_CASES = [
    (
        "sum of purchases",
        1,
        None,
        [("a", 300, 2, False), ("a", 300, 3, False), ("b", 500, 1, False)],
        "a",
    ),
    (
        "purchase at the cutoff is out",
        1,
        None,
        [("a", 1000, W, False), ("b", 10, W - 1e-5, False)],
        "b",
    ),
    (
        "purchase just inside counts",
        1,
        None,
        [("a", 1000, W - 1e-5, False), ("b", 10, 1, False)],
        "a",
    ),
    ("purchase after now is out", 1, None, [("a", 1000, -1e-5, False), ("b", 10, 1, False)], "b"),
    ("refunded purchase is out", 1, None, [("a", 1000, 1, True), ("b", 10, 1, False)], "b"),
    ("tie: earlier first purchase", 2, None, [("a", 500, 5, False), ("b", 500, 10, False)], "ba"),
    ("tie: then member number", 2, None, [("a", 500, 5, False), ("b", 500, 5, False)], "ab"),
    ("default window 90 days", 1, "default", [("a", 1000, 90, False), ("b", 10, 89, False)], "b"),
    ("own window", 1, 7, [("a", 1000, 8, False), ("b", 10, 6, False)], "b"),
    ("fewer spenders than prizes", 5, None, [("a", 10, 1, False), ("b", 20, 1, False)], "ba"),
    ("nobody spent", 3, None, [], ""),
]


@pytest.mark.parametrize(
    ("stock", "window", "bought", "expected"),
    [case[1:] for case in TOP_SPENDER_CASES],
    ids=[case[0] for case in TOP_SPENDER_CASES],
)
async def test_top_spenders(
    session: AsyncSession,
    rules: Rules,
    now: datetime,
    stock: int,
    window: int | str | None,
    bought: list[tuple[str, int, float, bool]],
    expected: str,
) -> None:
    people = {label: await member(session, rules, now, name=label) for label in "ab"}
    for label, amount, days_ago, refunded in bought:
        reference = await buy(
            session, rules, people[label].id, amount * 1000, now - timedelta(days=days_ago)
        )
        if refunded:
            await purchases.refund(session, reference, now=now)
    days = None if window == "default" else (window or W)
    prize = await top_spenders(session, rules, stock=stock, spend_window_days=days)

    record = await allocation.draw(session, rules, prize.id, seed="ignored", now=now)

    assert record.winners["ids"] == [people[label].id for label in expected]
    assert record.seed == "-"
    assert allocation.rerun(record) == record.winners["ids"]
    won = await gifts(session, prize.id)
    assert [g.member_id for g in won] == record.winners["ids"]
    assert all(g.points == 0 and g.entry_id is None for g in won)
    assert await allocation.losers(session, record) == []


async def test_top_spenders_are_active_members_of_the_reward_tier(
    session: AsyncSession, rules: Rules, now: datetime
) -> None:
    big = await member(session, rules, now, name="big")
    gone = await member(session, rules, now, name="gone")
    low = await member(session, rules, now, name="low")
    gold = await member(session, rules, now, name="gold")
    for person, amount in ((big, 9_000), (gone, 8_000), (low, 7_000), (gold, 10)):
        await buy(session, rules, person.id, amount * 1000, now - DAY)
    gone.status = MemberStatus.LEFT
    big.tier, low.tier, gold.tier = "gold", "silver", "gold"  # the purchases moved them up
    await session.flush()
    prize = await top_spenders(session, rules, stock=2, min_tier="gold")
    record = await allocation.draw(session, rules, prize.id, now=now)
    assert record.winners["ids"] == [big.id, gold.id]
    assert record.entrants["ids"] == sorted([big.id, gold.id])
    assert record.entrants["weights"] == [9_000_000, 10_000]


async def test_rerun_rejects_a_tampered_record() -> None:
    record = Draw(policy="lottery", seed="s", entrants={"ids": [1, 2], "weights": [1]}, winners={})
    with pytest.raises(ValueError, match="differ"):
        allocation.rerun(record)
    with pytest.raises(InvalidInput):
        allocation.rerun(Draw(policy="first_come", seed="-", entrants={}, winners={}))
