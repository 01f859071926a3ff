"""``/campaign_new``: name, message, segment, schedule, button, a preview, then confirm.

Administrators only. Each answer is checked at once (a template that the sandbox refuses, that
overruns its time budget or whose HTML Telegram would refuse, a segment rule with a wrong token, a
date that does not exist) and asked again with what is wrong; nothing is saved until the
confirmation. Templates are checked and previewed in :mod:`core.template_worker`'s process, so
members' commands are answered while a heavy one is being checked. Questions use ``ForceReply``
because in a group the bot only sees replies to itself.
"""

from __future__ import annotations

from datetime import datetime

from telegram import ForceReply, Update
from telegram.ext import (
    BaseHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import callbacks, keyboards
from bot.context import BotContext
from bot.conversations import keyed_per_user
from bot.staff_access import actor, staff_only
from bot.staff_args import positive
from core import campaigns, jalali, segments, template_worker
from core.actions import campaigns as campaign_actions
from core.errors import InvalidInput, InvalidTemplate, SegmentError
from core.models import utcnow

NAME, TEMPLATE, SEGMENT, SCHEDULE, BUTTON, CONFIRM = range(6)
_DRAFT = "campaign_draft"
_SEGMENT_AS_TYPED = "segment_as_typed"  # the draft's rule as the staff wrote it, for the preview
TIMEOUT_SECONDS = 20 * 60
NOW_WORDS = ("now", "\u0627\u0644\u0627\u0646")  # "now" in English and in Persian
UNSET = ("-", "\u2014")


async def _ask(update: Update, context: BotContext, key: str, **values: object) -> None:
    await context.say(update, key, ForceReply(selective=True), **values)


def _text(update: Update) -> str:
    return (update.effective_message.text or "").strip()


@staff_only(admin=True)
async def start(update: Update, context: BotContext) -> int:
    context.user_data[_DRAFT] = {}
    await _ask(update, context, "campaign_new/name")
    return NAME


async def name(update: Update, context: BotContext) -> int:
    text = " ".join(_text(update).split())
    if not 0 < len(text) <= 120:
        await _ask(update, context, "campaign_new/name")
        return NAME
    context.user_data[_DRAFT]["name"] = text
    await _ask(update, context, "campaign_new/template", variables=campaigns.VARIABLES)
    return TEMPLATE


async def template(update: Update, context: BotContext) -> int:
    try:
        context.user_data[_DRAFT]["template"] = await template_worker.check(_text(update))
    except InvalidTemplate as exc:
        await _ask(update, context, "campaign_new/bad_template", **exc.details)
        return TEMPLATE
    words = context.segment_words(update)
    builtins = [words.name(name) for name in segments.BUILTIN]
    await _ask(update, context, "campaign_new/segment", builtins=builtins)
    return SEGMENT


async def segment(update: Update, context: BotContext) -> int:
    try:
        found = await campaign_actions.preview_segment(
            context.club, actor(update), _text(update), sample=0,
            words=context.segment_words(update),
        )  # fmt: skip
    except SegmentError as exc:
        await _ask(update, context, "campaign_new/bad_segment", **exc.details)
        return SEGMENT
    draft = context.user_data[_DRAFT]
    draft["segment"] = found.segment.canonical  # saved in the language's own words
    draft[_SEGMENT_AS_TYPED] = found.segment.text
    await _ask(update, context, "campaign_new/schedule", count=found.count)
    return SCHEDULE


async def schedule(update: Update, context: BotContext) -> int:
    text = _text(update)
    draft = context.user_data[_DRAFT]
    tz = context.t.tz
    try:
        if text.lower().startswith("cron "):
            draft["cron"] = text[5:].strip()
            campaigns.check_cron(draft["cron"], tz)
        elif text.lower() in NOW_WORDS:
            draft["run_at"] = utcnow()
        else:
            draft["run_at"] = jalali.parse_datetime(text, tz)
    except InvalidInput:
        draft.pop("cron", None)
        await _ask(update, context, "campaign_new/bad_schedule")
        return SCHEDULE
    await _ask(update, context, "campaign_new/button")
    return BUTTON


async def button(update: Update, context: BotContext) -> int:
    text = _text(update)
    draft = context.user_data[_DRAFT]
    kind, _, rest = text.partition(" ")
    label, _, target = rest.strip().rpartition(" ")
    try:
        if text in UNSET:
            pass
        elif kind == "url" and target.startswith("https://") and label:
            draft.update(button_text=label, button_url=target)
        elif kind == "reward" and label:
            draft.update(button_text=label, button_reward_id=positive(target, 10**12))
        else:
            raise InvalidInput("bad_button", text)
    except InvalidInput:
        await _ask(update, context, "campaign_new/button")
        return BUTTON
    [preview] = await template_worker.render_each(draft["template"], [_sample(update, context)])
    markup = keyboards.inline(
        [[(context.text(update, "buttons/campaign_save"), callbacks.CAMPAIGN.pack("save")),
          (context.text(update, "buttons/campaign_drop"), callbacks.CAMPAIGN.pack("drop"))]]
    )  # fmt: skip
    await context.say(
        update, "campaign_new/preview", markup, preview=preview, draft=draft,
        rule=draft.get(_SEGMENT_AS_TYPED, draft["segment"]), when=draft.get("run_at"),
    )  # fmt: skip
    return CONFIRM


def _sample(update: Update, context: BotContext) -> dict[str, str]:
    """Preview on yourself: your own name, and the other values of a typical member."""
    sample = context.text(update, "campaign_new/sample_values")
    return campaigns.sample_variables(sample, update.effective_user.full_name)


async def confirm(update: Update, context: BotContext) -> int:
    query = update.callback_query
    await query.answer()
    draft = context.user_data.pop(_DRAFT, {})
    if callbacks.CAMPAIGN.of(update) != ("save",) or not draft:
        await query.edit_message_text(context.text(update, "campaign_new/dropped"))
        return ConversationHandler.END
    run_at: datetime | None = draft.get("run_at")
    draft.pop(_SEGMENT_AS_TYPED, None)
    saved = await campaign_actions.create(context.club, actor(update), campaigns.Draft(**draft))
    await query.edit_message_text(
        context.text(update, "campaign_new/saved", campaign=saved.campaign, when=run_at)
    )
    return ConversationHandler.END


async def stop(update: Update, context: BotContext) -> int:
    context.user_data.pop(_DRAFT, None)
    await context.say(update, "campaign_new/dropped")
    return ConversationHandler.END


def handler() -> BaseHandler:
    text = filters.TEXT & ~filters.COMMAND
    return keyed_per_user(
        entry_points=[CommandHandler("campaign_new", start)],
        states={
            NAME: [MessageHandler(text, name)],
            TEMPLATE: [MessageHandler(text, template)],
            SEGMENT: [MessageHandler(text, segment)],
            SCHEDULE: [MessageHandler(text, schedule)],
            BUTTON: [MessageHandler(text, button)],
            CONFIRM: [callbacks.CAMPAIGN.handler(confirm)],
        },
        fallbacks=[CommandHandler("cancel", stop)],
        conversation_timeout=TIMEOUT_SECONDS,
        name="campaign_new",
        persistent=True,
    )
