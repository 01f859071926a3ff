"""The one sender that drains the outbox at Telegram's pace.

Each round claims a batch of due rows in one short transaction (:func:`core.outbox.claim`), sends
them through a PTB ``Bot``, and settles each row in its own short transaction as its answer comes
back. The sender owns its pacing (:mod:`bot.notifications.pacing`: at most ``rate`` messages a
second, one a second per chat; PTB's ``AIORateLimiter`` would retry 429s out of sight and has no
per-private-chat limit). Chats still cooling are left out of the next claim, and a second row for
one chat in a batch is put back (its attempt refunded); such a row waits for a later round, it
never holds the batch up. :mod:`bot.notifications.sender_task` runs it for the bot's whole life.

How a send ends:

- sent: ``sent``;
- 429 ``RetryAfter``: the whole sender pauses ``retry_after``; the row, and the batch's rows not yet
  sent, go back to pending with ``not_before`` = now + ``retry_after``;
- 403 ``Forbidden``: the row ``unreachable``, the member ``blocked``, and their other pending rows
  ``unreachable`` at once (:func:`core.outbox.settle_forbidden`); the claim never takes rows of
  blocked members, and the periodic sweep settles rows written for them later
  (:func:`core.outbox.drop_blocked`). Nothing more is sent to them;
- 400 ``BadRequest`` (and ``ChatMigrated``): ``failed`` with Telegram's description;
- ``TimedOut``, ``NetworkError``, 5xx and other Telegram errors: back to pending with exponential
  backoff (2, 4, 8… seconds) until ``max_attempts``, then ``failed``. Three such errors in a row
  pause the whole sender too (1, 2, 4… up to 60 s), so an outage does not burn every row's attempts.

Every claim counts as an attempt, whatever the outcome, so no row is ever retried forever.

A row in flight when the process dies stays ``sending``; :func:`core.outbox.release_stale` (at the
first round and every ``housekeeping_every`` seconds) puts rows claimed longer than ``stale_after``
(the rule ``messaging.stale_claim_seconds``) ago back. A message is thus never sent twice, except
one that was in flight at a crash.

Several senders may drain one PostgreSQL outbox (rows are claimed with ``SKIP LOCKED``); each paces
itself, so give each ``rate / n``. Their per-chat spacing is not shared.
"""

from __future__ import annotations

import asyncio
import logging
import math
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from telegram import Bot, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application
from telegram.warnings import PTBDeprecationWarning

from bot.notifications.pacing import Clock, Pace, SystemClock
from core import outbox
from core.db import Sessions, transaction
from core.models import Delivery, DeliveryStatus
from core.rules import MessagingRules

log = logging.getLogger(__name__)

ProgressHook = Callable[[int], Awaitable[None]]

NETWORK_STREAK_PAUSE = 3  # this many network errors in a row pause the whole sender
MAX_NETWORK_PAUSE = 60.0
HOUSEKEEPING_SECONDS = 30.0  # how often stale claims are looked for (at most)
SENDER_KEY = "outbox_sender"  # where :mod:`bot.notifications.sender_task` keeps the running one


@dataclass
class SenderStats:
    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    retried: int = 0  # rows put back for a later attempt (429, network errors)
    flood_waits: int = 0  # 429s received
    released: int = 0  # stale claims put back by the sweep


