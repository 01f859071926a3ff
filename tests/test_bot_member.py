"""What a member asks the bot in a private chat, through the real Application.

Points and tiers, the menu buttons, paged history, the rewards catalogue and redeeming (with
double presses, too few points, empty stock and stale buttons), open codes and cancelling them,
invitations, the member card, help, unknown commands, non-members and group chats.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from bot.shell import MEMBER, plain
from bot.standin import ApiCall
from core import jalali, ledger, members, purchases, rewards
from core.codes import format_redemption_code
from core.digits import to_latin_digits
from core.models import (
    EntryKind,
    LedgerEntry,
    Member,
    Redemption,
    RedemptionStatus,
    Reward,
    utcnow,
)
from tests.conftest import BotHarness

PNG = b"\x89PNG\r\n\x1a\n"
CONFIRM = "✅ دریافت کد"
FRIEND = {"id": 1002, "is_bot": False, "first_name": "Ali", "language_code": "fa"}


async def _join(bot: BotHarness, phone: str = "09121234567") -> Member:
    """Join as the chat's current user through the bot; returns the new member."""
    await bot.chat.send("/start")
    await bot.chat.send(phone)
    await bot.chat.send(bot.chat.speaker.user["first_name"])
    await bot.chat.press("رد شدن")
    async with bot.club.sessions() as s:
        return await members.by_telegram_id(s, bot.chat.speaker.user["id"])


async def _member(bot: BotHarness, member_id: int) -> Member:
    async with bot.club.sessions() as s:
        return await s.get(Member, member_id)


async def _give(bot: BotHarness, member: Member, points: int, days: int = 365) -> None:
    async with bot.club.sessions() as s, s.begin():
        await ledger.credit(
            s,
            member.id,
            points,
            EntryKind.BONUS,
            f"gift:{utcnow().isoformat()}:{points}",
            expires_at=utcnow() + timedelta(days=days),
        )


async def _reward(bot: BotHarness, **fields: Any) -> Reward:
    async with bot.club.sessions() as s, s.begin():
        return await rewards.create(s, bot.club.rules, **fields)


async def _ledger(bot: BotHarness, member: Member, kind: EntryKind) -> list[LedgerEntry]:
    async with bot.club.sessions() as s:
        rows = await s.scalars(
            select(LedgerEntry).where(LedgerEntry.member_id == member.id, LedgerEntry.kind == kind)
        )
        return list(rows)


async def _redemptions(bot: BotHarness) -> list[Redemption]:
    async with bot.club.sessions() as s:
        return list(await s.scalars(select(Redemption)))


def _alert(bot: BotHarness) -> dict[str, Any]:
    """The last answer to a button press."""
    [*_, answer] = [c for c in bot.standin.calls if c.method == "answerCallbackQuery"]
    return answer.params


def _fake_message(bot: BotHarness, data: str) -> dict[str, Any]:
    """The bot's last message carrying one button of our making: a stale or forged button."""
    message = dict(bot.chat.last_bot_message())
    message["reply_markup"] = {"inline_keyboard": [[{"text": "?", "callback_data": data}]]}
    return message


def _numbers_shown(call: ApiCall) -> list[int]:
    """The point movements of a history page, as listed."""
    return [int(n) for n in re.findall(r"[+-]([\d,]+) ·", to_latin_digits(plain(call.text)))]


# --- points and the menu -------------------------------------------------------------------


async def test_points_shows_balance_tier_and_the_way_to_the_next_tier(bot: BotHarness) -> None:
    member = await _join(bot)
    async with bot.club.sessions() as s, s.begin():
        await purchases.record(s, bot.club.rules, member.id, 1_250_000)

    [points] = await bot.chat.send("/points")
    assert "موجودی شما <b>۱٬۲۵۰</b> امتیاز است" in points.text
    assert "سطح شما: <b>نقره‌ای</b>" in points.text
    assert "تا سطح طلایی ۳٬۷۵۰ امتیاز دیگر مانده است" in points.text
    assert "منقضی" not in points.text


async def test_points_lists_points_expiring_within_a_month(bot: BotHarness) -> None:
    member = await _join(bot)
    await _give(bot, member, 1250, days=10)
    await _give(bot, member, 900, days=90)  # too far ahead to mention

    [points] = await bot.chat.send("/points")
    async with bot.club.sessions() as s:
        [(expires_at, _)] = await ledger.expiring_points(s, member.id, utcnow(), timedelta(days=30))
    when = jalali.format_date(expires_at, "fa", bot.club.settings.tz)
    assert "امتیازهایی که تا یک ماه دیگر منقضی می‌شوند" in points.text
    assert f"• ۱٬۲۵۰ امتیاز، {when}" in points.text
    assert "۹۰۰ امتیاز،" not in points.text


