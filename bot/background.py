"""The bot's own work, beside answering updates: periodic sweeps and the outbox sender.

Sweeps are JobQueue jobs over the database (never one in-memory job per member), so a restart
loses nothing: whatever was due is found again by the next sweep. The sender is one long-running
task that drains the outbox at Telegram's pace and edits campaign progress as it goes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from telegram.ext import Application

from bot.context import CLUB_KEY, BotContext
from bot.notifications import campaigns, draws
from bot.notifications.sender import Sender

Job = Callable[[BotContext], Awaitable[None]]
_TASK = "background_sender"
_STOP = "background_stop"
_SENDER = "sender"


def jobs() -> list[tuple[Job, int]]:
    """Every periodic sweep with its interval in seconds."""
    from bot.notifications import lifecycle, surveys

    return [
        (draws.draw_due_lotteries, draws.SWEEP_SECONDS),
        (campaigns.run_due, campaigns.SWEEP_SECONDS),
        (surveys.sweep, surveys.SWEEP_SECONDS),
        (lifecycle.sweep, lifecycle.SWEEP_SECONDS),
    ]


def start(app: Application) -> None:
    assert app.job_queue is not None, "python-telegram-bot[job-queue] is a dependency"
    for job, seconds in jobs():
        app.job_queue.run_repeating(job, interval=seconds, first=5, name=job.__qualname__)
    club = app.bot_data[CLUB_KEY]

    async def on_progress(campaign_id: int) -> None:
        await campaigns.progress(BotContext(app), campaign_id, sender.recent_rate)

    sender = Sender.from_rules(
        app.bot, club.sessions, club.rules.messaging, on_progress=on_progress
    )
    stop = asyncio.Event()
    app.bot_data[_SENDER] = sender
    app.bot_data[_STOP] = stop
    app.bot_data[_TASK] = asyncio.get_running_loop().create_task(sender.run(stop))


async def stop(app: Application) -> None:
    stop_event: asyncio.Event | None = app.bot_data.pop(_STOP, None)
    task: asyncio.Task[None] | None = app.bot_data.pop(_TASK, None)
    if stop_event is None or task is None:
        return
    stop_event.set()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=30)
