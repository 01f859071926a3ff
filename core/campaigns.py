"""Campaigns: a sandboxed message template, a segment, and a schedule.

Templates are written by staff, so they render in Jinja's ``SandboxedEnvironment`` with autoescape
on: a template cannot reach Python internals, and a member's name cannot inject HTML. A template is
checked before it is saved by rendering it with sample values and reading the result as Telegram
would (:mod:`core.telegram_html`): a ``<p>`` or an unclosed ``<b>`` is refused then, with what is
wrong, rather than failing at every delivery. A campaign
runs once at ``run_at`` or on a cron schedule in the club's time zone; each run writes its
deliveries to the outbox under keys ``campaign:<id>:<run>:<member>``, so a run repeated after a
crash writes nothing twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import telegram_html
from core.errors import InvalidInput, InvalidTemplate
from core.models import Campaign, utcnow

MAX_TEMPLATE = 3000
VARIABLES = ("name", "tier", "balance", "to_next_tier", "next_tier", "expiring_points",
             "expiring_date", "referral_link", "member_number")  # fmt: skip
_ENV = SandboxedEnvironment(autoescape=True, undefined=StrictUndefined)


class CampaignStatus:
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


_UNDEFINED = re.compile(r"'([^']{1,40})' is undefined")


def check_template(text: str) -> str:
    """Parse and trial-render a template with sample values, and check the message's HTML as
    Telegram reads it; :class:`InvalidTemplate` says what to fix."""
    if not text.strip():
        raise InvalidTemplate("empty")
    if len(text) > MAX_TEMPLATE:
        raise InvalidTemplate("too_long", text[:40], limit=MAX_TEMPLATE)
    found = telegram_html.problem(render(text, dict.fromkeys(VARIABLES, "x")))
    if found is not None:
        raise InvalidTemplate(
            found.reason, text[:40], tag=found.tag, attribute=found.attribute,
            expected=found.expected, line=found.line,
        )  # fmt: skip
    return text


def render(template: str, variables: dict[str, Any]) -> str:
    """The message for one member. Anything outside the sandbox fails as a typed error."""
    try:
        return _ENV.from_string(template).render(**variables).strip()
    except TemplateSyntaxError as exc:
        raise InvalidTemplate("syntax", template[:40], line=exc.lineno) from exc
    except UndefinedError as exc:
        name = _UNDEFINED.search(str(exc))
        raise InvalidTemplate(
            "undefined", template[:40], variable=name.group(1) if name else ""
        ) from exc
    except SecurityError as exc:
        raise InvalidTemplate("unsafe", template[:40]) from exc
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        raise InvalidTemplate("broken", template[:40]) from exc


def check_cron(expression: str, tz: ZoneInfo) -> CronTrigger:
    try:
        return CronTrigger.from_crontab(expression, timezone=tz)
    except ValueError as exc:
        raise InvalidInput("bad_cron", expression) from exc


def next_run(campaign: Campaign, after: datetime, tz: ZoneInfo) -> datetime | None:
    """When the campaign should run next, strictly after ``after``; None when it is finished."""
    if campaign.cron:
        fire = check_cron(campaign.cron, tz).get_next_fire_time(None, after)
        return fire.astimezone(after.tzinfo) if fire else None
    if campaign.run_at is not None and campaign.runs == 0:
        return campaign.run_at
    return None


@dataclass(frozen=True)
class Draft:
    name: str
    template: str
    segment: str
    run_at: datetime | None = None
    cron: str | None = None
    button_text: str | None = None
    button_url: str | None = None
    button_reward_id: int | None = None


async def create(
    session: AsyncSession, draft: Draft, tz: ZoneInfo, *, created_by: int | None,
    now: datetime | None = None,
) -> Campaign:  # fmt: skip
    now = now or utcnow()
    check_template(draft.template)
    if (draft.run_at is None) == (draft.cron is None):
        raise InvalidInput("schedule_needed", draft.name)
    campaign = Campaign(
        runs=0,
        name=draft.name[:120], template=draft.template, segment=draft.segment,
        run_at=draft.run_at, cron=draft.cron, button_text=draft.button_text,
        button_url=draft.button_url, button_reward_id=draft.button_reward_id,
        created_by=created_by, created_at=now, status=CampaignStatus.SCHEDULED,
    )  # fmt: skip
    campaign.next_run_at = next_run(campaign, now, tz)
    session.add(campaign)
    await session.flush()
    return campaign


async def due(session: AsyncSession, now: datetime) -> list[Campaign]:
    return list(
        await session.scalars(
            select(Campaign)
            .where(Campaign.status == CampaignStatus.SCHEDULED, Campaign.next_run_at <= now)
            .order_by(Campaign.next_run_at, Campaign.id)
            .with_for_update(skip_locked=True)
        )
    )


async def get(session: AsyncSession, campaign_id: int) -> Campaign:
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None:
        raise InvalidInput("unknown_campaign", str(campaign_id))
    return campaign


async def set_status(
    session: AsyncSession, campaign_id: int, status: str, tz: ZoneInfo, now: datetime
) -> Campaign:
    """Pause, resume or cancel; resuming a recurring campaign picks its next time from now."""
    campaign = await get(session, campaign_id)
    allowed = {
        CampaignStatus.PAUSED: {CampaignStatus.SCHEDULED, CampaignStatus.RUNNING},
        CampaignStatus.SCHEDULED: {CampaignStatus.PAUSED},
        CampaignStatus.CANCELLED: {CampaignStatus.SCHEDULED, CampaignStatus.PAUSED,
                                   CampaignStatus.RUNNING},
    }  # fmt: skip
    if campaign.status not in allowed.get(status, set()):
        raise InvalidInput("campaign_state", campaign.status)
    campaign.status = status
    if status == CampaignStatus.SCHEDULED:
        campaign.next_run_at = next_run(campaign, now, tz)
        if campaign.next_run_at is None:
            campaign.status = CampaignStatus.DONE
    await session.flush()
    return campaign


async def listing(session: AsyncSession, limit: int = 20) -> list[Campaign]:
    return list(await session.scalars(select(Campaign).order_by(Campaign.id.desc()).limit(limit)))
