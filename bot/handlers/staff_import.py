"""``/import``: an administrator sends a customer list (CSV or XLSX) to the staff group, reads the
dry-run report, and presses "apply" to bring it in (:mod:`core.imports`).

Nothing large is kept between the report and the press: the chat remembers only the document's
Telegram ``file_id`` under a short id, which the button carries, and the press downloads the file
again. That memory is ``context.chat_data``, so a restart of the bot drops it: the button then
answers as stale and the administrator sends the file again. The entry is taken out on the first
press, so a second press (or a second administrator's) is stale and imports nothing; the import is
idempotent anyway (:func:`core.imports.apply`).
"""

from __future__ import annotations

import logging
import secrets
from typing import Final

from telegram import Update

from bot import callbacks, keyboards
from bot.context import BotContext
from bot.staff_access import Role, actor, role_of, staff_only
from core import imports
from core.errors import InvalidInput

log = logging.getLogger(__name__)

#: Larger documents are refused before downloading: a customer list of 100,000 rows is ~5 MB.
MAX_BYTES: Final = 10 * 1024 * 1024
#: Refused and duplicate rows listed in the report, each; the rest are counted.
LISTED: Final = 20
_UPLOADS: Final = "imports"  # chat_data key: short id -> file_id of a reported document


@staff_only(admin=True)
async def document(update: Update, context: BotContext) -> None:
    """A document captioned /import: the dry-run report and an "apply" button."""
    doc = update.effective_message.document
    if doc.file_size is not None and doc.file_size > MAX_BYTES:
        await context.say(update, "staff/import_too_big", limit=MAX_BYTES // (1024 * 1024))
        return
    report = await _checked(update, context, doc.file_id)
    if report is None:
        return
    upload = secrets.token_hex(4)
    context.chat_data.setdefault(_UPLOADS, {})[upload] = doc.file_id
    button = keyboards.inline(
        [[(context.text(update, "buttons/import_apply"), callbacks.IMPORT_APPLY.pack(upload))]]
    )
    lines = [
        context.text(update, "staff/import_refused", number=r.number, reason=r.reason)
        for r in report.refused[:LISTED]
    ] + [
        context.text(update, "staff/import_duplicate", number=d.number, position=d.first)
        for d in report.duplicates[:LISTED]
    ]
    listed = min(len(report.refused), LISTED) + min(len(report.duplicates), LISTED)
    left_out = len(report.refused) + len(report.duplicates)
    await context.say(
        update, "staff/import_report", button if report.accepted else None,
        count=len(report.accepted), rows=len(report.accepted) + left_out, reasons=lines,
        left=left_out - listed,
    )  # fmt: skip


@staff_only(admin=True)
async def how_to(update: Update, context: BotContext) -> None:
    """/import typed without a file: how to send one."""
    await context.say(update, "staff/import_how")


async def apply(update: Update, context: BotContext) -> None:
    """The "apply" button: administrators only, and once per report."""
    query = update.callback_query
    role = await role_of(update, context)
    if role is not Role.ADMIN:
        key = "staff/not_allowed" if role is Role.NONE else "staff/admins_only"
        await query.answer(context.text(update, key), show_alert=True)
        return
    [upload] = callbacks.IMPORT_APPLY.of(update)
    file_id = (context.chat_data or {}).get(_UPLOADS, {}).pop(upload, None)
    if file_id is None:  # pressed before, or the bot restarted since the report
        await query.answer(context.text(update, "stale_button"))
        return
    await query.answer()
    await query.edit_message_reply_markup(reply_markup=None)
    report = await _checked(update, context, file_id)
    if report is None:
        return
    applied = await imports.apply(context.club, actor(update), report, progress=_log_progress)
    await context.say(
        update, "staff/import_applied",
        rows=len(report.accepted), count=applied.created, points=applied.points,
        left=applied.skipped, reasons=[context.text(update, "staff/import_row", number=n)
                                       for n in applied.conflicts[:LISTED]],
    )  # fmt: skip


async def _checked(update: Update, context: BotContext, file_id: str) -> imports.Report | None:
    """The document's report, or None after telling the sender it is not a customer list."""
    file = await context.bot.get_file(file_id)
    data = bytes(await file.download_as_bytearray())
    try:
        return imports.check_file(context.club, data)
    except InvalidInput:
        await context.say(update, "staff/import_unreadable")
        return None


def _log_progress(done: int, total: int) -> None:
    """A long import's progress, for whoever watches the bot's log (the chat hears the end)."""
    log.info("import: %d/%d rows", done, total)
