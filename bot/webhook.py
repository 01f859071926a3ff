"""Webhook mode: a small HTTP receiver that checks Telegram's secret token in constant time.

python-telegram-bot's own webhook server compares the secret with ``!=`` and needs tornado; this
receiver uses only asyncio, compares with :func:`hmac.compare_digest`, refuses a request without the
right token with 403 before reading its body, and drops an ``update_id`` it has already taken, so a
redelivered update is handled once. It answers 200 once the update is handled (through
:class:`bot.updates.UpdateFlow`, in order per chat), not once it is queued: a bot that dies first
leaves Telegram to deliver the update again.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import OrderedDict
from http import HTTPStatus
from urllib.parse import urlsplit

from telegram import Update
from telegram.ext import Application

from bot.app import running
from bot.updates import SHUTDOWN_SECONDS, UpdateFlow, stop_signal

log = logging.getLogger(__name__)

SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
REMEMBERED_UPDATES = 10_000


class WebhookReceiver:
    def __init__(self, app: Application, secret: str, path: str = "/") -> None:
        if not secret:
            raise ValueError("webhook mode needs a secret token")
        self.app = app
        self.flow = UpdateFlow(app)
        self.secret = secret.encode()
        self.path = path
        self._seen: OrderedDict[int, None] = OrderedDict()

    async def serve(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._handle, host, port, limit=MAX_HEADER_BYTES)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status = await self._respond(reader)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            status = HTTPStatus.BAD_REQUEST
        writer.write(
            f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n".encode()
        )
        try:
            await writer.drain()
        finally:
            writer.close()

    async def _respond(self, reader: asyncio.StreamReader) -> HTTPStatus:
        head = await reader.readuntil(b"\r\n\r\n")
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {}
        for line in header_lines:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if target.split("?")[0] != self.path:
            return HTTPStatus.NOT_FOUND
        if method != "POST":
            return HTTPStatus.METHOD_NOT_ALLOWED
        if not hmac.compare_digest(headers.get(SECRET_HEADER, "").encode(), self.secret):
            log.warning("webhook request with a missing or wrong secret token")
            return HTTPStatus.FORBIDDEN
        length = int(headers.get("content-length", "0"))
        if not 0 < length <= MAX_BODY_BYTES:
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE if length else HTTPStatus.BAD_REQUEST
        body = await reader.readexactly(length)
        data = json.loads(body)
        update = Update.de_json(data, self.app.bot)
        if update is None or self._already_seen(update.update_id):
            return HTTPStatus.OK
        await self.flow.handle(update)
        return HTTPStatus.OK

    def _already_seen(self, update_id: int) -> bool:
        if update_id in self._seen:
            return True
        self._seen[update_id] = None
        if len(self._seen) > REMEMBERED_UPDATES:
            self._seen.popitem(last=False)
        return False


async def run_webhook(app: Application, url: str, secret: str, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM: register the webhook, receive, and handle updates."""
    receiver = WebhookReceiver(app, secret, path=urlsplit(url).path or "/")
    async with running(app, background_work=True):
        await app.bot.set_webhook(url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
        server = await receiver.serve(host, port)
        async with server:
            await stop_signal().wait()
        await receiver.flow.finish(SHUTDOWN_SECONDS)
