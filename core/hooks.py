"""Hooks: the shop's own URLs that Bashgah posts its events to, each body signed.

The owner adds, lists and removes them on the command line (``bashgah hooks``). A hook's secret is
made here (``secrets.token_urlsafe(32)``), shown once when the hook is added, and kept, because
every body is signed with it (:func:`signature`): the receiver, holding the same secret, can tell
our posts from anyone else's. A hook takes the event types it lists, or every type if it lists
none (:func:`subscribes`).

Removing a hook is soft: it stays listed with its date, gets no new event, and what was still
waiting for it is settled ``failed`` rather than sent.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.club import Club
from core.db import transaction
from core.errors import HookNotFound, InvalidHookUrl, UnknownEventType
from core.event_types import EVENT_TYPES
from core.models import Hook, HookDelivery, HookDeliveryStatus, utcnow

MAX_URL = 2048
SECRET_BYTES = 32
SCHEMES = frozenset({"http", "https"})
REMOVED_ERROR = "hook removed"
UNSENT = (HookDeliveryStatus.PENDING, HookDeliveryStatus.SENDING)


def check_url(url: str) -> str:
    """An absolute ``http``/``https`` URL with a host, as typed (trimmed), or
    :class:`InvalidHookUrl`. Plain ``http`` is allowed for a receiver on the shop's own network."""
    cleaned = url.strip()
    if not cleaned or len(cleaned) > MAX_URL or not cleaned.isprintable() or " " in cleaned:
        raise InvalidHookUrl(url)
    try:
        parts = urlsplit(cleaned)
        parts.port  # noqa: B018 - a malformed port raises only when read
    except ValueError as exc:
        raise InvalidHookUrl(url) from exc
    if parts.scheme.lower() not in SCHEMES or not parts.hostname:
        raise InvalidHookUrl(url)
    return cleaned


def check_events(events: Iterable[str]) -> list[str]:
    """The event types asked for, each once, in the order given; an unknown one is
    :class:`UnknownEventType`. Empty means every type."""
    chosen: list[str] = []
    for name in (e.strip() for e in events):
        if name not in EVENT_TYPES:
            raise UnknownEventType(name)
        if name not in chosen:
            chosen.append(name)
    return chosen


def subscribes(hook: Hook, event_type: str) -> bool:
    """Does the hook take events of this type? (It lists it, or lists nothing: all of them.)"""
    return hook.removed_at is None and (not hook.events or event_type in hook.events)


def signature(secret: str, body: bytes) -> str:
    """The ``X-Bashgah-Signature`` of ``body``: ``sha256=`` and the hex HMAC-SHA256 with the
    hook's secret. A receiver computes the same over the raw bytes it got, and compares."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


async def add(club: Club, url: str, events: Iterable[str] = ()) -> Hook:
    """A new hook for ``url``, taking ``events`` (all of them if none); its ``secret`` is to be
    shown to the owner now."""
    hook = Hook(
        url=check_url(url), events=check_events(events), secret=secrets.token_urlsafe(SECRET_BYTES)
    )
    async with transaction(club.sessions) as session:
        session.add(hook)
    return hook


async def listing(club: Club) -> list[Hook]:
    async with transaction(club.sessions) as session:
        return list(await session.scalars(select(Hook).order_by(Hook.id)))


async def remove(club: Club, hook_id: int, now: datetime | None = None) -> Hook:
    """Stop posting to the hook; what was still waiting for it is settled ``failed``. Removing it
    again changes nothing."""
    async with transaction(club.sessions) as session:
        hook = await session.get(Hook, hook_id)
        if hook is None:
            raise HookNotFound(hook_id=hook_id)
        if hook.removed_at is None:
            hook.removed_at = now or utcnow()
            await session.execute(
                update(HookDelivery)
                .where(HookDelivery.hook_id == hook_id, HookDelivery.status.in_(UNSENT))
                .values(status=HookDeliveryStatus.FAILED, last_error=REMOVED_ERROR, claimed_at=None)
                .execution_options(synchronize_session=False)
            )
    return hook


async def subscribed(session: AsyncSession, event_type: str) -> list[Hook]:
    """The live hooks that take ``event_type``: one read of a table of a handful of rows."""
    live = await session.scalars(select(Hook).where(Hook.removed_at.is_(None)).order_by(Hook.id))
    return [hook for hook in live if subscribes(hook, event_type)]
