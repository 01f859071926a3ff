"""The member card's rotating code through the real Application and the stand-in Bot API: /card
draws a QR whose modules are a fresh code, and the staff group's ``/member <code>`` reads it back,
refuses a stale one and a forged one in words, and changes nothing."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from bot.handlers import member as member_handlers
from bot.shell import MEMBER, STAFF
from core.actions import cards
from core.audit import Actor
from core.card_tokens import looks_like
from core.models import AuditEntry, utcnow
from tests.conftest import STAFF_CHAT_ID, BotHarness
from tests.helpers import join_user, reload_member
from tests.test_images import _assert_qr_scannable

SARA = Actor(MEMBER["id"], MEMBER["first_name"])


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What each card was drawn with, the card still drawn by the real painter."""
    calls: list[dict[str, Any]] = []

    def spy(**fields: Any) -> bytes:
        calls.append(fields)
        return painter(**fields)

    painter = member_handlers.member_card_png
    monkeypatch.setattr(member_handlers, "member_card_png", spy)
    return calls


async def _staff_reads(bot: BotHarness, query: str) -> str:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID)
    [reply] = await bot.chat.send(f"/member {query}")
    bot.chat.as_member()
    return reply.text


async def test_the_card_shows_a_fresh_code_the_till_reads_back(
    bot: BotHarness, drawn: list[dict[str, Any]]
) -> None:
    sara = await join_user(bot.club.sessions, bot.club.rules, MEMBER, "09121234567")

    [photo] = await bot.chat.send("/card")

    [fields] = drawn
    code = fields["qr_data"]
    assert looks_like(code) and code != f"#{sara.id}"
    _assert_qr_scannable(Image.open(io.BytesIO(next(iter(photo.files.values())))), code)
    assert "حدود دو دقیقه" in photo.text and "/card" in photo.text and code in photo.text
    read = await _staff_reads(bot, code)
    assert "Sara" in read and "پیدا نشد" not in read


async def test_staff_are_told_a_code_is_stale_or_forged_and_nothing_changes(
    bot: BotHarness,
) -> None:
    sara = await join_user(bot.club.sessions, bot.club.rules, MEMBER, "09121234567")
    stale = (await cards.issue(bot.club, SARA, utcnow() - timedelta(minutes=3))).token
    fresh = (await cards.issue(bot.club, SARA)).token
    body, mac = fresh.rsplit(".", 1)
    forged = f"{body}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"
    before = await reload_member(bot.club.sessions, sara.id)

    assert "کارتش را دوباره باز کند" in await _staff_reads(bot, stale)
    assert "به هیچ کارت عضویتی تعلق ندارد" in await _staff_reads(bot, forged)
    assert "Sara" in await _staff_reads(bot, fresh.lower())

    after = await reload_member(bot.club.sessions, sara.id)
    assert (after.balance, after.status) == (before.balance, before.status)
    async with bot.club.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(AuditEntry)) == 0


async def test_someone_who_never_joined_gets_no_card(bot: BotHarness) -> None:
    [reply] = await bot.chat.send("/card")

    assert reply.method == "sendMessage" and "/start" in reply.text
