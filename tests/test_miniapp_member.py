"""The member's Mini App over HTTP, on both engines: every request carries Telegram's launch data
(``Authorization: tma``), a forged, tampered, stale or missing one is 401 and changes nothing, and
a member only ever sees and acts on their own account."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import pytest
import qrcode
import qrcode.constants
from sqlalchemy import func, select

from core.club import Club
from core.models import Delivery, LedgerEntry, Member, Redemption
from tests.miniapp_support import client, tma, user_of
from tests.test_web_api import a_member, a_reward, connected
from web.problems import MEDIA_TYPE
from web.qr_svg import QUIET_ZONE


async def count(club: Club, table: Any, *where: Any) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(func.count()).select_from(table).where(*where)) or 0)


async def balance_of(club: Club, member: Member) -> int:
    async with club.sessions() as s:
        return int(await s.scalar(select(Member.balance).where(Member.id == member.id)) or 0)


def _tampered(header: dict[str, str]) -> dict[str, str]:
    """The same launch data with the user's id changed and the hash kept."""
    raw = header["Authorization"].removeprefix("tma ")
    fields = dict(parse_qsl(raw))
    fields["user"] = re.sub(r'"id":\d+', '"id":1', fields["user"])
    return {"Authorization": "tma " + urlencode(fields, quote_via=quote)}


