"""The owner's dashboard, under ``/app/api/staff``: administrators of the staff group only."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from web.launch import Administrator
from web.screens import screen

router = APIRouter(prefix="/app/api/staff", include_in_schema=False)


@router.get("")
async def dashboard(request: Request, launch: Administrator) -> dict[str, Any]:
    """The dashboard's first screen."""
    return screen(request, launch.language or "", "staff.html")
