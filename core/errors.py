"""Typed domain errors. The bot turns each into a localized message by its ``code``.

A service raises one of these *before* it changes anything (or inside a savepoint that is then
rolled back), so a caller that catches it can be sure no state moved.
"""

from __future__ import annotations

from typing import Any


class BashgahError(Exception):
    """Base of every expected, user-explainable failure."""

    code = "error"

    def __init__(self, message: str = "", **details: Any) -> None:
        super().__init__(message or self.code)
        self.details = details


class RulesError(BashgahError):
    code = "rules_invalid"


class InvalidInput(BashgahError, ValueError):
    """A value a person typed is malformed: zero, negative, non-numeric or absurdly large.

    ``reason`` is a stable code (``empty``, ``not_a_number``, ``not_positive``, ``too_large``, …)
    so the bot can pick a precise message without parsing text.
    """

    code = "invalid_input"

    def __init__(self, reason: str, text: str = "") -> None:
        super().__init__(f"{self.code} ({reason}): {text[:40]!r}", reason=reason)
        self.reason = reason


class InvalidTemplate(InvalidInput):
    """A campaign's message that cannot go out: it does not render with the template variables,
    or Telegram would refuse its HTML.

    ``reason`` is ``empty``, ``too_long`` (``limit``), ``syntax`` (``line``), ``undefined``
    (``variable``), ``unsafe``, ``broken``, ``not_allowed`` (``construct``, ``name``, ``line``: see
    :func:`core.campaign_templates.allowed`), ``too_big`` (``limit``: the rendered message's),
    ``too_slow`` (``seconds``: :mod:`core.template_worker`'s budget), ``too_slow_per_member``
    (``limit``, in milliseconds), or one of :class:`core.telegram_html.HtmlProblem`'s (with its
    ``tag``, ``attribute``, ``expected`` and ``line``), so the text can say what to fix.
    """

    code = "invalid_template"

    def __init__(self, reason: str, text: str = "", **details: str | int) -> None:
        super().__init__(reason, text)
        self.details.update(details)


class InvalidNumber(InvalidInput):
    code = "invalid_number"


class InvalidPhone(InvalidInput):
    code = "invalid_phone"


class MemberNotFound(BashgahError):
    code = "member_not_found"


class NotJoined(BashgahError):
    """A member's own action from someone who has not joined (or whose data was erased)."""

    code = "not_joined"


class MemberInactive(BashgahError):
    code = "member_inactive"


class RegistrationClosed(BashgahError):
    """The club is limited and the newcomer brought no valid referral."""

    code = "registration_closed"


class PhoneTaken(BashgahError):
    code = "phone_taken"


class StaffDailyLimit(BashgahError):
    """A staff member (not an administrator) would pass ``adjust.staff_daily_limit`` today."""

    code = "staff_daily_limit"


class InsufficientPoints(BashgahError):
    code = "insufficient_points"


class IdempotencyConflict(BashgahError):
    """An idempotency key was reused for a different operation: a bug in the caller."""

    code = "idempotency_conflict"


class DuplicateReference(BashgahError):
    """A purchase with this external reference is already recorded; nothing was awarded again."""

    code = "duplicate_reference"


class ReferenceConflict(BashgahError):
    """The reference names a purchase recorded for another member or amount: not a retry.

    Refused rather than answered "already recorded", so a second till's invoice 1001 is not
    silently swallowed by the first till's.
    """

    code = "reference_conflict"


class PurchaseNotFound(BashgahError):
    code = "purchase_not_found"


class AlreadyRefunded(BashgahError):
    code = "already_refunded"


class BranchNotFound(BashgahError):
    """No branch has this code (``bashgah branch list`` shows them)."""

    code = "branch_not_found"


class BranchForbidden(BashgahError):
    """A branch's own desk (its staff group, its API key) asked about another branch."""

    code = "branch_forbidden"


class RewardNotFound(BashgahError):
    code = "reward_not_found"


