"""The sweep's chores: what time alone changes, done before any message is chosen.

Points expiry, code expiry, pending points whose return window has passed, the monthly tier
evaluation, the webhook's old update records: each a batch per transaction, at most
:data:`MAX_BATCHES` per sweep (the next sweep carries on), so one chore never holds the database
for long. The lifecycle sweep runs them in
order (:data:`HOUSEKEEPING`), then asks :mod:`core.lifecycle` whom to tell about it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from core import expiry, inbox, purchases, redemptions, tiers
from core.db import Sessions, transaction
from core.rules import Rules

EXPIRY_BATCH = 1000
MAX_BATCHES = 50  # per chore and sweep; the next sweep carries on


async def expire_points(sessions: Sessions, rules: Rules, now: datetime, tz: ZoneInfo) -> int:
    """Close expired lots, a batch per transaction; returns the points expired."""
    total = 0
    for _ in range(MAX_BATCHES):
        async with transaction(sessions) as session:
            expired = await expiry.expire_due(session, now, limit=EXPIRY_BATCH)
        total += expired
        if not expired:
            break
    return total


async def expire_codes(sessions: Sessions, rules: Rules, now: datetime, tz: ZoneInfo) -> int:
    """Expire and refund codes past their date, a batch per transaction; returns how many."""
    total = 0
    for _ in range(MAX_BATCHES):
        async with transaction(sessions) as session:
            expired = await redemptions.expire_due(session, now, limit=EXPIRY_BATCH)
        total += expired
        if expired < EXPIRY_BATCH:
            break
    return total


async def activate_points(sessions: Sessions, rules: Rules, now: datetime, tz: ZoneInfo) -> int:
    """Credit purchases whose return window has passed, a batch per transaction; returns how many.

    Before the tier evaluation, so points that became usable count in the same sweep.
    """
    total = 0
    for _ in range(MAX_BATCHES):
        async with transaction(sessions) as session:
            activated = await purchases.activate_due(session, rules, now, limit=EXPIRY_BATCH)
        total += len(activated)
        if len(activated) < EXPIRY_BATCH:
            break
    return total


async def evaluate_tiers(sessions: Sessions, rules: Rules, now: datetime, tz: ZoneInfo) -> int:
    """The monthly tier evaluation; acts on the first sweep of a month and is a no-op after.

    Returns the period's evaluation counts (moved and warned), the same on every later call.
    """
    async with transaction(sessions) as session:
        evaluation = await tiers.evaluate_all(session, rules, now, tz)
        return evaluation.downgraded + evaluation.upgraded + evaluation.warned


async def forget_updates(sessions: Sessions, rules: Rules, now: datetime, tz: ZoneInfo) -> int:
    """Drop the webhook's record of updates long handled; returns how many."""
    return await inbox.forget_handled(sessions, now)


Chore = Callable[[Sessions, Rules, datetime, ZoneInfo], Awaitable[int]]
HOUSEKEEPING: tuple[Chore, ...] = (
    expire_points,
    expire_codes,
    activate_points,
    evaluate_tiers,
    forget_updates,
)
