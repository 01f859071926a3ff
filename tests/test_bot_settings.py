"""``/settings``, ``/profile`` and ``/forget`` through the real Application.

Each settings button writes at once (language, offers, quiet hours) and a forged one changes
nothing; the profile is filled in with buttons (one choice, several choices, a typed city); and
``/forget`` erases the member's personal data only when they say yes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from core import members
from core.models import Member, MemberStatus
from tests.conftest import BotHarness


async def _join(bot: BotHarness, phone: str = "09121234567") -> Member:
    """Join as Sara through the bot; returns the new member."""
    await bot.chat.send("/start")
    await bot.chat.send(phone)
    await bot.chat.press("Sara Ahmadi")
    await bot.chat.press("رد شدن")
    return await _me(bot)


async def _me(bot: BotHarness) -> Member | None:
    async with bot.club.sessions() as s:
        return await members.by_telegram_id(s, 1001)


async def _member(bot: BotHarness, member_id: int) -> Member:
    async with bot.club.sessions() as s:
        return await s.get(Member, member_id)


def _last_answer(bot: BotHarness) -> dict[str, Any]:
    [*_, answer] = [c for c in bot.standin.calls if c.method == "answerCallbackQuery"]
    return answer.params


# --- /settings -----------------------------------------------------------------------------


async def test_settings_shows_the_current_choices_as_buttons(bot: BotHarness) -> None:
    await _join(bot)
    [settings] = await bot.chat.send("/settings")

    assert "زبان: فارسی" in settings.text and "پیشنهادهای ویژه: روشن" in settings.text
    assert [b["text"] for b in settings.buttons] == [
        "فارسی",
        "English",
        "🔕 پیشنهادها را خاموش کن",
        "نظرسنجی‌ها را خاموش کن",
        "بدون سکوت",
        "🌙 ۲۲ تا ۸",
        "🌙 ۲۳ تا ۹",
        "🌙 ۰ تا ۱۰",
    ]


async def test_switching_to_english_changes_later_replies(bot: BotHarness) -> None:
    member = await _join(bot)
    await bot.chat.send("/settings")
    [edited] = await bot.chat.press("English")

    assert "Language: English" in edited.text
    assert _last_answer(bot)["text"] == "Saved."
    assert (await _member(bot, member.id)).locale == "en"
    [points] = await bot.chat.send("/points")
    assert "Dear <b>Sara Ahmadi</b>, you have <b>0</b> points." in points.text


async def test_offers_can_be_turned_off_and_on_again(bot: BotHarness) -> None:
    member = await _join(bot)
    await bot.chat.send("/settings")
    [off] = await bot.chat.press("🔕 پیشنهادها را خاموش کن")

    assert "پیشنهادهای ویژه: خاموش" in off.text
    assert (await _member(bot, member.id)).offers_enabled is False
    await bot.chat.press("🔔 پیشنهادها را روشن کن")
    assert (await _member(bot, member.id)).offers_enabled is True


async def test_a_quiet_hours_preset_is_stored(bot: BotHarness) -> None:
    member = await _join(bot)
    await bot.chat.send("/settings")
    [edited] = await bot.chat.press("🌙 ۲۲ تا ۸")

    assert "ساعت‌های سکوت: از ساعت ۲۲ تا ۸" in edited.text
    stored = await _member(bot, member.id)
    assert (stored.quiet_start, stored.quiet_end) == (22, 8)

    await bot.chat.press("بدون سکوت")
    stored = await _member(bot, member.id)
    assert (stored.quiet_start, stored.quiet_end) == (0, 0)  # no quiet hours, not the club default


async def test_settings_show_the_club_quiet_hours_until_the_member_chooses(bot: BotHarness) -> None:
    await _join(bot)
    [settings] = await bot.chat.send("/settings")
    assert "ساعت‌های سکوت: از ساعت ۲۲ تا ۹ (پیش‌فرض باشگاه)" in settings.text  # the rules' 22–9

    [edited] = await bot.chat.press("🌙 ۲۳ تا ۹")
    assert "ساعت‌های سکوت: از ساعت ۲۳ تا ۹" in edited.text and "پیش‌فرض" not in edited.text
    [edited] = await bot.chat.press("بدون سکوت")
    assert "ساعت‌های سکوت: ندارد" in edited.text


async def test_a_forged_settings_button_is_stale_and_changes_nothing(bot: BotHarness) -> None:
    member = await _join(bot)
    await bot.chat.send("/settings")
    message = dict(bot.chat.last_bot_message())
    message["reply_markup"] = {"inline_keyboard": [[{"text": "?", "callback_data": "set:bogus:1"}]]}
    await bot.chat.press(1, message=message)

    assert _last_answer(bot)["text"] == "این دکمه دیگر معتبر نیست."
    stored = await _member(bot, member.id)
    assert (stored.locale, stored.offers_enabled, stored.surveys_enabled, stored.quiet_start) == (
        "fa",
        True,
        True,
        None,
    )


# --- /profile ------------------------------------------------------------------------------


async def test_a_contact_preference_is_saved_in_the_profile(bot: BotHarness) -> None:
    member = await _join(bot)
    await bot.chat.send("/profile")
    [question] = await bot.chat.press("راه ارتباط")
    assert "از چه راهی با شما در تماس باشیم" in question.text

    [summary] = await bot.chat.press("تلگرام")
    assert _last_answer(bot)["text"] == "ذخیره شد ✅"
    assert "راه ارتباط: تلگرام" in summary.text
    assert (await _member(bot, member.id)).profile == {"contact": "telegram"}


async def test_interests_toggle_on_and_off(bot: BotHarness) -> None:
    member = await _join(bot)
    await bot.chat.send("/profile")
    await bot.chat.press("علاقه‌مندی‌ها")
    await bot.chat.press("تخفیف‌ها")
    [marked] = await bot.chat.press("رویدادها")

    assert marked.method == "editMessageReplyMarkup"
    assert {"✅ تخفیف‌ها", "✅ رویدادها"} <= {b["text"] for b in marked.buttons}
    assert (await _member(bot, member.id)).profile == {"interests": ["discounts", "events"]}

    [unmarked] = await bot.chat.press("✅ تخفیف‌ها")
    assert "تخفیف‌ها" in [b["text"] for b in unmarked.buttons]
    assert (await _member(bot, member.id)).profile == {"interests": ["events"]}


async def test_a_typed_city_is_stored(bot: BotHarness) -> None:
    member = await _join(bot)
    await bot.chat.send("/profile")
    [ask] = await bot.chat.press("شهر")
    assert "در کدام شهر زندگی می‌کنید؟" in ask.text

    [summary] = await bot.chat.send("  شیراز  ")
    assert "شهر: شیراز" in summary.text
    assert (await _member(bot, member.id)).city == "شیراز"


async def test_a_city_too_long_is_asked_again(bot: BotHarness) -> None:
    member = await _join(bot)
    await bot.chat.send("/profile")
    await bot.chat.press("شهر")
    [again] = await bot.chat.send("x" * 70)

    assert "حداکثر ۶۴ حرف" in again.text
    assert (await _member(bot, member.id)).city is None
    await bot.chat.send("Tabriz")
    assert (await _member(bot, member.id)).city == "Tabriz"


async def test_a_menu_button_at_the_city_step_is_not_taken_as_the_city(bot: BotHarness) -> None:
    member = await _join(bot)
    await bot.chat.send("/profile")
    await bot.chat.press("شهر")
    [answer] = await bot.chat.send("💰 امتیاز من")  # changed their mind: the reply menu

    assert (await _member(bot, member.id)).city is None
    assert "موجودی شما" in answer.text


# --- /forget -------------------------------------------------------------------------------


async def test_forget_answered_no_keeps_everything(bot: BotHarness) -> None:
    member = await _join(bot)
    [ask] = await bot.chat.send("/forget")
    assert "مطمئن هستید؟" in ask.text
    [kept] = await bot.chat.press("نه، منصرف شدم")

    assert "چیزی پاک نشد" in kept.text
    stored = await _member(bot, member.id)
    assert (stored.name, stored.phone, stored.status) == (
        "Sara Ahmadi",
        "+989121234567",
        MemberStatus.ACTIVE,
    )


async def test_forget_answered_yes_erases_personal_data(bot: BotHarness) -> None:
    member = await _join(bot)
    await bot.chat.send("/forget")
    [done, goodbye] = await bot.chat.press("بله، پاک شود")

    assert "اطلاعات شخصی شما پاک شد" in done.text
    assert goodbye.markup == {"remove_keyboard": True}
    stored = await _member(bot, member.id)
    assert (stored.telegram_id, stored.name, stored.phone, stored.status) == (
        None,
        None,
        None,
        MemberStatus.ERASED,
    )
    [not_joined] = await bot.chat.send("/points")
    assert "هنوز عضو باشگاه نیستید" in not_joined.text


async def test_after_forget_start_joins_afresh(bot: BotHarness) -> None:
    old = await _join(bot)
    await bot.chat.send("/forget")
    await bot.chat.press("بله، پاک شود")
    [ask_phone] = await bot.chat.send("/start")

    assert "خوش برگشتید" not in ask_phone.text
    new = await _join(bot)  # the same phone may be used again
    assert new.id != old.id and new.phone == "+989121234567"
    async with bot.club.sessions() as s:
        statuses = list(await s.scalars(select(Member.status).order_by(Member.id)))
    assert statuses == [MemberStatus.ERASED, MemberStatus.ACTIVE]
