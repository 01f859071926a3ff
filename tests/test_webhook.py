"""Webhook mode over real HTTP on loopback: the secret token gates everything, replays run once,
and 200 means handled."""

from __future__ import annotations

import asyncio
import json

import pytest

from bot.shell import MEMBER
from bot.webhook import WebhookReceiver
from tests.conftest import BotHarness

SECRET = "s3cret-token"


async def _post(port: int, body: bytes, secret: str | None, path: str = "/hook") -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    headers = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    if secret is not None:
        headers.append(f"X-Telegram-Bot-Api-Secret-Token: {secret}")
    writer.write(("\r\n".join(headers) + "\r\n\r\n").encode() + body)
    await writer.drain()
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


def _start_update(update_id: int) -> bytes:
    chat = {"id": MEMBER["id"], "type": "private", "first_name": "Sara"}
    message = {"message_id": update_id, "date": 0, "chat": chat, "from": MEMBER, "text": "/start",
               "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}  # fmt: skip
    return json.dumps({"update_id": update_id, "message": message}).encode()


def _sent(bot: BotHarness) -> int:
    """Messages the bot has sent. No waiting: the receiver answers 200 only once the update is
    handled, so what it sent is already there."""
    return len(bot.standin.sent())


@pytest.fixture
async def server(bot: BotHarness):  # type: ignore[no-untyped-def]
    receiver = WebhookReceiver(bot.app, SECRET, path="/hook")
    server = await receiver.serve("127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
async def test_a_wrong_or_missing_secret_is_refused(
    bot: BotHarness, server: int, secret: str | None
) -> None:
    assert await _post(server, _start_update(1), secret) == 403
    assert _sent(bot) == 0


async def test_the_right_secret_is_handled_and_a_replay_only_once(
    bot: BotHarness, server: int
) -> None:
    assert await _post(server, _start_update(7), SECRET) == 200
    assert await _post(server, _start_update(7), SECRET) == 200
    assert _sent(bot) == 1
    assert await _post(server, _start_update(8), SECRET) == 200
    assert _sent(bot) == 2


async def test_other_paths_and_garbage(bot: BotHarness, server: int) -> None:
    assert await _post(server, _start_update(1), SECRET, path="/other") == 404
    assert await _post(server, b"{not json", SECRET) == 400
    assert _sent(bot) == 0
