"""Surveys through the real Application: a purchase leads to a CSAT in the outbox, the member
answers with one tap and may comment, a low answer alerts the staff group, "I'll call them" records
who took it, a second tap keeps the first answer, and staff read the scores with a weekly chart."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from telegram import InlineKeyboardMarkup

from bot.context import BotContext
from bot.notifications.surveys import sweep
from bot.shell import MEMBER, STAFF
from core import members, surveys
from core.models import Delivery, SurveyAnswer, SurveyInvite, SurveyKind, utcnow
from tests.conftest import STAFF_CHAT_ID, BotHarness

PNG = b"\x89PNG\r\n\x1a\n"
CALL = "☎️ من تماس می‌گیرم"
OTHER_STAFF = {"id": 2003, "is_bot": False, "first_name": "Mina", "language_code": "fa"}


async def _join(bot: BotHarness) -> None:
    bot.chat.as_member()
    await bot.chat.send("/start")
    await bot.chat.share_contact("+989121234567")
    await bot.chat.press(1)
    await bot.chat.press(1)


def _staff(bot: BotHarness, user: dict[str, Any] = STAFF) -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, user["id"])] = "member"
    bot.chat.as_staff(STAFF_CHAT_ID, user)


async def _deliveries(bot: BotHarness) -> list[Delivery]:
    async with bot.club.sessions() as s:
        return list(await s.scalars(select(Delivery).order_by(Delivery.id)))


async def _answers(bot: BotHarness) -> list[SurveyAnswer]:
    async with bot.club.sessions() as s:
        return list(await s.scalars(select(SurveyAnswer).order_by(SurveyAnswer.id)))


async def _survey_after_a_purchase(bot: BotHarness) -> dict[str, Any]:
    """Join, a purchase by staff, the sweep 31 minutes later, and the survey as the member gets
    it (the outbox sender's send, simulated); returns the member's message."""
    await _join(bot)
    _staff(bot)
    await bot.chat.send("/purchase #1 250000 INV-1")
    async with bot.club.sessions() as s:
        [invite] = list(await s.scalars(select(SurveyInvite)))
    assert (invite.kind, invite.status) == (SurveyKind.CSAT, "pending")

    await sweep(BotContext(bot.app), now=utcnow() + timedelta(minutes=31))

    [delivery] = await _deliveries(bot)
    assert (delivery.kind, delivery.dedupe_key) == ("survey", f"survey:{invite.id}")
    assert delivery.chat_id == MEMBER["id"] and "راضی" in delivery.text
    buttons = [b for row in delivery.reply_markup["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["۱", "۲", "۳", "۴", "۵"]
    assert buttons[0]["callback_data"] == f"sv:{invite.id}:1"
    sent = await bot.app.bot.send_message(
        delivery.chat_id,
        delivery.text,
        reply_markup=InlineKeyboardMarkup.de_json(delivery.reply_markup, bot.app.bot),
    )
    bot.chat.as_member()
    return bot.standin.messages[sent.message_id]


async def test_a_low_csat_alerts_the_staff_who_take_the_call(bot: BotHarness) -> None:
    survey = await _survey_after_a_purchase(bot)

    calls = await bot.chat.press(1, message=survey)

    thanks = next(c for c in calls if c.params["chat_id"] == MEMBER["id"])
    assert thanks.method == "editMessageText" and "ممنون" in thanks.text
    assert [b["text"] for b in thanks.buttons] == ["رد شدن"]
    [alert] = [c for c in calls if c.params["chat_id"] == STAFF_CHAT_ID]
    assert "Sara" in alert.text and "CSAT" in alert.text and "<b>۱</b>" in alert.text
    assert [b["text"] for b in alert.buttons] == [CALL]
    [answer] = await _answers(bot)
    assert (answer.kind, answer.score, answer.comment) == (SurveyKind.CSAT, 1, None)

    [saved, edited] = await bot.chat.send("The cashier <b>ignored</b> me & left")
    assert "ثبت شد" in saved.text
    assert edited.method == "editMessageText" and edited.params["chat_id"] == STAFF_CHAT_ID
    assert "The cashier &lt;b&gt;ignored&lt;/b&gt; me &amp; left" in edited.text
    assert [b["text"] for b in edited.buttons] == [CALL]
    [answer] = await _answers(bot)
    assert answer.comment == "The cashier <b>ignored</b> me & left"

    _staff(bot)
    alert_message = bot.chat.last_bot_message()  # as edited, with its button
    [taken] = await bot.chat.press(CALL, message=alert_message)
    assert taken.method == "editMessageText" and "Reza" in taken.text and not taken.buttons
    [answer] = await _answers(bot)
    assert (answer.followed_up_by, answer.followed_up_name) == (STAFF["id"], "Reza")

    _staff(bot, OTHER_STAFF)  # the old button, still on a colleague's screen
    await bot.chat.press(CALL, message=alert_message)
    told = [c for c in bot.standin.calls if c.method == "answerCallbackQuery"][-1]
    assert "Reza" in told.params["text"]
    [answer] = await _answers(bot)
    assert answer.followed_up_by == STAFF["id"]


async def test_a_second_tap_keeps_the_first_answer(bot: BotHarness) -> None:
    survey = await _survey_after_a_purchase(bot)
    await bot.chat.press(5, message=survey)
    calls = await bot.chat.press(2, message=survey)  # the same message, before it changed

    assert calls == []  # no new message, no alert
    told = [c for c in bot.standin.calls if c.method == "answerCallbackQuery"][-1]
    assert "همان پاسخ اول" in told.params["text"] and "۵" in told.params["text"]
    [answer] = await _answers(bot)
    assert answer.score == 5


async def test_a_good_answer_alerts_no_one_and_skip_ends_it(bot: BotHarness) -> None:
    survey = await _survey_after_a_purchase(bot)
    calls = await bot.chat.press(5, message=survey)
    assert all(c.params["chat_id"] == MEMBER["id"] for c in calls)

    [skipped] = await bot.chat.press("رد شدن")
    assert skipped.method == "editMessageText" and "ممنون" in skipped.text

    [reply] = await bot.chat.send("hello")  # an ordinary message again, not a comment
    assert "ثبت شد" not in reply.text
    [answer] = await _answers(bot)
    assert answer.comment is None


async def test_a_command_instead_of_a_comment_is_just_a_command(bot: BotHarness) -> None:
    survey = await _survey_after_a_purchase(bot)
    await bot.chat.press(4, message=survey)
    [points] = await bot.chat.send("/points")
    assert "۲۵۰" in points.text
    await bot.chat.send("a late thought")
    [answer] = await _answers(bot)
    assert answer.comment is None


async def test_a_stale_survey_button(bot: BotHarness) -> None:
    survey = await _survey_after_a_purchase(bot)
    async with bot.club.sessions() as s, s.begin():
        await s.execute(update(SurveyInvite).values(sent_at=utcnow() - timedelta(days=8)))

    assert await bot.chat.press(3, message=survey) == []

    told = [c for c in bot.standin.calls if c.method == "answerCallbackQuery"][-1]
    assert "مهلت" in told.params["text"]
    assert await _answers(bot) == []


async def test_the_sweep_run_again_after_a_restart_writes_nothing_twice(bot: BotHarness) -> None:
    await _survey_after_a_purchase(bot)
    for minutes in (32, 60):
        await sweep(BotContext(bot.app), now=utcnow() + timedelta(minutes=minutes))
    assert len(await _deliveries(bot)) == 1


async def _answered(bot: BotHarness, telegram_id: int, score: int, comment: str | None) -> None:
    rules = bot.club.rules
    now = utcnow()
    async with bot.club.sessions() as s, s.begin():
        joined = await members.join(
            s, rules, telegram_id=telegram_id, name=f"M{telegram_id}", now=now - timedelta(days=60)
        )
        invite = SurveyInvite(
            member_id=joined.member.id, kind=SurveyKind.NPS, touchpoint=f"t:{telegram_id}",
            due_at=now, status="sent", sent_at=now - timedelta(days=1), created_at=now,
        )  # fmt: skip
        s.add(invite)
        await s.flush()
        answer = await surveys.answer(s, rules, invite.id, joined.member.id, score, now)
        if comment:
            await surveys.add_comment(s, answer.id, joined.member.id, comment, now)


async def test_nps_report_with_a_chart(bot: BotHarness) -> None:
    for telegram_id, score, comment in (
        (3001, 10, "عالی بود"), (3002, 9, None), (3003, 8, None), (3004, 3, "Slow <service>"),
    ):  # fmt: skip
        await _answered(bot, telegram_id, score, comment)
    _staff(bot)

    text, photo = await bot.chat.send("/nps ۳۰")

    assert text.method == "sendMessage" and "NPS" in text.text and "۳۰ روز" in text.text
    assert "<b>۲۵</b>" in text.text  # 2 promoters, 1 detractor of 4: 50 % - 25 %
    assert "تعداد پاسخ‌ها: ۴" in text.text
    assert "Slow &lt;service&gt;" in text.text and "عالی بود" in text.text
    assert photo.method == "sendPhoto"
    assert next(iter(photo.files.values())).startswith(PNG)


async def test_reports_without_answers_and_for_outsiders(bot: BotHarness) -> None:
    _staff(bot)
    [empty] = await bot.chat.send("/csat")
    assert "پاسخی ثبت نشده" in empty.text
    [usage] = await bot.chat.send("/ces 1 2")
    assert "/ces" in usage.text

    bot.chat.as_staff(-100999)  # another group
    [refused] = await bot.chat.send("/nps")
    assert "فقط برای همکاران" in refused.text


async def test_surveys_off_means_no_survey(bot: BotHarness) -> None:
    await _join(bot)
    async with bot.club.sessions() as s, s.begin():
        member = await members.by_telegram_id(s, MEMBER["id"])
        await members.update_profile(s, member.id, surveys_enabled=False)
    _staff(bot)
    await bot.chat.send("/purchase #1 250000 INV-1")
    await sweep(BotContext(bot.app), now=utcnow() + timedelta(days=1))
    assert await _deliveries(bot) == []


async def test_a_too_long_comment_is_asked_again(bot: BotHarness) -> None:
    survey = await _survey_after_a_purchase(bot)
    await bot.chat.press(3, message=survey)

    [too_long] = await bot.chat.send("x" * 1001)
    assert "۱٬۰۰۰" in too_long.text
    [saved] = await bot.chat.send("Shorter: the music was loud")
    assert "ثبت شد" in saved.text
    [answer] = await _answers(bot)
    assert answer.comment == "Shorter: the music was loud"
