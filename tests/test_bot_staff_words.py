"""The staff side in the club's language and never silent, through the real Application: no raw
codes in what staff read, /help with an example per command, "unknown command" with the nearest
one, long answers in parts rather than dropped, and campaign templates checked before saving."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

import core
from bot.group_replies import Answer
from bot.shell import MEMBER, STAFF, plain
from bot.staff_access import Access
from core import branches, campaigns, rewards, telegram_html
from core.actions import campaigns as campaign_actions
from core.audit import Actor
from core.errors import InvalidTemplate
from core.locales import LOCALES
from core.models import AuditEntry, Campaign, Member, MemberStatus, Reward
from tests.conftest import STAFF_CHAT_ID, BotHarness
from texts import LOCALES_DIR, Translator, commands_from

BRANCH_CHAT = -100_777
ACTIONS = [
    "purchase", "refund", "award", "deduct", "confirm", "draw", "erase", "export", "import",
    "member_add", "member_claimed", "phone_moved", "reward_add", "reward_edit", "reward_stock",
    "reward_off", "campaign_new", "campaign_pause", "campaign_resume", "campaign_cancel",
    "survey_follow_up",
]  # fmt: skip
CODES = {
    *ACTIONS,
    *(status.value for status in MemberStatus),
    "members", "ledger", "purchases", "surveys",
    "scheduled", "running", "paused", "cancelled", "done",
}  # fmt: skip


def raw_codes(text: str) -> list[str]:
    """Codes a staff member would read: words of the code outside commands and <code> examples."""
    read = re.sub(r"<code>.*?</code>", " ", text, flags=re.DOTALL)
    read = re.sub(r"[/@][A-Za-z_0-9]+", " ", plain(read))
    words = re.findall(r"[A-Za-z_]+", read)
    return [w for w in words if w in CODES or "_" in w] + re.findall(r"\{'|'reason'", read)


async def _join(bot: BotHarness) -> None:
    bot.chat.as_member(MEMBER)
    await bot.chat.send("/start")
    for _ in range(3):
        await bot.chat.press(1)


def _as_staff(bot: BotHarness, status: str = "administrator") -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = status
    bot.app.bot_data.pop("staff_roles", None)
    bot.chat.as_staff(STAFF_CHAT_ID)


async def _said(bot: BotHarness, text: str) -> list[str]:
    """What the bot answered in the chat ``text`` was sent to."""
    chat = bot.chat.speaker.chat["id"]
    return [c.text for c in await bot.chat.send(text) if c.params.get("chat_id") == chat]


# --- every staff-facing word in Persian -----------------------------------------------------


async def test_each_staff_command_reads_in_persian_without_raw_codes(bot: BotHarness) -> None:
    await _join(bot)
    _as_staff(bot)
    await bot.chat.send("/purchase 09121234567 1500000 INV-1")
    await bot.chat.send("/award #1 200 هدیهٔ تولد")
    await bot.chat.send("/refund INV-1")
    async with bot.club.sessions() as s, s.begin():
        await rewards.create(s, bot.club.rules, title="قهوه", cost=300, stock=5)
    await bot.chat.send("/reward_stock 1 9")
    draft = campaigns.Draft(name="یلدا", template="سلام {{ name }}", segment="tier >= gold",
                            cron="0 10 * * 5")  # fmt: skip
    await campaign_actions.create(bot.club, Actor(STAFF["id"], "Reza"), draft)
    await bot.chat.send("/campaign_pause 1")
    await bot.chat.send("/export members")
    async with bot.club.sessions() as s, s.begin():
        await s.execute(update(Member).values(status=MemberStatus.BLOCKED))

    read: dict[str, list[str]] = {}
    for command in ("/audit", "/member #1", "/campaigns", "/rewards_admin", "/export ledger",
                    "/campaign_resume 1", "/campaign_pause 99", "/help", "/segment",
                    "/purchse 1", "/segment سطح >= الماسی"):  # fmt: skip
        read[command] = [text for call in await bot.chat.send(command) if (text := call.text)]
    for command, texts in read.items():
        assert texts, f"{command} got no answer"
        for text in texts:
            assert raw_codes(text) == [], (command, text)

    audit = "\n".join(read["/audit"])
    for label in ("ثبت خرید", "دادن امتیاز", "برگشت خرید", "تغییر موجودی جایزه", "ساختن کارزار",
                  "توقف کارزار", "گرفتن خروجی"):  # fmt: skip
        assert label in audit
    assert "ربات را مسدود کرده" in read["/member #1"][0]
    assert "متوقف" in read["/campaigns"][0]
    assert "دفتر امتیازها" in read["/export ledger"][0]
    assert "کارزاری با این شماره نیست" in read["/campaign_pause 99"][0]


async def test_a_finished_campaigns_summary_keeps_its_lines_apart(bot: BotHarness) -> None:
    for locale, done in (("fa", "تمام شد\nفرستاده: "), ("en", "finished\nSent: ")):
        text = bot.app.bot_data["translator"](
            locale, "staff/campaign_progress", campaign=Campaign(name="Yalda"), done=True,
            counts={"sent": 3}, rate=None,
        )  # fmt: skip
        assert done in text


def test_no_template_runs_a_line_into_the_next() -> None:
    """A line ending in ``{% endif %}`` or ``{% endfor %}`` loses its newline (``trim_blocks``):
    text after it must say ``+%}`` or stand on a line of its own."""
    joined = []
    for path in sorted(LOCALES_DIR.rglob("*.j2")):
        lines = path.read_text(encoding="utf-8").split("\n")
        for number, (line, following) in enumerate(itertools.pairwise(lines), 1):
            content = line.strip()
            ends_in_tag = content.endswith("%}") and not content.endswith("+%}")
            tag_only = re.fullmatch(r"(\{%.*?%\}\s*)+", content) is not None
            if ends_in_tag and not tag_only and following.strip() and "{%" not in following[:2]:
                joined.append(f"{path.relative_to(LOCALES_DIR)}:{number}")
    assert joined == []


def test_every_audited_action_has_a_label_in_every_language() -> None:
    """The actions core records, by their literal names and the ones passed along (``ACTIONS``)."""
    source = "\n".join(p.read_text() for p in Path(core.__file__).parent.rglob("*.py"))
    recorded = set(re.findall(r'action="([a-z_]+)"', source)) | set(ACTIONS)
    translator = Translator(ZoneInfo("Asia/Tehran"))
    for locale in LOCALES:
        for action in sorted(recorded):
            assert translator(locale, "labels/audit_action", action=action) != action, action


# --- /help and unknown commands -------------------------------------------------------------


async def test_help_in_the_staff_group_lists_every_staff_command_with_an_example(
    bot: BotHarness,
) -> None:
    _as_staff(bot, "member")
    texts = await _said(bot, "/help")
    text = "\n".join(texts)
    menu = [name for name, _ in commands_from(bot.app.bot_data["translator"]("fa", "menus/staff"))]
    for name in menu:
        if name != "help":
            assert f"/{name} — " in text, name
    assert text.count("نمونه: ") == len(menu) - 1
    assert "/purchase 0912 123 4567 ۲۵۰ هزار INV-1001" in text
    erase = next(line for line in plain(text).splitlines() if line.startswith("/erase"))
    assert "فقط مدیران" in erase
    purchase = next(line for line in plain(text).splitlines() if line.startswith("/purchase"))
    assert "فقط مدیران" not in purchase


async def test_the_help_and_the_menus_name_the_same_commands_as_the_routes(
    bot: BotHarness,
) -> None:
    from bot.handlers import staff_help

    routed = staff_help.commands_of(bot.app.handlers[0])
    translator = bot.app.bot_data["translator"]
    for locale in LOCALES:
        staff = {name for name, _ in commands_from(translator(locale, "menus/staff"))}
        till = {name for name, _ in commands_from(translator(locale, "menus/branch"))}
        assert staff - {"help"} == {c.name for c in routed}, locale
        assert till == {c.name for c in routed if c.access is Access.TILL}, locale


async def test_help_in_a_branch_group_lists_only_what_works_there(bot: BotHarness) -> None:
    await branches.add(bot.club, "north", "North", staff_chat_id=BRANCH_CHAT)
    bot.standin.chat_member_status[(BRANCH_CHAT, STAFF["id"])] = "member"
    bot.chat.as_staff(BRANCH_CHAT)
    [text] = await _said(bot, "/help")
    assert "شعبهٔ north" in text
    for name in ("purchase", "refund", "confirm", "member", "member_add", "stats"):
        assert f"/{name} — " in text
    for name in ("award", "export", "campaign_new", "erase", "segment"):
        assert f"/{name} — " not in text
    [mistyped] = await _said(bot, "/refnd INV-1")
    assert "/refund" in mistyped


async def test_a_mistyped_command_gets_the_nearest_one(bot: BotHarness) -> None:
    _as_staff(bot, "member")
    [answer] = await _said(bot, "/purchse 0912 123 4567 250000")
    assert "/purchse" in answer and "/purchase" in answer and "/help" in answer
    [unknown] = await _said(bot, "/xyzzy")
    assert "/xyzzy" in unknown and "منظورتان" not in unknown
    [addressed] = await _said(bot, "/rewards_admn@bashgah_demo_bot")
    assert "/rewards_admin" in addressed
    assert await bot.chat.send("/purchse@other_bot 1") == []  # another bot's command
    assert await bot.chat.send("/help@other_bot") == []
    [members] = await _said(bot, "/points")
    assert "/points دستور اعضاست" in members and "/help" in members


async def test_other_groups_hear_nothing_and_members_keep_their_answer(bot: BotHarness) -> None:
    bot.chat.as_staff(-100_999)  # a group that is no staff group
    assert await bot.chat.send("/purchse 1") == []
    assert await bot.chat.send("/help") == []
    bot.chat.as_member(MEMBER)
    [member] = await bot.chat.send("/purchse")
    assert member.text == bot.app.bot_data["translator"]("fa", "unknown_command")


# --- long answers ---------------------------------------------------------------------------


async def test_thirty_five_rewards_arrive_whole_in_parts(bot: BotHarness) -> None:
    async with bot.club.sessions() as s, s.begin():
        for n in range(1, 36):
            await rewards.create(
                s, bot.club.rules, title=f"جایزهٔ شمارهٔ {n} با نامی بلند برای آزمودن " * 2,
                cost=100 * n, stock=n,
            )  # fmt: skip
    _as_staff(bot, "member")
    calls = await bot.chat.send("/rewards_admin")

    assert len(calls) > 1 and bot.standin.refused == []
    assert all(telegram_html.size(c.text) <= telegram_html.MESSAGE_LIMIT for c in calls)
    assert all(telegram_html.problem(c.text) is None for c in calls)
    text = "\n".join(plain(c.text) for c in calls)
    async with bot.club.sessions() as s:
        ids = list(await s.scalars(select(Reward.id)))
    assert len(ids) == 35
    for reward_id in ids:
        assert f"#{_fa(reward_id)} " in text


def _fa(number: int) -> str:
    return str(number).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


async def test_the_standin_refuses_what_telegram_refuses(bot: BotHarness) -> None:
    from telegram.error import BadRequest

    try:
        await bot.app.bot.send_message(STAFF_CHAT_ID, "x" * 4097)
    except BadRequest as error:
        assert "too long" in str(error)
    else:
        raise AssertionError("a 4,097-character message went out")
    assert [c.method for c in bot.standin.refused] == ["sendMessage"]


async def test_a_photo_with_a_long_caption_sends_the_rest_after_it(bot: BotHarness) -> None:
    text = "\n".join(f"<b>خط {n}</b> " + "متن " * 10 for n in range(200))
    before = len(bot.standin.calls)
    await Answer(text, photo=b"\x89PNG fake").send(bot.app.bot, STAFF_CHAT_ID)

    calls = bot.standin.sent(before)
    assert [c.method for c in calls][:2] == ["sendPhoto", "sendMessage"]
    assert telegram_html.size(calls[0].params["caption"]) <= telegram_html.CAPTION_LIMIT
    assert bot.standin.refused == []
    assert "\n".join(c.text for c in calls) == text


# --- campaign templates ---------------------------------------------------------------------


async def test_a_template_telegram_would_refuse_is_asked_again_with_why(bot: BotHarness) -> None:
    _as_staff(bot)
    await bot.chat.send("/campaign_new")
    await bot.chat.send("Yalda")
    [paragraph] = await bot.chat.send("<p>سلام {{ name }}</p>")
    assert "&lt;p&gt;" in paragraph.text and "Enter" in paragraph.text
    assert paragraph.markup.get("force_reply") is True
    [unclosed] = await bot.chat.send("<b>سلام {{ name }}")
    assert "&lt;/b&gt;" in unclosed.text and "باز مانده" in unclosed.text
    [attribute] = await bot.chat.send('<b style="color:red">سلام</b>')
    assert "style" in attribute.text
    [undefined] = await bot.chat.send("سلام {{ nam }}")
    assert "«nam»" in undefined.text and raw_codes(undefined.text) == []
    [next_step] = await bot.chat.send("<b>سلام</b> {{ name }}")
    assert "قاعده" in next_step.text
    async with bot.club.sessions() as s:
        assert list(await s.scalars(select(Campaign))) == []


def test_a_template_is_refused_before_it_is_saved() -> None:
    for template in (
        "<p>Hi</p>",
        "<b>Hi",
        "<i>{{ name }}</b>",
        '<a href="x" target="_blank">a</a>',
    ):
        try:
            campaigns.check_template(template)
        except InvalidTemplate:
            continue
        raise AssertionError(template)


# --- the segment language in Persian --------------------------------------------------------


async def test_segment_rules_read_persian_tier_and_field_names(bot: BotHarness) -> None:
    await _join(bot)
    _as_staff(bot)
    await bot.chat.send("/purchase 09121234567 1500000 INV-1")  # silver
    [silver] = await _said(bot, "/segment سطح >= نقره‌ای")
    assert "۱ عضو" in silver
    [none] = await _said(bot, "/segment سطح >= طلایی یا روزهای_بی‌خرید > ۶۰")
    assert "۰ عضو" in none
    [listed] = await _said(bot, "/segment شهر در (تهران، تبریز) یا تعداد_خرید_۳۰_روز >= ۱")
    assert "۱ عضو" in listed

    [fields] = await _said(bot, "/segment")
    for alias in ("سطح", "موجودی", "روزهای_بی‌خرید", "ماه_تولد", "تعداد_خرید_۹۰_روز"):
        assert alias in fields
    assert "قهرمانان" in fields

    [why] = await _said(bot, "/segment سطح >= الماسی")
    assert "«الماسی» سطحی در باشگاه نیست" in why and "طلایی" in why
    [typo] = await _said(bot, "/segment سطخ > ۲")
    assert "منظورتان «سطح»" in typo
    [kind] = await _said(bot, "/segment موجودی > زیاد")
    assert "«موجودی» یک عدد می‌خواهد" in kind and "«زیاد»" in kind


async def test_a_campaign_typed_in_persian_saves_its_rule_in_the_languages_words(
    bot: BotHarness,
) -> None:
    await _join(bot)
    _as_staff(bot)
    await bot.chat.send("/campaign_new")
    await bot.chat.send("نقره‌ای‌ها")
    await bot.chat.send("سلام {{ name }}")
    [bad] = await bot.chat.send("سطح >= مسی")
    assert "سطحی در باشگاه نیست" in bad.text and "دوباره بنویسید" in bad.text
    await bot.chat.send("سطح >= نقره‌ای و پیشنهادها = بله")
    await bot.chat.send("الان")
    [preview] = await bot.chat.send("-")
    assert "سطح &gt;= نقره‌ای و پیشنهادها = بله" in preview.text
    await bot.chat.press("✅ ذخیره و زمان‌بندی")
    async with bot.club.sessions() as s:
        campaign = await s.scalar(select(Campaign))
        [entry] = list(
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "campaign_new"))
        )
    assert campaign.segment == "tier >= silver and offers = true"
    assert entry.after["segment"] == campaign.segment
