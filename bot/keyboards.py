"""Keyboards. Labels come from the locales; callback data is declared, packed and parsed in
:mod:`bot.callbacks`.

Every handler re-checks what a button names against the database, so a button from an old message
can never do more than the same action done fresh.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    WebAppInfo,
)

from bot.callbacks import Kind

Text = Callable[[str], str]

MAIN_MENU_KEYS = (
    ("buttons/points", "buttons/rewards"),
    ("buttons/invite", "buttons/card"),
    ("buttons/history", "buttons/profile"),
    ("buttons/settings", "buttons/help"),
)


def main_menu(text: Text) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[text(key) for key in row] for row in MAIN_MENU_KEYS], resize_keyboard=True
    )


def share_contact(text: Text) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[KeyboardButton(text("buttons/share_contact"), request_contact=True)]],
        resize_keyboard=True,
        one_time_keyboard=True,
    )


def choices(labels: Sequence[str]) -> ReplyKeyboardMarkup:
    return ReplyKeyboardMarkup(
        [[label] for label in labels], resize_keyboard=True, one_time_keyboard=True
    )


def inline(rows: Sequence[Sequence[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """Rows of (label, callback data)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def confirm_cancel(text: Text, confirm_data: str, cancel_data: str) -> InlineKeyboardMarkup:
    """One row: confirm, then cancel (a held staff action, :mod:`core.confirmations`)."""
    return inline([[(text("staff/confirm_button"), confirm_data),
                    (text("staff/cancel_button"), cancel_data)]])  # fmt: skip


def pager(text: Text, kind: Kind, page: int, has_next: bool) -> InlineKeyboardMarkup | None:
    row = []
    if page > 0:
        row.append((text("buttons/newer"), kind.pack(page - 1)))
    if has_next:
        row.append((text("buttons/older"), kind.pack(page + 1)))
    return inline([row]) if row else None


def with_app(
    text: Text, app_url: str | None, markup: InlineKeyboardMarkup | None = None
) -> InlineKeyboardMarkup | None:
    """``markup`` with a last row opening the Mini App at ``app_url`` (a ``web_app`` button:
    private chats only); ``markup`` as it is when the club has no public URL."""
    if app_url is None:
        return markup
    rows = list(markup.inline_keyboard) if markup is not None else []
    rows.append([InlineKeyboardButton(text("buttons/open_app"), web_app=WebAppInfo(app_url))])
    return InlineKeyboardMarkup(rows)
