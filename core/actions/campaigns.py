"""Staff running campaigns: a segment previewed, the campaigns listed, one campaign's report, a new
one saved, and one paused, resumed or cancelled.

Each change is audited in the same transaction as the change; the three reads change nothing. A
status change that is not allowed (say, resuming a campaign that is not paused) is refused before
anything changes, so a repeated request is refused rather than done twice;
:func:`core.campaigns.set_status` says which changes are.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from core import audit, campaign_reports, campaigns, segments, template_worker
from core.audit import Actor
from core.campaign_reports import CampaignReport
from core.campaigns import CampaignStatus, Draft
from core.club import Club
from core.db import Session, snapshot, transaction
from core.models import Campaign, Member, utcnow
from core.segments import Segment

SAMPLE = 5


@dataclass(frozen=True)
class SegmentPreview:
    """Who a rule selects now: how many, and the first few by member number."""

    segment: Segment  # as parsed: ``segment.canonical`` is the rule as a campaign saves it
    count: int
    sample: list[Member]


@dataclass(frozen=True)
class CampaignSaved:
    campaign: Campaign


@dataclass(frozen=True)
class StatusChanged:
    campaign: Campaign
    before: str  # the status it had


async def preview_segment(
    club: Club, actor: Actor, rule: str, *, sample: int = SAMPLE,
    words: segments.Vocabulary = segments.NONE,
) -> SegmentPreview:  # fmt: skip
    """``/segment`` and ``/campaign_new``'s segment step: the rule read and counted, with up to
    ``sample`` members (none asked, none read).

    Days are the club's: "birthday within 7 days" counts from today in the club's time zone.
    ``words`` are the staff's words for the language's own (Persian field and tier names).

    :raises SegmentError: the rule does not read, at the token where reading stopped.
    """
    segment = segments.parse(rule, club.rules, words)
    now = utcnow().astimezone(club.settings.tz)
    async with snapshot(club.sessions) as session:
        count = await segments.count(session, segment, now)
        found = await segments.sample(session, segment, now, limit=sample) if sample else []
    return SegmentPreview(segment, count, found)


async def listing(club: Club, actor: Actor) -> list[Campaign]:
    """``/campaigns``: the latest campaigns, newest first (:func:`core.campaigns.listing`)."""
    async with snapshot(club.sessions) as session:
        return await campaigns.listing(session)


async def report(club: Club, actor: Actor, campaign_id: int) -> CampaignReport:
    """``/campaigns <id>``: how its messages fared, and its recipients' purchases and redemptions
    in the week after next to its holdout's (:mod:`core.campaign_reports`).

    :raises InvalidInput: ``unknown_campaign``.
    """
    async with snapshot(club.sessions) as session:
        return await campaign_reports.report(session, campaign_id, utcnow())


async def create(club: Club, actor: Actor, draft: Draft) -> CampaignSaved:
    """``/campaign_new``'s last step: the campaign scheduled, audited as ``campaign_new``.

    Its template is checked first, off the event loop and outside the transaction: a template
    that takes its whole time budget holds neither the loop nor the database's write lock.
    """
    await template_worker.check(draft.template)
    async with transaction(club.sessions) as session:
        campaign = await campaigns.create(session, draft, club.settings.tz, created_by=actor.id)
        await audit.record(
            session, actor, action="campaign_new",
            after={"campaign_id": campaign.id, "name": campaign.name, "segment": campaign.segment},
        )  # fmt: skip
    return CampaignSaved(campaign)


async def save_draft(club: Club, actor: Actor, draft: Draft, *, key: str) -> CampaignSaved:
    """A campaign drafted in the owner's dashboard, saved paused: nothing goes out until an
    administrator starts it in the staff group (``/campaign_resume``), where the chat's own
    checks and progress are. The same ``key`` (the face's request) saves once: a retried or
    double-tapped save answers the campaign it saved. Audited as ``campaign_new``."""
    await template_worker.check(draft.template)
    request_key = f"{actor.id}:{key}"

    async def unit(session: Session) -> CampaignSaved:
        earlier = await campaigns.by_request(session, request_key)
        if earlier is not None:
            return CampaignSaved(earlier)
        campaign = await campaigns.create(
            session, draft, club.settings.tz, created_by=actor.id,
            status=CampaignStatus.PAUSED, request_key=request_key,
        )  # fmt: skip
        await audit.record(
            session, actor, action="campaign_new",
            after={"campaign_id": campaign.id, "name": campaign.name, "segment": campaign.segment,
                   "draft": True},
        )  # fmt: skip
        return CampaignSaved(campaign)

    try:
        return await club.write(unit)
    except IntegrityError:  # a twin saved it first (on PostgreSQL; SQLite writes one at a time)
        return await club.write(unit)


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
