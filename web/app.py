"""The HTTP API's application: ``create_app(club)`` gives an ASGI app for uvicorn.

Every endpoint lives under ``/api/v1``, with its OpenAPI document at ``/api/v1/openapi.json`` and
readable docs at ``/api/v1/docs``. Every failure, ours or the framework's, is answered as
``application/problem+json`` (:mod:`web.problems`) in the club's language. In webhook mode,
Telegram's webhook is one more route (:mod:`web.telegram_webhook`).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from core.club import Club
from core.errors import BashgahError
from core.locales import supported
from web import miniapp
from web.launch import IsAdmin
from web.limits import RateLimiter
from web.problems import Refused, of_error, problem
from web.routes import router
from web.telegram_webhook import TelegramWebhook, mount

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)


def create_app(
    club: Club, webhook: TelegramWebhook | None = None, *, is_admin: IsAdmin | None = None
) -> FastAPI:
    """The API over an open club, the Mini App (:mod:`web.miniapp`; its dashboard for those
    ``is_admin`` says administer the staff group), and Telegram's ``webhook`` if given; the
    caller opens and closes the club."""
    app = FastAPI(
        title="Bashgah",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.club = club
    app.state.limiter = RateLimiter()
    app.include_router(router, prefix=API_PREFIX)
    miniapp.mount(app, club, is_admin)
    if webhook is not None:
        mount(app, webhook)
    _answer_failures(app, club.settings.locale)
    return app


def _answer_failures(app: FastAPI, club_locale: str) -> None:
    """Every way a request can fail, as a problem document: in the club's language, or in the
    Mini App's user's once their launch is checked (:mod:`web.launch`)."""

    def locale_of(request: Request) -> str:
        return supported(getattr(request.state, "language", None), club_locale)

    @app.exception_handler(Refused)
    async def refused(request: Request, error: Refused) -> JSONResponse:
        return problem(
            locale_of(request), error.status, error.code, error.values, headers=error.headers
        )

    @app.exception_handler(BashgahError)
    async def domain(request: Request, error: BashgahError) -> JSONResponse:
        return of_error(locale_of(request), error)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(part) for part in e["loc"]), "message": e["msg"],
             "type": e["type"]}
            for e in error.errors()
        ]  # fmt: skip
        return problem(locale_of(request), 422, "invalid_request", extra={"errors": fields})

    @app.exception_handler(HTTPException)
    async def framework(request: Request, error: HTTPException) -> JSONResponse:
        code = "not_found" if error.status_code == 404 else "request_refused"
        values = {"http": error.status_code}
        return problem(locale_of(request), error.status_code, code, values, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=error)
        return problem(locale_of(request), 500, "unexpected")
