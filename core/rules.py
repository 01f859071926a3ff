"""The club's rules: one TOML file with documented defaults, and the pure functions over them.

Every number a shop owner might want to change lives here, validated once at start so that a typo
fails loudly with the name of the bad key instead of silently awarding the wrong points.
"""

from __future__ import annotations

import tomllib
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from itertools import pairwise
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import RulesError

DEFAULT_RULES_PATH = Path(__file__).with_name("default_rules.toml")

# Strict: TOML's `true` or "1000" must not quietly become a number of points.
Positive = Annotated[int, Field(gt=0, strict=True)]
NonNegative = Annotated[int, Field(ge=0, strict=True)]


class _Strict(BaseModel):
    """Unknown keys are errors: a misspelt rule must not fall back to a default unnoticed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ClubMode(StrEnum):
    OPEN = "open"
    LIMITED = "limited"


class ClubCalendar(StrEnum):
    """The calendar the club's months and anniversaries follow: the tier evaluation, birthdays."""

    JALALI = "jalali"
    GREGORIAN = "gregorian"


class Allocation(StrEnum):
    """How a scarce reward is shared out when more members want it than there is stock: the first
    to redeem, a seeded draw among those who entered, or the top spenders of the period."""

    FIRST_COME = "first_come"
    LOTTERY = "lottery"
    TOP_SPENDERS = "top_spenders"


class EarnRules(_Strict):
    amount_per_point: Positive = 1000
    max_purchase_amount: Positive = 10_000_000_000
    pending_days: NonNegative = 0  # a purchase's points wait this return window; 0: at once


class PurchaseRules(_Strict):
    confirm_above: Positive = 50_000_000  # a larger purchase waits for a confirm button


class Tier(_Strict):
    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
    threshold: NonNegative
    multiplier: Annotated[Decimal, Field(ge=1, le=100)]


class TierRules(_Strict):
    qualifying_window_days: Positive = 365


class ExpiryRules(_Strict):
    days: Positive = 365


class ReferralRules(_Strict):
    welcome_bonus: NonNegative = 50
    referrer_bonus: NonNegative = 200
    min_purchase: NonNegative = 100_000
    cap: NonNegative = 20
    cap_window_days: Positive = 30


class RedemptionRules(_Strict):
    valid_days: Positive = 14


class AdjustRules(_Strict):
    max_points: Positive = 1_000_000
    staff_limit: Positive = 1_000  # above this, only the staff group's administrators may adjust
    # what one non-administrator may award plus deduct in a day (club time zone), all told
    staff_daily_limit: Positive = 1_000


Hour = Annotated[int, Field(ge=0, le=23, strict=True)]


class SurveyRules(_Strict):
    csat_delay_minutes: NonNegative = 30  # CSAT about a purchase, this long after it
    nps_every_days: Positive = 90  # NPS to active members this often
    nps_min_member_days: NonNegative = 14  # never in a member's first days
    cooldown_days: NonNegative = 7  # at most one survey per member in this many days
    answer_valid_days: Positive = 7  # a survey button older than this is stale


class MessagingRules(_Strict):
    quiet_start: Hour = 22  # club-wide quiet hours (club time zone) for members who set none
    quiet_end: Hour = 9
    offers_per_week: NonNegative = 2  # default frequency cap for offers
    rate_per_second: Positive = 30  # the outbox sender's overall pace
    max_attempts: Positive = 5  # network errors and 5xx are retried this often, with backoff
    # a message claimed this long ago by a sender that died (or hangs) is sent again; keep it
    # well above the longest send, or a live sender's message goes out twice
    stale_claim_seconds: Positive = 120
    birthday_bonus: NonNegative = 100  # points given on the birthday
    churn_days: Positive = 60  # members this long without a purchase are at risk


class CampaignRules(_Strict):
    # this share of a campaign's audience gets no message and is measured as its control group
    holdout_percent: Annotated[int, Field(ge=0, le=50, strict=True)] = 0


class MiniAppRules(_Strict):
    # how old a Mini App's signed launch data (initData) may be before its requests are refused
    max_age_seconds: Positive = 3600


class RewardSeed(_Strict):
    """A reward the rules file seeds: created at the first start that sees its ``key``, then
    the staff's to keep (a restart neither copies nor overwrites it)."""

    key: Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")]
    title: Annotated[str, Field(min_length=1, max_length=120)]
    description: Annotated[str, Field(max_length=1000)] = ""
    cost: Positive
    stock: NonNegative | None = None
    min_tier: str | None = None
    allocation: Allocation = Allocation.FIRST_COME

    @model_validator(mode="after")
    def _limited_has_prizes(self) -> RewardSeed:
        if self.allocation is not Allocation.FIRST_COME and self.stock is None:
            raise ValueError(f"rewards: {self.key}: a {self.allocation} reward needs a stock")
        return self


