"""Staff commands that read: a member's file, the club's numbers with a chart, exports, the audit
log. None of them changes anything; exports carry personal data, so they are for administrators.

A branch's own group may look a member up and read its own branch's numbers; the club's staff
group reads every branch's, or one's by its code (``/stats north``, ``/export purchases north``).
"""

from __future__ import annotations

import contextlib
import tempfile

from telegram import InputFile, Update

from bot import uploads
from bot.context import BotContext
from bot.images import bar_chart_png, line_chart_png, stacked_png
from bot.staff_access import Desk, actor, at_the_till, staff_only
from bot.staff_args import UsageError, shape
from core import branches, exports, jalali
from core.actions import reports
from core.digits import format_decimal
from core.trends import Trend
from texts import plain

CAPTION_BRANCHES = 4  # branches whose sales fit in the chart's caption (1,024 characters)


@at_the_till
async def member_file(update: Update, context: BotContext, desk: Desk) -> None:
    """/member <query>: a phone, a member number, an @username, or the code of a member's card
    (a stale or forged code is answered in words and changes nothing)."""
    query = " ".join(shape("member", context.args, 1))
    summary = await reports.member_file(context.club, actor(update), query)
    await context.say(update, "staff/member", summary=summary, member=summary.member)


@at_the_till
async def stats(update: Update, context: BotContext, desk: Desk) -> None:
    """/stats [branch]: the club's last twelve weeks as a chart, captioned with its numbers (points
    liability, the expiry forecast, the redemption rate, each branch's sales when there are
    several); with a branch (a branch's group: its own, always), that branch's sales."""
    named = shape("stats", context.args, 0, 1)
    branch = branches.scope(desk.branch, named[0] if named else None)
    found = await reports.stats(context.club, actor(update), branch=branch)
    if found.club is None or found.trend is None:
        [branch_sales] = found.sales
        await context.say(update, "staff/branch_stats", branch_sales=branch_sales)
        return
    several = found.sales if len(found.sales) > 1 else []
    caption = context.text(
        update, "staff/stats", club=found.club, trend=found.trend,
        expiry_forecast=found.expiry_forecast, sales=several[:CAPTION_BRANCHES],
        hidden_branches=max(0, len(several) - CAPTION_BRANCHES),
    )  # fmt: skip
    chart = _weekly_chart(update, context, found.trend)
    await context.answer(
        update.effective_chat, caption, photo=InputFile(chart, filename="stats.png")
    )


def _weekly_chart(update: Update, context: BotContext, trend: Trend) -> bytes:
    """Sales week by week as bars, over purchases, active and new members as lines."""
    locale = context.locale(update)
    weeks = trend.weeks
    labels = [jalali.format_day_month(week.start, locale) for week in weeks]
    unit = _sales_unit([week.sales for week in weeks])

    def count_tick(value: float) -> str:
        return format_decimal(value, locale, 0 if float(value).is_integer() else 1)

    sales = bar_chart_png(
        title=context.text(update, "image/weekly_sales", sales_unit=unit),
        labels=labels,
        values=[week.sales for week in weeks],
        value_labels=[_in_unit(week.sales, unit, locale) for week in weeks],
        tick_format=lambda amount: _in_unit(amount, unit, locale),
    )
    series = {
        "purchases": [week.purchases for week in weeks],
        "active": [week.active_members for week in weeks],
        "new": [week.new_members for week in weeks],
    }
    counts = line_chart_png(
        title=context.text(update, "image/weekly_counts"),
        labels=labels,
        series={
            context.text(update, "image/weekly_series", series=key): values
            for key, values in series.items()
        },
        y_min=0,
        tick_format=count_tick,
    )
    return stacked_png(sales, counts)


SALES_UNITS = (1_000_000_000, 1_000_000, 1_000)


def _sales_unit(amounts: list[int]) -> int:
    """The unit the week's sales read in: the largest that leaves the best week ten or more of
    it (12 million reads "12", 3 million "3,000" thousand), else whole Toman."""
    best = max(amounts, default=0)
    return next((unit for unit in SALES_UNITS if best >= 10 * unit), 1)


def _in_unit(amount: float, unit: int, locale: str) -> str:
    """``amount`` in ``unit``s, with one decimal below a hundred units: ``12.5``, ``340``."""
    value = amount / unit
    return format_decimal(value, locale, 1 if value < 100 and not value.is_integer() else 0)


# The labels that say an export's codes (core.exports.CODED): (template, its value's name).
_CODE_LABELS = {
    ("members", "tier"): ("tier", "tier"),
    ("members", "status"): ("member_status", "status"),
    ("ledger", "kind"): ("entry_kind", "kind"),
    ("purchases", "status"): ("purchase_status", "status"),
}


@staff_only(admin=True)
async def export(update: Update, context: BotContext) -> None:
    """/export members|ledger|purchases|surveys [branch] [csv|xlsx]: a file Excel opens with
    Persian intact, headed in the club's language; a branch's code keeps its purchases only; the
    format word, last, picks an XLSX workbook over the CSV (:mod:`core.exports` says why a
    spreadsheet user wants it)."""
    kind, *named = shape("export", context.args, 1, 3)
    file_format = named.pop().lower() if named and named[-1].lower() in exports.FORMATS else "csv"
    if kind not in exports.KINDS or len(named) > 1:
        raise UsageError("export")
    branch = named[0] if named else None

    def header(export_kind: str, column: str) -> str:
        return context.text(update, "labels/export_column", export_kind=export_kind, column=column)

    def word(export_kind: str, column: str, code: str) -> str:
        label, name = _CODE_LABELS[export_kind, column]
        return plain(context.text(update, f"labels/{label}", **{name: code}))

    name = "-".join(["bashgah", kind, *([branch] if branch else [])]) + f".{file_format}"
    with contextlib.ExitStack() as until_sent:
        out = until_sent.enter_context(tempfile.TemporaryFile())  # on disk, however many rows
        count = await exports.export(
            context.club, actor(update), kind, out,
            branch=branch, file_format=file_format, header=header, word=word,
        )  # fmt: skip
        document = await uploads.fitted(out, name)
        if document is None:
            limit = uploads.UPLOAD_LIMIT // 10**6
            await context.say(update, "staff/export_too_big", export_kind=kind, limit=limit)
            return
        until_sent.pop_all()  # the answer closes the file once it is sent
    await context.answer(
        update.effective_chat,
        context.text(update, "staff/exported", export_kind=kind, rows=count, branch=branch),
        document=document,
    )


@staff_only()
async def audit_log(update: Update, context: BotContext) -> None:
    """/audit [member]"""
    found = await reports.audit_log(
        context.club, actor(update), " ".join(context.args or ()) or None
    )
    await context.say(update, "staff/audit", actions=found.entries, member=found.member)
