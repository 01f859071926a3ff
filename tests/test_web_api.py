"""The HTTP API over HTTP (httpx through the ASGI app) on both engines: each endpoint does what its
staff command does, with the same audit entry under the key's name, and a retry with the same
Idempotency-Key answers the same and changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from core import api_keys, rewards
from core.actions import adjustments, redemptions
from core.audit import Actor
from core.club import Club
from core.models import Member, Purchase, utcnow
from tests.helpers import audit_entries, new_member, reload_member
from web.app import API_PREFIX, create_app

ADMIN = Actor(602, "Admin")
PHONE = "09121234567"


@dataclass
class Api:
    """A client of the API with a live key, over the club the test looks into."""

    club: Club
    app: FastAPI
    http: httpx.AsyncClient
    key: api_keys.NewKey

    async def post(
        self, path: str, body: Any = None, *, idem: str | None = "k-1"
    ) -> httpx.Response:
        headers = {} if idem is None else {"Idempotency-Key": idem}
        return await self.http.post(path, json=body, headers=headers)


@asynccontextmanager
async def http_client(
    app: FastAPI, headers: dict[str, str] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """HTTP through the ASGI app, as the till would call it."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://till{API_PREFIX}", headers=headers
    ) as http:
        yield http


@asynccontextmanager
async def connected(club: Club) -> AsyncIterator[Api]:
    """The API over ``club`` and a client holding the key ``till-1``."""
    made = await api_keys.create(club, "till-1")
    app = create_app(club)
    async with http_client(app, {"Authorization": f"Bearer {made.secret}"}) as http:
        yield Api(club, app, http, made)


@pytest.fixture
async def api(club: Club) -> AsyncIterator[Api]:
    async with connected(club) as api:
        yield api


async def a_member(club: Club, points: int = 0, **fields: Any) -> Member:
    """A member who joined in Telegram, with ``points`` awarded by an administrator."""
    async with club.sessions() as s, s.begin():
        member = await new_member(s, club.rules, utcnow(), **fields)
    if points:
        await adjustments.adjust(
            club, ADMIN, f"#{member.id}", points, reason="seed", key=f"seed:{member.id}", admin=True
        )
    return member


async def a_reward(club: Club, **fields: Any) -> int:
    async with club.sessions() as s, s.begin():
        values = {"title": "Coffee", "cost": 100, "stock": 5, **fields}
        return (await rewards.create(s, club.rules, **values)).id


async def purchases_of(club: Club) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(Purchase)) or 0)


async def test_a_purchase_is_recorded_audited_under_the_key_and_a_retry_changes_nothing(
    api: Api,
) -> None:
    member = await a_member(api.club)
    body = {"member": str(member.id), "amount": 250_000, "reference": "INV-1"}

    first = await api.post("/purchases", body)

    assert first.status_code == 201, first.text
    assert first.json() == {
        "reference": "INV-1", "member": member.id, "amount": 250_000, "points": 250,
        "balance": 250, "pending": False, "available_at": None,
    }  # fmt: skip
    [entry] = await audit_entries(api.club, "purchase")
    assert (entry.actor_id, entry.actor_name) == (-api.key.key.id, "api:till-1")
    assert entry.after["reference"] == "INV-1"

    again = await api.post("/purchases", {**body})
    assert again.status_code == 201 and again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert (await reload_member(api.club.sessions, member.id)).balance == 250
    assert await purchases_of(api.club) == 1
    assert len(await audit_entries(api.club, "purchase")) == 1


async def test_the_same_idempotency_key_with_another_body_is_a_conflict(api: Api) -> None:
    member = await a_member(api.club)
    body = {"member": str(member.id), "amount": 100_000, "reference": "INV-2"}
    assert (await api.post("/purchases", body)).status_code == 201

    other = await api.post("/purchases", {**body, "amount": 900_000, "reference": "INV-3"})

    assert other.status_code == 409
    assert other.json()["code"] == "idempotency_key_reused"
    assert (await reload_member(api.club.sessions, member.id)).balance == 100
    assert await purchases_of(api.club) == 1


async def test_two_identical_requests_at_once_award_once(api: Api) -> None:
    member = await a_member(api.club)
    body = {"member": str(member.id), "amount": 300_000, "reference": "INV-RACE"}

    answers = await asyncio.gather(*(api.post("/purchases", body) for _ in range(4)))

    assert {a.status_code for a in answers} <= {201, 409}
    assert 201 in {a.status_code for a in answers}
    assert (await reload_member(api.club.sessions, member.id)).balance == 300
    assert await purchases_of(api.club) == 1
    retry = await api.post("/purchases", body)
    assert retry.status_code == 201 and retry.json()["points"] == 300


