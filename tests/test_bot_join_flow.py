"""Joining through the real Application, the paths beside the happy one.

Typed and wrong phones, someone else's contact, a typed phone already taken (accepted, not
attached, not told), a name with HTML in it,
Jalali dates that do not exist, skipping the birthday, commands in the middle, ``/cancel``,
referral links, the limited club mode, a returning member and ``/start`` pressed again mid-join.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from bot.standin import ApiCall
from core import members
from core.models import EntryKind, LedgerEntry, Member, Referral
from core.rules import Rules
from tests.conftest import BotHarness

SKIP = "رد شدن"
ASK_PHONE = "شمارهٔ همراهتان را با دکمهٔ پایین بفرستید"
ASK_NAME = "چه نامی برایتان در باشگاه ثبت کنیم؟"
ASK_BIRTHDAY = "تاریخ تولدتان را بنویسید"
WELCOME = "عضویت شما کامل شد"


async def _members(bot: BotHarness) -> list[Member]:
    async with bot.club.sessions() as s:
        return list(await s.scalars(select(Member).order_by(Member.id)))


async def _join(bot: BotHarness, start: str = "/start", phone: str = "09121234567") -> ApiCall:
    """Join as the chat's user in one go; returns the welcome message."""
    await bot.chat.send(start)
    await bot.chat.send(phone)
    await bot.chat.press("Sara Ahmadi")
    [welcome] = await bot.chat.press(SKIP)
    return welcome


async def _referrer(bot: BotHarness, phone: str = "+989350000000") -> Member:
    """Another member, joined directly through core, whose referral code we can use."""
    async with bot.club.sessions() as s, s.begin():
        result = await members.join(
            s, bot.club.rules, telegram_id=5005, name="Reza Karimi", phone=phone
        )
        return result.member


