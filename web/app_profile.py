"""The member's profile and settings in the Mini App, under ``/app/api/me``: the same choices as
the chat's profile buttons and ``/settings``, through the same core actions.

Each choice writes at once and answers the screen again, as the chat edits its message: there is
nothing to lose by pressing twice (a section of several toggles, so the screen shows what is
saved). A choice no screen offers, or a city too long, is refused in the member's language and
changes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from core.actions import joining, membership, settings
from core.club import Club
from core.errors import InvalidInput
from core.locales import LOCALES
from core.models import Member
from core.profile import MAX_CITY, PROFILE_MULTI, PROFILE_SECTIONS
from web.launch import Launched
from web.screens import screen

router = APIRouter(prefix="/app/api/me", include_in_schema=False)


class ProfileAnswer(BaseModel):
    section: str = Field(max_length=32)
    option: str = Field(max_length=32)


class City(BaseModel):
    city: str = Field(max_length=4 * MAX_CITY)  # folded and checked by core


class Setting(BaseModel):
    field: str = Field(max_length=16)
    value: str = Field(max_length=16)


def _club(request: Request) -> Club:
    return request.app.state.club


def _shown(request: Request, member: Member) -> dict[str, Any]:
    return screen(
        request, member.locale, "me.html", member=member, rules=_club(request).rules,
        sections=PROFILE_SECTIONS, several=PROFILE_MULTI, languages=LOCALES,
        quiet_presets=settings.QUIET_PRESETS,
    )  # fmt: skip


@router.get("")
async def me(request: Request, launch: Launched) -> dict[str, Any]:
    """The member's profile answers and settings, each a button that changes it."""
    return _shown(request, await membership.me(_club(request), launch.actor))


@router.post("/profile")
async def answer(request: Request, launch: Launched, body: ProfileAnswer) -> dict[str, Any]:
    saved = await joining.answer_profile(_club(request), launch.actor, body.section, body.option)
    return _shown(request, saved.member)


@router.post("/city")
async def city(request: Request, launch: Launched, body: City) -> dict[str, Any]:
    saved = await joining.set_city(_club(request), launch.actor, body.city)
    return _shown(request, saved.member)


@router.post("/settings")
async def setting(request: Request, launch: Launched, body: Setting) -> dict[str, Any]:
    changes = settings.chosen(body.field, body.value)
    if changes is None:
        raise InvalidInput("unknown_setting", f"{body.field}={body.value}")
    saved = await settings.change(_club(request), launch.actor, changes)
    return _shown(request, saved.member)