def _default_tiers() -> tuple[Tier, ...]:
    return (
        Tier(key="bronze", threshold=0, multiplier=Decimal("1")),
        Tier(key="silver", threshold=1_000, multiplier=Decimal("1.25")),
        Tier(key="gold", threshold=5_000, multiplier=Decimal("1.5")),
        Tier(key="platinum", threshold=20_000, multiplier=Decimal("2")),
    )


class Rules(_Strict):
    """The whole rule book of one club."""

    club_name: Annotated[str, Field(max_length=60)] = ""  # empty: the locale's own wording
    currency: str = "Toman"
    club_mode: ClubMode = ClubMode.OPEN
    calendar: ClubCalendar = ClubCalendar.JALALI  # the tier evaluation's month, birthdays
    earn: EarnRules = EarnRules()
    purchase: PurchaseRules = PurchaseRules()
    tiers: tuple[Tier, ...] = Field(default_factory=_default_tiers, min_length=1)
    tier_policy: TierRules = TierRules()
    expiry: ExpiryRules = ExpiryRules()
    referral: ReferralRules = ReferralRules()
    redemption: RedemptionRules = RedemptionRules()
    adjust: AdjustRules = AdjustRules()
    surveys: SurveyRules = SurveyRules()
    messaging: MessagingRules = MessagingRules()
    campaigns: CampaignRules = CampaignRules()
    miniapp: MiniAppRules = MiniAppRules()
    rewards: tuple[RewardSeed, ...] = ()

    @model_validator(mode="after")
    def _tiers_are_a_ladder(self) -> Rules:
        keys = [t.key for t in self.tiers]
        if len(set(keys)) != len(keys):
            raise ValueError("tiers: every tier needs its own key")
        thresholds = [t.threshold for t in self.tiers]
        if thresholds[0] != 0:
            raise ValueError("tiers: the first tier must start at threshold 0")
        if any(b <= a for a, b in pairwise(thresholds)):
            raise ValueError("tiers: thresholds must rise strictly from one tier to the next")
        seeds = [r.key for r in self.rewards]
        if len(set(seeds)) != len(seeds):
            raise ValueError("rewards: every reward needs its own key")
        for seed in self.rewards:
            if seed.min_tier is not None and seed.min_tier not in keys:
                raise ValueError(f"rewards: {seed.key}: unknown min_tier {seed.min_tier!r}")
        return self

    # --- pure functions of the rules -------------------------------------------------------

    @property
    def tier_keys(self) -> tuple[str, ...]:
        return tuple(t.key for t in self.tiers)

    @property
    def base_tier(self) -> str:
        return self.tiers[0].key

    def tier(self, key: str) -> Tier:
        for tier in self.tiers:
            if tier.key == key:
                return tier
        raise KeyError(key)

    def tier_rank(self, key: str) -> int:
        """Position on the ladder; a tier removed from the rules ranks as the base tier."""
        try:
            return self.tier_keys.index(key)
        except ValueError:
            return 0

    def tier_for(self, qualifying_points: int) -> Tier:
        """The highest tier whose threshold the qualifying points reach."""
        reached = self.tiers[0]
        for tier in self.tiers:
            if qualifying_points >= tier.threshold:
                reached = tier
        return reached

    def next_tier(self, key: str) -> Tier | None:
        rank = self.tier_rank(key)
        return self.tiers[rank + 1] if rank + 1 < len(self.tiers) else None

    def points_to_next(self, key: str, qualifying_points: int) -> int:
        """Qualifying points still to earn for the tier after ``key``; 0 at the top tier."""
        following = self.next_tier(key)
        return max(following.threshold - qualifying_points, 0) if following else 0

    def purchase_points(self, amount: int, tier_key: str) -> int:
        """Points for a purchase: whole points per ``amount_per_point``, times the tier, floored."""
        base = amount // self.earn.amount_per_point
        multiplier = self.tiers[self.tier_rank(tier_key)].multiplier
        return int((Decimal(base) * multiplier).to_integral_value(rounding=ROUND_FLOOR))


def load_rules(path: Path | None = None) -> Rules:
    """Read and validate a rules file; with no path, the shipped defaults."""
    path = path or DEFAULT_RULES_PATH
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise RulesError(f"{path}: file not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return Rules.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise RulesError(f"{path}: {problems}") from exc
