"""The owner's campaign composer over HTTP: a message previewed on the administrator as it is
typed, a draft saved paused and once however often the save is sent, nothing sent until it is
resumed in the staff group; a member, a bad template or a bad segment saves nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from core.club import Club
from core.models import AuditEntry, Campaign, Delivery
from tests.miniapp_support import admins, client, tma, user_of
from tests.test_web_api import a_member

OWNER = {"id": 900, "first_name": "Owner", "language_code": "fa"}
DRAFT = {
    "name": "Tea week",
    "segment": "موجودی > ۱۰۰",
    "template": "{{ name }}، {{ balance }} امتیاز دارید!",
}
KEY = {"Idempotency-Key": "compose-screen-1"}


async def saved_campaigns(club: Club) -> list[Campaign]:
    async with club.sessions() as s:
        return list(await s.scalars(select(Campaign)))


async def rows(club: Club, table: Any) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(table)) or 0)


async def test_a_message_is_previewed_on_the_administrator_as_it_is_typed(app_club: Club) -> None:
    async with client(app_club, admins(900)) as http:
        shown = await http.get(
            "/app/api/staff/campaigns/preview", params={"q": DRAFT["template"]}, headers=tma(OWNER)
        )
        broken = await http.get(
            "/app/api/staff/campaigns/preview", params={"q": "{{ nmae }}"}, headers=tma(OWNER)
        )

    part = shown.json()["parts"]["campaign-preview"]
    assert "Owner، " in part and "امتیاز دارید!" in part
    mistake = broken.json()["parts"]["campaign-preview"]
    assert 'class="minus"' in mistake and "nmae" in mistake


async def test_a_draft_is_saved_paused_once_and_sends_nothing(app_club: Club) -> None:
    await a_member(app_club, points=500)
    await a_member(app_club, points=50)
    async with client(app_club, admins(900)) as http:
        first = await http.post(
            "/app/api/staff/campaigns", headers={**tma(OWNER), **KEY}, json=DRAFT
        )
        again = await http.post(
            "/app/api/staff/campaigns", headers={**tma(OWNER), **KEY}, json=DRAFT
        )

    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["html"] == again.json()["html"]
    [campaign] = await saved_campaigns(app_club)
    assert (campaign.status, campaign.name) == ("paused", "Tea week")
    assert campaign.segment.startswith("balance > ")  # in English words, as the chat saves it
    assert (
        f"/campaign_resume {campaign.id}" in first.json()["html"]
        and "۱ عضو" in first.json()["html"]
    )
    assert await rows(app_club, Delivery) == 0
    async with app_club.sessions() as s:
        audited = await s.scalar(select(AuditEntry).where(AuditEntry.action == "campaign_new"))
    assert audited is not None and audited.actor_id == 900


BAD_DRAFTS = {
    "a broken template": ({**DRAFT, "template": "{% for %}"}, 422, "invalid_template"),
    "a segment that does not read": ({**DRAFT, "segment": "موجودی >"}, 409, "segment_error"),
    "no name": ({**DRAFT, "name": ""}, 422, "invalid_request"),
}  # fmt: skip


@pytest.mark.parametrize("case", BAD_DRAFTS, ids=list(BAD_DRAFTS))
async def test_a_bad_draft_is_refused_in_words_and_saves_nothing(app_club: Club, case: str) -> None:
    body, status, code = BAD_DRAFTS[case]
    async with client(app_club, admins(900)) as http:
        answer = await http.post(
            "/app/api/staff/campaigns", headers={**tma(OWNER), **KEY}, json=body
        )

    assert (answer.status_code, answer.json()["code"]) == (status, code), answer.text
    assert answer.json()["detail"]
    assert await saved_campaigns(app_club) == []


async def test_a_member_drafts_nothing(app_club: Club) -> None:
    member = await a_member(app_club)
    async with client(app_club, admins(900)) as http:
        saved = await http.post(
            "/app/api/staff/campaigns", headers={**tma(user_of(member)), **KEY}, json=DRAFT
        )
        previewed = await http.get(
            "/app/api/staff/campaigns/preview", params={"q": "x"}, headers=tma(user_of(member))
        )
    assert (saved.status_code, previewed.status_code) == (403, 403)
    assert saved.json()["code"] == "staff_only"
    assert await saved_campaigns(app_club) == []