async def test_a_phone_typed_in_persian_digits_is_accepted(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    [ask_name] = await bot.chat.send("۰۹۱۲۱۲۳۴۵۶۷")
    assert ASK_NAME in ask_name.text
    await bot.chat.press("Sara Ahmadi")
    await bot.chat.press(SKIP)

    [member] = await _members(bot)
    assert member.phone == "+989121234567"


async def test_a_mistyped_phone_is_asked_again_and_nothing_is_written(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    [again] = await bot.chat.send("12345")

    assert "این شماره درست به نظر نمی‌رسد" in again.text
    assert await _members(bot) == []
    [ask_name] = await bot.chat.send("09121234567")
    assert ASK_NAME in ask_name.text


async def test_someone_elses_contact_is_refused(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    [refused] = await bot.chat.share_contact("+989121234567", owner_id=999)

    assert "این شماره مال حساب خودتان نیست" in refused.text
    [ask_name] = await bot.chat.share_contact("+989121234567")
    assert ASK_NAME in ask_name.text


async def test_a_typed_phone_of_another_member_is_not_refused_nor_taken(bot: BotHarness) -> None:
    owner = await _referrer(bot, phone="+989121234567")
    await bot.chat.send("/start")
    [ask_name] = await bot.chat.send("09121234567")  # the same answer as for a free number

    assert ASK_NAME in ask_name.text
    await bot.chat.press("Sara Ahmadi")
    [welcome] = await bot.chat.press(SKIP)
    assert WELCOME in welcome.text
    [kept, typist] = await _members(bot)
    assert (kept.id, kept.phone) == (owner.id, "+989121234567")
    assert (typist.phone, typist.phone_verified) == (None, False)


async def test_a_typed_name_with_html_is_stored_as_typed_and_escaped(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    await bot.chat.send("09121234567")
    await bot.chat.send("<b>Ali</b> & co")
    [welcome] = await bot.chat.press(SKIP)

    assert welcome.params["parse_mode"] == "HTML"
    assert "&lt;b&gt;Ali&lt;/b&gt; &amp; co" in welcome.text
    [member] = await _members(bot)
    assert member.name == "<b>Ali</b> & co"


async def test_a_jalali_date_that_does_not_exist_is_asked_again(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    await bot.chat.send("09121234567")
    await bot.chat.press("Sara Ahmadi")

    [again] = await bot.chat.send("۱۴۰۲/۱۲/۳۰")  # 1402 is not a leap year
    assert "این تاریخ درست نیست" in again.text
    assert await _members(bot) == []

    [welcome] = await bot.chat.send("۱۴۰۳/۱۲/۳۰")  # 1403 is
    assert WELCOME in welcome.text
    [member] = await _members(bot)
    assert member.birthday == date(2025, 3, 20)


async def test_the_birthday_can_be_skipped(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    await bot.chat.send("09121234567")
    [ask_birthday] = await bot.chat.press("Sara Ahmadi")
    assert ask_birthday.buttons == [{"text": SKIP}]

    [welcome] = await bot.chat.press(SKIP)
    assert WELCOME in welcome.text
    [member] = await _members(bot)
    assert member.birthday is None


async def test_a_command_in_the_middle_asks_to_finish_first(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    await bot.chat.send("09121234567")
    [finish_first] = await bot.chat.send("/points")

    assert "اول عضویت را کامل کنیم" in finish_first.text
    [ask_birthday] = await bot.chat.press("Sara Ahmadi")  # the join goes on where it was
    assert ASK_BIRTHDAY in ask_birthday.text


async def test_cancel_ends_the_join_and_writes_nothing(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    await bot.chat.send("09121234567")
    await bot.chat.press("Sara Ahmadi")
    [cancelled] = await bot.chat.send("/cancel")

    assert "عضویت نیمه‌کاره ماند" in cancelled.text
    assert cancelled.markup == {"remove_keyboard": True}
    assert await _members(bot) == []
    [not_joined] = await bot.chat.send("/points")
    assert "هنوز عضو باشگاه نیستید" in not_joined.text


async def test_joining_through_a_referral_link_gives_the_welcome_bonus(bot: BotHarness) -> None:
    referrer = await _referrer(bot)
    [ask_phone] = await bot.chat.send(f"/start ref_{referrer.referral_code}")
    assert "Reza Karimi شما را دعوت کرده است" in ask_phone.text
    await bot.chat.send("09121234567")
    await bot.chat.press("Sara Ahmadi")
    [welcome] = await bot.chat.press(SKIP)

    assert "۵۰ امتیاز هدیه گرفتید" in welcome.text
    async with bot.club.sessions() as s:
        member = await members.by_telegram_id(s, 1001)
        [entry] = await s.scalars(select(LedgerEntry).where(LedgerEntry.member_id == member.id))
        referral = await s.scalar(select(Referral))
    assert (entry.kind, entry.delta, member.balance) == (EntryKind.REFERRAL, 50, 50)
    assert (referral.referrer_id, referral.referred_id) == (referrer.id, member.id)


async def test_an_unknown_referral_code_in_an_open_club_joins_without_bonus(
    bot: BotHarness,
) -> None:
    [ask_phone] = await bot.chat.send("/start ref_NOSUCHCODE")
    assert ASK_PHONE in ask_phone.text
    assert "دعوت کرده است" not in ask_phone.text
    await bot.chat.send("09121234567")
    await bot.chat.press("Sara Ahmadi")
    [welcome] = await bot.chat.press(SKIP)

    assert WELCOME in welcome.text and "هدیه گرفتید" not in welcome.text
    [member] = await _members(bot)
    assert (member.balance, member.referred_by_id) == (0, None)


async def test_a_limited_club_turns_away_a_newcomer_without_a_link(bot: BotHarness) -> None:
    bot.club.rules = Rules(club_mode="limited")
    [closed] = await bot.chat.send("/start")

    assert "عضویت در این باشگاه فقط با دعوت یکی از اعضاست" in closed.text
    [not_in_join] = await bot.chat.send("09121234567")  # no conversation was started
    assert ASK_NAME not in not_in_join.text
    assert await _members(bot) == []


async def test_a_limited_club_lets_in_a_newcomer_with_a_link(bot: BotHarness) -> None:
    referrer = await _referrer(bot)
    bot.club.rules = Rules(club_mode="limited")
    welcome = await _join(bot, start=f"/start ref_{referrer.referral_code}")

    assert WELCOME in welcome.text
    assert len(await _members(bot)) == 2


async def test_a_limited_club_refuses_an_unknown_code(bot: BotHarness) -> None:
    bot.club.rules = Rules(club_mode="limited")
    [closed] = await bot.chat.send("/start ref_NOSUCHCODE")

    assert "فقط با دعوت یکی از اعضاست" in closed.text


async def test_a_returning_member_is_welcomed_back_with_the_menu(bot: BotHarness) -> None:
    await _join(bot)
    [back] = await bot.chat.send("/start")

    assert "Sara Ahmadi عزیز، خوش برگشتید" in back.text
    assert back.buttons[0] == {"text": "💰 امتیاز من"}
    assert len(await _members(bot)) == 1


async def test_start_again_mid_join_begins_afresh(bot: BotHarness) -> None:
    referrer = await _referrer(bot)
    await bot.chat.send(f"/start ref_{referrer.referral_code}")
    await bot.chat.send("09121234567")
    [ask_phone] = await bot.chat.send("/start")
    assert ASK_PHONE in ask_phone.text

    [ask_name] = await bot.chat.send("09121112222")
    assert ASK_NAME in ask_name.text
    await bot.chat.press("Sara Ahmadi")
    [welcome] = await bot.chat.press(SKIP)

    assert WELCOME in welcome.text and "هدیه گرفتید" not in welcome.text  # the old link is gone
    [_, member] = await _members(bot)
    assert (member.phone, member.balance) == ("+989121112222", 0)


async def test_start_twice_in_a_row_asks_for_the_phone_once_more(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    [ask_phone] = await bot.chat.send("/start")

    assert ASK_PHONE in ask_phone.text
    welcome = await _join(bot)
    assert WELCOME in welcome.text
    assert len(await _members(bot)) == 1


async def test_a_phone_taken_meanwhile_lets_the_newcomer_carry_on(bot: BotHarness) -> None:
    await bot.chat.send("/start")
    await bot.chat.send("09121234567")
    await bot.chat.press("Sara Ahmadi")
    await _referrer(bot, phone="+989121234567")  # the number is registered in the meantime
    [welcome] = await bot.chat.press(SKIP)
    assert WELCOME in welcome.text  # joined, and not told whose the number is

    [next_reply] = await bot.chat.send("/points")
    assert "خطایی رخ داد" not in next_reply.text
    [_, newcomer] = await _members(bot)
    assert newcomer.phone is None
