"""The tables. Points and money are integers; every point movement is a ``LedgerEntry``.

Invariant kept by :mod:`core.ledger`: for every member,
``member.balance == sum(entry.delta) == sum(lot.remaining)`` and none of them is negative.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    select,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from core.locales import DEFAULT_LOCALE

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both engines (SQLite would otherwise hand back naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class _Clock:
    """The process's time: the wall clock, ``ahead`` of it only in ``bashgah shell`` after
    ``/advance`` (:func:`core.clock.advance`), which shows offline what weeks of sweeps do."""

    ahead = timedelta(0)


CLOCK = _Clock()


def utcnow() -> datetime:
    return datetime.now(UTC) + CLOCK.ahead


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        int: BigInteger(),
        dict[str, Any]: JSON(),
    }


class MemberStatus(StrEnum):
    ACTIVE = "active"
    BLOCKED = "blocked"  # blocked the bot: no messages until they come back
    LEFT = "left"
    ERASED = "erased"  # personal data removed on request; ledger kept


class EntryKind(StrEnum):
    EARN = "earn"
    REDEEM = "redeem"
    REFUND = "refund"
    EXPIRE = "expire"
    ADJUST = "adjust"
    REFERRAL = "referral"
    BONUS = "bonus"
    REVERSAL = "reversal"


class PurchaseStatus(StrEnum):
    PENDING = "pending"  # inside the return window: its points are promised, not yet spendable
    COMPLETED = "completed"
    REFUNDED = "refunded"


class RedemptionStatus(StrEnum):
    RESERVED = "reserved"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    VOID = "void"  # the member was erased: the code is worth nothing


class ReferralStatus(StrEnum):
    JOINED = "joined"  # the friend joined; the referrer waits for their first qualifying purchase
    REWARDED = "rewarded"
    CAPPED = "capped"  # qualified, but the referrer had reached the cap for the period
    CLAWED_BACK = "clawed_back"  # rewarded, then the purchase that earned it was refunded


class Member(Base):
    __tablename__ = "members"
    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)  # the member number staff read out
    telegram_id: Mapped[int | None] = mapped_column(unique=True)
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str | None] = mapped_column(String(128))
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    # True once the owner shared it with the contact button (Telegram vouches for it); a typed
    # number is a claim only, and gives way to a verified one.
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    birthday: Mapped[date | None] = mapped_column(Date)
    locale: Mapped[str] = mapped_column(String(8), default=DEFAULT_LOCALE)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[MemberStatus] = mapped_column(String(16), default=MemberStatus.ACTIVE)
    tier: Mapped[str] = mapped_column(String(32))
    tier_warning: Mapped[str | None] = mapped_column(String(16))  # evaluation period warned in
    balance: Mapped[int] = mapped_column(default=0)
    referral_code: Mapped[str] = mapped_column(String(16), unique=True)
    referred_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("members.id"))
    city: Mapped[str | None] = mapped_column(String(64))
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    offers_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    surveys_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    quiet_start: Mapped[int | None] = mapped_column(Integer)  # hour of day, club time zone
    quiet_end: Mapped[int | None] = mapped_column(Integer)
    max_offers_per_week: Mapped[int | None] = mapped_column(Integer)


class LedgerEntry(Base):
    """One append-only point movement. ``idempotency_key`` makes every movement safe to retry."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("delta <> 0", name="delta_not_zero"),
        Index("ix_ledger_entries_member_created", "member_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    delta: Mapped[int]
    kind: Mapped[EntryKind] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(255))
    actor_id: Mapped[int | None]  # the staff member's telegram id, for staff actions
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    reverses_id: Mapped[int | None] = mapped_column(Id, ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PointsLot(Base):
    """Points earned together and expiring together; spends draw the oldest lots first."""

    __tablename__ = "points_lots"
    __table_args__ = (
        CheckConstraint("remaining >= 0 AND remaining <= points", name="remaining_in_range"),
        Index("ix_points_lots_member_open", "member_id", "expires_at", "id"),
        Index(  # open lots only: what expiry and its warnings read
            "ix_points_lots_open_due",
            "expires_at",
            "id",
            sqlite_where=text("remaining > 0"),
            postgresql_where=text("remaining > 0"),
        ),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    entry_id: Mapped[int] = mapped_column(Id, ForeignKey("ledger_entries.id"), unique=True)
    points: Mapped[int]
    remaining: Mapped[int]
    earned_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    # Points its credit still owes back: a reversal (a refund, a clawback) found them already
    # spent. Points that later flow back into this lot pay this first.
    owed: Mapped[int] = mapped_column(default=0, server_default=text("0"))


class LotDraw(Base):
    """How many points one debit took from one lot, so a refund can put them back there."""

    __tablename__ = "lot_draws"
    __table_args__ = (CheckConstraint("points > 0", name="points_positive"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    entry_id: Mapped[int] = mapped_column(Id, ForeignKey("ledger_entries.id"), index=True)
    lot_id: Mapped[int] = mapped_column(Id, ForeignKey("points_lots.id"))  # read by entry only
    points: Mapped[int]


MAIN_BRANCH = "main"  # every club's first branch: its staff group and its main-branch keys


class Branch(Base):
    """A shop of the club: where a purchase was made and a reward handed over.

    ``code`` is what people type (``/stats north``, ``--branch north``); ``staff_chat_id`` is the
    branch's own cashiers' group, None when the club's staff group serves it. Branches are never
    deleted: a purchase keeps naming the shop it was made in.
    """

    __tablename__ = "branches"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    staff_chat_id: Mapped[int | None] = mapped_column(unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Purchase(Base):
    __tablename__ = "purchases"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        UniqueConstraint("branch_id", "reference"),  # a till's receipt numbers are its own
        Index("ix_purchases_member_created", "member_id", "created_at"),
        Index("ix_purchases_status_available", "status", "available_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    # Where it was sold; a row written without one is main's, as every purchase before branches.
    branch_id: Mapped[int] = mapped_column(
        Id,
        ForeignKey("branches.id"),
        default=select(Branch.id).where(Branch.code == MAIN_BRANCH).scalar_subquery(),
    )
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(8))
    reference: Mapped[str] = mapped_column(String(64))
    points: Mapped[int]  # as earned, at the tier's multiplier then
    status: Mapped[PurchaseStatus] = mapped_column(String(16), default=PurchaseStatus.COMPLETED)
    actor_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    refunded_at: Mapped[datetime | None]
    points_reversed: Mapped[int] = mapped_column(default=0)
    points_unrecovered: Mapped[int] = mapped_column(default=0)  # already spent when refunded
    # Through the return window (rule earn.pending_days) the points wait; the activation sweep
    # credits them at this moment. None: credited when recorded.
    available_at: Mapped[datetime | None]


class ForgottenIdentity(Base):
    """A salted hash of a forgotten member's phone or Telegram id, and nothing else.

    Kept after /forget and /erase so that the same person joining again gets no second welcome
    bonus and does not count as a new referral; the hash cannot be read back into a number
    without the club's salt.
    """

    __tablename__ = "forgotten_identities"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ClubSecret(Base):
    """Secrets the club makes for itself once (:mod:`core.club_secrets`): the salt of forgotten
    identities, the key of the member cards' codes."""

    __tablename__ = "club_secrets"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))


class StaffConfirmation(Base):
    """A staff action held for a button press: a large purchase, a number nobody verified.

    The request lives in the database, not in the button (64 bytes) or in memory (a restart),
    so the button works after a deploy and one press decides it once.
    """

    __tablename__ = "staff_confirmations"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    action: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    requested_by: Mapped[int]  # the staff member's telegram id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[int | None]
    decision: Mapped[str | None] = mapped_column(String(16))  # confirmed | cancelled


class TierChange(Base):
    __tablename__ = "tier_changes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    old_tier: Mapped[str] = mapped_column(String(32))
    new_tier: Mapped[str] = mapped_column(String(32))
    qualifying_points: Mapped[int]
    reason: Mapped[str] = mapped_column(String(16))  # purchase | evaluation
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TierEvaluation(Base):
    """One row per evaluation period, so running the monthly evaluation twice changes nothing."""

    __tablename__ = "tier_evaluations"

    period: Mapped[str] = mapped_column(String(16), primary_key=True)
    ran_at: Mapped[datetime]
    warned: Mapped[int] = mapped_column(default=0)
    downgraded: Mapped[int] = mapped_column(default=0)
    upgraded: Mapped[int] = mapped_column(default=0)


class Reward(Base):
    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint("cost > 0", name="cost_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str | None] = mapped_column(String(64), unique=True)  # set when seeded from rules
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    cost: Mapped[int]
    stock: Mapped[int | None]  # None: unlimited
    min_tier: Mapped[str | None] = mapped_column(String(32))
    allocation: Mapped[str] = mapped_column(String(16), default="first_come")
    weighted_draw: Mapped[bool] = mapped_column(Boolean, default=False)  # lottery: tickets by tier
    spend_window_days: Mapped[int | None] = mapped_column(Integer)  # top_spenders: the window
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Redemption(Base):
    __tablename__ = "redemptions"
    __table_args__ = (Index("ix_redemptions_status_expires", "status", "expires_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    reward_id: Mapped[int] = mapped_column(Id, ForeignKey("rewards.id"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    request_key: Mapped[str] = mapped_column(String(128), unique=True)
    points: Mapped[int]
    status: Mapped[RedemptionStatus] = mapped_column(String(16), default=RedemptionStatus.RESERVED)
    # The debit that paid for it; None for a reward won in a draw or given to top spenders.
    entry_id: Mapped[int | None] = mapped_column(Id, ForeignKey("ledger_entries.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    confirmed_by: Mapped[int | None]
    # Where it was handed over (set by the confirm); None while open, or never handed over.
    branch_id: Mapped[int | None] = mapped_column(Id, ForeignKey("branches.id"))


class Referral(Base):
    __tablename__ = "referrals"
    __table_args__ = (Index("ix_referrals_referrer_rewarded", "referrer_id", "rewarded_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    referrer_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    referred_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), unique=True)
    status: Mapped[ReferralStatus] = mapped_column(String(16), default=ReferralStatus.JOINED)
    created_at: Mapped[datetime]
    rewarded_at: Mapped[datetime | None]
    purchase_id: Mapped[int | None] = mapped_column(Id, ForeignKey("purchases.id"))


class AuditEntry(Base):
    """Every staff action: who, what, when, on which member, and the state before and after."""

    __tablename__ = "audit_entries"
    __table_args__ = (Index("ix_audit_entries_member_created", "member_id", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    actor_id: Mapped[int]  # the staff member's telegram id
    actor_name: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int | None] = mapped_column(Id, ForeignKey("members.id"))
    before: Mapped[dict[str, Any]] = mapped_column(default=dict)
    after: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LotteryEntry(Base):
    """A member's ticket for a reward allocated by lottery; one per member and reward."""

    __tablename__ = "lottery_entries"
    __table_args__ = (UniqueConstraint("reward_id", "member_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    reward_id: Mapped[int] = mapped_column(Id, ForeignKey("rewards.id"), index=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Draw(Base):
    """An allocation run, with everything needed to re-run it and get the same winners."""

    __tablename__ = "draws"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    reward_id: Mapped[int] = mapped_column(Id, ForeignKey("rewards.id"), unique=True)
    policy: Mapped[str] = mapped_column(String(16))
    seed: Mapped[str] = mapped_column(String(64))
    entrants: Mapped[dict[str, Any]] = mapped_column(
        default=dict
    )  # {"ids": [...], "weights": [...]}
    winners: Mapped[dict[str, Any]] = mapped_column(default=dict)  # {"ids": [...]}
    actor_id: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyKind(StrEnum):
    NPS = "nps"  # 0-10: how likely to recommend us
    CES = "ces"  # 1-7: how easy it was
    CSAT = "csat"  # 1-5: how satisfied


class SurveyInvite(Base):
    """A survey owed to a member at a touchpoint: written when the moment happens, sent when due.

    Living in the database (not in an in-memory job) is what lets a restart lose nothing, and the
    unique touchpoint key is what keeps one moment from asking twice.
    """

    __tablename__ = "survey_invites"
    __table_args__ = (Index("ix_survey_invites_status_due", "status", "due_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    kind: Mapped[SurveyKind] = mapped_column(String(8))
    touchpoint: Mapped[str] = mapped_column(String(64), unique=True)  # e.g. purchase:17, nps:3:1
    due_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending|sent|skipped
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"
    __table_args__ = (Index("ix_survey_answers_kind_created", "kind", "created_at"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    invite_id: Mapped[int] = mapped_column(Id, ForeignKey("survey_invites.id"), unique=True)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"), index=True)
    kind: Mapped[SurveyKind] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    followed_up_by: Mapped[int | None]  # the staff member who said "I'll call them"
    followed_up_name: Mapped[str | None] = mapped_column(String(128))
    followed_up_at: Mapped[datetime | None]


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender; back to pending if it dies
    SENT = "sent"
    FAILED = "failed"  # Telegram refused this message (400) or retries ran out
    UNREACHABLE = "unreachable"  # the member blocked the bot (403)
    CANCELLED = "cancelled"  # the member asked to be forgotten before it went out


class Attempts:
    """The columns of a row some sender tries to deliver: when it may go, how often it was tried
    (claimed), when it went, and why the last try failed. The outbox and the hooks' outbox share
    them; each keeps its own statuses."""

    attempts: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Attempts, Base):
    """One message in the outbox. Written first, sent later by the one rate-limited sender."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_status_not_before", "status", "not_before", "id"),
        Index("ix_deliveries_member_kind_sent", "member_id", "kind", "sent_at"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    campaign_id: Mapped[int | None] = mapped_column(Id, ForeignKey("campaigns.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(Id, ForeignKey("members.id"))
    chat_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))  # offer | lifecycle | survey | notice
    dedupe_key: Mapped[str] = mapped_column(String(128), unique=True)
    text: Mapped[str] = mapped_column(Text)
    reply_markup: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[DeliveryStatus] = mapped_column(String(16), default=DeliveryStatus.PENDING)


class Campaign(Base):
    """A personalized message to a segment, once or on a schedule, with an optional button."""

    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_request_key", "request_key", unique=True),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    template: Mapped[str] = mapped_column(Text)  # sandboxed Jinja2
    segment: Mapped[str] = mapped_column(Text)  # the rule, in the segment language
    button_text: Mapped[str | None] = mapped_column(String(64))
    button_url: Mapped[str | None] = mapped_column(String(255))
    button_reward_id: Mapped[int | None] = mapped_column(Id, ForeignKey("rewards.id"))
    run_at: Mapped[datetime | None]  # once
    cron: Mapped[str | None] = mapped_column(String(64))  # recurring, in the club's time zone
    next_run_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    # scheduled | running | paused | cancelled | done
    runs: Mapped[int] = mapped_column(Integer, default=0)
    progress_chat_id: Mapped[int | None]
    progress_message_id: Mapped[int | None]
    created_by: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A draft saved from the Mini App: its request, so a retried save saves it once.
    request_key: Mapped[str | None] = mapped_column(String(128))


class CampaignHoldout(Base):
    """A member of a campaign run's audience held out of it (rule ``campaigns.holdout_percent``):
    sent nothing, and measured beside the recipients as the campaign's control group."""

    __tablename__ = "campaign_holdouts"
    __table_args__ = (UniqueConstraint("campaign_id", "run", "member_id"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(Id, ForeignKey("campaigns.id"))
    run: Mapped[int] = mapped_column(Integer)
    member_id: Mapped[int] = mapped_column(Id, ForeignKey("members.id"))
    at: Mapped[datetime]  # when the message would have gone out: the member's window opens here


class ConversationState(Base):
    """Where a half-finished conversation stands, and the drafts it keeps, across a restart.

    The bot's multi-step flows (join, reward_add, campaign_new) live in python-telegram-bot's
    memory; a row here is what lets a member who shared a contact before a deploy type their name
    after it. ``kind`` is ``conversation`` (``name`` is the flow, ``key`` its chat and user) or
    ``user_data`` (``name`` is empty, ``key`` the user); ``value`` is JSON.
    """

    __tablename__ = "conversation_states"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class TelegramUpdate(Base):
    """An update Telegram posted to the webhook, claimed by the process that handles it.

    Several ``bashgah run`` processes may serve one webhook: this row, not a process's memory, says
    that an ``update_id`` is taken (``claimed_at``, by ``worker``) and then handled
    (``handled_at``), so a redelivery is handled once wherever it lands, and a chat's updates wait
    for its earlier ones (``chat_key``) whichever process holds them. Handled rows are deleted a
    few days later: Telegram keeps an update for at most a day.
    """

    __tablename__ = "telegram_updates"
    __table_args__ = (Index("ix_telegram_updates_chat_open", "chat_key", "update_id"),)

    update_id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=False)
    chat_key: Mapped[int | None] = mapped_column(BigInteger)
    worker: Mapped[str] = mapped_column(String(64))
    claimed_at: Mapped[datetime]
    handled_at: Mapped[datetime | None] = mapped_column(index=True)


class ApiKey(Base):
    """A key a shop's system (its till, its web shop) calls the HTTP API with.

    Only a SHA-256 of the key is kept: the key is shown once, when it is made, and a stolen copy
    of the database calls nothing. ``prefix`` (the first characters) lets the owner tell keys
    apart in ``bashgah api-key list``; ``name`` is the actor in the audit log.
    """

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    # A branch's code, not its id: the code is what the owner typed and reads in the key list.
    branch: Mapped[str] = mapped_column(
        String(32), ForeignKey("branches.code"), default=MAIN_BRANCH
    )
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class ApiRequest(Base):
    """A POST the API answered, by its ``Idempotency-Key``: a retry gets the same answer back.

    ``fingerprint`` is a hash of the method, path and body; the same key with another request is
    refused rather than answered with the first one's response.
    """

    __tablename__ = "api_requests"
    __table_args__ = (UniqueConstraint("api_key_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    api_key_id: Mapped[int] = mapped_column(Id, ForeignKey("api_keys.id"))
    idempotency_key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[Any] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Hook(Base):
    """A URL of the shop's own systems that events are posted to (``bashgah hooks add``).

    ``secret`` signs every body (HMAC-SHA256), so it is kept as it is, not as a hash: unlike an
    API key, which we only check, this one we must use. ``events`` lists the event types it
    takes; empty takes them all. A removed hook stays listed with its date and gets nothing more.
    """

    __tablename__ = "hooks"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(64))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]


class HookDeliveryStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender; back to pending if it dies
    SENT = "sent"  # the hook answered 2xx
    FAILED = "failed"  # retries ran out, or the hook was removed first


class HookDelivery(Attempts, Base):
    """One event for one hook, in the hooks' outbox: written with what caused it, posted later.

    ``body`` is the exact JSON that is signed and sent, so every retry sends the same bytes;
    ``event_id`` is the event's, the same for every hook it goes to (the receiver's dedupe key).
    """

    __tablename__ = "hook_deliveries"
    __table_args__ = (
        UniqueConstraint("hook_id", "event_id"),
        Index("ix_hook_deliveries_status_not_before", "status", "not_before", "id"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    hook_id: Mapped[int] = mapped_column(Id, ForeignKey("hooks.id"))
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[HookDeliveryStatus] = mapped_column(
        String(16), default=HookDeliveryStatus.PENDING
    )


class StaffInvitation(Base):
    """A join link staff made (``/invite_link``): it opens a club by invitation to ``uses_left``
    more newcomers until ``expires_at``, without a member's referral.

    ``code`` is random and long (``secrets.token_urlsafe``): the link is the only key, so it must
    not be guessable. Each join through it takes one use in the join's transaction.
    """

    __tablename__ = "staff_invitations"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    uses_left: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[datetime]
    created_by: Mapped[int]  # the staff member's telegram id
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
