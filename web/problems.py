"""Errors as ``application/problem+json`` (RFC 9457), in the club's language, with a stable code.

The words are the chat's own: ``locales/<lang>/errors/<code>.j2``, rendered here with a Jinja2
environment of our own (web does not import bot) and stripped of the chat's HTML, so the till and
the staff group explain a refusal the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.responses import JSONResponse
from jinja2 import Environment, FileSystemLoader, TemplateNotFound

from core.errors import (
    BashgahError,
    BranchForbidden,
    BranchNotFound,
    CardTokenExpired,
    CodeNotFound,
    InvalidInput,
    MemberNotFound,
    PurchaseNotFound,
    RewardNotFound,
)
from core.locales import LOCALES
from texts import number_filters, plain

LOCALES_DIR = Path(__file__).resolve().parents[1] / "locales"
MEDIA_TYPE = "application/problem+json"
NOT_FOUND = (MemberNotFound, PurchaseNotFound, CodeNotFound, RewardNotFound, BranchNotFound)


def _environment(locale: str) -> Environment:
    env = Environment(
        loader=FileSystemLoader(LOCALES_DIR / locale / "errors"),
        autoescape=False,  # plain text for JSON: nothing here is HTML once the tags are stripped
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(number_filters(locale))
    return env


_ENVIRONMENTS = {locale: _environment(locale) for locale in LOCALES}


def words(locale: str, code: str, values: dict[str, Any]) -> str:
    """The plain text of ``errors/<code>`` (``errors/error`` for a code without words)."""
    env = _ENVIRONMENTS[locale]
    known = {k: v for k, v in values.items() if isinstance(v, (int, str))}
    try:
        template = env.get_template(f"{code}.j2")
    except TemplateNotFound:
        template = env.get_template("error.j2")
    return plain(template.render(**known)).strip()


def status_of(error: BashgahError) -> int:
    """404 for what does not exist, 410 for a member card's code that did but is too old, 403 for
    another branch's, 422 for a malformed value, 409 for any other refusal."""
    if isinstance(error, NOT_FOUND):
        return 404
    if isinstance(error, CardTokenExpired):
        return 410
    if isinstance(error, BranchForbidden):
        return 403
    if isinstance(error, InvalidInput):
        return 422
    return 409


def problem(
    locale: str,
    status: int,
    code: str,
    values: dict[str, Any] | None = None,
    *,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """A problem document: ``code`` names the template, ``values`` fill it, ``extra`` joins the
    body as it is (field errors, a refused purchase's details)."""
    body = {
        "type": f"urn:bashgah:error:{code}",
        "title": code.replace("_", " "),
        "status": status,
        "detail": words(locale, code, values or {}),
        "code": code,
        **(extra or {}),
    }
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


class Refused(Exception):
    """A request the API itself turns down (no key, too fast, a reused Idempotency-Key), raised
    from anywhere in a request and answered by :func:`problem`."""

    def __init__(
        self, status: int, code: str, *, headers: dict[str, str] | None = None, **values: Any
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.headers = headers
        self.values = values


def of_error(locale: str, error: BashgahError) -> JSONResponse:
    """A domain refusal: its own code and words, and its details for a program to read."""
    details = {k: v for k, v in error.details.items() if isinstance(v, (int, str, bool))}
    return problem(locale, status_of(error), error.code, details, extra={"details": details})
