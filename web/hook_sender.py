"""The hook sender: posts the hooks' outbox (:mod:`core.hook_outbox`) to the shop's URLs, signed.

Each round claims a batch of due deliveries in one transaction, posts each body with httpx, and
settles each delivery in a transaction of its own. The POST carries the stored body as it is,
``Content-Type: application/json``, ``X-Bashgah-Event`` (the type), ``X-Bashgah-Delivery`` (the
event id) and ``X-Bashgah-Signature`` (:func:`core.hooks.signature` of the body with the hook's
secret). A 2xx is sent; anything else is tried again later, with the backoff of
:mod:`core.hook_outbox`. A redirect is not followed: it is not a 2xx.

One hook's deliveries in a batch are posted one after another, in the order claimed (the order
the events happened); different hooks' go side by side. When a post fails, the hook's later
deliveries of the batch go back to wait until its retry, so a receiver that is down costs one
timeout a round, not one per event. After such a retry a newer event may arrive before an older
one: ``created_at`` in the body says which came first.

:meth:`HookSender.stop` ends it cleanly: nothing more is claimed or started, posts in flight finish
and are settled, and deliveries not yet posted go back to pending. If the posts in flight outlast
the grace of :meth:`Running.close`, they are cancelled and go back to pending too (the receiver
may have one already: delivery is at least once). A sender killed outright leaves its rows
``sending``, and the next sender's :func:`core.hook_outbox.release_stale` puts them back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from core import hook_outbox, hooks
from core.db import Sessions
from core.hook_outbox import Due
from core.models import utcnow

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
BATCH_SIZE = 32
POLL_SECONDS = 1.0
# Longer than a batch's posts to one slow hook can take, so a live sender's rows are never
# released under it by another process's housekeeping.
STALE_AFTER = timedelta(minutes=10)
HOUSEKEEPING_SECONDS = 60.0
STOP_GRACE_SECONDS = 5.0
USER_AGENT = "Bashgah-Hooks/1"


def headers(due: Due, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Bashgah-Event": due.event_type,
        "X-Bashgah-Delivery": due.event_id,
        "X-Bashgah-Signature": hooks.signature(due.secret, body),
    }


class HookSender:
    """Drains the hooks' outbox: :meth:`run` for the bot's life, :meth:`drain_once` for a round."""

    def __init__(
        self,
        sessions: Sessions,
        *,
        client: httpx.AsyncClient | None = None,
        timeout: float = TIMEOUT_SECONDS,
        batch_size: int = BATCH_SIZE,
        poll_interval: float = POLL_SECONDS,
        stale_after: timedelta = STALE_AFTER,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.sessions = sessions
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.clock = clock  # what is due, and when a retry is, by this time (tests move it)
        self._own_client = client is None
        self._client = client or httpx.AsyncClient(
            timeout=timeout, follow_redirects=False, headers={"User-Agent": USER_AGENT}
        )
        self._stopping = asyncio.Event()
        self._next_housekeeping = 0.0

    def stop(self) -> None:
        """Claim and start nothing more; what is in flight finishes and is settled."""
        self._stopping.set()

    async def run(self) -> None:
        """Rounds until :meth:`stop`; when nothing was due, looks again after ``poll_interval``."""
        while not self._stopping.is_set():
            try:
                handled = await self.drain_once()
            except Exception:
                log.exception("hook round failed; trying again shortly")
                handled = 0
            if not handled:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.poll_interval)

    async def aclose(self) -> None:
        if self._own_client:
            await self._client.aclose()

    async def drain_once(self) -> int:
        """One round: claim a batch, post it, settle every delivery; how many were claimed."""
        await self._housekeeping()
        if self._stopping.is_set():
            return 0
        batch = await hook_outbox.claim(self.sessions, self.batch_size, self.clock())
        per_hook: dict[int, list[Due]] = {}
        for due in batch:
            per_hook.setdefault(due.hook_id, []).append(due)
        unsettled = {due.id for due in batch}
        try:
            results = await asyncio.gather(
                *(self._post_in_order(rows, unsettled) for rows in per_hook.values()),
                return_exceptions=True,
            )
            for error in (r for r in results if isinstance(r, BaseException)):
                log.error("settling a hook delivery failed", exc_info=error)
        finally:
            # Stopped before their turn, cancelled mid-post, or their settling failed: pending
            # again, so nothing claimed is left behind.
            if unsettled:
                await asyncio.shield(hook_outbox.unclaim(self.sessions, list(unsettled)))
        return len(batch)

    async def _post_in_order(self, rows: list[Due], unsettled: set[int]) -> None:
        for index, due in enumerate(rows):
            if self._stopping.is_set():
                return
            error = await self._post(due)
            retry_at = await hook_outbox.settle(self.sessions, due, error, self.clock())
            unsettled.discard(due.id)
            if error is not None:
                log.info("hook %s: delivery %s failed: %s", due.hook_id, due.event_id, error)
                behind = {later.id for later in rows[index + 1 :]}
                await hook_outbox.unclaim(self.sessions, behind, not_before=retry_at)
                unsettled.difference_update(behind)
                return

    async def _post(self, due: Due) -> str | None:
        """Post one delivery: None for a 2xx, else what went wrong. The answer's body is never
        read: a receiver says all it needs to with its status."""
        body = due.body.encode()
        try:
            async with self._client.stream(
                "POST", due.url, content=body, headers=headers(due, body)
            ) as response:
                status = response.status_code
        except httpx.TimeoutException:
            return "timed out"
        except Exception as exc:  # refused, reset, a URL httpx cannot use: this row's problem
            return f"{type(exc).__name__}: {exc}"
        return None if 200 <= status < 300 else f"HTTP {status}"

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now < self._next_housekeeping:
            return
        self._next_housekeeping = now + HOUSEKEEPING_SECONDS
        released = await hook_outbox.release_stale(self.sessions, self.stale_after, self.clock())
        if released:
            log.info("hooks: %s deliveries of a stopped sender put back", released)


@dataclass
class Running:
    """A sender running as a task, for the bot's whole life (:mod:`bot.background`)."""

    sender: HookSender
    task: asyncio.Task[None]

    async def close(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Stop: posts in flight have ``grace`` seconds to finish and be settled, then they are
        cancelled and put back."""
        self.sender.stop()
        try:
            done, _ = await asyncio.wait({self.task}, timeout=grace)
            if not done:
                self.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.task
        finally:
            await self.sender.aclose()


def start(sessions: Sessions, **options: Any) -> Running:
    sender = HookSender(sessions, **options)
    return Running(sender, asyncio.create_task(sender.run(), name="hook-sender"))
