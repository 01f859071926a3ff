"""``/profile``: the four-dimension profile (:data:`core.profile.PROFILE_SECTIONS`), by buttons.

Engagement (preferred contact, how often offers are welcome), environment (city), purchase
behaviour (interests, several at once) and trust (what matters most). Choices are buttons that save
at once; only the city is typed, so only the city needs a conversation state.

The mobile number is confirmed here: the member shares their contact with Telegram's button, and a
contact whose ``user_id`` is the sender is proof the number is theirs. It takes the number from
anyone who merely typed it (:func:`core.actions.joining.verify_phone`); the staff group is told.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import (
    ApplicationHandlerStop,
    BaseHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import callbacks, keyboards
from bot.context import BotContext, group_replies_of
from bot.conversations import keyed_per_user
from bot.group_replies import Answer
from bot.staff_access import actor
from core import profile
from core.actions import joining, membership
from core.errors import InvalidInput
from core.models import Member
from core.phones import normalize_phone

CITY = 0


def _summary_markup(update: Update, context: BotContext) -> keyboards.InlineKeyboardMarkup:
    rows = [
        [
            (
                context.text(update, "buttons/profile_section", section=s),
                callbacks.PROFILE_SECTION.pack(s),
            )
        ]
        for s in profile.PROFILE_SECTIONS
    ]
    rows.append(
        [
            (
                context.text(update, "buttons/profile_section", section="city"),
                callbacks.PROFILE_CITY.pack(),
            )
        ]
    )
    rows.append([(context.text(update, "buttons/verify_phone"), callbacks.PROFILE_PHONE.pack())])
    return keyboards.inline(rows)  # fmt: skip


def _section_markup(
    update: Update, context: BotContext, section: str, answers: dict
) -> keyboards.InlineKeyboardMarkup:
    chosen = answers.get(section)
    picked = set(chosen) if isinstance(chosen, list) else {chosen}
    rows = [
        [
            (
                context.text(
                    update, "buttons/profile_option", section=section, option=o, chosen=o in picked
                ),
                callbacks.PROFILE_CHOICE.pack(section, o),
            )
        ]
        for o in profile.PROFILE_SECTIONS[section]
    ]
    rows.append([(context.text(update, "buttons/back"), callbacks.PROFILE_MENU.pack())])
    return keyboards.inline(rows)  # fmt: skip


async def show(update: Update, context: BotContext) -> None:
    member = await membership.me(context.club, actor(update))
    context.remember_locale(member.locale)
    text = context.text(update, "profile/summary", member=member, profile=member.profile)
    markup = _summary_markup(update, context)
    if update.callback_query:
        await update.callback_query.answer()
        await update.callback_query.edit_message_text(text, reply_markup=markup)
    else:
        await context.say(update, "profile/summary", markup, member=member, profile=member.profile)


async def section(update: Update, context: BotContext) -> None:
    query = update.callback_query
    [name] = callbacks.PROFILE_SECTION.of(update)
    if name not in profile.PROFILE_SECTIONS:
        await query.answer(context.text(update, "stale_button"))
        return
    member = await membership.me(context.club, actor(update))
    context.remember_locale(member.locale)
    await query.answer()
    await query.edit_message_text(
        context.text(update, "profile/ask", section=name),
        reply_markup=_section_markup(update, context, name, member.profile),
    )


async def choose(update: Update, context: BotContext) -> None:
    query = update.callback_query
    name, option = callbacks.PROFILE_CHOICE.of(update)
    if option not in profile.PROFILE_SECTIONS.get(name, ()):
        await query.answer(context.text(update, "stale_button"))
        return
    saved = await joining.answer_profile(context.club, actor(update), name, option)
    member = saved.member
    context.remember_locale(member.locale)
    await query.answer(context.text(update, "profile/saved"))
    if name in profile.PROFILE_MULTI:
        await query.edit_message_reply_markup(
            _section_markup(update, context, name, member.profile)
        )
    else:
        await query.edit_message_text(
            context.text(update, "profile/summary", member=member, profile=member.profile),
            reply_markup=_summary_markup(update, context),
        )


async def ask_city(update: Update, context: BotContext) -> int:
    await update.callback_query.answer()
    await context.say(update, "profile/ask_city")
    return CITY


async def city(update: Update, context: BotContext) -> int:
    """The typed city. The step runs before the other handlers and stops them: it was an answer."""
    try:
        saved = await joining.set_city(
            context.club, actor(update), update.effective_message.text or ""
        )
    except InvalidInput:
        await context.say(update, "profile/bad_city")
        raise ApplicationHandlerStop(CITY) from None
    member = saved.member
    context.remember_locale(member.locale)
    await context.say(
        update,
        "profile/summary",
        _summary_markup(update, context),
        member=member,
        profile=member.profile,
    )
    raise ApplicationHandlerStop(ConversationHandler.END)


async def ask_contact(update: Update, context: BotContext) -> None:
    """The contact button lives on a reply keyboard; an inline button can only ask for it."""
    await update.callback_query.answer()
    await context.say(
        update, "profile/ask_contact", keyboards.share_contact(lambda k: context.text(update, k))
    )


async def contact(update: Update, context: BotContext) -> None:
    """A member shared a contact: their own confirms their number; anyone else's changes nothing."""
    shared = update.effective_message.contact
    number = contact_phone(shared.phone_number)
    if shared.user_id != update.effective_user.id or number is None:
        await context.say(update, "join/not_your_contact")
        return
    verified = await joining.verify_phone(context.club, actor(update), number)
    member = verified.member
    context.remember_locale(member.locale)
    if verified.displaced is not None:
        tell_staff_phone_moved(context, member, verified.displaced)
    menu = keyboards.main_menu(lambda k: context.text(update, k))
    await context.say(update, "profile/phone_verified", menu, member=member)


def typed_phone(text: str) -> str | None:
    try:
        return normalize_phone(text)
    except InvalidInput:
        return None


def contact_phone(raw: str) -> str | None:
    """Telegram sends contacts in international form, usually without the leading ``+``."""
    return typed_phone(raw) or (None if raw.startswith("+") else typed_phone("+" + raw))


def tell_staff_phone_moved(context: BotContext, owner: Member, displaced: Member) -> None:
    """A verified owner took a number someone else had typed. Nothing they earned moves by
    itself; the staff group hears of it (the audit log has it too) so a person can look into it."""
    settings = context.bot_data["settings"]
    if settings.staff_chat_id is None:
        return
    text = context.t(settings.locale, "staff/phone_moved", member=owner, displaced=displaced)
    group_replies_of(context.application).post(settings.staff_chat_id, Answer(text))


async def leave(update: Update, context: BotContext) -> int:
    """A command or a menu button at the city step: the member moved on; let it be handled."""
    return ConversationHandler.END


def city_handler(moved_on: filters.BaseFilter) -> BaseHandler:
    """The city step, in :attr:`bot.routing.Group.PROFILE_CITY`: the next text is the city, unless
    it is a command or a menu button (``moved_on``), which leaves the step."""
    private = filters.ChatType.PRIVATE
    return keyed_per_user(
        entry_points=[callbacks.PROFILE_CITY.handler(ask_city)],
        states={CITY: [MessageHandler(private & filters.TEXT & ~moved_on, city)]},
        fallbacks=[MessageHandler(private & moved_on, leave)],
        conversation_timeout=15 * 60,
        name="profile_city",
        persistent=True,
    )
