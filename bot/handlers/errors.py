"""Turning failures into words: a domain error becomes its localized message; a bug is logged.

Handlers let typed domain errors (``core.errors``) propagate: the transaction rolls back on the way
out, so nothing changed, and this handler tells the person why in their language.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden

from bot.context import BotContext
from bot.staff_args import UsageError
from core.errors import BashgahError
from texts import plain

log = logging.getLogger(__name__)


async def on_error(update: object, context: BotContext) -> None:
    error = context.error
    if not isinstance(update, Update):
        log.error("error outside an update", exc_info=error)
        return
    if isinstance(error, Forbidden):
        log.info("user %s blocked the bot", update.effective_user and update.effective_user.id)
        return
    if isinstance(error, BadRequest) and "message is not modified" in str(error).lower():
        return  # the same button pressed twice: the message already says this
    if isinstance(error, BashgahError):
        key, values = f"errors/{error.code}", dict(error.details)
        if isinstance(error, UsageError):
            values["usage"] = context.text(update, f"usage/{error.details['command']}")
    else:
        log.error("unhandled error in update %s", update.update_id, exc_info=error)
        key, values = "errors/unexpected", {}
    text = context.text(update, key, **_known(values))
    if update.callback_query is not None:
        await update.callback_query.answer(plain(text)[:190], show_alert=True)
    elif update.effective_chat is not None:
        await context.answer(update.effective_chat, text)


def _known(values: dict[str, object]) -> dict[str, object]:
    """Only simple values reach templates; a template uses the ones it knows of."""
    return {k: v for k, v in values.items() if isinstance(v, (int, str))}
