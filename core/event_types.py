"""The names of the events Bashgah sends to the shop's systems: a public contract, never renamed.

Apart from :mod:`core.events` so that :mod:`core.hooks` can check a subscription against them
while :mod:`core.events` reads the hooks.
"""

from __future__ import annotations

MEMBER_JOINED = "member.joined"  # in Telegram, or registered at the till
MEMBER_CLAIMED = "member.claimed"  # a till member's number verified in Telegram: now theirs
PURCHASE_RECORDED = "purchase.recorded"
PURCHASE_REFUNDED = "purchase.refunded"
POINTS_EXPIRED = "points.expired"
TIER_CHANGED = "tier.changed"
REWARD_REDEEMED = "reward.redeemed"  # the member took a code
REWARD_CONFIRMED = "reward.confirmed"  # staff (or the till) handed the reward over

EVENT_TYPES = (
    MEMBER_JOINED,
    MEMBER_CLAIMED,
    PURCHASE_RECORDED,
    PURCHASE_REFUNDED,
    POINTS_EXPIRED,
    TIER_CHANGED,
    REWARD_REDEEMED,
    REWARD_CONFIRMED,
)
