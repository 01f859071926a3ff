"""Surveys in the chat: the member's one-tap answer and optional comment, the staff alert for a low
answer with its "I'll call them" button, and the staff reports ``/nps``, ``/ces``, ``/csat``.

Callback data: ``sv:<invite>:<score>`` answers, ``svc:<answer>:skip`` skips the comment,
``svf:<answer>`` takes the follow-up. A second answer or a stale button is refused by core with a
typed error, which the error handler turns into a callback alert (the first answer is kept).

The comment is the member's next text message: the answer waiting for it is remembered in
``user_data``, and a handler in a group that runs before the member's own handlers takes that
text and stops it there. A command or a menu button instead means the member moved on.
"""

from __future__ import annotations

import html
from types import SimpleNamespace

from telegram import InlineKeyboardMarkup, InputFile, Update
from telegram.ext import (
    ApplicationHandlerStop,
    filters,
)

from bot import callbacks, keyboards
from bot.context import BotContext
from bot.images import line_chart_png
from bot.staff_access import Role, actor, role_of, staff_only
from bot.staff_args import positive, shape
from core import jalali, survey_reports, surveys
from core.actions import surveys as survey_actions
from core.digits import format_decimal
from core.errors import AlreadyCommented, InvalidInput, SurveyNotFound, SurveyStale
from core.models import Member, SurveyAnswer, SurveyKind

COMMENT_KEY = "survey_comment"
DEFAULT_DAYS = 90
MAX_DAYS = 730
PRIVATE = filters.ChatType.PRIVATE
# The y axis of each kind's weekly chart.
CHART_RANGE = {SurveyKind.NPS: (-100, 100), SurveyKind.CES: (1, 7), SurveyKind.CSAT: (0, 100)}


# --- the member's answer and comment --------------------------------------------------------


async def on_score(update: Update, context: BotContext) -> None:
    query = update.callback_query
    invite_id, score = callbacks.SURVEY_SCORE.of(update)
    answered = await survey_actions.answer(context.club, actor(update), invite_id, score)
    answer, low = answered.answer, answered.low
    context.remember_locale(answered.member.locale)
    context.user_data[COMMENT_KEY] = {"answer": answer.id, "alert": None}
    await query.answer()
    await query.edit_message_text(
        context.text(
            update, "survey/thanks",
            survey_kind=answer.kind, survey_score=answer.score, survey_low=low,
        ),
        reply_markup=keyboards.inline(
            [[(context.text(update, "buttons/skip"),
               callbacks.SURVEY_SKIP.pack(answer.id, "skip"))]]
        ),
    )  # fmt: skip
    if low:
        context.user_data[COMMENT_KEY]["alert"] = await _post_alert(
            context, answer, answered.member
        )


async def on_skip(update: Update, context: BotContext) -> None:
    query = update.callback_query
    answer_id, _ = callbacks.SURVEY_SKIP.of(update)
    pending = context.user_data.get(COMMENT_KEY)
    if pending and pending["answer"] == answer_id:
        context.user_data.pop(COMMENT_KEY)
    await query.answer()
    await query.edit_message_text(context.text(update, "survey/comment_skipped"))


async def on_comment(update: Update, context: BotContext) -> None:
    """The member's text right after an answer is its comment; nothing else is touched."""
    pending = context.user_data.get(COMMENT_KEY)
    if not pending:
        return
    try:
        commented = await survey_actions.comment(
            context.club, actor(update), pending["answer"], update.effective_message.text or ""
        )
    except InvalidInput as error:
        if error.reason != "too_long":
            raise
        await context.say(update, "survey/comment_too_long", survey_limit=surveys.MAX_COMMENT)
        raise ApplicationHandlerStop from None
    except (SurveyStale, SurveyNotFound, AlreadyCommented):
        context.user_data.pop(COMMENT_KEY, None)  # the window closed: an ordinary message
        return
    context.user_data.pop(COMMENT_KEY, None)
    context.remember_locale(commented.member.locale)
    await context.say(update, "survey/comment_saved")
    if pending["alert"] is not None:
        await _edit_alert(context, pending["alert"], commented.answer, commented.member)
    raise ApplicationHandlerStop


async def moved_on(update: Update, context: BotContext) -> None:
    """A command or a menu button instead of a comment: no comment, and handle it as usual."""
    context.user_data.pop(COMMENT_KEY, None)


# --- the staff alert ------------------------------------------------------------------------


