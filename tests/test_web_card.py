"""``GET /api/v1/members/by-card/{token}`` over HTTP on both engines: the till scans a member's card
and gets the member, as ``GET /members/{ref}`` answers; a stale code is 410, a forged one 404,
no key 401, and a branch's key reads any member of the club."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from core import branches
from core.actions import cards
from core.audit import Actor
from core.club import Club
from core.models import Member, utcnow
from tests.test_web_api import Api, a_member, connected, http_client
from tests.test_web_branches import till
from web.problems import MEDIA_TYPE


@pytest.fixture
async def api(club: Club) -> AsyncIterator[Api]:
    async with connected(club) as api:
        yield api


async def _card(club: Club, member: Member, minutes_ago: int = 0) -> str:
    """The code ``member``'s card showed ``minutes_ago``."""
    holder = Actor(member.telegram_id, member.name or "")
    return (await cards.issue(club, holder, utcnow() - timedelta(minutes=minutes_ago))).token


async def test_a_scanned_card_reads_as_the_member(api: Api) -> None:
    member = await a_member(api.club, points=70)
    code = await _card(api.club, member)

    scanned = await api.http.get(f"/members/by-card/{code}")

    assert scanned.status_code == 200, scanned.text
    assert scanned.json() == (await api.http.get(f"/members/{member.id}")).json()
    assert scanned.json()["balance"] == 70
    assert (await api.http.get(f"/members/{code}")).json() == scanned.json()


def _refused(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(MEDIA_TYPE)
    assert answer.json()["code"] == code and answer.json()["detail"]


async def test_a_stale_code_is_gone_and_a_forged_one_was_never_there(api: Api) -> None:
    member = await a_member(api.club)
    stale = await _card(api.club, member, minutes_ago=3)
    body, mac = (await _card(api.club, member)).rsplit(".", 1)
    forged = f"{body}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"

    _refused(await api.http.get(f"/members/by-card/{stale}"), 410, "card_token_expired")
    _refused(await api.http.get(f"/members/by-card/{forged}"), 404, "card_token_invalid")
    _refused(await api.http.get(f"/members/by-card/{member.id}"), 404, "card_token_invalid")
    _refused(await api.http.get(f"/members/{stale}"), 410, "card_token_expired")


async def test_no_key_no_member(api: Api) -> None:
    code = await _card(api.club, await a_member(api.club))

    async with http_client(api.app) as stranger:
        answer = await stranger.get(f"/members/by-card/{code}")

    assert answer.status_code == 401


async def test_a_branchs_key_reads_any_member_of_the_club(club: Club) -> None:
    await branches.add(club, "north", "North")
    member = await a_member(club)
    code = await _card(club, member)

    async with till(club, "till-n", "north") as north:
        answer = await north.get(f"/members/by-card/{code}")

    assert answer.status_code == 200 and answer.json()["number"] == member.id


async def test_the_openapi_document_says_what_a_stale_or_forged_code_answers(api: Api) -> None:
    document = (await api.http.get("/openapi.json")).json()

    described = document["paths"]["/api/v1/members/by-card/{token}"]["get"]
    assert {"200", "404", "410"} <= set(described["responses"])
    assert "card_token_expired" in described["description"]
