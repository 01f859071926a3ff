"""How updates reach the handlers: in order within a chat, side by side across chats, and
confirmed to Telegram only once handled.

python-telegram-bot's ``Updater`` confirms a batch (the next ``getUpdates`` offset) as soon as it
has fetched it, and its ``Application`` handles updates one at a time, or, with
``concurrent_updates``, in no particular order. Killed with fetched updates not yet handled, such a
bot loses them for good; handling one update at a time, it lets one slow chat hold every other up.

:class:`UpdateFlow` handles each update after the earlier updates of its chat (a conversation's
steps must stay in order) and beside those of other chats, at most ``limit`` at once. Its
:attr:`~UpdateFlow.offset` is the lowest ``update_id`` not handled yet: the most :func:`poll` may
confirm. Killed, the bot gets again from Telegram only the updates that were in flight (and any
handled after the oldest of them); handlers are idempotent where it matters (purchase references,
request keys), so a repeat answers again but never awards twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, RetryAfter, TelegramError
from telegram.ext import Application

from bot.notifications.sender import retry_seconds

log = logging.getLogger(__name__)

CONCURRENT_UPDATES = 64
LONG_POLL_SECONDS = 25
BATCH = 100  # the most getUpdates returns at once
RECHECK_SECONDS = 0.25  # while updates are in flight, how often to look for newer ones
BACKOFF_FACTOR = 1.5  # as PTB's own polling: 1, 1.5, 2.25… seconds between failed calls
MAX_BACKOFF_SECONDS = 30.0
SHUTDOWN_SECONDS = 20.0  # how long updates in flight may take to end when the bot stops


class UpdateFlow:
    """Updates handled in order per chat, concurrently across chats, with the offset they allow."""

    def __init__(
        self, app: Application[Any, Any, Any, Any, Any, Any], limit: int = CONCURRENT_UPDATES
    ) -> None:
        self.app = app
        self._slots = asyncio.Semaphore(limit)
        self._last_of_chat: dict[int, asyncio.Task[None]] = {}
        self._in_flight: dict[int, asyncio.Task[None]] = {}  # by update_id
        self._next = 0  # one past the highest update_id started
        self._progress = asyncio.Event()

    @property
    def offset(self) -> int:
        """The ``getUpdates`` offset that confirms every handled update and nothing else."""
        return min(self._in_flight) if self._in_flight else self._next

    @property
    def busy(self) -> bool:
        return bool(self._in_flight)

    def is_new(self, update: Update) -> bool:
        """Not started before: ``getUpdates`` returns updates in flight again until confirmed."""
        return update.update_id >= self._next

    def start(self, update: Update) -> asyncio.Task[None]:
        """Begin handling ``update`` (after the earlier updates of its chat)."""
        key = chat_key(update)
        previous = self._last_of_chat.get(key) if key is not None else None
        self._next = max(self._next, update.update_id + 1)
        task = asyncio.create_task(
            self._handle(update, previous), name=f"update {update.update_id}"
        )
        self._in_flight[update.update_id] = task
        if key is not None:
            self._last_of_chat[key] = task
            task.add_done_callback(lambda done: self._forget(key, done))
        return task

    async def handle(self, update: Update) -> None:
        """Handle ``update`` and return once it is handled (the webhook answers then)."""
        await self.start(update)

    async def progressed(self, seconds: float) -> None:
        """Wait until some update is handled, or ``seconds``."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._progress.wait(), seconds)
        self._progress.clear()

    async def finish(self, seconds: float) -> None:
        """Let the updates in flight end (at shutdown), for at most ``seconds``."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight.values()), timeout=seconds)

    async def _handle(self, update: Update, previous: asyncio.Task[None] | None) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])  # its outcome is its own
            async with self._slots:
                await self.app.process_update(update)
        except Exception:  # process_update hands handler errors to the error handler
            log.exception("update %s could not be processed", update.update_id)
        finally:
            self._in_flight.pop(update.update_id, None)
            self._progress.set()

    def _forget(self, key: int, task: asyncio.Task[None]) -> None:
        if self._last_of_chat.get(key) is task:
            del self._last_of_chat[key]


def chat_key(update: Update) -> int | None:
    """What orders updates: the chat, else the user (inline queries, payments), else nothing."""
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


async def poll(
    app: Application[Any, Any, Any, Any, Any, Any], flow: UpdateFlow, stop: asyncio.Event
) -> None:
    """Long-poll ``getUpdates`` until ``stop`` is set, confirming only what ``flow`` handled.

    While updates are in flight Telegram keeps returning them (they are not confirmed); they are
    recognised by ``update_id`` and not started twice, and the loop waits for one to end (or
    :data:`RECHECK_SECONDS`) before it asks again, so newer updates of other chats still come in.
    Errors back off up to :data:`MAX_BACKOFF_SECONDS` (a 429 waits what Telegram asks); a revoked
    token ends the run. At the end the handled updates are confirmed, so a restart does not get
    them again.
    """
    await app.bot.delete_webhook(drop_pending_updates=False)
    backoff = 0.0
    while not stop.is_set():
        try:
            updates = await app.bot.get_updates(
                offset=flow.offset or None,
                timeout=0 if flow.busy else LONG_POLL_SECONDS,
                limit=BATCH,
                allowed_updates=Update.ALL_TYPES,
            )
        except InvalidToken:
            raise
        except RetryAfter as exc:
            await _pause(stop, retry_seconds(exc))
            continue
        except TelegramError as exc:  # network errors, timeouts, 5xx, a conflict with a webhook
            backoff = min(max(backoff * BACKOFF_FACTOR, 1.0), MAX_BACKOFF_SECONDS)
            log.warning("getUpdates failed (%s); trying again in %.0f s", exc, backoff)
            await _pause(stop, backoff)
            continue
        backoff = 0.0
        for update in updates:
            if flow.is_new(update):
                flow.start(update)
        if flow.busy:
            await flow.progressed(RECHECK_SECONDS)
    await flow.finish(SHUTDOWN_SECONDS)
    with contextlib.suppress(TelegramError):
        await app.bot.get_updates(offset=flow.offset or None, timeout=0, limit=1)


def stop_signal() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: how ``bashgah run`` is asked to stop cleanly."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    return stop


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if the bot is stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
