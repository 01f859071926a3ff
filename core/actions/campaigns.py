"""Staff running campaigns: a new one saved, and one paused, resumed or cancelled.

Each is audited in the same transaction as the change. A status change that is not allowed (say,
resuming a campaign that is not paused) is refused before anything changes, so a repeated request
is refused rather than done twice; :func:`core.campaigns.set_status` says which changes are.
"""

from __future__ import annotations

from dataclasses import dataclass

from core import audit, campaigns
from core.audit import Actor
from core.campaigns import CampaignStatus, Draft
from core.club import Club
from core.db import transaction
from core.models import Campaign, utcnow


@dataclass(frozen=True)
class CampaignSaved:
    campaign: Campaign


@dataclass(frozen=True)
class StatusChanged:
    campaign: Campaign
    before: str  # the status it had


async def create(club: Club, actor: Actor, draft: Draft) -> CampaignSaved:
    """``/campaign_new``'s last step: the campaign scheduled, audited as ``campaign_new``."""
    async with transaction(club.sessions) as session:
        campaign = await campaigns.create(session, draft, club.settings.tz, created_by=actor.id)
        await audit.record(
            session, actor, action="campaign_new",
            after={"campaign_id": campaign.id, "name": campaign.name, "segment": campaign.segment},
        )  # fmt: skip
    return CampaignSaved(campaign)


async def pause(club: Club, actor: Actor, campaign_id: int) -> StatusChanged:
    """``/campaign_pause``: nothing more goes out until it is resumed."""
    return await _set(club, actor, campaign_id, "campaign_pause", CampaignStatus.PAUSED)


async def resume(club: Club, actor: Actor, campaign_id: int) -> StatusChanged:
    """``/campaign_resume``: scheduled again, a recurring one from its next time after now."""
    return await _set(club, actor, campaign_id, "campaign_resume", CampaignStatus.SCHEDULED)


async def cancel(club: Club, actor: Actor, campaign_id: int) -> StatusChanged:
    """``/campaign_cancel``: for good."""
    return await _set(club, actor, campaign_id, "campaign_cancel", CampaignStatus.CANCELLED)


async def _set(
    club: Club, actor: Actor, campaign_id: int, action: str, status: str
) -> StatusChanged:
    async with transaction(club.sessions) as session:
        before = (await campaigns.get(session, campaign_id)).status
        campaign = await campaigns.set_status(
            session, campaign_id, status, club.settings.tz, utcnow()
        )
        await audit.record(
            session, actor, action=action, before={"status": before},
            after={"status": campaign.status},
        )  # fmt: skip
    return StatusChanged(campaign, before)
