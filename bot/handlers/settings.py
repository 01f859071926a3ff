"""``/settings`` (language, offers, surveys, quiet hours) and ``/forget`` (erase personal data).

Every setting is one button press that writes at once: no conversation state to lose. A member who
chose no quiet hours is shown the club's (``messaging.quiet_start``/``quiet_end``), which are the
ones their messages wait for; "no quiet hours" is a choice of its own (0 to 0).
"""

from __future__ import annotations

from telegram import ReplyKeyboardRemove, Update

from bot import callbacks, keyboards
from bot.context import LOCALE_KEY, BotContext
from bot.staff_access import actor
from core.actions import membership, settings
from core.locales import LOCALES


def _settings_markup(update: Update, context: BotContext, member) -> keyboards.InlineKeyboardMarkup:
    def label(key: str, **values: object) -> str:
        return context.text(update, key, **values)

    on_off = {True: "off", False: "on"}
    return keyboards.inline(
        [
            [(label("buttons/lang", lang=lang), callbacks.SETTING.pack("lang", lang))
             for lang in LOCALES],
            [(label("buttons/offers", enabled=member.offers_enabled),
              callbacks.SETTING.pack("offers", on_off[member.offers_enabled]))],
            [(label("buttons/surveys", enabled=member.surveys_enabled),
              callbacks.SETTING.pack("surveys", on_off[member.surveys_enabled]))],
            [(label("buttons/quiet", preset=p), callbacks.SETTING.pack("quiet", p))
             for p in settings.QUIET_PRESETS],
        ]
    )  # fmt: skip


async def show(update: Update, context: BotContext) -> None:
    member = await membership.me(context.club, actor(update))
    context.remember_locale(member.locale)
    await context.say(
        update, "settings", _settings_markup(update, context, member), member=member,
        rules=context.club.rules,
    )  # fmt: skip


async def change(update: Update, context: BotContext) -> None:
    query = update.callback_query
    field, value = callbacks.SETTING.of(update)
    changes = settings.chosen(field, value) or {}  # an old or forged button just reads
    saved = await settings.change(context.club, actor(update), changes)
    member = saved.member
    context.user_data[LOCALE_KEY] = member.locale
    await query.answer(context.text(update, "settings_saved" if saved.changed else "stale_button"))
    await query.edit_message_text(
        context.text(update, "settings", member=member, rules=context.club.rules),
        reply_markup=_settings_markup(update, context, member),
    )


async def forget(update: Update, context: BotContext) -> None:
    member = await membership.me(context.club, actor(update))
    context.remember_locale(member.locale)
    markup = keyboards.inline(
        [[(context.text(update, "buttons/forget_yes"), callbacks.FORGET.pack("yes")),
          (context.text(update, "buttons/forget_no"), callbacks.FORGET.pack("no"))]]
    )  # fmt: skip
    await context.say(update, "forget/ask", markup, member=member)


async def forget_answer(update: Update, context: BotContext) -> None:
    query = update.callback_query
    await query.answer()
    if callbacks.FORGET.of(update) != ("yes",):
        await query.edit_message_text(context.text(update, "forget/kept"))
        return
    await membership.forget(context.club, actor(update))
    await query.edit_message_text(context.text(update, "forget/done"))
    await context.say(update, "forget/goodbye", ReplyKeyboardRemove())
    context.user_data.clear()