class Sender:
    """Drains the outbox through ``bot``; :meth:`run` for the bot's life, :meth:`drain` for jobs.

    ``on_progress(campaign_id)`` is awaited after each batch, once per campaign in it, when every
    row of the batch is settled.
    """

    def __init__(
        self,
        bot: Bot,
        sessions: Sessions,
        *,
        rate: float = 30.0,
        max_attempts: int = 5,
        per_chat_interval: float = 1.0,
        guard: float = 0.015,
        batch_size: int | None = None,
        max_in_flight: int = 64,
        stale_after: timedelta = timedelta(minutes=2),
        housekeeping_every: float = HOUSEKEEPING_SECONDS,
        backoff_base: float = 2.0,
        backoff_max: float = 600.0,
        idle_interval: float = 1.0,
        on_progress: ProgressHook | None = None,
        clock: Clock | None = None,
    ) -> None:
        if rate <= 0 or max_attempts < 1 or max_in_flight < 1:
            raise ValueError("rate, max_attempts and max_in_flight must be positive")
        self.bot = bot
        self.sessions = sessions
        self.rate = rate
        self.max_attempts = max_attempts
        self.batch_size = batch_size or max(1, math.ceil(rate))
        self.stale_after = stale_after
        self.housekeeping_every = housekeeping_every
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.idle_interval = idle_interval
        self.on_progress = on_progress
        self.clock: Clock = clock or SystemClock()
        self.pace = Pace(self.clock, rate, per_chat_interval, guard)
        self.stats = SenderStats()
        self._network_streak = 0
        self._next_housekeeping: float | None = None
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._finishers: set[asyncio.Task[list[BaseException]]] = set()
        self._touched: set[int] = set()  # campaigns whose rows a 403 settled outside their batch
        self._wake = asyncio.Event()

    @classmethod
    def from_rules(
        cls,
        bot: Bot,
        sessions: Sessions,
        rules: MessagingRules,
        **options: Any,
    ) -> Sender:
        stale = float(rules.stale_claim_seconds)
        return cls(
            bot, sessions, rate=rules.rate_per_second, max_attempts=rules.max_attempts,
            stale_after=timedelta(seconds=stale),
            housekeeping_every=min(HOUSEKEEPING_SECONDS, stale / 2),
            **options,
        )  # fmt: skip

    # -- the public loop -------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Drain until ``stop`` is set; sleeps when idle and notices new rows within
        ``idle_interval`` (at once after :meth:`wake`). Lets in-flight sends settle before
        returning."""
        try:
            while not stop.is_set():
                if self.pace.paused():
                    await self._sleep(self.pace.pause_left(), stop)
                    continue
                try:
                    handled = await self._round()
                    delay = 0.0 if handled else await self._idle_delay()
                except Exception:
                    log.exception("outbox round failed; trying again shortly")
                    delay = self.idle_interval
                if delay > 0:
                    await self._sleep(delay, stop, wakeable=True)
        finally:
            await self._flush(raise_errors=False)

    def wake(self) -> None:
        """New rows were written: look now rather than at the next idle tick."""
        self._wake.set()

    async def drain_once(self) -> int:
        """One round, finished: wait out a pause, claim a batch, send it at pace, settle every
        row. Returns how many rows were handled (0: nothing due, or every due chat cooling)."""
        if self.pace.paused():
            await self.clock.sleep(self.pace.pause_left())
        handled = await self._round()
        await self._flush(raise_errors=True)
        return handled

    async def drain(self, max_wait: float = 5.0) -> int:
        """Rounds until no pending row is due within ``max_wait`` seconds; how many were handled."""
        total = 0
        while True:
            handled = await self.drain_once()
            total += handled
            if handled:
                continue
            due = await outbox.next_due_in(self.sessions)
            if due is None or (due - self.clock.now()).total_seconds() > max_wait:
                return total
            await self.clock.sleep(await self._idle_delay(due))

    @property
    def recent_rate(self) -> float:
        """Messages a second over the last few seconds, for progress reports."""
        return self.pace.recent_rate

    # -- one round -------------------------------------------------------------------------------

    async def _round(self) -> int:
        await self._housekeeping()
        batch = await self._claim()
        tasks: list[asyncio.Task[None]] = []
        for index, delivery in enumerate(batch):
            if self.pace.is_blocked(delivery.chat_id):
                tasks.append(asyncio.create_task(self._settle_blocked(delivery)))
                continue
            await self._in_flight.acquire()
            try:
                await self.pace.wait_slot()
            except BaseException:
                self._in_flight.release()
                raise
            if self.pace.paused():  # a 429 (or an outage) arrived while this batch was going out
                self._in_flight.release()
                await self._put_back(batch[index:])
                break
            self.pace.started(delivery.chat_id)
            tasks.append(asyncio.create_task(self._deliver(delivery)))
            await asyncio.sleep(0)  # let the send start now, on its slot
        if tasks:
            campaigns = {d.campaign_id for d in batch[: len(tasks)] if d.campaign_id is not None}
            finisher = asyncio.create_task(self._finish(tasks, sorted(campaigns)))
            self._finishers.add(finisher)
            finisher.add_done_callback(self._finishers.discard)
        return len(tasks)

    async def _claim(self) -> list[Delivery]:
        cooling = self.pace.cooling_chats()
        async with transaction(self.sessions) as session:
            claimed = await outbox.claim(
                session, self.batch_size, now=self.clock.now(), exclude_chat_ids=cooling
            )
            batch: list[Delivery] = []
            later: list[int] = []
            chats: set[int] = set()
            for delivery in claimed:
                if delivery.chat_id in chats:
                    later.append(delivery.id)  # one message per chat per round
                else:
                    chats.add(delivery.chat_id)
                    batch.append(delivery)
            await outbox.unclaim(session, later)
        return batch

    async def _finish(self, tasks: list[asyncio.Task[None]], campaigns: list[int]) -> list[Any]:
        results = await asyncio.gather(*tasks, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        for error in errors:
            log.error("settling a delivery failed", exc_info=error)
        touched, self._touched = self._touched, set()
        await self._progress({*campaigns, *touched})
        return errors

    async def _progress(self, campaigns: set[int]) -> None:
        if self.on_progress is None:
            return
        for campaign_id in sorted(campaigns):
            try:
                await self.on_progress(campaign_id)
            except Exception:
                log.exception("progress hook failed for campaign %s", campaign_id)

    async def _flush(self, *, raise_errors: bool) -> None:
        while self._finishers:
            results = await asyncio.gather(*list(self._finishers))
            errors = [e for batch_errors in results for e in batch_errors]
            if errors and raise_errors:
                raise errors[0]

    # -- one send --------------------------------------------------------------------------------

    async def _deliver(self, delivery: Delivery) -> None:
        try:
            error = await self._send(delivery)
        finally:
            self._in_flight.release()
        await self._settle(delivery, error)

    async def _send(self, delivery: Delivery) -> Exception | None:
        """The send itself; Telegram's refusal is returned, cancellation is not caught."""
        try:
            markup = (
                InlineKeyboardMarkup.de_json(delivery.reply_markup, self.bot)
                if delivery.reply_markup
                else None
            )
        except Exception as exc:  # a malformed markup is this row's problem, not the sender's
            return _BadMarkup(f"bad reply_markup: {exc!r}")
        try:
            await self.bot.send_message(
                chat_id=delivery.chat_id,
                text=delivery.text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        except TelegramError as exc:
            return exc
        return None

    async def _settle(self, delivery: Delivery, error: Exception | None) -> None:
        """Record the outcome. The sender's own state (pause, streak) changes before the first
        await, so the batch loop sees a 429 before it starts the next send."""
        if error is None:
            self._network_streak = 0
            async with transaction(self.sessions) as session:
                await outbox.settle(session, delivery.id, DeliveryStatus.SENT, now=self.clock.now())
            self.stats.sent += 1
        elif isinstance(error, RetryAfter):
            wait = retry_seconds(error)
            self.stats.flood_waits += 1
            self.pace.pause(wait)
            log.warning("429 from Telegram: the sender pauses %.0f s", wait)
            await self._retry_or_fail(delivery, wait, _describe(error))
        elif isinstance(error, Forbidden):
            self._network_streak = 0
            self.pace.forbidden(delivery.chat_id)
            await self._write_forbidden(delivery, _describe(error))
        elif isinstance(error, _BadMarkup):
            await self._write_failed(delivery, str(error))
        elif isinstance(error, BadRequest | ChatMigrated):
            # BadRequest is a NetworkError subclass: it must be told apart before the retries
            self._network_streak = 0
            await self._write_failed(delivery, _describe(error))
        else:  # TimedOut, NetworkError, 5xx, anything else from Telegram: retry with backoff
            # One step per pause, not per row: a whole batch failing at once is one outage.
            if not self.pace.paused():
                self._network_streak += 1
            if self._network_streak >= NETWORK_STREAK_PAUSE:
                excess = self._network_streak - NETWORK_STREAK_PAUSE
                self.pace.pause(min(MAX_NETWORK_PAUSE, 2.0**excess))
            backoff = min(self.backoff_max, self.backoff_base * 2 ** (delivery.attempts - 1))
            await self._retry_or_fail(delivery, backoff, _describe(error))

    async def _retry_or_fail(self, delivery: Delivery, delay: float, error: str) -> None:
        if delivery.attempts >= self.max_attempts:
            await self._write_failed(delivery, f"gave up after {delivery.attempts}: {error}")
            return
        retry_at = self.clock.now() + timedelta(seconds=delay)
        async with transaction(self.sessions) as session:
            await outbox.settle(
                session, delivery.id, DeliveryStatus.PENDING, error=error, retry_at=retry_at
            )
        self.stats.retried += 1

    async def _write_failed(self, delivery: Delivery, error: str) -> None:
        log.info("delivery %s failed: %s", delivery.id, error)
        async with transaction(self.sessions) as session:
            await outbox.settle(
                session, delivery.id, DeliveryStatus.FAILED, error=error, now=self.clock.now()
            )
        self.stats.failed += 1

    async def _write_forbidden(self, delivery: Delivery, error: str) -> None:
        async with transaction(self.sessions) as session:
            more = await outbox.settle_forbidden(
                session, delivery.id, chat_id=delivery.chat_id, member_id=delivery.member_id,
                error=error, now=self.clock.now(),
            )  # fmt: skip
        self.stats.unreachable += 1 + len(more)
        self._touched.update(c for c in more if c is not None)

    async def _settle_blocked(self, delivery: Delivery) -> None:
        """A row claimed just before its chat answered 403 to another row: not sent at all."""
        await self._write_forbidden(delivery, outbox.BLOCKED_ERROR)

    async def _put_back(self, deliveries: list[Delivery]) -> None:
        resume = self.clock.now() + timedelta(seconds=max(0.0, self.pace.pause_left()))
        async with transaction(self.sessions) as session:
            await outbox.unclaim(session, [d.id for d in deliveries], not_before=resume)

    # -- housekeeping and idling -----------------------------------------------------------------

    async def _housekeeping(self) -> None:
        now = self.clock.monotonic()
        if self._next_housekeeping is not None and now < self._next_housekeeping:
            return
        self._next_housekeeping = now + self.housekeeping_every
        async with transaction(self.sessions) as session:
            released = await outbox.release_stale(session, self.stale_after, now=self.clock.now())
            dropped = await outbox.drop_blocked(session)
        self.stats.released += released
        self.stats.unreachable += len(dropped)
        if released or dropped:
            log.info(
                "outbox sweep: %s stale claims released, %s rows of blocked members dropped",
                released, len(dropped),
            )  # fmt: skip
        await self._progress({c for c in dropped if c is not None})

    async def _idle_delay(self, due: datetime | None = None) -> float:
        """How long to wait before the next look: until the next row is due or a chat cools."""
        if due is None:
            due = await outbox.next_due_in(self.sessions)
        candidates = [self.idle_interval]
        if due is not None:
            until_due = (due - self.clock.now()).total_seconds()
            if until_due > 0:
                candidates.append(until_due)
        candidates.extend(self.pace.until_chats_cool())
        return max(0.01, min(candidates))

    async def _sleep(self, seconds: float, stop: asyncio.Event, *, wakeable: bool = False) -> None:
        if seconds <= 0:
            return
        waits: list[Awaitable[Any]] = [self.clock.sleep(seconds), stop.wait()]
        if wakeable:
            waits.append(self._wake.wait())
        tasks = [asyncio.ensure_future(w) for w in waits]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        if wakeable:
            self._wake.clear()


class _BadMarkup(Exception):
    """A row's stored reply_markup is not a valid inline keyboard."""


def _describe(error: Exception) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        return f"{type(error).__name__}: {error}"


def retry_seconds(exc: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)  # int now, timedelta later
        value: Any = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def sender_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Sender | None:
    """The sender running for ``application`` (:mod:`bot.notifications.sender_task`), if any."""
    running = application.bot_data.get(SENDER_KEY)
    return running.sender if running is not None else None
