"""The member's profile and settings in the Mini App over HTTP: the chat's choices, through the
chat's core actions; each choice is saved and shown, a bad one refused in words and nothing
changed, and a member changes only their own."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from core.club import Club
from core.models import Member
from tests.miniapp_support import client, tma, user_of
from tests.test_web_api import a_member

KEY = {"Idempotency-Key": "me-screen-1"}  # as the page sends on every POST


async def stored(club: Club, member: Member) -> Member:
    async with club.sessions() as s:
        found = await s.scalar(select(Member).where(Member.id == member.id))
        assert found is not None
        return found


def pressed(html: str) -> set[str]:
    """The choices the screen shows as on: each pressed button's body."""
    return {
        json.dumps(json.loads(body.replace("&#34;", '"')), sort_keys=True)
        for body in re.findall(r'aria-pressed="true" data-act="[^"]+" data-body=\'([^\']+)\'', html)
    }


def choice(**body: str) -> str:
    return json.dumps(body, sort_keys=True)


async def test_profile_answers_are_saved_toggled_and_shown(app_club: Club) -> None:
    member = await a_member(app_club)
    other = await a_member(app_club)
    header = {**tma(user_of(member)), **KEY}
    async with client(app_club) as http:
        await http.post(
            "/app/api/me/profile", headers=header, json={"section": "contact", "option": "sms"}
        )
        for option in ("events", "gifts", "events"):  # a section of several toggles
            await http.post(
                "/app/api/me/profile",
                headers=header,
                json={"section": "interests", "option": option},
            )
        shown = await http.post("/app/api/me/city", headers=header, json={"city": "  شیراز  "})

    assert shown.status_code == 200, shown.text
    saved = await stored(app_club, member)
    assert saved.profile["contact"] == "sms" and saved.profile["interests"] == ["gifts"]
    assert saved.city == "شیراز" and 'value="شیراز"' in shown.json()["html"]
    on = pressed(shown.json()["html"])
    assert choice(section="contact", option="sms") in on
    assert choice(section="interests", option="gifts") in on
    assert choice(section="interests", option="events") not in on
    assert not (await stored(app_club, other)).profile  # the other member is untouched


async def test_settings_change_as_the_chats_buttons_do(app_club: Club) -> None:
    member = await a_member(app_club)
    header = {**tma(user_of(member)), **KEY}
    async with client(app_club) as http:
        await http.post(
            "/app/api/me/settings", headers=header, json={"field": "offers", "value": "off"}
        )
        await http.post(
            "/app/api/me/settings", headers=header, json={"field": "quiet", "value": "23-9"}
        )
        shown = await http.post(
            "/app/api/me/settings", headers=header, json={"field": "lang", "value": "en"}
        )

    saved = await stored(app_club, member)
    assert (saved.offers_enabled, saved.quiet_start, saved.quiet_end, saved.locale) == (
        False,
        23,
        9,
        "en",
    )
    assert (shown.json()["lang"], shown.json()["dir"]) == ("en", "ltr")
    assert "Quiet hours: from 23:00 to 9:00" in shown.json()["html"]
    assert choice(field="quiet", value="23-9") in pressed(shown.json()["html"])


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/app/api/me/profile", {"section": "contact", "option": "pigeon"}),
        ("/app/api/me/profile", {"section": "name", "option": "Mallory"}),
        ("/app/api/me/settings", {"field": "balance", "value": "1000000"}),
        ("/app/api/me/settings", {"field": "lang", "value": "xx"}),
        ("/app/api/me/city", {"city": "ش" * 65}),
        ("/app/api/me/city", {"city": "   "}),
        ("/app/api/me/city", {"town": "Shiraz"}),
    ],
)
async def test_a_choice_no_screen_offers_is_refused_in_words(
    app_club: Club, path: str, body: dict[str, str]
) -> None:
    member = await a_member(app_club)
    before = await stored(app_club, member)
    async with client(app_club) as http:
        answer = await http.post(path, headers={**tma(user_of(member)), **KEY}, json=body)

    assert answer.status_code in (400, 422), answer.text
    assert re.search(r"[\u0600-\u06FF]", answer.json()["detail"])  # in the member's Persian
    after = await stored(app_club, member)
    assert (after.profile, after.city, after.locale, after.balance) == (
        before.profile, before.city, before.locale, before.balance,
    )  # fmt: skip
