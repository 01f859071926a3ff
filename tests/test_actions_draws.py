"""Running a draw through core.actions.draws: winners drawn, the draw audited, and every notice
written to the outbox in the same transaction, once."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import func, select

from core import allocation, audit, purchases, rewards
from core.actions import draws
from core.audit import Actor
from core.club import Club
from core.codes import format_redemption_code
from core.errors import AlreadyDrawn, InvalidInput
from core.models import AuditEntry, Delivery, Member, Redemption, utcnow
from tests.conftest import STAFF_CHAT_ID
from tests.helpers import audit_entries, new_member

OWNER = Actor(502, "Owner")


def render(key: str, member: Member | None, /, **values: Any) -> str:
    """Stands in for the face's templates: says which template, for whom, and the code."""
    whom = "staff" if member is None else str(member.id)
    return f"{key}|{whom}|{values.get('code', '')}"


async def _lottery(club: Club, entrants: int, *, stock: int = 2) -> tuple[int, list[int]]:
    """A lottery with ``entrants`` members in it; its id and theirs."""
    now = utcnow()
    async with club.sessions() as s, s.begin():
        reward = await rewards.create(
            s, club.rules, title="Hotel night", cost=1, stock=stock, allocation="lottery"
        )
        ids = []
        for n in range(entrants):
            member = await new_member(s, club.rules, now, name=f"M{n}")
            await allocation.enter_lottery(s, club.rules, member.id, reward.id, now)
            ids.append(member.id)
    return reward.id, ids


async def _rows(club: Club) -> list[Delivery]:
    async with club.sessions() as s:
        return list(await s.scalars(select(Delivery).order_by(Delivery.id)))


async def test_a_draw_tells_the_staff_the_winners_and_the_rest_through_the_outbox(
    club: Club,
) -> None:
    reward_id, entrants = await _lottery(club, 4)

    drawn = await draws.run_draw(club, OWNER, reward_id, seed="seed-42", render=render)

    winners = drawn.draw.winners["ids"]
    assert [m.id for m in drawn.winners] == winners and len(winners) == 2
    async with club.sessions() as s:
        codes = {r.member_id: r.code for r in await s.scalars(select(Redemption))}
        chats = {m.id: m.telegram_id for m in await s.scalars(select(Member))}
    rows = await _rows(club)
    assert drawn.notices == len(rows) == 5
    staff, *told = rows
    assert (staff.chat_id, staff.member_id, staff.text) == (
        STAFF_CHAT_ID,
        None,
        "staff/drawn|staff|",
    )
    assert staff.dedupe_key == f"draw:{drawn.draw.id}:staff"
    assert {r.member_id for r in told} == set(entrants)
    for row in told:
        assert row.chat_id == chats[row.member_id] and row.kind == draws.KIND
        if row.member_id in winners:
            code = format_redemption_code(codes[row.member_id])
            assert row.text == f"notify/won|{row.member_id}|{code}"
            assert row.dedupe_key == f"draw:{drawn.draw.id}:won:{row.member_id}"
        else:
            assert row.text == f"notify/not_won|{row.member_id}|"
    [entry] = await audit_entries(club, "draw")
    assert (entry.actor_id, entry.actor_name) == (502, "Owner")
    assert entry.after == {"reward_id": reward_id, "seed": "seed-42", "winners": winners}
    assert drawn.draw.actor_id == 502 and allocation.rerun(drawn.draw) == winners


async def test_drawing_again_is_refused_and_writes_nothing_twice(club: Club) -> None:
    reward_id, _ = await _lottery(club, 3)
    first = await draws.run_draw(club, OWNER, reward_id, seed="one", render=render)

    for actor in (OWNER, audit.SYSTEM):
        with pytest.raises(AlreadyDrawn):
            await draws.run_draw(club, actor, reward_id, seed="two", render=render)

    assert len(await _rows(club)) == first.notices == 4
    assert len(await audit_entries(club, "draw")) == 1


async def test_the_sweep_draws_as_the_system(club: Club) -> None:
    reward_id, _ = await _lottery(club, 1, stock=1)
    drawn = await draws.run_draw(club, audit.SYSTEM, reward_id, seed=None, render=render)

    assert drawn.draw.actor_id is None and len(drawn.draw.seed) == 32
    [entry] = await audit_entries(club, "draw")
    assert (entry.actor_id, entry.actor_name) == (0, None)
    assert [r.text.split("|")[0] for r in await _rows(club)] == ["staff/drawn", "notify/won"]


async def test_members_without_a_chat_keep_their_prize_but_get_no_row(club: Club) -> None:
    reward_id, entrants = await _lottery(club, 4, stock=2)
    async with club.sessions() as s, s.begin():
        for member in await s.scalars(select(Member).where(Member.id.in_(entrants))):
            member.telegram_id = None  # registered at the till, never claimed in Telegram
    drawn = await draws.run_draw(club, OWNER, reward_id, seed="s", render=render)

    assert len(drawn.winners) == 2 and drawn.notices == 1
    [staff] = await _rows(club)
    assert staff.chat_id == STAFF_CHAT_ID
    async with club.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Redemption)) == 2


async def test_without_a_staff_group_only_members_are_told(club: Club) -> None:
    reward_id, entrants = await _lottery(club, 2, stock=1)
    alone = replace(club, settings=club.settings.model_copy(update={"staff_chat_id": None}))
    drawn = await draws.run_draw(alone, OWNER, reward_id, seed="s", render=render)
    assert {r.member_id for r in await _rows(club)} == set(entrants) and drawn.notices == 2


async def test_top_spenders_are_told_and_nobody_else(club: Club) -> None:
    async with club.sessions() as s, s.begin():
        ids = [(await new_member(s, club.rules, utcnow(), name=f"S{n}")).id for n in range(3)]
        for member_id, amount in zip(ids, (100_000, 900_000, 500_000), strict=True):
            await purchases.record(s, club.rules, member_id, amount)
        reward = await rewards.create(
            s, club.rules, title="VIP dinner", cost=1, stock=2, allocation="top_spenders"
        )
    drawn = await draws.run_draw(club, OWNER, reward.id, seed=None, render=render)

    assert [m.id for m in drawn.winners] == [ids[1], ids[2]]
    texts = [r.text.split("|")[0] for r in await _rows(club)]
    assert texts == ["staff/drawn", "notify/won", "notify/won"]


async def test_a_reward_that_is_not_drawn_writes_nothing(club: Club) -> None:
    async with club.sessions() as s, s.begin():
        reward = await rewards.create(s, club.rules, title="Tea", cost=1, stock=3)
    with pytest.raises(InvalidInput):
        await draws.run_draw(club, OWNER, reward.id, seed=None, render=render)
    async with club.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Delivery)) == 0
        assert await s.scalar(select(func.count()).select_from(AuditEntry)) == 0
