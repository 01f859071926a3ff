"""The HTTP API's application: ``create_app(club)`` gives an ASGI app for uvicorn.

Every endpoint lives under ``/api/v1``, with its OpenAPI document at ``/api/v1/openapi.json`` and
readable docs at ``/api/v1/docs``.
"""

from __future__ import annotations

from fastapi import FastAPI

from core.club import Club

API_PREFIX = "/api/v1"


def create_app(club: Club) -> FastAPI:
    """The API over an open club; the caller opens and closes the club."""
    app = FastAPI(
        title="Bashgah",
        version="1",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    app.state.club = club
    return app
