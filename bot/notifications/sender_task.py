"""The outbox sender as a background task of the Application, for the bot's whole life.

Started once the club is open (:func:`start_sender`), stopped at shutdown (:func:`stop_sender`):
it stops claiming, lets the sends in flight settle, and closes the sender's own ``Bot`` if it has
one (:func:`dedicated_bot`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from telegram import Bot
from telegram.ext import Application
from telegram.request import HTTPXRequest

from bot.context import club_of
from bot.notifications.sender import SENDER_KEY, ProgressHook, Sender


@dataclass
class _Running:
    sender: Sender
    stop: asyncio.Event
    task: asyncio.Task[None]
    own_bot: Bot | None


def dedicated_bot(bot: Bot, pool_size: int = 64) -> Bot | None:
    """A plain ``Bot`` for the sender if ``bot`` has a rate limiter (which would retry 429s out
    of the sender's sight); ``None`` if ``bot`` can be used as it is."""
    if getattr(bot, "rate_limiter", None) is None:
        return None
    base_url, base_file_url = bot.base_url, bot.base_file_url  # already with the token
    return Bot(
        bot.token,
        base_url=lambda _token: base_url,
        base_file_url=lambda _token: base_file_url,
        request=HTTPXRequest(connection_pool_size=pool_size),
    )


async def start_sender(
    application: Application[Any, Any, Any, Any, Any, Any],
    *,
    on_progress: ProgressHook | None = None,
    **options: Any,
) -> Sender:
    """Once the club is open: drain the outbox in the background for the bot's whole life, at the
    rules' ``messaging.rate_per_second``, ``max_attempts`` and ``stale_claim_seconds``."""
    club = club_of(application)
    own_bot = dedicated_bot(application.bot)
    if own_bot is not None:
        await own_bot.initialize()
    sender = Sender.from_rules(
        own_bot or application.bot,
        club.sessions,
        club.rules.messaging,
        on_progress=on_progress,
        **options,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sender.run(stop), name="outbox-sender")
    application.bot_data[SENDER_KEY] = _Running(sender, stop, task, own_bot)
    return sender


async def stop_sender(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """At shutdown: stop claiming, let in-flight sends settle, close the own bot."""
    running: _Running | None = application.bot_data.pop(SENDER_KEY, None)
    if running is None:
        return
    running.stop.set()
    try:
        await running.task
    finally:
        if running.own_bot is not None:
            await running.own_bot.shutdown()
