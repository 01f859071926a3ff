"""The API's refusals over HTTP on both engines: each is a problem+json document with a stable
code, in the club's language, and nothing changed: a missing or wrong key (401), bad fields and
bodies that are not objects (422), what does not exist (404), conflicts (409) and a flood (429)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from core import api_keys
from core.club import Club
from core.locales import LOCALES
from tests.helpers import audit_entries, reload_member
from tests.test_web_api import Api, a_member, connected, http_client, purchases_of
from web.app import create_app
from web.limits import BURST, RATE, RateLimiter
from web.problems import LOCALES_DIR, MEDIA_TYPE, words


@pytest.fixture
async def api(club: Club) -> AsyncIterator[Api]:
    async with connected(club) as api:
        yield api


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == MEDIA_TYPE
    body = response.json()
    assert (body["status"], body["code"], body["type"]) == (
        status,
        code,
        f"urn:bashgah:error:{code}",
    )
    assert body["title"] and body["detail"]
    assert "<" not in body["detail"]  # the chat's HTML is stripped
    return body


async def nothing_changed(api: Api, member_id: int) -> None:
    assert (await reload_member(api.club.sessions, member_id)).balance == 0
    assert await purchases_of(api.club) == 0
    assert await audit_entries(api.club, "purchase") == []


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer bgh_wrong", "Basic dXNlcjpwYXNz", "bgh_x"]
)
async def test_a_missing_or_wrong_key_is_401_and_changes_nothing(
    api: Api, authorization: str | None
) -> None:
    member = await a_member(api.club)
    headers = {"Idempotency-Key": "k", "Authorization": authorization}
    body = {"member": str(member.id), "amount": 1_000, "reference": "R"}
    headers = {k: v for k, v in headers.items() if v is not None}
    async with http_client(api.app) as anonymous:
        answer = await anonymous.post("/purchases", json=body, headers=headers)
        read = await anonymous.get(f"/members/{member.id}", headers=headers)

    problem = assert_problem(answer, 401, "unauthorized")
    assert "کلید" in problem["detail"]  # the club speaks Persian by default
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(read, 401, "unauthorized")
    await nothing_changed(api, member.id)


async def test_a_revoked_key_opens_nothing(api: Api) -> None:
    assert (await api.http.get("/rewards")).status_code == 200
    await api_keys.revoke(api.club, "till-1")

    assert_problem(await api.http.get("/rewards"), 401, "unauthorized")


async def test_every_post_needs_an_idempotency_key(api: Api) -> None:
    member = await a_member(api.club)
    body = {"member": str(member.id), "amount": 1_000, "reference": "R"}

    for idem in (None, "", "x" * 256):
        answer = await api.post("/purchases", body, idem=idem)
        assert_problem(answer, 422, "idempotency_key_required")
    assert_problem(
        await api.post("/purchases/R/refund", idem=None), 422, "idempotency_key_required"
    )
    await nothing_changed(api, member.id)


@pytest.mark.parametrize(
    ("fields", "bad"),
    [
        ({"amount": "lots"}, "body.amount"),
        ({"amount": -5}, "body.amount"),
        ({"amount": 12.5}, "body.amount"),
        ({"amount": "1000"}, "body.amount"),
        ({"reference": ""}, "body.reference"),
        ({"reference": "x" * 65}, "body.reference"),
        ({"member": None}, "body.member"),
        ({"points": 5}, "body.points"),
    ],
)
async def test_bad_fields_are_422_with_the_field_named(
    api: Api, fields: dict[str, Any], bad: str
) -> None:
    member = await a_member(api.club)
    body = {"member": str(member.id), "amount": 1_000, "reference": "R", **fields}

    problem = assert_problem(await api.post("/purchases", body), 422, "invalid_request")

    assert bad in [error["field"] for error in problem["errors"]]
    await nothing_changed(api, member.id)


async def test_a_purchase_the_core_refuses_is_422_in_its_own_words(api: Api) -> None:
    member = await a_member(api.club)
    too_much = api.club.rules.earn.max_purchase_amount + 1

    answer = await api.post(
        "/purchases", {"member": str(member.id), "amount": too_much, "reference": "R"}
    )

    problem = assert_problem(answer, 422, "invalid_input")
    assert problem["details"] == {"reason": "too_large"}
    await nothing_changed(api, member.id)


@pytest.mark.parametrize("raw", [b"[]", b"null", b'"text"', b"5", b"{", b""])
async def test_a_body_that_is_not_an_object_is_422(api: Api, raw: bytes) -> None:
    member = await a_member(api.club)
    headers = {"Idempotency-Key": "k", "Content-Type": "application/json"}

    answer = await api.http.post("/purchases", content=raw, headers=headers)
    undecodable = await api.http.post("/purchases", content=b"\xff" + raw, headers=headers)

    assert_problem(answer, 422, "invalid_request")
    assert_problem(undecodable, 400, "request_refused")  # not even text: the framework's 400
    await nothing_changed(api, member.id)


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/members/09350000000", "member_not_found"),
        ("GET", "/members/9999", "member_not_found"),
        ("POST", "/purchases/NOPE/refund", "purchase_not_found"),
        ("POST", "/redemptions/ZZZZZZ/confirm", "code_not_found"),
        ("GET", "/nothing-here", "not_found"),
    ],
)
async def test_what_does_not_exist_is_404(api: Api, method: str, path: str, code: str) -> None:
    answer = await api.http.request(method, path, headers={"Idempotency-Key": "k"})

    assert_problem(answer, 404, code)


async def test_a_reference_used_for_another_purchase_is_409(api: Api) -> None:
    member = await a_member(api.club)
    body = {"member": str(member.id), "amount": 100_000, "reference": "INV-1"}
    assert (await api.post("/purchases", body, idem="a")).status_code == 201

    again = await api.post("/purchases", body, idem="b")
    other = await api.post("/purchases", {**body, "amount": 5_000}, idem="c")

    assert assert_problem(again, 409, "duplicate_reference")["details"]["points"] == 100
    assert_problem(other, 409, "reference_conflict")
    assert (await reload_member(api.club.sessions, member.id)).balance == 100
    assert await purchases_of(api.club) == 1


async def test_the_club_language_is_the_problems_language(api: Api) -> None:
    english = dataclasses.replace(
        api.club, settings=api.club.settings.model_copy(update={"locale": "en"})
    )
    try:
        async with http_client(create_app(english), dict(api.http.headers)) as http:
            answer = await http.get("/members/9999")
    finally:
        english.release()

    assert assert_problem(answer, 404, "member_not_found")["detail"] == "No member matches that."


class Clock:
    """Time that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def flooded(api: Api) -> AsyncIterator[tuple[Api, Clock]]:
    clock = Clock()
    api.app.state.limiter = RateLimiter(clock=clock)
    yield api, clock


