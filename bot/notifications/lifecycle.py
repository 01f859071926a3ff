"""The lifecycle sweep: housekeeping, then every message a member's own story calls for.

Scheduled with ``job_queue.run_repeating(sweep, interval=SWEEP_SECONDS)``. Nothing is sent from
here: each message is rendered in the member's language and written to the outbox, in the same
transaction as whatever it announces (a birthday gift), with ``not_before`` at the end of the
member's quiet hours. The outbox's dedupe keys and the selectors in :mod:`core.lifecycle` make the
sweep idempotent: a second run, or two at once, writes nothing new. One failing step is logged
and the others still run.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.context import BotContext
from core import housekeeping, lifecycle, messaging, outbox
from core.db import Session
from core.models import utcnow
from core.rules import Rules

log = logging.getLogger(__name__)
SWEEP_SECONDS = 60 * 60


@dataclass
class Report:
    """What one sweep did: chores' counts, messages written per selector, and what failed."""

    housekeeping: dict[str, int] = field(default_factory=dict)
    written: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)


async def sweep(context: BotContext) -> None:
    """Job callback."""
    report = await run(context, utcnow())
    if report.failed:
        log.error("lifecycle sweep: failed steps %s", report.failed)
    log.info("lifecycle sweep: %s, wrote %s", report.housekeeping, dict(report.written))


async def run(context: BotContext, now: datetime) -> Report:
    """One sweep at ``now``: each chore, then each selector page, in its own transaction."""
    club, tz = context.club, context.t.tz
    report = Report()
    for chore in housekeeping.HOUSEKEEPING:
        try:
            report.housekeeping[chore.__name__] = await chore(club.sessions, club.rules, now, tz)
        except Exception:
            log.exception("lifecycle chore %s failed", chore.__name__)
            report.failed.append(chore.__name__)
    for selector in lifecycle.SELECTORS:
        try:
            report.written[selector.__name__] += await _drain(context, selector, now, tz)
        except Exception:
            log.exception("lifecycle step %s failed", selector.__name__)
            report.failed.append(selector.__name__)
    return report


async def _drain(
    context: BotContext, selector: lifecycle.Selector, now: datetime, tz: ZoneInfo
) -> int:
    """Page through one selector, writing each page's messages in that page's transaction."""
    written = 0
    after: int | None = 0
    while after is not None:
        async with context.db() as session:
            page = await selector(session, context.club.rules, now, tz, after, lifecycle.PAGE)
            for notice in page.notices:
                written += await _write(session, context, notice, now, tz)
        after = page.after
    return written


async def _write(
    session: Session,
    context: BotContext,
    notice: lifecycle.Notice,
    now: datetime,
    tz: ZoneInfo,
) -> bool:
    member = notice.member
    assert member.telegram_id is not None  # selectors only pick reachable members
    rules: Rules = context.club.rules
    text = context.t(member.locale, f"lifecycle/{notice.topic}", member=member, **notice.values)
    delivery = await outbox.enqueue(
        session,
        chat_id=member.telegram_id,
        kind=notice.kind,
        dedupe_key=notice.dedupe_key,
        text=text,
        member_id=member.id,
        not_before=messaging.send_after(member, rules, now, tz),
        now=now,
    )
    return delivery is not None
