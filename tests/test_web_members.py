"""Registering a customer at the till over HTTP (``POST /api/v1/members``) on both engines: a
member by phone who earns at once, audited under the key, once per number and per request."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.club import Club
from tests.helpers import audit_entries, reload_member
from tests.test_web_api import Api, connected


@pytest.fixture
async def api(club: Club) -> AsyncIterator[Api]:
    async with connected(club) as api:
        yield api


async def test_a_customer_registered_at_the_till_earns_at_once(api: Api) -> None:
    body = {"phone": "0912 765 4321", "name": "Reza", "birthday": "1990-05-01"}

    made = await api.post("/members", body, idem="reg-1")

    assert made.status_code == 201, made.text
    answer = made.json()
    assert {k: answer[k] for k in ("name", "balance", "phone_verified", "created")} == {
        "name": "Reza", "balance": 0, "phone_verified": False, "created": True,
    }  # fmt: skip
    [entry] = await audit_entries(api.club, "member_add")
    assert (entry.actor_name, entry.member_id) == ("api:till-1", answer["number"])
    member = await reload_member(api.club.sessions, answer["number"])
    assert (member.phone, member.birthday.isoformat(), member.telegram_id) == (
        "+989127654321", "1990-05-01", None,
    )  # fmt: skip

    bought = await api.post(
        "/purchases",
        {"member": str(answer["number"]), "amount": 120_000, "reference": "T-1"},
        idem="buy-1",
    )
    assert bought.status_code == 201 and bought.json()["balance"] == 120
    read = await api.http.get("/members/+989127654321")
    assert read.json()["balance"] == 120


async def test_registering_again_replays_or_finds_the_member_and_adds_nobody(api: Api) -> None:
    body = {"phone": "09127654321"}
    first = await api.post("/members", body, idem="reg-1")

    replay = await api.post("/members", body, idem="reg-1")
    again = await api.post("/members", {"phone": "+98 912 765 4321"}, idem="reg-2")

    assert replay.status_code == 201 and replay.json() == first.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert again.status_code == 200
    assert again.json() == {**first.json(), "created": False}
    assert len(await audit_entries(api.club, "member_add")) == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"phone": "12345"}, "invalid_phone"),
        ({"phone": "09127654321", "birthday": "1990-13-40"}, "invalid_request"),
        ({"name": "No phone"}, "invalid_request"),
        ({"phone": "09127654321", "telegram_id": 5}, "invalid_request"),
    ],
)
async def test_a_bad_registration_is_422_and_adds_nobody(
    api: Api, body: dict[str, object], code: str
) -> None:
    answer = await api.post("/members", body)

    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code
    assert await audit_entries(api.club, "member_add") == []
