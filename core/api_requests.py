"""The API's answered POSTs, by ``Idempotency-Key``: a retry gets the first answer back.

Only answers of requests that changed something are kept (the face decides): a refused request
changed nothing, so running it again is as safe as replaying it. Two identical requests racing past
:func:`recall` are kept apart by the core action's own key or reference, not here; whichever
answer is remembered first stays, and :func:`remember` returns it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from core.club import Club
from core.db import Session, insert_once, snapshot
from core.models import ApiRequest


@dataclass(frozen=True)
class Stored:
    """An answer given before: its request's ``fingerprint``, and the ``status`` and ``body``."""

    fingerprint: str
    status: int
    body: Any


async def recall(club: Club, key_id: int, idem_key: str) -> Stored | None:
    """The answer the key ``key_id`` was given for ``idem_key``, or None."""
    async with snapshot(club.sessions) as session:
        row = await session.scalar(
            select(ApiRequest).where(
                ApiRequest.api_key_id == key_id, ApiRequest.idempotency_key == idem_key
            )
        )
    return None if row is None else Stored(row.fingerprint, row.status, row.body)


async def remember(
    club: Club, key_id: int, idem_key: str, fingerprint: str, status: int, body: Any
) -> Stored:
    """Keep this answer for ``idem_key``; if a racing twin kept one first, that one stays."""
    row = ApiRequest(
        api_key_id=key_id, idempotency_key=idem_key, fingerprint=fingerprint, status=status,
        body=body,
    )  # fmt: skip

    async def unit(session: Session) -> bool:
        return await insert_once(session, row) is not None

    if not await club.write(unit):
        earlier = await recall(club, key_id, idem_key)
        assert earlier is not None  # the row that collided is committed
        return earlier
    return Stored(fingerprint, status, body)