async def test_the_points_menu_button_works_like_the_command(bot: BotHarness) -> None:
    await _join(bot)
    [by_command] = await bot.chat.send("/points")
    [by_button] = await bot.chat.press("💰 امتیاز من")

    assert by_button.text == by_command.text


async def test_menu_buttons_answer_in_english_labels_too(bot: BotHarness) -> None:
    await _join(bot)
    [points] = await bot.chat.send("💰 My points")
    [help_text] = await bot.chat.send("❓ Help")

    assert "موجودی شما" in points.text
    assert "/rewards" in help_text.text


# --- history -------------------------------------------------------------------------------


async def _twenty_five_entries(bot: BotHarness) -> None:
    member = await _join(bot)
    start = utcnow() - timedelta(days=30)
    async with bot.club.sessions() as s, s.begin():
        for n in range(1, 26):  # entry n gives n points, one hour after entry n - 1
            await ledger.credit(
                s,
                member.id,
                n,
                EntryKind.BONUS,
                f"gift:{n}",
                expires_at=utcnow() + timedelta(days=365),
                now=start + timedelta(hours=n),
            )


async def test_history_shows_ten_entries_newest_first(bot: BotHarness) -> None:
    await _twenty_five_entries(bot)
    [page] = await bot.chat.send("/history")

    assert "تاریخچهٔ امتیازها" in page.text
    assert _numbers_shown(page) == list(range(25, 15, -1))
    assert [b["text"] for b in page.buttons] == ["‹ قدیمی‌تر"]


async def test_history_pages_back_and_forth_in_the_same_message(bot: BotHarness) -> None:
    await _twenty_five_entries(bot)
    await bot.chat.send("/history")
    shown = bot.chat.last_bot_message()["message_id"]
    [second] = await bot.chat.press("‹ قدیمی‌تر")
    assert second.method == "editMessageText"
    assert _numbers_shown(second) == list(range(15, 5, -1))
    assert "صفحهٔ ۲" in second.text
    assert [b["text"] for b in second.buttons] == ["جدیدتر ›", "‹ قدیمی‌تر"]

    [third] = await bot.chat.press("‹ قدیمی‌تر")
    assert _numbers_shown(third) == [5, 4, 3, 2, 1]
    assert [b["text"] for b in third.buttons] == ["جدیدتر ›"]

    [back] = await bot.chat.press("جدیدتر ›")
    assert _numbers_shown(back) == _numbers_shown(second)
    assert {int(c.params["message_id"]) for c in (second, third, back)} == {shown}


async def test_an_empty_history_says_so(bot: BotHarness) -> None:
    await _join(bot)
    [page] = await bot.chat.send("/history")

    assert "هنوز امتیازی ثبت نشده است" in page.text
    assert page.buttons == []


# --- rewards and redeeming -----------------------------------------------------------------


async def test_rewards_lists_only_what_the_members_tier_may_see(bot: BotHarness) -> None:
    await _join(bot)
    await _reward(bot, title="Coffee", cost=300)
    await _reward(bot, title="Dinner", cost=2000, min_tier="gold")
    await _reward(bot, title="Old mug", cost=100, active=False)

    [catalogue] = await bot.chat.send("/rewards")
    assert "جوایز باشگاه" in catalogue.text
    assert [b["text"] for b in catalogue.buttons] == ["Coffee · ۳۰۰ امتیاز"]


async def test_choosing_a_reward_shows_its_details_and_a_confirm_button(bot: BotHarness) -> None:
    member = await _join(bot)
    await _give(bot, member, 500)
    await _reward(bot, title="Coffee", description="Any hot drink", cost=300, stock=7)
    await bot.chat.send("/rewards")
    [details] = await bot.chat.press("Coffee · ۳۰۰ امتیاز")

    assert details.method == "editMessageText"
    for part in ("<b>Coffee</b>", "Any hot drink", "هزینه: ۳۰۰", "باقی‌مانده: ۷ عدد", "۵۰۰ امتیاز"):
        assert part in details.text
    assert [b["text"] for b in details.buttons] == [CONFIRM, "بازگشت"]

    [listing] = await bot.chat.press("بازگشت")
    assert [b["text"] for b in listing.buttons] == ["Coffee · ۳۰۰ امتیاز"]