def _alert(
    context: BotContext, answer: SurveyAnswer, member: Member
) -> tuple[str, InlineKeyboardMarkup | None]:
    locale = context.bot_data["settings"].locale
    text = context.t(locale, "survey/alert", member=member, survey_answer=answer)
    if answer.followed_up_by is not None:
        return text, None
    button = context.t(locale, "survey/button_call")
    return text, keyboards.inline([[(button, callbacks.SURVEY_FOLLOW_UP.pack(answer.id))]])


async def _post_alert(context: BotContext, answer: SurveyAnswer, member: Member) -> int | None:
    staff_chat = context.bot_data["settings"].staff_chat_id
    if staff_chat is None:
        return None
    text, markup = _alert(context, answer, member)
    message = await context.bot.send_message(staff_chat, text, reply_markup=markup)
    return message.message_id


async def _edit_alert(
    context: BotContext, message_id: int, answer: SurveyAnswer, member: Member
) -> None:
    """The comment arrived: the alert shows it (and who took it, if someone already did: the
    answer is as the comment's transaction read it, under its row lock)."""
    text, markup = _alert(context, answer, member)
    await context.bot.edit_message_text(
        text,
        chat_id=context.bot_data["settings"].staff_chat_id,
        message_id=message_id,
        reply_markup=markup,
    )


async def on_follow_up(update: Update, context: BotContext) -> None:
    """The "I'll call them" button: the first to press is recorded, and the alert says who."""
    query = update.callback_query
    if await role_of(update, context) is Role.NONE:
        await query.answer(
            html.unescape(context.text(update, "staff/not_allowed")), show_alert=True
        )
        return
    [answer_id] = callbacks.SURVEY_FOLLOW_UP.of(update)
    result = await survey_actions.follow_up(context.club, actor(update), answer_id or 0)
    taken = context.text(
        update, "survey/taken",
        survey_taker=result.answer.followed_up_name or "", survey_mine=result.taken,
    )  # fmt: skip
    await query.answer(html.unescape(taken))  # a callback answer is plain text
    text, markup = _alert(context, result.answer, result.member)
    await query.edit_message_text(text, reply_markup=markup)


# --- the staff reports ----------------------------------------------------------------------


def _view(result: survey_reports.Report, locale: str) -> SimpleNamespace:
    """The report's numbers as the template shows them (decimals formatted here)."""
    score = result.score
    places = survey_reports.PLACES[score.kind]

    def maybe(value: float | None, digits: int) -> str | None:
        return None if value is None else format_decimal(value, locale, digits)

    return SimpleNamespace(
        n=score.n, value=maybe(score.value, places), margin=maybe(score.margin, places),
        low=score.low, middle=score.middle, high=score.high,
        low_pct=maybe(score.percent(score.low), 0),
        middle_pct=maybe(score.percent(score.middle), 0),
        high_pct=maybe(score.high_share, 0), comments=result.comments,
    )  # fmt: skip


def _chart(context: BotContext, update: Update, result: survey_reports.Report, days: int) -> bytes:
    locale = context.locale(update)
    kind = result.kind
    low, high = CHART_RANGE[kind]

    def tick(value: float) -> str:
        return format_decimal(value, locale, 0 if float(value).is_integer() else 1)

    return line_chart_png(
        title=context.text(update, "survey/chart_title", survey_kind=kind, survey_days=days),
        labels=[jalali.format_day_month(week.start, locale) for week in result.weeks],
        series={
            context.text(update, "survey/chart_series", survey_kind=kind): [
                week.score.value for week in result.weeks
            ]
        },
        y_min=low,
        y_max=high,
        tick_format=tick,
    )


async def _report(update: Update, context: BotContext, kind: SurveyKind) -> None:
    """/nps|/ces|/csat [days]: the score with its margin, the split, the latest comments, and the
    trend by week as a chart."""
    args = shape(kind.value, context.args, 0, 1)
    days = positive(args[0], MAX_DAYS) if args else DEFAULT_DAYS
    result = await survey_actions.report(context.club, actor(update), kind, days)
    await context.say(
        update, "survey/report",
        survey_kind=kind, survey_days=days, survey_report=_view(result, context.locale(update)),
    )  # fmt: skip
    if result.score.n:
        await context.answer(
            update.effective_chat,
            context.text(update, "survey/chart_title", survey_kind=kind, survey_days=days),
            photo=InputFile(_chart(context, update, result, days), filename=f"{kind.value}.png"),
        )


@staff_only()
async def nps(update: Update, context: BotContext) -> None:
    await _report(update, context, SurveyKind.NPS)


@staff_only()
async def ces(update: Update, context: BotContext) -> None:
    await _report(update, context, SurveyKind.CES)


@staff_only()
async def csat(update: Update, context: BotContext) -> None:
    await _report(update, context, SurveyKind.CSAT)
