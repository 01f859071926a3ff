"""The periodic sweeps' work, each step in transactions of its own: the lifecycle and the surveys.

The bot's jobs call these with the club and a ``render`` callback that writes a message in the
member's language; nothing here talks to Telegram. The transaction boundaries are the crash
safety: a lifecycle page, or a batch of survey invites, is written to the outbox in the same
transaction that marks it done, so a crash loses nothing and a second run writes nothing twice
(the outbox's dedupe keys).

- The lifecycle sweep (:func:`run_lifecycle`) runs each chore of :mod:`core.housekeeping`, then
  pages through each selector of :mod:`core.lifecycle`, one transaction per page. One failing step
  is logged and the others still run.
- The survey sweep (:func:`run_surveys`) writes NPS invites in one bounded transaction, then
  queues a batch of due invites in another (:func:`core.surveys.queue_due`).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core import housekeeping, lifecycle, messaging, outbox, surveys
from core.club import Club
from core.db import transaction

log = logging.getLogger(__name__)

RenderNotice = Callable[[lifecycle.Notice], str]


@dataclass
class Report:
    """What one lifecycle sweep did: chores' counts, messages written per selector, what failed."""

    housekeeping: dict[str, int] = field(default_factory=dict)
    written: Counter[str] = field(default_factory=Counter)
    failed: list[str] = field(default_factory=list)


async def run_lifecycle(club: Club, now: datetime, *, render: RenderNotice) -> Report:
    """One lifecycle sweep at ``now``: each chore, then each selector page, in its own transaction.

    ``render(notice)`` is the message's text. Days are counted in the club's time zone.
    """
    tz = club.settings.tz
    report = Report()
    for chore in housekeeping.HOUSEKEEPING:
        try:
            report.housekeeping[chore.__name__] = await chore(club.sessions, club.rules, now, tz)
        except Exception:
            log.exception("lifecycle chore %s failed", chore.__name__)
            report.failed.append(chore.__name__)
    for selector in lifecycle.SELECTORS:
        try:
            report.written[selector.__name__] += await _drain(club, selector, now, render)
        except Exception:
            log.exception("lifecycle step %s failed", selector.__name__)
            report.failed.append(selector.__name__)
    return report


async def _drain(
    club: Club, selector: lifecycle.Selector, now: datetime, render: RenderNotice
) -> int:
    """Page through one selector, writing each page's messages in that page's transaction."""
    written = 0
    after: int | None = 0
    while after is not None:
        async with transaction(club.sessions) as session:
            page = await selector(session, club.rules, now, club.settings.tz, after, lifecycle.PAGE)
            for notice in page.notices:
                written += await _write(session, club, notice, now, render(notice))
        after = page.after
    return written


async def _write(
    session: AsyncSession, club: Club, notice: lifecycle.Notice, now: datetime, text: str
) -> bool:
    """The notice in the outbox, after the member's quiet hours; False if it was there."""
    member = notice.member
    assert member.telegram_id is not None  # selectors only pick reachable members
    delivery = await outbox.enqueue(
        session,
        chat_id=member.telegram_id,
        kind=notice.kind,
        dedupe_key=notice.dedupe_key,
        text=text,
        member_id=member.id,
        not_before=messaging.send_after(member, club.rules, now, club.settings.tz),
        now=now,
    )
    return delivery is not None


@dataclass(frozen=True)
class SurveySweep:
    """What one survey sweep wrote: NPS invites (None when not asked to) and outbox messages."""

    nps_written: int | None
    queued: int

    @property
    def more_nps(self) -> bool:
        """A full NPS batch was written: more members wait for theirs."""
        return self.nps_written is not None and self.nps_written >= surveys.NPS_BATCH


async def run_surveys(
    club: Club, now: datetime, *, nps: bool, render: surveys.Render, limit: int
) -> SurveySweep:
    """One survey sweep at ``now``: NPS invites if ``nps`` (that pass reads every member, so the
    face paces it), then up to ``limit`` due invites into the outbox, each step one transaction.

    ``render(invite, member)`` gives the message's text and its inline keyboard (a dict).
    """
    nps_written = None
    if nps:
        async with transaction(club.sessions) as session:
            nps_written = await surveys.schedule_nps(session, club.rules, now)
    async with transaction(club.sessions) as session:
        queued = await surveys.queue_due(
            session, club.rules, now, tz=club.settings.tz, render=render, limit=limit
        )
    return SurveySweep(nps_written, len(queued))
