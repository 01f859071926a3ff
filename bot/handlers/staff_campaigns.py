"""Staff commands for segments and campaigns: preview a segment, list, pause, resume, cancel.

Creating, pausing, resuming and cancelling campaigns is for administrators; previewing a segment
and listing campaigns is for all staff. Rules are read in the staff's words too (Persian field
and tier names, :meth:`texts.Translator.segment_words`); ``/segment`` alone shows every field
with an example.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from telegram import Update

from bot.context import BotContext
from bot.staff_access import actor, staff_only
from bot.staff_args import UsageError, positive, shape
from core import segments
from core.actions import campaigns as campaign_actions
from core.actions.campaigns import StatusChanged
from core.audit import Actor
from core.club import Club


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
    """/campaigns"""
    found = await campaign_actions.listing(context.club, actor(update))
    await context.say(update, "staff/campaigns", campaigns=found)


ChangeStatus = Callable[[Club, Actor, int], Awaitable[StatusChanged]]


async def _set(update: Update, context: BotContext, command: str, change: ChangeStatus) -> None:
    [text] = shape(command, context.args, 1, 1)
    try:
        campaign_id = positive(text.lstrip("#"), 10**12)
    except ValueError:
        raise UsageError(command) from None
    changed = await change(context.club, actor(update), campaign_id)
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
