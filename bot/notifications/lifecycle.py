"""The lifecycle sweep: housekeeping, then every message a member's own story calls for.

Scheduled with ``job_queue.run_repeating(sweep, interval=SWEEP_SECONDS)``. Nothing is sent from
here: :func:`core.sweeps.run_lifecycle` writes each message to the outbox, in the same transaction
as whatever it announces (a birthday gift), with ``not_before`` at the end of the member's quiet
hours; this module says it in the member's language. The outbox's dedupe keys and the selectors in
:mod:`core.lifecycle` make the sweep idempotent: a second run, or two at once, writes nothing new.
One failing step is logged and the others still run.
"""

from __future__ import annotations

import logging
from datetime import datetime

from bot.context import BotContext
from core import sweeps
from core.lifecycle import Notice
from core.models import utcnow
from core.sweeps import Report

log = logging.getLogger(__name__)
SWEEP_SECONDS = 60 * 60


async def sweep(context: BotContext) -> None:
    """Job callback."""
    report = await run(context, utcnow())
    if report.failed:
        log.error("lifecycle sweep: failed steps %s", report.failed)
    log.info("lifecycle sweep: %s, wrote %s", report.housekeeping, dict(report.written))


async def run(context: BotContext, now: datetime) -> Report:
    """One sweep at ``now``: each chore, then each selector page, in its own transaction."""

    def render(notice: Notice) -> str:
        member = notice.member
        return context.t(member.locale, f"lifecycle/{notice.topic}", member=member, **notice.values)

    return await sweeps.run_lifecycle(context.club, now, render=render)
