"""Staff commands for segments and campaigns: preview a segment, list, report, pause, resume,
cancel.

Creating, pausing, resuming and cancelling campaigns is for administrators; previewing a segment,
listing campaigns and reading one's report is for all staff. Rules are read in the staff's words
too (Persian field and tier names, :meth:`texts.Translator.segment_words`); ``/segment`` alone
shows every field with an example.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import SimpleNamespace

from telegram import Update

from bot.context import BotContext
from bot.staff_access import actor, staff_only
from bot.staff_args import UsageError, positive, shape
from core import segments
from core.actions import campaigns as campaign_actions
from core.actions.campaigns import StatusChanged
from core.audit import Actor
from core.campaign_reports import MIN_GROUP, WINDOW_DAYS, CampaignReport, Lift
from core.club import Club
from core.digits import format_decimal


@staff_only()
async def segment_preview(update: Update, context: BotContext) -> None:
    """/segment <rule>; alone, the fields with an example each."""
    text = " ".join(context.args or ())
    words = context.segment_words(update)
    if not text:
        builtins = [words.name(name) for name in segments.BUILTIN]
        await context.say(update, "staff/segment_fields", fields=segments.FIELDS, builtins=builtins)
        return
    found = await campaign_actions.preview_segment(context.club, actor(update), text, words=words)
    await context.say(
        update, "staff/segment", rule=found.segment.text, count=found.count, sample=found.sample
    )


@staff_only()
async def list_campaigns(update: Update, context: BotContext) -> None:
    """/campaigns [id]: the latest campaigns, or one campaign's report."""
    named = shape("campaigns", context.args, 0, 1)
    if not named:
        found = await campaign_actions.listing(context.club, actor(update))
        await context.say(update, "staff/campaigns", campaigns=found)
        return
    result = await campaign_actions.report(
        context.club, actor(update), _campaign_id("campaigns", named[0])
    )
    await context.say(
        update, "staff/campaign_report", report=result, window_days=WINDOW_DAYS,
        min_group=MIN_GROUP, shown=_percents(result, context.locale(update)),
    )  # fmt: skip


def _percents(result: CampaignReport, locale: str) -> SimpleNamespace:
    """The report's rates and lifts in percent, as the template shows them (one decimal)."""

    def percent(value: float | None) -> str | None:
        return None if value is None else format_decimal(100 * value, locale)

    def lift(found: Lift | None) -> SimpleNamespace | None:
        if found is None:
            return None
        sign = "+" if found.difference >= 0 else "-"
        return SimpleNamespace(
            difference=sign + (percent(abs(found.difference)) or ""), margin=percent(found.margin)
        )

    recipients, holdout = result.recipients, result.holdout
    return SimpleNamespace(
        recipients_buying=percent(recipients.buying_rate),
        recipients_redeeming=percent(recipients.redeeming_rate),
        holdout_buying=percent(holdout.buying_rate),
        holdout_redeeming=percent(holdout.redeeming_rate),
        buying_lift=lift(result.buying_lift),
        redeeming_lift=lift(result.redeeming_lift),
    )


def _campaign_id(command: str, text: str) -> int:
    try:
        return positive(text.lstrip("#"), 10**12)
    except ValueError:
        raise UsageError(command) from None


ChangeStatus = Callable[[Club, Actor, int], Awaitable[StatusChanged]]


async def _set(update: Update, context: BotContext, command: str, change: ChangeStatus) -> None:
    [text] = shape(command, context.args, 1, 1)
    changed = await change(context.club, actor(update), _campaign_id(command, text))
    await context.say(update, "staff/campaign_status", campaign=changed.campaign)


@staff_only(admin=True)
async def pause(update: Update, context: BotContext) -> None:
    await _set(update, context, "campaign_pause", campaign_actions.pause)


@staff_only(admin=True)
async def resume(update: Update, context: BotContext) -> None:
    await _set(update, context, "campaign_resume", campaign_actions.resume)


@staff_only(admin=True)
async def cancel(update: Update, context: BotContext) -> None:
    await _set(update, context, "campaign_cancel", campaign_actions.cancel)
