"""Who is calling: ``Authorization: Bearer <key>``, checked by :func:`core.api_keys.authenticate`,
and the key's rate limit.

The key itself is never logged or echoed: a refusal says only that the key did not open anything.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core import api_keys
from core.models import ApiKey
from web.limits import RateLimiter
from web.problems import Refused

BEARER = HTTPBearer(auto_error=False, description="An API key: `bashgah api-key create`.")
CHALLENGE = {"WWW-Authenticate": "Bearer"}


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]


async def caller(request: Request, credentials: Credentials) -> ApiKey:
    """The live key of the request, within its rate limit; 401 or 429 otherwise."""
    if credentials is None:
        raise Refused(401, "unauthorized", headers=CHALLENGE)
    key = await api_keys.authenticate(request.app.state.club, credentials.credentials)
    if key is None:
        raise Refused(
            401, "unauthorized", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    limiter: RateLimiter = request.app.state.limiter
    wait = limiter.take(key.id)
    if wait:
        raise Refused(429, "rate_limited", headers={"Retry-After": str(wait)}, seconds=wait)
    return key
