"""The survey sweep: due survey invites become outbox messages, driven by the database.

Each run (:func:`core.sweeps.run_surveys`) writes NPS invites for the members whose period has
come (at most once an hour once they are all written, as that pass reads every member), then turns
due invites into outbox rows with the scale as buttons, each waiting for the end of the member's
quiet hours, and marks the invites sent in the same transaction. A crash before the commit leaves
the invites pending for the next run; after it, the dedupe key ``survey:<invite>`` keeps a second
run from writing them again. The outbox sender sends them; nothing here talks to Telegram.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from telegram import InlineKeyboardMarkup

from bot import callbacks, keyboards
from bot.context import BotContext
from core import surveys, sweeps
from core.digits import format_number
from core.models import Member, SurveyInvite, SurveyKind, utcnow
from core.rules import Rules
from texts import Translator

SWEEP_SECONDS = 30
DUE_BATCH = 500  # invites written to the outbox per run, in one transaction
NPS_RECHECK = timedelta(hours=1)
_NPS_NEXT = "survey_nps_next"
NPS_ROW = 6  # the 0-10 scale in two rows: Telegram shows at most 8 buttons in a row


async def sweep(context: BotContext, now: datetime | None = None) -> None:
    """Job: schedule NPS, then queue every due survey (up to ``DUE_BATCH``) in the outbox."""
    now = now or utcnow()
    rules = context.club.rules
    next_nps = context.bot_data.get(_NPS_NEXT)
    swept = await sweeps.run_surveys(
        context.club, now, nps=next_nps is None or now >= next_nps, limit=DUE_BATCH,
        render=lambda invite, member: question(context.t, rules, invite, member),
    )  # fmt: skip
    if swept.nps_written is not None:
        # A full batch means more members wait: go on next run; else look again in an hour.
        context.bot_data[_NPS_NEXT] = now if swept.more_nps else now + NPS_RECHECK


def scale_markup(invite_id: int, kind: SurveyKind | str, locale: str) -> InlineKeyboardMarkup:
    scores = list(surveys.SCALES[SurveyKind(kind)])
    rows = [scores[:NPS_ROW], scores[NPS_ROW:]] if len(scores) > NPS_ROW + 2 else [scores]
    return keyboards.inline(
        [
            [(format_number(s, locale), callbacks.SURVEY_SCORE.pack(invite_id, s)) for s in row]
            for row in rows
        ]
    )


def question(
    t: Translator, rules: Rules, invite: SurveyInvite, member: Member
) -> tuple[str, dict[str, Any]]:
    """The survey message in the member's language, and its scale as an inline keyboard."""
    locale = t.locale_for(member.locale)
    club = rules.club_name or t(locale, "image/club_name")
    text = t(locale, f"survey/ask_{SurveyKind(invite.kind).value}", member=member, survey_club=club)
    return text, scale_markup(invite.id, invite.kind, locale).to_dict()
