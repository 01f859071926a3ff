"""Staff commands that read: a member's file, the club's numbers with a chart, exports, the audit
log. None of them changes anything; exports carry personal data, so they are for administrators.
"""

from __future__ import annotations

import tempfile

from telegram import InputFile, Update

from bot.context import BotContext
from bot.images import bar_chart_png
from bot.images.card import NEUTRAL_TIER, TIER_COLOURS
from bot.staff_access import actor, staff_only
from bot.staff_args import UsageError, shape
from core import exports
from core.actions import reports
from core.digits import format_number


@staff_only()
async def member_file(update: Update, context: BotContext) -> None:
    """/member <query>"""
    query = " ".join(shape("member", context.args, 1))
    summary = await reports.member_file(context.club, actor(update), query)
    await context.say(update, "staff/member", summary=summary, member=summary.member)


@staff_only()
async def stats(update: Update, context: BotContext) -> None:
    """/stats: the club at a glance, and members by tier as a chart."""
    numbers = await reports.club_stats(context.club, actor(update))
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
    await context.answer(
        update.effective_chat,
        context.text(update, "staff/stats", club=numbers),
        photo=InputFile(chart, filename="stats.png"),
    )


@staff_only(admin=True)
async def export(update: Update, context: BotContext) -> None:
    """/export members|ledger|purchases: a CSV that Excel opens with Persian intact."""
    [kind] = shape("export", context.args, 1, 1)
    if kind not in exports.KINDS:
        raise UsageError("export")
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as out:
        count = await exports.export(context.club, actor(update), kind, out)
        out.seek(0)
        await context.answer(
            update.effective_chat,
            context.text(update, "staff/exported", export_kind=kind, rows=count),
            document=InputFile(out.read(), filename=f"bashgah-{kind}.csv"),
        )


@staff_only()
async def audit_log(update: Update, context: BotContext) -> None:
    """/audit [member]"""
    found = await reports.audit_log(
        context.club, actor(update), " ".join(context.args or ()) or None
    )
    await context.say(update, "staff/audit", actions=found.entries, member=found.member)