async def test_confirming_debits_the_points_and_shows_a_code(bot: BotHarness) -> None:
    member = await _join(bot)
    await _give(bot, member, 500)
    reward = await _reward(bot, title="Coffee", cost=300, stock=7)
    await bot.chat.send("/rewards")
    await bot.chat.press(1)
    [redeemed] = await bot.chat.press(CONFIRM)

    [redemption] = await _redemptions(bot)
    code = format_redemption_code(redemption.code)
    assert f"کد شما: <code>{code}</code>" in redeemed.text
    assert "موجودی شما: ۲۰۰ امتیاز" in redeemed.text
    assert (redemption.reward_id, redemption.points) == (reward.id, 300)
    assert (await _member(bot, member.id)).balance == 200
    async with bot.club.sessions() as s:
        assert (await s.get(Reward, reward.id)).stock == 6


async def test_confirming_twice_on_the_same_message_redeems_once(bot: BotHarness) -> None:
    member = await _join(bot)
    await _give(bot, member, 1000)
    await _reward(bot, title="Coffee", cost=300)
    await bot.chat.send("/rewards")
    await bot.chat.press(1)
    details = bot.chat.last_bot_message()
    [first] = await bot.chat.press(CONFIRM, message=details)
    [second] = await bot.chat.press(CONFIRM, message=details)

    assert first.text == second.text
    assert len(await _redemptions(bot)) == 1
    assert len(await _ledger(bot, member, EntryKind.REDEEM)) == 1
    assert (await _member(bot, member.id)).balance == 700


async def test_too_few_points_is_an_alert_and_changes_nothing(bot: BotHarness) -> None:
    member = await _join(bot)
    await _give(bot, member, 100)
    reward = await _reward(bot, title="Coffee", cost=300, stock=7)
    await bot.chat.send("/rewards")
    await bot.chat.press(1)
    sent = await bot.chat.press(CONFIRM)

    assert sent == []
    alert = _alert(bot)
    assert alert["show_alert"] is True
    assert "امتیاز کافی نیست: ۳۰۰ امتیاز لازم است و موجودی ۱۰۰ امتیاز است" in alert["text"]
    assert await _redemptions(bot) == []
    assert (await _member(bot, member.id)).balance == 100
    async with bot.club.sessions() as s:
        assert (await s.get(Reward, reward.id)).stock == 7


async def test_an_empty_shelf_is_an_alert_and_changes_nothing(bot: BotHarness) -> None:
    member = await _join(bot)
    await _give(bot, member, 500)
    await _reward(bot, title="Coffee", cost=300, stock=0)
    await bot.chat.send("/rewards")
    await bot.chat.press(1)
    sent = await bot.chat.press(CONFIRM)

    assert sent == []
    assert _alert(bot)["show_alert"] is True
    assert "این جایزه تمام شده است" in _alert(bot)["text"]
    assert await _redemptions(bot) == []
    assert (await _member(bot, member.id)).balance == 500


async def test_a_button_for_a_reward_that_does_not_exist_is_refused(bot: BotHarness) -> None:
    member = await _join(bot)
    await _give(bot, member, 500)
    await bot.chat.send("/rewards")
    sent = await bot.chat.press(1, message=_fake_message(bot, "rw:99999"))

    assert sent == []
    assert "این جایزه پیدا نشد" in _alert(bot)["text"]
    sent = await bot.chat.press(1, message=_fake_message(bot, "rwok:99999"))
    assert sent == []
    assert "این جایزه پیدا نشد" in _alert(bot)["text"]
    assert await _redemptions(bot) == []
    assert (await _member(bot, member.id)).balance == 500


async def test_confirming_a_reward_withdrawn_meanwhile_is_refused(bot: BotHarness) -> None:
    member = await _join(bot)
    await _give(bot, member, 500)
    reward = await _reward(bot, title="Coffee", cost=300)
    await bot.chat.send("/rewards")
    await bot.chat.press(1)
    async with bot.club.sessions() as s, s.begin():
        await rewards.update(s, bot.club.rules, reward.id, active=False)
    sent = await bot.chat.press(CONFIRM)

    assert sent == []
    assert "این جایزه الان برای شما در دسترس نیست" in _alert(bot)["text"]
    assert await _redemptions(bot) == []
    assert (await _member(bot, member.id)).balance == 500


async def test_a_withdrawn_reward_from_an_old_list_is_not_offered_again(bot: BotHarness) -> None:
    member = await _join(bot)
    await _give(bot, member, 500)
    reward = await _reward(bot, title="Coffee", cost=300)
    await bot.chat.send("/rewards")
    async with bot.club.sessions() as s, s.begin():
        await rewards.update(s, bot.club.rules, reward.id, active=False)
    sent = await bot.chat.press("Coffee · ۳۰۰ امتیاز")

    assert sent == []  # today: the details and "✅ دریافت کد", as if it were still offered
    assert "این جایزه الان برای شما در دسترس نیست" in _alert(bot)["text"]


