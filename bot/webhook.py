"""Webhook mode: how an update posted to the HTTP app's webhook route is handled, once.

The route (:mod:`web.telegram_webhook`) checks the secret and the body and awaits
:meth:`WebhookHandling.receive`, answering Telegram 200 when it returns. Here the update is
claimed in the club's database (:mod:`core.inbox`), so that behind a load balancer:

- a redelivered ``update_id`` is handled once, by whichever process claimed it first; the others
  wait until it is handled before answering, so Telegram sends that chat nothing newer meanwhile;
- a chat's update waits for the chat's earlier updates held by other processes (and, within this
  process, :class:`bot.updates.UpdateFlow` keeps the same order);
- a process that dies mid-update loses its claim after :data:`core.inbox.LEASE`, and Telegram's
  next delivery is handled by another.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import Any

from telegram import Update
from telegram.ext import Application

from bot.context import club_of
from bot.updates import UpdateFlow, chat_key
from core import inbox

FIRST_WAIT_SECONDS = 0.01  # waiting for another process's update: the first look
LONGEST_WAIT_SECONDS = 0.25  # and the slowest it gets


class WebhookHandling:
    """Updates from the webhook route: claimed across processes, then handled in chat order."""

    def __init__(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        self.app = app
        self.flow = UpdateFlow(app)
        self.worker = f"{socket.gethostname()}:{os.getpid()}"[:64]

    async def receive(self, data: dict[str, Any]) -> None:
        """Handle the update in ``data`` unless it was (or is being) handled; return once it is.

        Raises :class:`ValueError` for an object Telegram could not have sent.
        """
        update = _decoded(data, self.app)
        sessions = club_of(self.app).sessions
        chat = chat_key(update)
        wait = _Backoff()
        while (claim := await inbox.claim(sessions, update.update_id, chat, self.worker)) is not (
            inbox.Claim.MINE
        ):
            if claim is inbox.Claim.HANDLED:
                return
            await wait()  # held by another process: answer once it is handled, or take it over
        async with inbox.holding(sessions, update.update_id, self.worker):
            wait = _Backoff()
            while not await inbox.turn_has_come(sessions, update.update_id, chat):
                await wait()
            await self.flow.handle(update)


def _decoded(data: dict[str, Any], app: Application[Any, Any, Any, Any, Any, Any]) -> Update:
    try:
        update = Update.de_json(data, app.bot)
    except Exception as exc:  # de_json raises whatever a malformed field makes it raise
        raise ValueError(f"not an update: {exc}") from exc
    if update is None:
        raise ValueError("not an update")
    return update


class _Backoff:
    """Sleeps that start short (most waits end within a handler's time) and grow to a bound."""

    def __init__(self) -> None:
        self._seconds = FIRST_WAIT_SECONDS

    async def __call__(self) -> None:
        await asyncio.sleep(self._seconds)
        self._seconds = min(self._seconds * 2, LONGEST_WAIT_SECONDS)
