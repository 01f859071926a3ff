"""``/advance 31d`` in ``bashgah shell``: time moves on, and every job that falls due runs.

The bot's sweeps (lifecycle, surveys, campaigns, draws) run every few minutes of real time and
act on whatever is due by the clock. Offline, nobody waits a month: :func:`advance` moves the
process's clock (:func:`core.clock.advance`) in steps (an hour at a time over two days or less, a
day at a time beyond), runs every sweep once at each step, and lets the outbox sender deliver what
came due, so a survey an hour after a purchase, a campaign at 10:00 and points expiring after
their warnings all show, in the order they would have happened.
"""

from __future__ import annotations

import asyncio
import re
import time
from datetime import timedelta
from typing import Any

from telegram.ext import Application

from bot.background import JOBS
from bot.context import BotContext, club_of
from bot.notifications.sender import sender_of
from core import clock, outbox
from core.digits import to_latin_digits

UNITS = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
SPAN = re.compile(r"(\d{1,5})([dhm])")
LONGEST = timedelta(days=3660)
FINE_STEPS_UP_TO = timedelta(days=2)  # spans up to this move an hour at a time, longer ones a day
SETTLE_SECONDS = 0.3  # the stand-in saw no new call for this long: the step's messages are out
STEP_BOUND_SECONDS = 30.0  # the most one step may take in real time


def parse_span(text: str) -> timedelta | None:
    """``31d``, ``2h``, ``30m`` (Persian digits too), up to ten years; None for anything else."""
    found = SPAN.fullmatch(to_latin_digits(text.strip()))
    if found is None:
        return None
    span = int(found.group(1)) * UNITS[found.group(2)]
    return span if timedelta(0) < span <= LONGEST else None


async def advance(app: Application[Any, Any, Any, Any, Any, Any], span: timedelta) -> None:
    """Move time ``span`` ahead, step by step, with every sweep and delivery due at each step."""
    step = timedelta(hours=1) if span <= FINE_STEPS_UP_TO else timedelta(days=1)
    left = span
    while left > timedelta(0):
        moved = min(step, left)
        clock.advance(moved)
        left -= moved
        for job, _ in JOBS:
            await job(BotContext(app))
        await _delivered(app)


async def _delivered(app: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Wait until the outbox has nothing due and, if the sender had work, its sends are out."""
    sessions = club_of(app).sessions
    sender = sender_of(app)
    bound = time.monotonic() + STEP_BOUND_SECONDS
    woken = False
    calls, quiet_since = _calls(app), time.monotonic()
    while time.monotonic() < bound:
        due = await outbox.next_due_in(sessions)
        if due is not None and due <= clock.utcnow() and sender is not None:
            sender.wake()
            woken = True
        elif not woken or time.monotonic() - quiet_since >= SETTLE_SECONDS:
            return
        await asyncio.sleep(0.02)
        if _calls(app) != calls:
            calls, quiet_since = _calls(app), time.monotonic()


def _calls(app: Application[Any, Any, Any, Any, Any, Any]) -> int:
    """How many calls the Bot API stand-in has answered (the shell always runs on one)."""
    return len(getattr(app.bot.request, "calls", ()))
