"""Telegram's webhook as one route of the HTTP app: the checks at the door, then the bot's handling.

The route knows HTTP, not Telegram. It refuses a request without the webhook's secret token
(compared in constant time, before the body is read) with 403, a body past
:data:`MAX_BODY_BYTES` with 413, and anything but a JSON object with a whole ``update_id`` with
400; it hands the rest to :attr:`TelegramWebhook.receive` (the bot's, :mod:`bot.webhook`) and
answers 200 once that returns, that is once the update is handled. A bot that dies first leaves
Telegram to deliver the update again. ``receive`` raises :class:`ValueError` for an object that is
not an update Telegram could have sent, which is answered 400 too.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request, Response

SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_BODY_BYTES = 1024 * 1024  # Telegram's updates are a few KiB; a file's contents never come here

log = logging.getLogger(__name__)


class TooLarge(Exception):
    """The body passed :data:`MAX_BODY_BYTES`."""


@dataclass(frozen=True)
class TelegramWebhook:
    """Where Telegram posts (the path of the registered URL), the secret token it sends, and what
    handles an update."""

    path: str
    secret: str
    receive: Callable[[dict[str, Any]], Awaitable[None]]

    def __post_init__(self) -> None:
        if not self.secret:
            raise ValueError("webhook mode needs a secret token")


def mount(app: FastAPI, webhook: TelegramWebhook) -> None:
    """Add the webhook's route to ``app`` (outside the API's documentation)."""
    secret = webhook.secret.encode()

    async def telegram_update(request: Request) -> Response:
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), secret):
            log.warning("webhook request with a missing or wrong secret token")
            return Response(status_code=403)
        try:
            data = json.loads(await _body(request))
        except TooLarge:
            return Response(status_code=413)
        except ValueError:  # not JSON, or not UTF-8
            return Response(status_code=400)
        if not _is_update(data):
            return Response(status_code=400)
        try:
            await webhook.receive(data)
        except ValueError:
            return Response(status_code=400)
        return Response(status_code=200)

    app.add_api_route(webhook.path, telegram_update, methods=["POST"], include_in_schema=False)


async def _body(request: Request) -> bytes:
    """The body, refused as soon as it passes the limit (announced or streamed)."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > MAX_BODY_BYTES:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise TooLarge
    return bytes(body)


def _is_update(data: Any) -> bool:
    """A JSON object with a whole, non-negative ``update_id`` (``true`` is not a number here)."""
    if not isinstance(data, dict):
        return False
    update_id = data.get("update_id")
    return type(update_id) is int and update_id >= 0
