"""The sender's pace: Telegram's limits, kept on a monotonic clock.

- Overall at most ``rate`` messages a second: sends start on a fixed grid ``1/rate`` apart, and
  never more than ``rate`` of them in any ``1 s + guard`` window, so a few milliseconds of network
  jitter cannot make Telegram see ``rate + 1`` in one second.
- At most one message a second per chat: a chat sent to in the last ``1 s + guard`` is cooling.
- A pause (a 429, an outage) holds every send until it ends.
- A chat that answered 403 is remembered for a few seconds, so rows claimed just before are
  settled without a send (the database knows after that).

The clock is injectable (:class:`Clock`), so tests run the sender in fake time.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from datetime import datetime
from typing import Protocol

from core.models import utcnow

BLOCKED_MEMORY = 10.0  # seconds a 403'd chat is remembered in memory (the database knows after)
RATE_WINDOW = 10.0  # seconds over which :attr:`Pace.recent_rate` is measured


class Clock(Protocol):
    """Time as the sender sees it: injectable, so tests run in fake time."""

    def monotonic(self) -> float: ...

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def now(self) -> datetime:
        return utcnow()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))


class Pace:
    """When the next send may start, which chats must wait, and whether everything waits."""

    def __init__(self, clock: Clock, rate: float, per_chat_interval: float, guard: float) -> None:
        self.clock = clock
        self._interval = 1.0 / rate
        self._window = 1.0 + guard
        self._tolerance = min(guard, self._interval / 4)  # lateness the grid may absorb
        self._chat_interval = per_chat_interval + guard
        self._recent: deque[float] = deque(maxlen=max(1, math.floor(rate)))
        self._sends: deque[float] = deque()  # for recent_rate
        self._next_slot: float | None = None
        self._paused_until = -math.inf
        self._last_send: dict[int, float] = {}
        self._blocked: dict[int, float] = {}

    async def wait_slot(self) -> None:
        """Wait for the next start on the grid, and for room in the sliding one-second window."""
        while True:
            now = self.clock.monotonic()
            wait = 0.0 if self._next_slot is None else self._next_slot - now
            if len(self._recent) == self._recent.maxlen:
                wait = max(wait, self._recent[0] + self._window - now)
            if wait <= 0:
                break
            await self.clock.sleep(wait)
        late = math.inf if self._next_slot is None else now - self._next_slot
        base = self._next_slot if self._next_slot is not None and late <= self._tolerance else now
        self._next_slot = base + self._interval
        self._recent.append(now)

    def started(self, chat_id: int) -> None:
        """A send to ``chat_id`` starts now: the chat cools, and the send counts in the rate."""
        started = self.clock.monotonic()
        self._last_send[chat_id] = started
        self._sends.append(started)

    @property
    def recent_rate(self) -> float:
        """Messages a second over the last few seconds, for progress reports."""
        self._forget_old_sends(self.clock.monotonic())
        return len(self._sends) / RATE_WINDOW

    def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, self.clock.monotonic() + seconds)

    def pause_left(self) -> float:
        return self._paused_until - self.clock.monotonic()

    def paused(self) -> bool:
        return self.pause_left() > 0

    def forbidden(self, chat_id: int) -> None:
        """The chat answered 403: rows for it claimed meanwhile are not sent."""
        self._blocked[chat_id] = self.clock.monotonic()

    def is_blocked(self, chat_id: int) -> bool:
        return chat_id in self._blocked

    def cooling_chats(self) -> list[int]:
        """Chats sent to too lately to be sent to again now (forgetting what is old news)."""
        now = self.clock.monotonic()
        self._forget_old_sends(now)
        for chat_id, at in list(self._last_send.items()):
            if now - at >= self._chat_interval:
                del self._last_send[chat_id]
        for chat_id, at in list(self._blocked.items()):
            if now - at >= BLOCKED_MEMORY:
                del self._blocked[chat_id]
        return list(self._last_send)

    def until_chats_cool(self) -> list[float]:
        """Seconds until each cooling chat may be sent to again."""
        now = self.clock.monotonic()
        return [at + self._chat_interval - now for at in self._last_send.values()]

    def _forget_old_sends(self, now: float) -> None:
        while self._sends and self._sends[0] < now - RATE_WINDOW:
            self._sends.popleft()
