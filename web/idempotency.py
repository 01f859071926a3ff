"""``Idempotency-Key`` on every POST: a retry gets the first answer back and changes nothing.

The answer of a request that went through is kept (:mod:`core.api_requests`) with a fingerprint of
the method, path and body; the same key with another request is refused (409), not answered with
the first one's answer. A refused request changed nothing and is not kept, so its retry simply runs
again. Two identical requests racing past the lookup are kept apart by the core action itself: the
action's key is ``api:<key id>:<Idempotency-Key>`` and a purchase's reference is unique, so the
second is refused by the ledger and only the first answer is kept.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from core import api_requests
from core.models import ApiKey
from web.problems import Refused

MAX_KEY = 255  # the column's width
REPLAYED = "Idempotent-Replayed"

Action = Callable[[str], Awaitable[tuple[int, BaseModel]]]


def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Any unique string of 1-255 characters, the same for every retry.",
        ),
    ] = None,
) -> str:
    """The request's Idempotency-Key; required (422 ``idempotency_key_required``)."""
    if key is None or not key.strip() or len(key) > MAX_KEY:
        raise Refused(422, "idempotency_key_required", limit=MAX_KEY)
    return key


def fingerprint(request: Request, body: BaseModel | None) -> str:
    """The request as parsed (so the same JSON spaced differently is the same request)."""
    parsed = body.model_dump(mode="json") if body is not None else None
    text = json.dumps([request.method, request.url.path, parsed], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


async def once(
    request: Request, key: ApiKey, idem_key: str, body: BaseModel | None, act: Action
) -> JSONResponse:
    """Answer from the stored answer if there is one, else run ``act`` with the core action's key
    and keep what it answered."""
    club = request.app.state.club
    printed = fingerprint(request, body)
    stored = await api_requests.recall(club, key.id, idem_key)
    if stored is None:
        status, answer = await act(f"api:{key.id}:{idem_key}")
        mine = answer.model_dump(mode="json")
        stored = await api_requests.remember(club, key.id, idem_key, printed, status, mine)
        if (stored.fingerprint, stored.status, stored.body) == (printed, status, mine):
            return JSONResponse(mine, status_code=status)
    if stored.fingerprint != printed:
        raise Refused(409, "idempotency_key_reused")
    return JSONResponse(stored.body, status_code=stored.status, headers={REPLAYED: "true"})
