"""Branches over the HTTP API (httpx through the ASGI app), on both engines: a key sells in its
branch, a reference is its branch's own, points earned through one branch's till are spent at
another's, and ``GET /purchases`` reads one branch or (a key of main) every branch."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import select

from core import api_keys, branches, rewards
from core.actions import redemptions
from core.audit import Actor
from core.club import Club
from core.models import Branch, Member, Redemption, utcnow
from tests.helpers import audit_entries, new_member, reload_member
from tests.test_branches import purchases_by_branch
from web.app import API_PREFIX, create_app
from web.problems import MEDIA_TYPE


@asynccontextmanager
async def till(club: Club, name: str, branch: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding a new key of ``branch``; every POST carries a fresh Idempotency-Key."""
    made = await api_keys.create(club, name, branch=branch)
    transport = httpx.ASGITransport(app=create_app(club))
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://till{API_PREFIX}",
        headers={"Authorization": f"Bearer {made.secret}"},
    ) as http:  # fmt: skip
        yield http


async def sell(http: httpx.AsyncClient, member: Member, amount: int, reference: str) -> dict:
    answer = await http.post(
        "/purchases",
        json={"member": str(member.id), "amount": amount, "reference": reference},
        headers={"Idempotency-Key": f"sell-{reference}-{amount}"},
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def a_member(club: Club) -> Member:
    async with club.sessions() as s, s.begin():
        return await new_member(s, club.rules, utcnow())


@pytest.fixture
async def club_with_north(club: Club) -> Club:
    await branches.add(club, "north", "North")
    return club


async def test_a_key_of_a_branch_records_its_purchases_and_refunds_there(
    club_with_north: Club,
) -> None:
    club = club_with_north
    member = await a_member(club)
    async with till(club, "till-main", "main") as main, till(club, "till-n", "north") as north:
        await sell(main, member, 100_000, "INV-1")
        await sell(north, member, 200_000, "INV-1")  # another till's receipt 1: not a retry
        refunded = await north.post("/purchases/INV-1/refund", headers={"Idempotency-Key": "r"})

    assert refunded.status_code == 200, refunded.text
    assert refunded.json()["reversed"] == 200
    assert await purchases_by_branch(club) == [
        ("main", "INV-1", 100_000),
        ("north", "INV-1", 200_000),
    ]
    assert (await reload_member(club.sessions, member.id)).balance == 100
    [first, second] = await audit_entries(club, "purchase")
    assert (first.actor_name, first.after["branch"]) == ("api:till-main", "main")
    assert (second.actor_name, second.after["branch"]) == ("api:till-n", "north")
    [refund] = await audit_entries(club, "refund")
    assert refund.after["branch"] == "north"


async def test_a_refund_through_a_key_finds_only_its_own_branchs_purchase(
    club_with_north: Club,
) -> None:
    club = club_with_north
    member = await a_member(club)
    async with till(club, "till-main", "main") as main, till(club, "till-n", "north") as north:
        await sell(main, member, 100_000, "ONLY-MAIN")
        missing = await north.post("/purchases/ONLY-MAIN/refund", headers={"Idempotency-Key": "r"})

    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith(MEDIA_TYPE)
    assert missing.json()["code"] == "purchase_not_found"
    assert (await reload_member(club.sessions, member.id)).balance == 100


async def test_points_earned_at_main_are_handed_over_at_a_branch(club_with_north: Club) -> None:
    club = club_with_north
    member = await a_member(club)
    async with club.sessions() as s, s.begin():
        reward_id = (await rewards.create(s, club.rules, title="Tea", cost=150, stock=2)).id
    async with till(club, "till-main", "main") as main, till(club, "till-n", "north") as north:
        await sell(main, member, 200_000, "INV-1")
        redeemed = await redemptions.redeem(
            club, Actor(member.telegram_id, member.name), reward_id, key="tg:1:1:1"
        )
        code = redeemed.redemption.code
        handed = await north.post(
            f"/redemptions/{code}/confirm", headers={"Idempotency-Key": "hand"}
        )

    assert handed.status_code == 200, handed.text
    async with club.sessions() as s:
        stored = (await s.scalars(select(Redemption))).one()
        north_id = await s.scalar(select(Branch.id).where(Branch.code == "north"))
    assert stored.branch_id == north_id
    assert (await reload_member(club.sessions, member.id)).balance == 50


async def test_the_purchase_list_of_one_branch_or_of_every_branch(club_with_north: Club) -> None:
    club = club_with_north
    member = await a_member(club)
    async with till(club, "till-main", "main") as main, till(club, "till-n", "north") as north:
        await sell(main, member, 100_000, "INV-1")
        await sell(north, member, 200_000, "INV-1")
        await sell(north, member, 300_000, "INV-2")

        every = (await main.get("/purchases")).json()
        of_north = (await main.get("/purchases", params={"branch": "north"})).json()
        own = (await north.get("/purchases")).json()
        first = (await north.get("/purchases", params={"limit": 1})).json()
        rest = (await north.get("/purchases", params={"after": first["next_after"]})).json()
        named_own = await north.get("/purchases", params={"branch": "north"})

    assert [(i["branch"], i["reference"], i["amount"]) for i in every["items"]] == [
        ("main", "INV-1", 100_000), ("north", "INV-1", 200_000), ("north", "INV-2", 300_000),
    ]  # fmt: skip
    assert every["next_after"] is None
    item = every["items"][0]
    assert (item["member"], item["points"], item["status"]) == (member.id, 100, "completed")
    assert item["created_at"]
    assert [i["reference"] for i in of_north["items"]] == ["INV-1", "INV-2"]
    assert own == of_north == named_own.json()
    assert [i["reference"] for i in first["items"]] == ["INV-1"]
    assert [i["reference"] for i in rest["items"]] == ["INV-2"] and rest["next_after"] is None


async def test_a_branch_key_may_not_read_another_branch(club_with_north: Club) -> None:
    club = club_with_north
    async with till(club, "till-n", "north") as north, till(club, "till-main", "main") as main:
        other = await north.get("/purchases", params={"branch": "main"})
        unknown = await main.get("/purchases", params={"branch": "south"})
        malformed = await main.get("/purchases", params={"limit": 0})

    assert other.status_code == 403
    assert other.headers["content-type"].startswith(MEDIA_TYPE)
    assert other.json()["code"] == "branch_forbidden"
    assert other.json()["detail"]
    assert unknown.status_code == 404 and unknown.json()["code"] == "branch_not_found"
    assert "south" in unknown.json()["detail"]
    assert malformed.status_code == 422
