"""The owner's dashboard, under ``/app/api/staff``: administrators of the staff group only.

Everything here reads: the club's weeks (as ``/stats`` charts them), its points liability and
expiry forecast, the surveys' scores with their margins, the campaigns' results, and a segment
rule counted as it is typed. Each number comes from the same core read the chat's staff commands
call, so the dashboard and the chat never disagree.

The screens speak the administrator's Telegram language (``launch.language``): an owner need not
be a member of their own club, and the dashboard is the staff's, not the member's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from markupsafe import Markup

from core.actions import campaigns, reports, surveys
from core.campaign_reports import CampaignReport
from core.campaign_templates import VARIABLES
from core.digits import format_decimal
from core.errors import SegmentError
from core.models import SurveyKind
from core.survey_reports import PLACES, Report
from web import charts
from web.launch import Administrator
from web.screens import screen, views, words

router = APIRouter(prefix="/app/api/staff", include_in_schema=False)

SURVEY_DAYS = 90  # the surveys' window: a quarter, week by week
CAMPAIGNS_SHOWN = 5  # the latest campaigns with their results


@dataclass(frozen=True)
class Survey:
    """One survey kind's quarter as the dashboard shows it: its score and margin in words, and
    its weekly values as a chart (weeks without answers left out)."""

    kind: str
    n: int
    value: str | None
    margin: str | None
    chart: Markup


def _survey(request: Request, locale: str, found: Report) -> Survey:
    places = PLACES[found.kind]
    score = found.score
    # Scaled to whole numbers by the score's decimals (CES 5.4 is drawn as 54): a chart's shape.
    weekly = [round(w.score.value * 10**places) for w in found.weeks if w.score.value is not None]
    caption = words(
        request, locale, "staff/survey_chart", survey_kind=found.kind.value, survey_days=SURVEY_DAYS
    )
    return Survey(
        kind=found.kind.value,
        n=score.n,
        value=None if score.value is None else format_decimal(score.value, locale, places),
        margin=None if score.margin is None else format_decimal(score.margin, locale, places),
        chart=charts.line(weekly, caption=caption, name=found.kind.value)
        if len(weekly) > 1
        else Markup(""),
    )


def _percent(value: float, locale: str) -> str:
    """A difference of proportions (0.052) in percentage points (5.2)."""
    return format_decimal(100 * value, locale, 1)


@dataclass(frozen=True)
class ShownLift:
    """A lift in percentage points, as words show it (the chat's ``/campaigns <id>`` too)."""

    difference: str
    margin: str


@dataclass(frozen=True)
class CampaignRow:
    """A campaign's results as the chat's report has them: delivered, held out, the lift."""

    report: CampaignReport
    buying_lift: ShownLift | None  # None: no holdout, or too few messages to tell


def campaign_row(found: CampaignReport, locale: str) -> CampaignRow:
    """The report with its buying lift in percentage points, signed as the chat shows it."""
    lift = found.buying_lift
    if lift is None:
        return CampaignRow(found, None)
    sign = "+" if lift.difference > 0 else ""
    return CampaignRow(
        found, ShownLift(sign + _percent(lift.difference, locale), _percent(lift.margin, locale))
    )


@router.get("")
async def dashboard(request: Request, launch: Administrator) -> dict[str, Any]:
    """The dashboard: the club's weeks, liability, surveys and campaigns, read-only."""
    club = request.app.state.club
    locale = views(request).locale_for(launch.language)
    found = await reports.stats(club, launch.actor)
    assert found.club is not None and found.trend is not None  # the whole club's, no branch
    weeks = found.trend.weeks

    def chart(kind: str, draw: Any, values: list[int]) -> Markup:
        caption = words(request, locale, "staff/chart", series=kind, trend=found.trend)
        return draw(values, caption=caption, name=kind)

    weekly = [
        chart("sales", charts.bars, [w.sales for w in weeks]),
        chart("purchases", charts.line, [w.purchases for w in weeks]),
        chart("active", charts.line, [w.active_members for w in weeks]),
        chart("new", charts.bars, [w.new_members for w in weeks]),
    ]
    scores = [
        _survey(request, locale, await surveys.report(club, launch.actor, kind, SURVEY_DAYS))
        for kind in SurveyKind
    ]
    latest = (await campaigns.listing(club, launch.actor))[:CAMPAIGNS_SHOWN]
    results = [
        campaign_row(await campaigns.report(club, launch.actor, c.id), locale) for c in latest
    ]
    return screen(
        request, locale, "staff.html",
        club=found.club, trend=found.trend, weekly=weekly, forecast=found.expiry_forecast,
        surveys=scores, survey_days=SURVEY_DAYS, campaigns=results, variables=VARIABLES,
    )  # fmt: skip


@router.get("/segment")
async def segment(request: Request, launch: Administrator, q: str = "") -> dict[str, Any]:
    """A segment rule counted as it is typed: ``{"parts": {"segment-count": <output>}}``, the
    count, or where and why the rule does not read, in the administrator's words."""
    club = request.app.state.club
    shown = views(request)
    locale = shown.locale_for(launch.language)
    words = shown.translator.segment_words(locale, club.rules.tier_keys)
    values: dict[str, Any] = {"rule": q.strip()}
    if values["rule"]:
        try:
            found = await campaigns.preview_segment(
                club, launch.actor, values["rule"], words=words, sample=0
            )
            values["count"] = found.count
        except SegmentError as error:
            values["error"] = Markup(
                shown.translator(locale, "errors/segment_error", **error.details)
            )
    return {"parts": {"segment-count": shown(locale, "staff_segment.html", **values)}}