class RewardUnavailable(BashgahError):
    """Inactive, outside its window, or above the member's tier."""

    code = "reward_unavailable"


class OutOfStock(BashgahError):
    code = "out_of_stock"


class CodeNotFound(BashgahError):
    code = "code_not_found"


class CodeExpired(BashgahError):
    code = "code_expired"


class CodeCancelled(BashgahError):
    code = "code_cancelled"


class CodeVoid(BashgahError):
    """The code's member was erased: it is worth nothing and must not be handed over."""

    code = "code_void"


class AlreadyConfirmed(BashgahError):
    code = "already_confirmed"


class AlreadyDrawn(BashgahError):
    """The reward's prizes were already allocated; a reward is drawn once."""

    code = "already_drawn"


class NotDrawn(BashgahError):
    """The reward has no draw to repeat: it was never drawn."""

    code = "not_drawn"


class SurveyNotFound(BashgahError):
    """No such survey invite or answer, or not this member's."""

    code = "survey_not_found"


class SurveyStale(BashgahError):
    """The survey was never sent, its button is too old, or the comment window has closed."""

    code = "survey_stale"


class AlreadyAnswered(BashgahError):
    """The survey was answered before; the first answer (``survey_score``) is kept."""

    code = "already_answered"

    def __init__(self, survey_score: int, **details: Any) -> None:
        super().__init__(
            f"already answered with {survey_score}", survey_score=survey_score, **details
        )
        self.survey_score = survey_score


class AlreadyCommented(BashgahError):
    code = "already_commented"


class SegmentError(BashgahError):
    """A segment rule that cannot be read: it points at the token where reading stopped.

    ``position`` is the 0-based index of that token in the rule (the rule's length when something
    is missing at its end), ``token`` its text ("" at the end), and ``reason`` a stable code
    (``unknown_field``, ``bad_operator``, ``missing_value``, ``unknown_tier``, ...) for the bot.
    What was expected instead is in further details, where there is more to say than the reason:
    ``field`` (the field being compared, in the staff's words), ``expected`` (a value's kind, or the
    operators a field takes), ``low`` and ``high`` (a number's range), ``nearest`` (the known word
    closest to a mistyped one) and ``choices`` (the club's tiers).
    """

    code = "segment_error"

    def __init__(
        self, reason: str, position: int, token: str = "", message: str = "", **why: str | int
    ) -> None:
        super().__init__(
            message or f"{self.code} ({reason}) at {position}: {token!r}",
            reason=reason,
            position=position,
            token=token,
            **why,
        )
        self.reason = reason
        self.position = position
        self.token = token


class InvalidHookUrl(InvalidInput):
    """A hook's address is not an absolute ``http``/``https`` URL with a host."""

    code = "invalid_hook_url"

    def __init__(self, url: str) -> None:
        super().__init__("bad_url", url)
        self.details["url"] = url


class UnknownEventType(InvalidInput):
    """A hook was asked for an event type Bashgah does not send."""

    code = "unknown_event_type"

    def __init__(self, event_type: str) -> None:
        super().__init__("unknown", event_type)
        self.details["event_type"] = event_type


class HookNotFound(BashgahError):
    code = "hook_not_found"


class InviteLinkSpent(BashgahError):
    """A staff join link (``/invite_link``) that no longer opens the club."""


class InviteLinkExpired(InviteLinkSpent):
    code = "invite_link_expired"


class InviteLinkUsedUp(InviteLinkSpent):
    code = "invite_link_used_up"


class CardTokenInvalid(MemberNotFound):
    """A member card's code that no card ever showed: garbled, forged, or from the future.

    A kind of :class:`MemberNotFound`, since it names nobody, and said apart from a stale code so
    the till knows whether to ask the member to open their card again or to look closer.
    """

    code = "card_token_invalid"


class CardTokenExpired(BashgahError):
    """A genuine member card's code whose minutes are over: a screenshot, or a card left open."""

    code = "card_token_expired"
