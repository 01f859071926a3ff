"""The bot's own work, beside answering updates: periodic sweeps and the two outbox senders.

Sweeps are JobQueue jobs over the database (never one in-memory job per member), so a restart
loses nothing: whatever was due is found again by the next sweep. The outbox sender is one
long-running task that drains the outbox at Telegram's pace and edits campaign progress as it
goes; the hook sender (:mod:`web.hook_sender`) another, posting events to the shop's hooks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram.ext import Application

from bot.context import BotContext, club_of
from bot.notifications import campaigns, draws, lifecycle, surveys
from bot.notifications.sender import sender_of
from bot.notifications.sender_task import start_sender, stop_sender
from web import hook_sender

Job = Callable[[BotContext], Awaitable[None]]
FIRST_RUN_SECONDS = 5
HOOK_SENDER_KEY = "hook_sender"

JOBS: tuple[tuple[Job, int], ...] = (
    (draws.draw_due_lotteries, draws.SWEEP_SECONDS),
    (campaigns.run_due, campaigns.SWEEP_SECONDS),
    (surveys.sweep, surveys.SWEEP_SECONDS),
    (lifecycle.sweep, lifecycle.SWEEP_SECONDS),
)


async def start(app: Application) -> None:
    assert app.job_queue is not None, "python-telegram-bot[job-queue] is a dependency"
    for job, seconds in JOBS:
        app.job_queue.run_repeating(
            job, interval=seconds, first=FIRST_RUN_SECONDS, name=job.__qualname__
        )

    async def on_progress(campaign_id: int) -> None:
        sender = sender_of(app)
        rate = sender.recent_rate if sender else None
        await campaigns.progress(BotContext(app), campaign_id, rate)

    await start_sender(app, on_progress=on_progress)
    app.bot_data[HOOK_SENDER_KEY] = hook_sender.start(club_of(app).sessions)


async def stop(app: Application) -> None:
    running: hook_sender.Running | None = app.bot_data.pop(HOOK_SENDER_KEY, None)
    try:
        await stop_sender(app)
    finally:
        if running is not None:
            await running.close()
