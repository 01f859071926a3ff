"""Answers in the staff group go out beside the handler, in order, merged while held back
(:mod:`bot.group_replies`): through the real Application, with the stand-in's
``sendMessage`` to the staff group held the way Telegram's group limit holds it."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile

from bot.context import group_replies_of
from bot.group_replies import (
    BURST,
    GROUP_MESSAGES_PER_MINUTE,
    MAX_MESSAGE_CHARS,
    PACE_SECONDS,
    Answer,
    next_message,
    pause_before_next,
)
from bot.shell import MEMBER, STAFF
from core.models import Purchase
from tests.conftest import STAFF_CHAT_ID, BotHarness


async def _join_and_staff(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    await bot.chat.share_contact("+989121234567")
    await bot.chat.press(1)
    await bot.chat.press(1)
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID)


def _hold_staff_group(
    bot: BotHarness, answer: Callable[[], tuple[int, bytes]] | None = None
) -> asyncio.Event:
    """Hold every send to the staff group until the returned event is set; ``answer`` (if given)
    is what Telegram answers to the first of them."""
    released = asyncio.Event()
    real = bot.standin.do_request
    first = [answer]

    async def do_request(url: str, method: str, request_data: Any = None, **kw: Any) -> Any:
        params = request_data.parameters if request_data else {}
        if url.endswith("/sendMessage") and int(params.get("chat_id", 0)) == STAFF_CHAT_ID:
            await released.wait()
            if first[0] is not None:
                reply, first[0] = first[0], None
                return reply()
        return await real(url, method, request_data, **kw)

    bot.standin.do_request = do_request  # type: ignore[method-assign]
    return released


async def _says(bot: BotHarness, *texts: str) -> None:
    """The current speaker types ``texts``; each update is handled, group answers only posted."""
    for text in texts:
        await bot.app.process_update(bot.chat.text_update(text))


def _staff_messages(bot: BotHarness) -> list[str]:
    return [
        c.text
        for c in bot.standin.calls
        if c.method == "sendMessage" and c.params["chat_id"] == STAFF_CHAT_ID
    ]


async def test_held_answers_go_out_together_after_the_work_is_done(bot: BotHarness) -> None:
    await _join_and_staff(bot)
    released = _hold_staff_group(bot)

    await _says(bot, *(f"/purchase 09121234567 100000 INV-{n}" for n in range(4)))

    async with bot.club.sessions() as s:
        recorded = (await s.scalars(select(Purchase.reference).order_by(Purchase.id))).all()
    assert recorded == ["INV-0", "INV-1", "INV-2", "INV-3"], "handlers waited for the answers"
    assert _staff_messages(bot) == []
    bot.chat.as_member()
    before = len(bot.standin.calls)
    await _says(bot, "/points")
    [points] = [c for c in bot.standin.sent(before) if c.params["chat_id"] == MEMBER["id"]]
    assert "۴۰۰" in points.text, "a member's answer does not queue behind the staff group"
    released.set()
    await group_replies_of(bot.app).drain()
    first, merged = _staff_messages(bot)
    assert "INV-0" in first and "INV-1" not in first
    positions = [merged.index(f"INV-{n}") for n in (1, 2, 3)]
    assert positions == sorted(positions), "the merged answers keep their order"
    assert merged.count("✅") == 3


async def test_a_refused_answer_does_not_stop_the_next(
    bot: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    await _join_and_staff(bot)
    refused = json.dumps({"ok": False, "error_code": 400, "description": "Bad Request: no"})
    released = _hold_staff_group(bot, lambda: (400, refused.encode()))
    released.set()

    with caplog.at_level(logging.WARNING):
        await _says(bot, "/purchase 09121234567 100000 INV-1")
        await group_replies_of(bot.app).drain()
        await _says(bot, "/purchase 09121234567 100000 INV-2")
        await group_replies_of(bot.app).drain()

    assert "was not sent" in caplog.text
    [answer] = _staff_messages(bot)
    assert "INV-2" in answer


def test_buttons_and_files_are_never_merged_and_no_message_outgrows_the_limit() -> None:
    button = InlineKeyboardMarkup([[InlineKeyboardButton("ok", callback_data="x")]])
    queue = deque([
        Answer("a"), Answer("b"), Answer("with button", button), Answer("c"),
        Answer("chart", photo=InputFile(b"png", filename="c.png")), Answer("d"),
        Answer("x" * (MAX_MESSAGE_CHARS - 1)), Answer("y"),
    ])  # fmt: skip
    taken = []
    while queue:
        taken.append(next_message(queue).text)
    assert taken == ["a\n\nb", "with button", "c", "chart", "d", "x" * (MAX_MESSAGE_CHARS - 1), "y"]


async def test_at_shutdown_answers_telegram_will_not_take_are_given_up(bot: BotHarness) -> None:
    await _join_and_staff(bot)
    _hold_staff_group(bot)  # never released: Telegram is down
    await _says(bot, "/purchase 09121234567 100000 INV-1")
    replies = group_replies_of(bot.app)

    await asyncio.wait_for(replies.close(0.2), 5)

    assert _staff_messages(bot) == []
    await asyncio.wait_for(replies.drain(), 5)  # nothing left waiting


@pytest.mark.parametrize("gap", [0.01, 0.5, 2.9, 3.1, 7.0])
def test_paced_answers_never_pass_twenty_a_minute_and_a_quiet_chat_waits_for_nothing(
    gap: float,
) -> None:
    """A chat answered every ``gap`` seconds for five minutes, paced as a real bot is: the first
    ten messages go at once, and no 60-second window ever holds more than twenty."""
    sent: deque[float] = deque(maxlen=GROUP_MESSAGES_PER_MINUTE)
    now, times = 0.0, []
    while now < 300:
        now += pause_before_next(sent, now)
        times.append(now)
        sent.append(now)
        now += gap
    assert times[:BURST] == pytest.approx([n * gap for n in range(BURST)])
    assert max(sum(1 for t in times if start <= t < start + 60) for start in times) <= 20
    if gap >= PACE_SECONDS:  # slower than the pace: never held back
        assert times == pytest.approx([n * gap for n in range(len(times))])