# --- open codes ----------------------------------------------------------------------------


async def _redeem_coffee(bot: BotHarness, member: Member) -> Redemption:
    await _give(bot, member, 500)
    await _reward(bot, title="Coffee", cost=300, stock=5)
    await bot.chat.send("/rewards")
    await bot.chat.press(1)
    await bot.chat.press(CONFIRM)
    [redemption] = await _redemptions(bot)
    return redemption


async def test_myrewards_lists_open_codes_with_cancel_buttons(bot: BotHarness) -> None:
    member = await _join(bot)
    redemption = await _redeem_coffee(bot, member)
    code = format_redemption_code(redemption.code)
    [listing] = await bot.chat.send("/myrewards")

    assert "کدهای فعال شما" in listing.text
    assert f"Coffee: <code>{code}</code>" in listing.text
    assert listing.buttons == [{"text": f"لغو {code}", "callback_data": f"mycx:{redemption.id}"}]


async def test_myrewards_without_codes_says_so(bot: BotHarness) -> None:
    await _join(bot)
    [listing] = await bot.chat.send("/myrewards")

    assert "کد فعالی ندارید" in listing.text
    assert listing.buttons == []


async def test_cancelling_a_code_refunds_it_once(bot: BotHarness) -> None:
    member = await _join(bot)
    redemption = await _redeem_coffee(bot, member)
    await bot.chat.send("/myrewards")
    listing = bot.chat.last_bot_message()
    [cancelled] = await bot.chat.press(1, message=listing)

    assert "لغو شد و ۳۰۰ امتیاز به حسابتان برگشت" in cancelled.text
    assert "موجودی شما: ۵۰۰ امتیاز" in cancelled.text
    assert await bot.chat.press(1, message=listing) == []
    assert "این کد لغو شده است" in _alert(bot)["text"]
    [closed] = await _redemptions(bot)
    assert (closed.id, closed.status) == (redemption.id, RedemptionStatus.CANCELLED)
    assert len(await _ledger(bot, member, EntryKind.REFUND)) == 1
    assert (await _member(bot, member.id)).balance == 500


# --- invite, card, help --------------------------------------------------------------------


async def test_invite_sends_a_qr_with_the_link_and_friend_stats(bot: BotHarness) -> None:
    member = await _join(bot)
    bot.chat.as_member(FRIEND)
    await bot.chat.send(f"/start ref_{member.referral_code}")
    await bot.chat.send("09351234567")
    await bot.chat.send("Ali")
    await bot.chat.press("رد شدن")
    bot.chat.as_member(MEMBER)
    [photo] = await bot.chat.send("/invite")

    assert photo.method == "sendPhoto"
    assert next(iter(photo.files.values())).startswith(PNG)
    assert f"https://t.me/bashgah_demo_bot?start=ref_{member.referral_code}" in photo.text
    assert "تا امروز ۱ نفر با دعوت شما عضو شده‌اند و ۰ دعوت به امتیاز رسیده است" in photo.text
    assert "۵۰ امتیاز هدیه" in photo.text


async def test_card_sends_a_png_membership_card(bot: BotHarness) -> None:
    await _join(bot)
    [photo] = await bot.chat.send("/card")

    assert photo.method == "sendPhoto"
    assert next(iter(photo.files.values())).startswith(PNG)
    assert "کارت عضویت Sara · سطح برنزی" in photo.text


async def test_help_lists_what_the_bot_can_do(bot: BotHarness) -> None:
    await _join(bot)
    [help_text] = await bot.chat.send("/help")

    assert "چه کارهایی از من برمی‌آید" in help_text.text
    assert "با هر ۱٬۰۰۰ تومان خرید یک امتیاز" in help_text.text


async def test_an_unknown_command_is_answered(bot: BotHarness) -> None:
    await _join(bot)
    [unknown] = await bot.chat.send("/foo")

    assert "این دستور را نمی‌شناسم" in unknown.text


async def test_a_non_member_is_told_to_join_first(bot: BotHarness) -> None:
    [not_joined] = await bot.chat.send("/points")

    assert "هنوز عضو باشگاه نیستید" in not_joined.text
    async with bot.club.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Member)) == 0


async def test_member_commands_in_a_group_are_ignored(bot: BotHarness) -> None:
    await _join(bot)
    bot.chat.as_staff(-100555, user=MEMBER)
    for command in ("/points", "/rewards", "/history", "/invite", "/help", "/foo", "hello"):
        assert await bot.chat.send(command) == [], command