async def test_a_large_purchase_is_held_for_the_staff_group(api: Api) -> None:
    member = await a_member(api.club)
    amount = api.club.rules.purchase.confirm_above + 1_000

    held = await api.post(
        "/purchases", {"member": f"#{member.id}", "amount": amount, "reference": "BIG-1"}
    )

    assert held.status_code == 202, held.text
    answer = held.json()
    assert (answer["reference"], answer["member"], answer["reasons"]) == (
        "BIG-1", member.id, ["large"],
    )  # fmt: skip
    assert isinstance(answer["confirmation"], int)
    assert (await reload_member(api.club.sessions, member.id)).balance == 0
    assert await purchases_of(api.club) == 0


async def test_a_refund_takes_the_points_back_once(api: Api) -> None:
    member = await a_member(api.club)
    body = {"member": str(member.id), "amount": 200_000, "reference": "INV-9"}
    assert (await api.post("/purchases", body, idem="buy")).status_code == 201

    refunded = await api.post("/purchases/INV-9/refund", idem="refund")

    assert refunded.status_code == 200, refunded.text
    assert refunded.json() == {
        "reference": "INV-9", "member": member.id, "reversed": 200, "unrecovered": 0,
        "balance": 0,
    }  # fmt: skip
    [entry] = await audit_entries(api.club, "refund")
    assert entry.actor_name == "api:till-1"
    replay = await api.post("/purchases/INV-9/refund", idem="refund")
    assert replay.status_code == 200 and replay.json() == refunded.json()
    twice = await api.post("/purchases/INV-9/refund", idem="refund-again")
    assert twice.status_code == 409 and twice.json()["code"] == "already_refunded"
    assert len(await audit_entries(api.club, "refund")) == 1


async def test_a_reward_is_handed_over_once(api: Api) -> None:
    member = await a_member(api.club, points=500)
    reward_id = await a_reward(api.club)
    me = Actor(member.telegram_id, member.name)
    redeemed = await redemptions.redeem(api.club, me, reward_id, key="tg:1:1:1")
    code = redeemed.redemption.code

    handed = await api.post(f"/redemptions/{code.lower()}/confirm", idem="hand")

    assert handed.status_code == 200, handed.text
    assert handed.json() == {
        "code": code, "member": member.id, "reward_id": reward_id, "reward": "Coffee",
    }  # fmt: skip
    [entry] = await audit_entries(api.club, "confirm")
    assert entry.actor_name == "api:till-1"
    again = await api.post(f"/redemptions/{code}/confirm", idem="hand-again")
    assert again.status_code == 409 and again.json()["code"] == "already_confirmed"


async def test_a_member_is_read_by_phone_in_any_form_or_by_number(api: Api) -> None:
    member = await a_member(api.club, points=70, phone=PHONE)

    by_number = await api.http.get(f"/members/{member.id}")
    by_phone = await api.http.get("/members/+98 912 123 4567")
    by_persian_digits = await api.http.get("/members/۰۹۱۲۱۲۳۴۵۶۷")

    assert by_number.status_code == 200, by_number.text
    assert by_number.json() == {
        "number": member.id, "name": "Sara", "tier": member.tier, "balance": 70,
        "pending_points": 0, "phone_verified": False,
    }  # fmt: skip
    assert by_phone.json() == by_number.json() == by_persian_digits.json()


async def test_the_catalogue_lists_every_reward(api: Api) -> None:
    reward_id = await a_reward(api.club, title="Cake", cost=300, stock=None)

    listed = await api.http.get("/rewards")

    assert listed.status_code == 200
    [cake] = [r for r in listed.json() if r["id"] == reward_id]
    assert cake == {
        "id": reward_id, "title": "Cake", "cost": 300, "stock": None, "active": True,
        "ends_at": None, "open_codes": 0,
    }  # fmt: skip


async def test_the_openapi_document_describes_the_endpoints_and_the_bearer_key(api: Api) -> None:
    document = (await api.http.get("/openapi.json")).json()

    assert {"/api/v1/members/{ref}", "/api/v1/purchases", "/api/v1/rewards",
            "/api/v1/purchases/{reference}/refund",
            "/api/v1/redemptions/{code}/confirm"} <= set(document["paths"])  # fmt: skip
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    post = document["paths"]["/api/v1/purchases"]["post"]
    assert {"201", "202"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert "PurchaseOut" in document["components"]["schemas"]
    docs = await api.http.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
