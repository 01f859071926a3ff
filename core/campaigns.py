"""Campaigns: a sandboxed message template, a segment, and a schedule.

Templates are written by staff: :mod:`core.campaign_templates` says what they may hold and renders
them in a sandbox, and :mod:`core.template_worker` renders them off the event loop within a time
budget. A template is checked there before its campaign is saved (by
:func:`core.actions.campaigns.create`, before its transaction), so one that would fail fails then,
with what is wrong, rather than at every delivery. A campaign runs once at ``run_at`` or on a cron
schedule in the club's time zone; each run writes its deliveries to the outbox under keys
``campaign:<id>:<run>:<member>``, so a run repeated after a crash writes nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

# Re-exported: a campaign's template is part of what a campaign is.
from core.campaign_templates import VARIABLES as VARIABLES
from core.campaign_templates import check_template as check_template
from core.campaign_templates import render as render
from core.errors import InvalidInput
from core.models import Campaign, utcnow


class CampaignStatus:
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    CANCELLED = "cancelled"
    DONE = "done"


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
    now: datetime | None = None, status: str = CampaignStatus.SCHEDULED,
    request_key: str | None = None,
) -> Campaign:  # fmt: skip
    """The campaign scheduled (or saved ``paused``, a draft nothing sends until it is resumed);
    its template was checked by the caller, off the event loop."""
    now = now or utcnow()
    if (draft.run_at is None) == (draft.cron is None):
        raise InvalidInput("schedule_needed", draft.name)
    campaign = Campaign(
        runs=0,
        name=draft.name[:120], template=draft.template, segment=draft.segment,
        run_at=draft.run_at, cron=draft.cron, button_text=draft.button_text,
        button_url=draft.button_url, button_reward_id=draft.button_reward_id,
        created_by=created_by, created_at=now, status=status, request_key=request_key,
    )  # fmt: skip
    campaign.next_run_at = next_run(campaign, now, tz)
    session.add(campaign)
    await session.flush()
    return campaign


def sample_variables(values: str, name: str) -> dict[str, str]:
    """A campaign's preview on the one writing it: their own ``name``, and a typical member's
    other values (``values``: the face's words for them, ``|``-separated in :data:`VARIABLES`'
    order)."""
    sample = dict(zip(VARIABLES, values.split("|"), strict=False))
    sample["name"] = name
    return sample


async def by_request(session: AsyncSession, request_key: str) -> Campaign | None:
    """The campaign a request saved, if it did."""
    return await session.scalar(select(Campaign).where(Campaign.request_key == request_key))


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