def _refused(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(MEDIA_TYPE)
    assert answer.json()["code"] == code and answer.json()["detail"]


BAD_LAUNCHES = {
    "none": lambda m: {},
    "another scheme": lambda m: {"Authorization": "Bearer" + tma(user_of(m))["Authorization"][3:]},
    "empty": lambda m: {"Authorization": "tma "},
    "stale": lambda m: tma(user_of(m), age=3_601),
    "another bot's": lambda m: tma(user_of(m), token="7000000002:AAF-another-bot-token_0123456789"),
    "tampered": lambda m: _tampered(tma(user_of(m))),
    "garbage": lambda m: {"Authorization": "tma %%%&&&=="},
}  # fmt: skip


@pytest.mark.parametrize("launch", BAD_LAUNCHES, ids=list(BAD_LAUNCHES))
async def test_a_bad_launch_is_refused_and_redeems_nothing(app_club: Club, launch: str) -> None:
    member = await a_member(app_club, points=500)
    reward_id = await a_reward(app_club, cost=100)
    header = BAD_LAUNCHES[launch](member)
    async with client(app_club) as http:
        card = await http.get("/app/api/card", headers=header)
        redeemed = await http.post(
            f"/app/api/rewards/{reward_id}/redeem", headers={**header, "Idempotency-Key": "k-0001"}
        )

    for answer in (card, redeemed):
        _refused(answer, 401, "launch_refused")
        assert answer.headers["www-authenticate"] == "tma"
    assert await balance_of(app_club, member) == 500
    assert await count(app_club, Redemption) == 0


async def test_the_card_shows_the_members_own_balance_tier_and_way_to_the_next(
    app_club: Club,
) -> None:
    mine = await a_member(app_club, points=1_250, name="زهرا")
    await a_member(app_club, points=40, name="Other")
    async with client(app_club) as http:
        card = await http.get("/app/api/card", headers=tma(user_of(mine)))

    assert card.status_code == 200, card.text
    shown = card.json()
    assert (shown["lang"], shown["dir"]) == ("fa", "rtl")
    assert "۱٬۲۵۰" in shown["html"] and "زهرا" in shown["html"] and "Other" not in shown["html"]
    assert "برنزی" in shown["html"] and "نقره‌ای" in shown["html"]  # bronze, on the way to silver
    assert shown["refresh"]["url"] == "/app/api/card/qr" and 1 <= shown["refresh"]["seconds"] <= 60


async def test_the_cards_qr_is_this_minutes_code_and_the_till_reads_the_member_from_it(
    app_club: Club,
) -> None:
    member = await a_member(app_club, points=70)
    async with client(app_club) as http:
        part = (await http.get("/app/api/card/qr", headers=tma(user_of(member)))).json()
    [token] = re.findall(r'data-token="([^"]+)"', part["parts"]["qr"])

    async with connected(app_club) as till:
        scanned = await till.http.get(f"/members/by-card/{token}")
    assert scanned.status_code == 200 and scanned.json()["number"] == member.id
    assert _drawn(part["parts"]["qr"]) == _matrix(token)


def _drawn(svg: str) -> set[tuple[int, int]]:
    """The dark modules the SVG's path draws."""
    [path] = re.findall(r'<path d="([^"]+)"', svg)
    return {
        (x + i, y)
        for x, y, run in (map(int, m) for m in re.findall(r"M(\d+),(\d+)h(\d+)", path))
        for i in range(run)
    }


def _matrix(data: str) -> set[tuple[int, int]]:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(data)
    return {(x, y) for y, row in enumerate(code.get_matrix()) for x, dark in enumerate(row) if dark}


async def test_a_redeem_tapped_twice_redeems_once_and_tells_the_chat_once(app_club: Club) -> None:
    member = await a_member(app_club, points=500)
    reward_id = await a_reward(app_club, cost=120, stock=5)
    headers = {**tma(user_of(member)), "Idempotency-Key": "3f1c9a54-5e0b-4d5e-9a39-a1b2c3d4e5f6"}
    async with client(app_club) as http:
        offered = (await http.get(f"/app/api/rewards/{reward_id}", headers=headers)).json()
        post = offered["main_button"]["post"]
        first = await http.post(post, headers=headers)
        second = await http.post(post, headers=headers)

    assert first.status_code == second.status_code == 200, first.text
    assert first.json() == second.json() and first.json()["haptic"] == "success"
    [code] = re.findall(r"data-code>([^<]+)<", first.json()["html"])
    assert await balance_of(app_club, member) == 380
    assert await count(app_club, LedgerEntry, LedgerEntry.member_id == member.id) == 2
    notices = await count(app_club, Delivery, Delivery.member_id == member.id)
    assert notices == 1
    async with app_club.sessions() as s:
        told = await s.scalar(select(Delivery.text).where(Delivery.member_id == member.id))
    assert code in (told or "")


async def test_another_tap_on_a_new_screen_is_a_new_redemption(app_club: Club) -> None:
    member = await a_member(app_club, points=500)
    reward_id = await a_reward(app_club, cost=100)
    async with client(app_club) as http:
        for key in ("screen-0001", "screen-0002"):
            answer = await http.post(
                f"/app/api/rewards/{reward_id}/redeem",
                headers={**tma(user_of(member)), "Idempotency-Key": key},
            )
            assert answer.status_code == 200, answer.text
    assert await balance_of(app_club, member) == 300
    assert await count(app_club, Redemption) == 2


@pytest.mark.parametrize("key", [None, "", "x" * 65, "no spaces allowed", "<script>"])
async def test_a_redeem_without_a_sound_key_is_refused_and_changes_nothing(
    app_club: Club, key: str | None
) -> None:
    member = await a_member(app_club, points=500)
    reward_id = await a_reward(app_club, cost=100)
    headers = tma(user_of(member)) | ({} if key is None else {"Idempotency-Key": key})
    async with client(app_club) as http:
        answer = await http.post(f"/app/api/rewards/{reward_id}/redeem", headers=headers)
    _refused(answer, 400, "idempotency_key_required")
    assert await balance_of(app_club, member) == 500


async def test_a_member_short_of_points_is_told_so_in_their_language(app_club: Club) -> None:
    member = await a_member(app_club, points=50)
    reward_id = await a_reward(app_club, cost=100)
    async with client(app_club) as http:
        answer = await http.post(
            f"/app/api/rewards/{reward_id}/redeem",
            headers={**tma(user_of(member)), "Idempotency-Key": "short-of-points"},
        )
    _refused(answer, 409, "insufficient_points")
    assert await balance_of(app_club, member) == 50


async def test_someone_who_never_joined_is_told_in_telegrams_language(app_club: Club) -> None:
    stranger = {"id": 987_654_321, "first_name": "Sam", "language_code": "en"}
    async with client(app_club) as http:
        answer = await http.get("/app/api/card", headers=tma(stranger))
    _refused(answer, 409, "not_joined")
    assert re.search(r"[A-Za-z]{3}", answer.json()["detail"])
    assert not re.search(r"[\u0600-\u06FF]", answer.json()["detail"])


async def test_a_lottery_is_entered_once_and_its_button_goes(app_club: Club) -> None:
    member = await a_member(app_club, points=10)
    reward_id = await a_reward(app_club, cost=100, stock=2, allocation="lottery")
    header = tma(user_of(member))
    async with client(app_club) as http:
        offered = (await http.get(f"/app/api/rewards/{reward_id}", headers=header)).json()
        assert offered["main_button"]["post"] == f"/app/api/rewards/{reward_id}/enter"
        for _ in range(2):
            entered = await http.post(offered["main_button"]["post"], headers=header)
            assert entered.status_code == 200, entered.text
        again = (await http.get(f"/app/api/rewards/{reward_id}", headers=header)).json()
    assert "main_button" not in again
    assert await balance_of(app_club, member) == 10


async def test_history_pages_the_members_own_ledger_with_a_chart_on_the_first(
    app_club: Club,
) -> None:
    member = await a_member(app_club, points=30)
    reward_id = await a_reward(app_club, cost=1, stock=None)
    header = tma(user_of(member, "en"))
    async with client(app_club) as http:
        for n in range(24):
            await http.post(
                f"/app/api/rewards/{reward_id}/redeem",
                headers={**header, "Idempotency-Key": f"history-{n:04}"},
            )
        first = (await http.get("/app/api/history", headers=header)).json()
        second = (await http.get("/app/api/history?page=1", headers=header)).json()
        refused = await http.get("/app/api/history?page=-1", headers=header)

    assert await balance_of(app_club, member) == 6  # 25 entries: 20 on the first page, 5 after
    assert 'data-chart="balance"' in first["html"] and "/app/api/history?page=1" in first["html"]
    assert first["html"].count("−۱<") == 20 and "+۳۰" not in first["html"]
    assert second["html"].count("−۱<") == 4 and "+۳۰" in second["html"]
    assert "data-chart" not in second["html"] and "page=2" not in second["html"]
    assert refused.status_code == 422
