"""Staff commands that read: a member's file, the club's numbers with a chart, exports, the audit
log. None of them changes anything; exports carry personal data, so they are for administrators.

A branch's own group may look a member up and read its own branch's numbers; the club's staff
group reads every branch's, or one's by its code (``/stats north``, ``/export purchases north``).
"""

from __future__ import annotations

import tempfile

from telegram import InputFile, Update

from bot.context import BotContext
from bot.images import bar_chart_png
from bot.images.card import NEUTRAL_TIER, TIER_COLOURS
from bot.staff_access import Desk, actor, at_the_till, staff_only
from bot.staff_args import UsageError, shape
from core import branches, exports
from core.actions import reports
from core.digits import format_number

CAPTION_BRANCHES = 4  # branches whose sales fit in the chart's caption (1,024 characters)


@at_the_till
async def member_file(update: Update, context: BotContext, desk: Desk) -> None:
    """/member <query>"""
    query = " ".join(shape("member", context.args, 1))
    summary = await reports.member_file(context.club, actor(update), query)
    await context.say(update, "staff/member", summary=summary, member=summary.member)


@at_the_till
async def stats(update: Update, context: BotContext, desk: Desk) -> None:
    """/stats [branch]: the club at a glance with members by tier as a chart, and every branch's
    sales; with a branch (a branch's group: its own, always), that branch's sales."""
    named = shape("stats", context.args, 0, 1)
    branch = branches.scope(desk.branch, named[0] if named else None)
    found = await reports.stats(context.club, actor(update), branch=branch)
    if found.club is None:
        [branch_sales] = found.sales
        await context.say(update, "staff/branch_stats", branch_sales=branch_sales)
        return
    numbers = found.club
    locale = context.locale(update)
    tiers = list(numbers.members_by_tier)
    chart = bar_chart_png(
        title=context.text(update, "image/members_by_tier"),
        labels=[context.text(update, "labels/tier", tier=t) for t in tiers],
        values=[numbers.members_by_tier[t] for t in tiers],
        value_labels=[format_number(numbers.members_by_tier[t], locale) for t in tiers],
        colors=[TIER_COLOURS.get(t, NEUTRAL_TIER)[0] for t in tiers],
        tick_format=lambda n: format_number(n, locale),
    )
    caption = context.text(
        update, "staff/stats", club=numbers, sales=found.sales[:CAPTION_BRANCHES],
        hidden_branches=max(0, len(found.sales) - CAPTION_BRANCHES),
    )  # fmt: skip
    await context.answer(
        update.effective_chat, caption, photo=InputFile(chart, filename="stats.png")
    )


@staff_only(admin=True)
async def export(update: Update, context: BotContext) -> None:
    """/export members|ledger|purchases|surveys [branch]: a CSV that Excel opens with Persian
    intact; a branch's code keeps its purchases only."""
    kind, *named = shape("export", context.args, 1, 2)
    if kind not in exports.KINDS:
        raise UsageError("export")
    branch = named[0] if named else None
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as out:
        count = await exports.export(context.club, actor(update), kind, out, branch=branch)
        out.seek(0)
        name = f"bashgah-{kind}-{branch}.csv" if branch else f"bashgah-{kind}.csv"
        await context.answer(
            update.effective_chat,
            context.text(update, "staff/exported", export_kind=kind, rows=count, branch=branch),
            document=InputFile(out.read(), filename=name),
        )


@staff_only()
async def audit_log(update: Update, context: BotContext) -> None:
    """/audit [member]"""
    found = await reports.audit_log(
        context.club, actor(update), " ".join(context.args or ()) or None
    )
    await context.say(update, "staff/audit", actions=found.entries, member=found.member)