async def test_past_the_burst_a_key_gets_429_with_retry_after_and_changes_nothing(
    flooded: tuple[Api, Clock],
) -> None:
    api, clock = flooded
    member = await a_member(api.club)
    for _ in range(BURST):
        assert (await api.http.get("/rewards")).status_code == 200

    body = {"member": str(member.id), "amount": 1_000, "reference": "R"}
    answer = await api.post("/purchases", body)

    assert_problem(answer, 429, "rate_limited")
    assert answer.headers["Retry-After"] == "1"
    await nothing_changed(api, member.id)

    other = await api_keys.create(api.club, "till-2")
    elsewhere = await api.http.get("/rewards", headers={"Authorization": f"Bearer {other.secret}"})
    assert elsewhere.status_code == 200  # one key's flood is its own

    clock.now += 1.5 / RATE  # one token and a half: one more request
    assert (await api.post("/purchases", body)).status_code == 201
    assert_problem(await api.http.get("/rewards"), 429, "rate_limited")


@pytest.mark.parametrize("locale", LOCALES)
def test_every_error_text_renders_for_the_api(locale: str) -> None:
    """The API renders the chat's error texts with its own environment: each must render there,
    with the values a refusal carries (a filter missing there is a 500, and a reset connection)."""
    values = {"reference": "INV-1", "amount": 250_000, "member_id": 7, "points": 1, "limit": 1,
              "left": 2, "balance": 3, "cost": 4, "stock": 0, "branch": "north", "code": "AB12",
              "reason": "amount", "value": "x", "seconds": 1, "name": "Sara",
              "survey_score": 5}  # fmt: skip
    for template in sorted((LOCALES_DIR / locale / "errors").glob("*.j2")):
        assert words(locale, template.stem, values), template.name
