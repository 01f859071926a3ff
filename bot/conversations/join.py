"""Joining: phone (contact button or typed), display name, optional Jalali birthday.

Nothing is written until the last answer: a member who walks away half-way leaves no trace, and
``/start`` begins again. The join itself is idempotent, so a repeated last answer changes nothing.

The phone step never says whether a number is a member's. A contact shared by its owner is
verified and takes the number (staff are told when it moves); a typed number is accepted whatever
it is, and attached only if free (:func:`core.actions.joining.join`). Every typed join gets the same
welcome, which asks to confirm the number in /profile, so the answer for a member's number and a
free one is identical, and the real owner of a number loses nothing to a typist.
"""

from __future__ import annotations

from telegram import ReplyKeyboardRemove, Update
from telegram.ext import (
    BaseHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import keyboards
from bot.context import BotContext
from bot.conversations.profile import contact_phone, tell_staff_phone_moved, typed_phone
from bot.staff_access import actor
from core import jalali
from core.actions import joining
from core.errors import InvalidInput, InviteLinkSpent, RegistrationClosed
from core.members import clean_name
from core.models import utcnow

PHONE, NAME, BIRTHDAY = range(3)
TIMEOUT_SECONDS = 15 * 60
_DRAFT = "join"


async def start(update: Update, context: BotContext) -> int:
    code = context.args[0] if context.args else None
    found = await joining.invitation(context.club, actor(update), code)
    if found.member is not None:
        context.remember_locale(found.member.locale)
        await context.say(update, "join/welcome_back", _menu(update, context), member=found.member)
        return ConversationHandler.END
    referrer = found.referrer
    if not found.open:
        await context.say(update, "join/closed")
        return ConversationHandler.END
    context.user_data[_DRAFT] = {"code": code if referrer else None, "staff": found.staff_code}
    await context.say(
        update,
        "join/ask_phone",
        keyboards.share_contact(lambda k: context.text(update, k)),
        referrer=referrer.name if referrer else None,
    )
    return PHONE


async def phone(update: Update, context: BotContext) -> int:
    message = update.effective_message
    verified = message.contact is not None
    if verified:
        if message.contact.user_id != update.effective_user.id:
            await context.say(update, "join/not_your_contact")
            return PHONE
        number = contact_phone(message.contact.phone_number)
    else:
        number = typed_phone(message.text or "")
    if number is None:
        await context.say(update, "join/bad_phone")
        return PHONE
    context.user_data[_DRAFT].update(phone=number, verified=verified)
    suggestion = update.effective_user.full_name
    await context.say(
        update, "join/ask_name", keyboards.choices([suggestion]), suggestion=suggestion
    )
    return NAME


async def name(update: Update, context: BotContext) -> int:
    try:
        context.user_data[_DRAFT]["name"] = clean_name(update.effective_message.text or "")
    except InvalidInput:
        await context.say(update, "join/bad_name")
        return NAME
    skip = context.text(update, "buttons/skip")
    await context.say(update, "join/ask_birthday", keyboards.choices([skip]))
    return BIRTHDAY


async def birthday(update: Update, context: BotContext) -> int:
    text = (update.effective_message.text or "").strip()
    born = None
    if text not in context.t.all_labels("buttons/skip"):
        try:
            born = jalali.parse_birthday(text, today=utcnow().astimezone(context.t.tz).date())
        except InvalidInput:
            await context.say(update, "join/bad_birthday")
            return BIRTHDAY
    draft = context.user_data.get(_DRAFT, {})
    try:
        joined = await joining.join(
            context.club,
            actor(update),
            name=draft["name"],
            phone=draft["phone"],
            phone_verified=draft.get("verified", False),
            birthday=born,
            locale=context.locale(update),
            username=update.effective_user.username,
            referral_code=draft["code"],
            staff_code=draft.get("staff"),
        )
    except RegistrationClosed:  # the inviter left the club meanwhile
        context.user_data.pop(_DRAFT, None)
        await context.say(update, "join/closed", ReplyKeyboardRemove())
        return ConversationHandler.END
    except InviteLinkSpent as spent:  # the staff link ran out while they were answering
        context.user_data.pop(_DRAFT, None)
        await context.say(update, f"errors/{spent.code}", ReplyKeyboardRemove())
        return ConversationHandler.END
    context.user_data.pop(_DRAFT, None)
    member = joined.member
    context.remember_locale(member.locale)
    if joined.displaced is not None:
        tell_staff_phone_moved(context, member, joined.displaced)
    await context.say(
        update,
        "join/welcome",
        _menu(update, context),
        member=member,
        bonus=joined.bonus,
        link_phone=not draft.get("verified", False),
    )
    return ConversationHandler.END


async def cancel(update: Update, context: BotContext) -> int:
    context.user_data.pop(_DRAFT, None)
    await context.say(update, "join/cancelled", ReplyKeyboardRemove())
    return ConversationHandler.END


async def finish_first(update: Update, context: BotContext) -> None:
    """Anything else in the middle of joining: say what we are waiting for."""
    await context.say(update, "join/finish_first")


def _menu(update: Update, context: BotContext) -> keyboards.ReplyKeyboardMarkup:
    return keyboards.main_menu(lambda k: context.text(update, k))


def handler() -> BaseHandler:
    private = filters.ChatType.PRIVATE
    text = private & filters.TEXT & ~filters.COMMAND
    return ConversationHandler(
        entry_points=[CommandHandler("start", start, filters=private)],
        states={
            PHONE: [
                MessageHandler(
                    private & (filters.CONTACT | (filters.TEXT & ~filters.COMMAND)), phone
                )
            ],
            NAME: [MessageHandler(text, name)],
            BIRTHDAY: [MessageHandler(text, birthday)],
        },
        fallbacks=[
            CommandHandler("cancel", cancel, filters=private),
            CommandHandler("start", start, filters=private),
            MessageHandler(private, finish_first),
        ],
        conversation_timeout=TIMEOUT_SECONDS,
        name="join",
        persistent=True,
    )
