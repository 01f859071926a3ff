"""Telegram's webhook as a route of the HTTP app: the secret token gates everything, any JSON gets
a status, replays run once, 200 means handled, and two processes sharing one database handle each
update once and each chat's updates in order.

Two :class:`WebhookHandling` over one club stand for two ``bashgah run`` processes behind a load
balancer: they share nothing but the database, as processes do.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.shell import MEMBER
from bot.webhook import WebhookHandling
from core import inbox
from core.models import utcnow
from tests.conftest import BotHarness
from web.app import create_app
from web.telegram_webhook import MAX_BODY_BYTES, TelegramWebhook

SECRET = "s3cret-token"
PATH = "/hook"


class Process:
    """One "process": its own handling, its own HTTP app, over the shared club."""

    def __init__(self, bot: BotHarness, name: str) -> None:
        self.handling = WebhookHandling(bot.app)
        self.handling.worker = name
        webhook = TelegramWebhook(PATH, SECRET, self.handling.receive)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(create_app(bot.club, webhook)), base_url="http://club"
        )

    async def post(
        self, body: bytes | dict[str, Any], secret: str | None = SECRET, path: str = PATH
    ) -> int:
        content = json.dumps(body).encode() if isinstance(body, dict) else body
        headers = {} if secret is None else {"X-Telegram-Bot-Api-Secret-Token": secret}
        return (await self.client.post(path, content=content, headers=headers)).status_code


@pytest.fixture
async def first(bot: BotHarness):  # type: ignore[no-untyped-def]
    process = Process(bot, "first")
    yield process
    await process.client.aclose()


@pytest.fixture
async def second(bot: BotHarness):  # type: ignore[no-untyped-def]
    process = Process(bot, "second")
    yield process
    await process.client.aclose()


def _update(update_id: int, text: str = "/start") -> dict[str, Any]:
    chat = {"id": MEMBER["id"], "type": "private", "first_name": "Sara"}
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    message = {"message_id": update_id, "date": 0, "chat": chat, "from": MEMBER, "text": text,
               "entities": entities if text.startswith("/") else []}  # fmt: skip
    return {"update_id": update_id, "message": message}


def _sent(bot: BotHarness) -> int:
    """Messages the bot has sent. No waiting: 200 comes only once the update is handled, so what
    it sent is already there."""
    return len(bot.standin.sent())


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1], SECRET.upper()])
async def test_a_wrong_or_missing_secret_is_refused(
    bot: BotHarness, first: Process, secret: str | None
) -> None:
    assert await first.post(_update(1), secret) == 403
    assert _sent(bot) == 0


async def test_the_right_secret_is_handled_and_a_replay_only_once(
    bot: BotHarness, first: Process
) -> None:
    assert await first.post(_update(7)) == 200
    assert await first.post(_update(7)) == 200
    assert _sent(bot) == 1
    assert await first.post(_update(8)) == 200
    assert _sent(bot) == 2


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe", b"", b"[]", b"null", b"42", b'"text"', b'{"update_id":"abc"}',
     b'{"update_id":true}', b'{"update_id":-1}', b'{"update_id":1.5}', b'{"message":{}}',
     b'{"update_id":3,"message":"abc"}', b'{"update_id":3,"message":{"chat":7}}'],
)  # fmt: skip
async def test_any_other_json_gets_400_and_nothing_is_handled(
    bot: BotHarness, first: Process, body: bytes
) -> None:
    assert await first.post(body) == 400
    assert _sent(bot) == 0
    assert await first.post(_update(3)) == 200, "a refused body claims no update_id"


async def test_paths_methods_and_sizes(bot: BotHarness, first: Process) -> None:
    assert await first.post(_update(1), path="/other") == 404
    assert (await first.client.get(PATH)).status_code == 405
    huge = json.dumps({"update_id": 1, "pad": "x" * MAX_BODY_BYTES}).encode()
    assert await first.post(huge) == 413
    assert _sent(bot) == 0


async def test_the_webhook_is_not_in_the_api_document(first: Process) -> None:
    document = (await first.client.get("/api/v1/openapi.json")).json()
    assert PATH not in document["paths"]


async def test_an_update_redelivered_to_another_process_meanwhile_is_handled_once(
    bot: BotHarness, first: Process, second: Process
) -> None:
    """Telegram posts again when an answer is slow: both posts land at once, in two processes."""
    for update_id in range(10, 30):
        statuses = await asyncio.gather(first.post(_update(update_id)),
                                        second.post(_update(update_id)))  # fmt: skip
        assert statuses == [200, 200]
    assert _sent(bot) == 20


async def test_a_chat_waits_for_its_earlier_update_held_by_another_process(
    bot: BotHarness, second: Process
) -> None:
    """Another process holds the chat's update 40: update 41 waits here until it is handled."""
    sessions = bot.club.sessions
    assert await inbox.claim(sessions, 40, MEMBER["id"], "first") is inbox.Claim.MINE
    async with inbox.holding(sessions, 40, "first"):
        later = asyncio.create_task(second.post(_update(41, "/points")))
        await asyncio.sleep(0.3)
        assert not later.done() and _sent(bot) == 0
    assert await later == 200
    assert _sent(bot) == 1
    # a redelivery of 40 finds it handled and answers at once
    assert await second.post(_update(40)) == 200
    assert _sent(bot) == 1


async def test_a_redelivery_waits_while_another_process_handles_it(
    bot: BotHarness, second: Process
) -> None:
    sessions = bot.club.sessions
    assert await inbox.claim(sessions, 50, MEMBER["id"], "first") is inbox.Claim.MINE
    async with inbox.holding(sessions, 50, "first"):
        redelivered = asyncio.create_task(second.post(_update(50)))
        await asyncio.sleep(0.3)
        assert not redelivered.done()
    assert await redelivered == 200
    assert _sent(bot) == 0, "handled by the process that held it, not again"


async def test_the_update_of_a_dead_process_is_taken_over_after_its_lease(
    bot: BotHarness, second: Process
) -> None:
    sessions = bot.club.sessions
    long_ago = utcnow() - inbox.LEASE - timedelta(seconds=1)
    assert await inbox.claim(sessions, 60, MEMBER["id"], "dead", now=long_ago) is inbox.Claim.MINE
    # the dead process's claim neither blocks the chat's next update nor its own redelivery
    assert await second.post(_update(61, "/points")) == 200
    assert await second.post(_update(60)) == 200
    assert _sent(bot) == 2


async def test_handled_updates_are_forgotten_after_telegram_would_redeliver_them(
    bot: BotHarness, first: Process
) -> None:
    assert await first.post(_update(70)) == 200
    sessions = bot.club.sessions
    assert await inbox.forget_handled(sessions) == 0
    assert await inbox.forget_handled(sessions, utcnow() + inbox.KEEP + timedelta(1)) == 1
    assert await inbox.claim(sessions, 70, MEMBER["id"], "first") is inbox.Claim.MINE
