"""The owner's campaign composer, under ``/app/api/staff/campaigns``: administrators only.

The one thing the dashboard writes, as the issue allows: a campaign *draft*. The message is
previewed as it is typed, on the administrator themselves (their name, a typical member's other
values, as ``/campaign_new`` previews it), in the template worker's sandboxed process; the draft is
saved paused (:func:`core.actions.campaigns.save_draft`), once per screen however the save is
pressed, and nothing goes out until an administrator starts it in the staff group with
``/campaign_resume``, where the chat's progress messages are.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from markupsafe import Markup
from pydantic import BaseModel, Field

from core import campaigns as campaign_rules
from core import template_worker
from core.actions import campaigns
from core.campaign_templates import MAX_TEMPLATE
from core.errors import InvalidTemplate
from core.models import utcnow
from texts import plain
from web.launch import Administrator, Launch
from web.screens import ScreenKey, screen, views

router = APIRouter(prefix="/app/api/staff/campaigns", include_in_schema=False)


class DraftIn(BaseModel):
    name: str = Field(min_length=1, max_length=120)
    segment: str = Field(min_length=1, max_length=1000)
    template: str = Field(min_length=1, max_length=MAX_TEMPLATE)


def _locale(request: Request, launch: Launch) -> str:
    return views(request).locale_for(launch.language)


@router.get("/preview")
async def preview(request: Request, launch: Administrator, q: str = "") -> dict[str, Any]:
    """The message as it would reach the administrator, or what to fix in it, as it is typed."""
    shown = views(request)
    locale = _locale(request, launch)
    values: dict[str, Any] = {}
    if q.strip():
        sample = campaign_rules.sample_variables(
            shown.translator(locale, "campaign_new/sample_values"), launch.actor.name or ""
        )
        try:
            [message] = await template_worker.render_each(q, [sample])
            values["message"] = plain(message)  # shown as the words it says, not as HTML
        except InvalidTemplate as error:
            details = {**error.details, "reason": error.reason}
            values["error"] = Markup(shown.translator(locale, "errors/invalid_template", **details))
    return {"parts": {"campaign-preview": shown(locale, "staff_preview.html", **values)}}


@router.post("")
async def save(
    request: Request, launch: Administrator, key: ScreenKey, body: DraftIn
) -> dict[str, Any]:
    """Save the draft, paused; its segment read in the administrator's words and kept as the
    chat keeps it (the rule's canonical English form)."""
    club = request.app.state.club
    locale = _locale(request, launch)
    words = views(request).translator.segment_words(locale, club.rules.tier_keys)
    rule = await campaigns.preview_segment(club, launch.actor, body.segment, words=words, sample=0)
    draft = campaign_rules.Draft(
        name=body.name.strip(), template=body.template, segment=rule.segment.canonical,
        run_at=utcnow(),
    )  # fmt: skip
    saved = await campaigns.save_draft(club, launch.actor, draft, key=key)
    return screen(
        request, locale, "staff_draft_saved.html", campaign=saved.campaign, count=rule.count
    )
