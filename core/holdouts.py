"""Who sits out a campaign: its control group, kept by rule ``campaigns.holdout_percent``.

The pick is a hash of the campaign's id and the member's (SHA-256, read as a number from 0 to
9,999 against the percent in hundredths): it looks random across members, yet a campaign holds out
the same members at every run and at a rerun after a crash, so a recurring campaign keeps one
control group, and another campaign picks others. A held-out member is written down
(:class:`core.models.CampaignHoldout`) with the moment their message would have gone out, which is
where their week of measuring starts (:mod:`core.campaign_reports`).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from core.models import CampaignHoldout

_BUCKETS = 10_000  # hundredths of a percent


def held_out(campaign_id: int, member_id: int, percent: int) -> bool:
    """Whether the member sits out the campaign when ``percent`` of its audience does."""
    if percent <= 0:
        return False
    digest = hashlib.sha256(f"holdout:{campaign_id}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % _BUCKETS < percent * _BUCKETS // 100


def hold_out(
    session: AsyncSession, campaign_id: int, run: int, member_id: int, at: datetime
) -> None:
    """Record that the member sat out run ``run``; ``at``: when their message would have gone."""
    session.add(CampaignHoldout(campaign_id=campaign_id, run=run, member_id=member_id, at=at))
