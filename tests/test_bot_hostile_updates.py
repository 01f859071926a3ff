"""Malformed and hostile updates through the real Application (issue 7, "Bad input at the edge").

Each raw dict goes through ``Update.de_json`` and ``app.process_update`` exactly as a polled or
webhook update would. A dict that ``Update.de_json`` itself rejects never reaches a handler; every
dict PTB *accepts* must leave the bot

* uncrashed: nothing escapes ``process_update``, nothing is logged at ERROR (neither the error
  handler's "unhandled error" nor PTB's "uncaught error while handling the error"), and no one is
  sent the "unexpected error" text;
* unchanged: the rows of members, ledger_entries, purchases, redemptions and audit_entries (and a
  few more tables) are counted before and after;
* healthy: a newcomer's ``/start`` → contact → name → skip still makes a member afterwards.

The explicit cases name the hostile shapes one by one (missing fields, unknown update types,
huge and bidi/zero-width/control texts, callback data never issued, inline-message buttons,
forged staff chat ids in private chats, commands for other bots, someone else's contact, media in
the middle of joining). The hypothesis tests mutate valid skeletons (messages, edited and
business messages, button presses, channel posts and other update types) with dropped fields,
unknown fields holding nested junk, hostile users, texts and callback data, ~500 examples in all,
against one app kept across examples with ``asyncio.Runner`` (as in ``test_bot_staff_fuzz``).

The shapes that once crashed or changed state have their own tests under "bugs found": the guard
(``bot.handlers.guard``) now drops them, and the fuzz feeds them too.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, reject, settings
from hypothesis import strategies as st
from sqlalchemy import text
from telegram import Update
from telegram.ext import Application

from bot.app import build_application, running
from bot.shell import Driver, process
from bot.standin import BOT_USER, ApiCall, BotApiStandin
from core import members, purchases, redemptions, rewards
from core.club import Club
from core.config import Settings
from tests.conftest import STAFF_CHAT_ID, BotHarness, fresh_sqlite_url

ROOT = Path(__file__).resolve().parents[1]
UNEXPECTED = [
    (ROOT / "locales" / locale / "errors" / "unexpected.j2").read_text(encoding="utf-8").strip()
    for locale in ("fa", "en")
]
NOT_ALLOWED = "این دستور فقط برای همکاران باشگاه و در گروه کارکنان است."
NOT_YOUR_CONTACT = "این شماره مال حساب خودتان نیست"
FINISH_FIRST = "اول عضویت را کامل کنیم"
ASK_PHONE = "شمارهٔ همراهتان را با دکمهٔ پایین بفرستید"
ASK_NAME = "چه نامی برایتان در باشگاه ثبت کنیم؟"
ASK_BIRTHDAY = "تاریخ تولدتان را بنویسید"
WELCOME = "عضویت شما کامل شد"
SKIP = "رد شدن"
BAD_NAME = "نام نمی‌تواند خالی"


def words(line: str) -> list[str]:
    return line.split()


TABLES = words(
    "members ledger_entries purchases redemptions audit_entries points_lots rewards "
    "lottery_entries survey_answers campaigns referrals"
)

SARA = {
    "id": 1001,
    "is_bot": False,
    "first_name": "Sara",
    "last_name": "Ahmadi",
    "username": "sara_a",
    "language_code": "fa",
}
STRANGER = {"id": 3003, "is_bot": False, "first_name": "Kaveh", "language_code": "fa"}
STAFFER = {"id": 2002, "is_bot": False, "first_name": "Reza", "language_code": "fa"}
SARA_PHONE = "+989121234567"
STAFF_GROUP = {"id": STAFF_CHAT_ID, "type": "supergroup", "title": "Staff"}
FORGED_STAFF_PRIVATE = {"id": STAFF_CHAT_ID, "type": "private", "first_name": "Forger"}
CHANNEL = {"id": -1009876543210, "type": "channel", "title": "News"}

_ids = itertools.count(time.time_ns() // 10**6)


# --- building raw updates -------------------------------------------------------------------


def private(user: dict[str, Any]) -> dict[str, Any]:
    return {"id": user["id"], "type": "private", "first_name": user["first_name"]}


def message(
    user: dict[str, Any] | None = SARA, chat: dict[str, Any] | None = None, **content: Any
) -> dict[str, Any]:
    raw: dict[str, Any] = {"message_id": next(_ids), "date": int(time.time())}
    if chat is not None or user is not None:
        raw["chat"] = chat if chat is not None else private(user or SARA)
    if user is not None:
        raw["from"] = user
    return {**raw, **content}


def command(text_: str, user: dict[str, Any] | None = SARA, **kw: Any) -> dict[str, Any]:
    head = text_.split()[0] if text_.split() else text_
    entity = {"type": "bot_command", "offset": 0, "length": len(head)}
    return message(user, text=text_, entities=[entity], **kw)


def bot_message(chat: dict[str, Any]) -> dict[str, Any]:
    """A message the bot sent earlier: where a pressed inline button sits."""
    return {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": chat,
        "from": BOT_USER,
        "text": "…",
    }


def callback(
    data: str | None, user: dict[str, Any] = SARA, *, inline: bool = False, **extra: Any
) -> dict[str, Any]:
    query: dict[str, Any] = {"id": str(next(_ids)), "from": user, "chat_instance": "ci"}
    if data is not None:
        query["data"] = data
    if inline:
        query["inline_message_id"] = "AAAAAQ-forged"
    else:
        query["message"] = bot_message(private(user))
    return {"callback_query": {**query, **extra}}


def without(raw: dict[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k not in keys}


def sticker() -> dict[str, Any]:
    return {
        "file_id": "CAAC",
        "file_unique_id": "AgAD",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
    }


def photo() -> list[dict[str, Any]]:
    return [{"file_id": "AgAC", "file_unique_id": "AQAD", "width": 90, "height": 90}]


def contact(user_id: int | None, phone: str = "+989350001122") -> dict[str, Any]:
    raw: dict[str, Any] = {"phone_number": phone, "first_name": "Someone"}
    if user_id is not None:
        raw["user_id"] = user_id
    return raw


def poll() -> dict[str, Any]:
    return {
        "id": "5",
        "question": "?",
        "total_voter_count": 0,
        "is_closed": False,
        "is_anonymous": True,
        "type": "regular",
        "allows_multiple_answers": False,
        "allows_revoting": False,
        "members_only": False,
        "options": [{"text": "a", "voter_count": 0, "persistent_id": "o1"}],
    }


def chat_member_change(chat: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return {
        "chat": chat,
        "from": SARA,
        "date": int(time.time()),
        "old_chat_member": {"status": old, "user": BOT_USER},
        "new_chat_member": {"status": new, "user": BOT_USER, "until_date": 0},
    }


# Telegram would never send most of these; a forger or a future Bot API might.
HUGE = 100_000
HOSTILE_TEXTS = {
    "persian_100k": "س" * HUGE,
    "mixed_100k": ("سلام\u202eabc\u200b\u200c\u200d\ufeff\x07\x1b[31m" * HUGE)[:HUGE],
    "rtl_override": "\u202e۰۹۱۲۱۲۳۴۵۶۷\u202c",
    "zero_width": "\u200b\u200c\u200d\u2060\ufeff",
    "control_chars": "".join(chr(c) for c in range(1, 32)),
    "nul_and_surrogate_like": "a\x00b\ud7ff\ue000\U0010ffff",
    "html_injection": "<b>x</b><a href='tg://user?id=1'>y</a>&amp;&lt;",
    "whitespace_only": " \t\n\u3000\u00a0",
    "command_100k": "/points " + "۱" * HUGE,
    "start_payload_100k": "/start " + "ref_" + "Z" * HUGE,
}

# Callback data the bot never issued (Telegram caps data at 64 bytes; a forger need not).
NEVER_ISSUED = [
    "rw:" + "9" * 60,
    "rw:-1",
    "rw:",
    "rw:1:2:3",
    "rwok:99999999999999999999",
    "rwok:-5",
    "lot:abc",
    "mycx:0",
    "mycx:" + "1" * 19,
    "hist:99999999999999999999",
    "hist:-1",
    "hist:١٢",
    "set:lang:xx",
    "set:offers:maybe",
    "set:quiet:25-99",
    "set:",
    "sv:1:999",
    "sv:abc:1",
    "sv:99999999999999999999:1",
    "svc:1:skip",
    "svf:abc",
    "svf:1",
    "prof:set:../..",
    "prof:sec:__class__",
    "prof:set:interests:",
    "prof:set:contact:telegram:extra",
    "cmp:save",
    "radd:tier:gold",
    "radd:alloc:lottery",
    "forget:maybe",
    "rwls:extra",
    ":",
    "\u202erw:1",
    "x" * 64,
    "\x00\x01\x02" * 21 + "\x7f",
    "س" * 32,  # 64 bytes of Persian
    "🌷" * 16,
    "rw:1\n",
    "z" * 5000,
]


# --- one app, its books and its logs --------------------------------------------------------


class ErrorLog(logging.Handler):
    """Everything logged at ERROR or above, from the bot and from PTB."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def counts(club: Club) -> dict[str, int]:
    async with club.sessions() as s:
        return {t: int(await s.scalar(text(f"SELECT count(*) FROM {t}")) or 0) for t in TABLES}


async def seed(club: Club) -> None:
    """Sara is a member with points, so hostile input from her reaches deep into the handlers."""
    async with club.sessions() as s, s.begin():
        sara = (
            await members.join(
                s,
                club.rules,
                telegram_id=SARA["id"],
                name="Sara Ahmadi",
                phone=SARA_PHONE,
                username="sara_a",
            )
        ).member
        await purchases.record(s, club.rules, sara.id, 500_000, reference="SEED-1")


def parse(app: Application, raw: dict[str, Any]) -> Update:
    return Update.de_json({"update_id": next(_ids), **raw}, app.bot)


async def feed(app: Application, standin: BotApiStandin, raw: dict[str, Any]) -> list[ApiCall]:
    """Process one raw update; return every Bot API call it caused (answers included)."""
    before = len(standin.calls)
    await process(app, parse(app, raw))
    return standin.calls[before:]


def assert_no_crash(calls: list[ApiCall], errors: list[logging.LogRecord]) -> None:
    logged = [
        f"{r.name}: {r.getMessage()} {r.exc_info[1]!r}" if r.exc_info else r.getMessage()
        for r in errors
    ]
    assert not logged, logged
    for call in calls:
        shown = f"{call.params.get('text', '')}{call.params.get('caption', '')}"
        assert not any(u in shown for u in UNEXPECTED), call


async def assert_healthy(app: Application, standin: BotApiStandin, user_id: int, phone: str):
    """A newcomer can still join from scratch: the bot is alive and its conversations work."""
    newcomer = {"id": user_id, "is_bot": False, "first_name": "Nima", "language_code": "fa"}
    driver = Driver.for_member(app, standin)
    driver.as_member(newcomer)
    [ask_phone] = await driver.send("/start")
    assert ASK_PHONE in ask_phone.text
    [ask_name] = await driver.share_contact(phone)
    assert ASK_NAME in ask_name.text
    [ask_birthday] = await driver.send("Nima Rahimi")
    assert ASK_BIRTHDAY in ask_birthday.text
    [welcome] = await driver.send(SKIP)
    assert WELCOME in welcome.text
    async with app.bot_data["club"].sessions() as s:
        assert await members.by_telegram_id(s, user_id) is not None


@pytest.fixture
def errors() -> Iterator[list[logging.LogRecord]]:
    handler = ErrorLog()
    logging.getLogger().addHandler(handler)
    try:
        yield handler.records
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.fixture
async def club(bot: BotHarness) -> BotHarness:
    await seed(bot.club)
    return bot


async def expect_nothing_changes(
    bot: BotHarness, errors: list[logging.LogRecord], *raws: dict[str, Any]
) -> list[ApiCall]:
    """Feed the raws; no crash, no row added or removed; then a newcomer still joins."""
    before = await counts(bot.club)
    calls: list[ApiCall] = []
    for raw in raws:
        calls += await feed(bot.app, bot.standin, raw)
    assert_no_crash(calls, errors)
    assert await counts(bot.club) == before
    await assert_healthy(bot.app, bot.standin, 4242, "+989120004242")
    return calls


class Shared:
    """One bot and database for all examples, like a bot under a long stream of junk."""

    def __init__(self, template: Path) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.runner = asyncio.Runner()
        url = fresh_sqlite_url(template, Path(self.folder.name))
        self.standin = BotApiStandin()
        self.app = build_application(
            Settings(_env_file=None, database_url=url, staff_chat_id=STAFF_CHAT_ID),
            request=self.standin,
        )
        self.context = running(self.app)
        self.runner.run(self.context.__aenter__())
        self.runner.run(seed(self.app.bot_data["club"]))
        self.errors = ErrorLog()
        self.newcomers = itertools.count(1)

    def healthy(self) -> None:
        n = next(self.newcomers)
        self.runner.run(
            assert_healthy(self.app, self.standin, 500_000 + n, f"+98912{500_000 + n:07d}")
        )

    def process(self, update: Update) -> tuple[list[ApiCall], list[logging.LogRecord]]:
        """Process one update; the Bot API calls it caused and what was logged at ERROR."""
        sent = len(self.standin.calls)
        root = logging.getLogger()
        self.errors.records.clear()
        root.addHandler(self.errors)
        try:
            self.runner.run(process(self.app, update))
        finally:
            root.removeHandler(self.errors)
        return self.standin.calls[sent:], list(self.errors.records)

    def counts(self) -> dict[str, int]:
        return self.runner.run(counts(self.app.bot_data["club"]))

    def expect_nothing_changes(self, *raws: dict[str, Any]) -> list[ApiCall]:
        """Like :func:`expect_nothing_changes`, on the shared bot."""
        before = self.counts()
        calls: list[ApiCall] = []
        for raw in raws:
            more, errors = self.process(parse(self.app, raw))
            assert_no_crash(more, errors)
            calls += more
        assert self.counts() == before
        self.healthy()
        return calls

    def close(self) -> None:
        self.runner.run(self.context.__aexit__(None, None, None))
        self.runner.close()
        self.folder.cleanup()


_SHARED: dict[Path, Shared] = {}


def _shared(template: Path) -> Shared:
    if template not in _SHARED:
        _SHARED[template] = Shared(template)
    return _SHARED[template]


@pytest.fixture
def shared(sqlite_template: Path) -> Shared:
    return _shared(sqlite_template)


def teardown_module() -> None:
    for shared in _SHARED.values():
        shared.close()
    _SHARED.clear()


# --- explicit hostile shapes ----------------------------------------------------------------


HOSTILE_SHAPES: dict[str, dict[str, Any]] = {
    # fields missing that handlers could lean on
    "message_without_text": {"message": message()},
    "message_without_text_from_stranger": {"message": message(STRANGER)},
    "message_with_empty_text": {"message": message(text="")},
    "message_with_empty_entities": {"message": message(text="/points", entities=[])},
    "command_entity_past_the_end": {
        "message": message(
            text="/p", entities=[{"type": "bot_command", "offset": 0, "length": 500}]
        )
    },
    "command_entity_not_at_start": {
        "message": message(
            text="hi /points", entities=[{"type": "bot_command", "offset": 3, "length": 7}]
        )
    },
    "group_message_without_from": {"message": message(None, STAFF_GROUP, text="/purchase #1 9")},
    "group_command_without_from": {
        "message": without(command("/award #1 50 x", STAFFER, chat=STAFF_GROUP), "from")
    },
    "callback_without_from": {
        "callback_query": without(callback("rw:1")["callback_query"], "from")
    },
    "callback_inaccessible_message": {
        "callback_query": {
            **callback("hist:0")["callback_query"],
            "message": {"message_id": 1, "date": 0, "chat": private(SARA)},
        }
    },
    # unknown and unusual update types
    "empty_update": {},
    "future_update_type": {"quantum_message": {"id": 1, "nested": [{"x": [None, 1.5]}]}},
    "poll": {"poll": poll()},
    "poll_answer": {
        "poll_answer": {
            "poll_id": "5",
            "user": SARA,
            "option_ids": [0],
            "option_persistent_ids": ["o1"],
        }
    },
    "chat_join_request": {
        "chat_join_request": {
            "chat": STAFF_GROUP,
            "from": STRANGER,
            "user_chat_id": STRANGER["id"],
            "date": int(time.time()),
            "bio": "\u202e" * 70,
        }
    },
    "my_chat_member_blocked": {
        "my_chat_member": chat_member_change(private(SARA), "member", "kicked")
    },
    "my_chat_member_in_staff_group": {
        "my_chat_member": chat_member_change(STAFF_GROUP, "left", "member")
    },
    "chat_member": {"chat_member": chat_member_change(STAFF_GROUP, "member", "left")},
    "edited_message_start": {"edited_message": {**command("/start"), "edit_date": 1}},
    "edited_message_from_stranger": {
        "edited_message": {**command("/start", STRANGER), "edit_date": 1}
    },
    "edited_message_text": {"edited_message": {**message(text="سلام"), "edit_date": 1}},
    "channel_post_command": {
        "channel_post": without(command("/purchase #1 100000", chat=CHANNEL), "from")
    },
    "channel_post_with_staff_chat_id": {
        "channel_post": without(
            command("/award #1 50 x", chat={**CHANNEL, "id": STAFF_CHAT_ID}), "from"
        )
    },
    "edited_channel_post": {
        "edited_channel_post": {**without(message(text="x", chat=CHANNEL), "from"), "edit_date": 1}
    },
    "inline_query": {
        "inline_query": {"id": "1", "from": SARA, "query": "'; DROP TABLE members", "offset": ""}
    },
    "chosen_inline_result": {
        "chosen_inline_result": {"result_id": "1", "from": SARA, "query": "x"}
    },
    "message_reaction": {
        "message_reaction": {
            "chat": private(SARA),
            "message_id": 1,
            "date": 1,
            "user": SARA,
            "old_reaction": [],
            "new_reaction": [{"type": "emoji", "emoji": "👍"}],
        }
    },
    "shipping_query": {
        "shipping_query": {
            "id": "1",
            "from": SARA,
            "invoice_payload": "x",
            "shipping_address": {
                "country_code": "IR",
                "state": "",
                "city": "Tehran",
                "street_line1": "",
                "street_line2": "",
                "post_code": "",
            },
        }
    },
    "pre_checkout_query": {
        "pre_checkout_query": {
            "id": "1",
            "from": SARA,
            "currency": "XTR",
            "total_amount": 1,
            "invoice_payload": "x",
        }
    },
    "group_message_in_other_group": {
        "message": message(STRANGER, {"id": -42, "type": "group", "title": "g"}, text="/points")
    },
    # commands addressed to another bot
    "points_at_other_bot": {"message": command("/points@other_bot")},
    "start_at_other_bot_from_stranger": {"message": command("/start@other_bot", STRANGER)},
    "staff_command_at_other_bot": {
        "message": command("/award@other_bot #1 50 x", STAFFER, chat=STAFF_GROUP)
    },
    "unknown_command_with_our_mention": {"message": command("/drop_tables@bashgah_demo_bot")},
    # forged staff chat ids in private chats (Telegram never does this)
    "forged_private_staff_chat_award": {
        "message": command("/award #1 5000 forged", STRANGER, chat=FORGED_STAFF_PRIVATE)
    },
    "forged_private_staff_chat_purchase": {
        "message": command("/purchase #1 100000 FORGED-1", SARA, chat=FORGED_STAFF_PRIVATE)
    },
    "forged_private_staff_chat_erase": {
        "message": command("/erase #1", STRANGER, chat=FORGED_STAFF_PRIVATE)
    },
    "forged_private_staff_chat_confirm": {
        "message": command("/confirm ABC-123", STRANGER, chat=FORGED_STAFF_PRIVATE)
    },
    "staff_command_in_private_chat": {"message": command("/award #1 5000 x", SARA)},
    "staff_command_from_stranger_in_staff_group": {
        "message": command("/purchase #1 100000 X-9", STRANGER, chat=STAFF_GROUP)
    },
    "anonymous_admin_in_staff_group": {
        "message": command(
            "/award #1 50 x",
            {"id": 1087968824, "is_bot": True, "first_name": "Group"},
            chat=STAFF_GROUP,
            sender_chat=STAFF_GROUP,
        )
    },
    "staff_button_pressed_by_member": {
        "callback_query": {
            **callback("svf:1")["callback_query"],
            "message": bot_message(STAFF_GROUP),
        }
    },
    # contacts that are not the sender's own, outside a conversation
    "contact_of_someone_else": {"message": message(contact=contact(STRANGER["id"]))},
    "contact_without_user_id": {"message": message(contact=contact(None))},
    "contact_with_sara_phone_from_stranger": {
        "message": message(STRANGER, contact=contact(SARA["id"], SARA_PHONE))
    },
    # media a member might send instead of words
    "sticker": {"message": message(sticker=sticker())},
    "photo_with_command_caption": {
        "message": message(
            photo=photo(),
            caption="/points",
            caption_entities=[{"type": "bot_command", "offset": 0, "length": 7}],
        )
    },
    "location": {"message": message(location={"latitude": 35.7, "longitude": 51.4})},
    "dice": {"message": message(dice={"emoji": "🎲", "value": 6})},
    "service_message_new_members": {
        "message": message(STRANGER, STAFF_GROUP, new_chat_members=[STRANGER])
    },
    "unknown_message_content": {"message": message(hologram={"depth": [1, {"a": None}]})},
}


# Shapes ``Update.de_json`` refuses: PTB drops them before any handler could run.
REFUSED_BY_PTB: dict[str, dict[str, Any]] = {
    "message_without_date": {"message": without(command("/points"), "date")},
    "message_without_message_id": {"message": without(command("/points"), "message_id")},
    "poll_without_allows_revoting": {"poll": without(poll(), "allows_revoting")},
    "poll_option_without_persistent_id": {
        "poll": {**poll(), "options": [{"text": "a", "voter_count": 0}]}
    },
    "callback_without_id": {"callback_query": without(callback("rw:1")["callback_query"], "id")},
}


@pytest.mark.parametrize("raw", REFUSED_BY_PTB.values(), ids=REFUSED_BY_PTB.keys())
def test_shapes_ptb_refuses_never_reach_a_handler(shared: Shared, raw: dict[str, Any]) -> None:
    with pytest.raises((TypeError, KeyError, ValueError)):
        parse(shared.app, raw)


@pytest.mark.parametrize("raw", HOSTILE_SHAPES.values(), ids=HOSTILE_SHAPES.keys())
def test_a_hostile_shape_crashes_nothing_and_changes_nothing(
    shared: Shared, raw: dict[str, Any]
) -> None:
    shared.expect_nothing_changes(raw)


@pytest.mark.parametrize("name", HOSTILE_TEXTS.keys())
@pytest.mark.parametrize("who", ["member", "stranger"])
def test_a_hostile_text_crashes_nothing_and_changes_nothing(
    shared: Shared, name: str, who: str
) -> None:
    user = SARA if who == "member" else STRANGER
    hostile = HOSTILE_TEXTS[name]
    raw = command(hostile, user) if hostile.startswith("/") else message(user, text=hostile)
    calls = shared.expect_nothing_changes({"message": raw})
    assert all(len(c.params.get("text", "")) <= 4096 for c in calls), "a reply Telegram refuses"


@pytest.mark.parametrize("step", ["phone", "name", "birthday"])
@pytest.mark.parametrize("name", ["persian_100k", "mixed_100k", "zero_width", "control_chars"])
async def test_hostile_texts_in_the_middle_of_joining_are_refused_and_joining_goes_on(
    club: BotHarness, errors: list[logging.LogRecord], step: str, name: str
) -> None:
    driver = club.chat
    driver.as_member(STRANGER)
    await driver.send("/start")
    if step in ("name", "birthday"):
        await driver.share_contact("+989350003003")
    if step == "birthday":
        await driver.send("Kaveh")
    before = await counts(club.club)
    calls = await feed(
        club.app, club.standin, {"message": message(STRANGER, text=HOSTILE_TEXTS[name])}
    )
    assert_no_crash(calls, errors)
    assert await counts(club.club) == before
    assert [c.method for c in calls] == ["sendMessage"], "one refusal, in words"
    # and the stranger can still finish
    if step == "phone":
        await driver.share_contact("+989350003003")
    if step in ("phone", "name"):
        await driver.send("Kaveh")
    [welcome] = await driver.send(SKIP)
    assert WELCOME in welcome.text


@pytest.mark.parametrize("data", NEVER_ISSUED)
@pytest.mark.parametrize("who", ["member", "stranger"])
def test_callback_data_never_issued_changes_nothing(shared: Shared, data: str, who: str) -> None:
    user = SARA if who == "member" else STRANGER
    calls = shared.expect_nothing_changes(callback(data, user))
    assert not [c for c in calls if c.method == "sendMessage"], "an answer, not a new message"


@pytest.mark.parametrize(
    "data",
    [d for d in NEVER_ISSUED if not d.startswith("rwok:")] + ["hist:0", "rwls", "set:lang:en"],
)
def test_a_button_on_an_inline_message_changes_nothing(shared: Shared, data: str) -> None:
    """Callback queries without a message: the bot never sends inline-mode messages, so these
    buttons were never issued; the handlers must not lean on ``query.message``."""
    shared.expect_nothing_changes(callback(data, inline=True))


@pytest.mark.parametrize(
    "data", ["", "rw:1", "hist:0", "svf:1", "set:lang:fa", "prof:city", "forget:yes", "zz"]
)
def test_a_game_button_changes_nothing(shared: Shared, data: str) -> None:
    """A game callback (``game_short_name``, no data) reaches no handler with a data pattern."""
    raw = callback(None, game_short_name=data or "g")
    calls = shared.expect_nothing_changes(raw)
    assert [c.method for c in calls if c.method != "answerCallbackQuery"] == []


async def test_a_forged_private_staff_chat_is_dropped_before_any_handler(
    club: BotHarness, errors: list[logging.LogRecord]
) -> None:
    """A private chat whose id equals the staff group's is not the sender's own chat: Telegram
    never sends that, so the guard drops it; no handler runs and nothing is asked or answered."""
    raw = {"message": command("/award #1 5000 forged", STRANGER, chat=FORGED_STAFF_PRIVATE)}
    calls = await expect_nothing_changes(club, errors, raw)
    assert [c.method for c in calls] == []


async def test_the_same_forger_stays_dropped(
    club: BotHarness, errors: list[logging.LogRecord]
) -> None:
    raws = [
        {"message": command(f"/award #1 {n} forged", STRANGER, chat=FORGED_STAFF_PRIVATE)}
        for n in (1, 2, 3)
    ]
    calls = await expect_nothing_changes(club, errors, *raws)
    assert [c.method for c in calls] == []


async def test_a_real_staff_member_still_works_after_the_forgeries(
    club: BotHarness, errors: list[logging.LogRecord]
) -> None:
    club.standin.chat_member_status[(STAFF_CHAT_ID, STAFFER["id"])] = "member"
    for raw in HOSTILE_SHAPES.values():
        assert_no_crash(await feed(club.app, club.standin, raw), errors)
    before = await counts(club.club)
    calls = await feed(
        club.app,
        club.standin,
        {"message": command("/purchase #1 100000 REAL-1", STAFFER, chat=STAFF_GROUP)},
    )
    assert_no_crash(calls, errors)
    after = await counts(club.club)
    assert after["purchases"] == before["purchases"] + 1
    assert after["audit_entries"] == before["audit_entries"] + 1


@pytest.mark.parametrize(
    "media",
    [
        {"sticker": sticker()},
        {"photo": photo()},
        {"photo": photo(), "caption": "۰۹۱۲۱۲۳۴۵۶۷"},
        {"contact": contact(SARA["id"], "+989121234567")},
        {"contact": contact(None)},
        {"location": {"latitude": 1.0, "longitude": 2.0}},
        {"voice": {"file_id": "v", "file_unique_id": "v", "duration": 1}},
    ],
    ids=[
        "sticker",
        "photo",
        "photo_with_phone_caption",
        "contact_of_sara",
        "contact_no_user",
        "location",
        "voice",
    ],
)
@pytest.mark.parametrize("step", ["phone", "name", "birthday"])
async def test_media_in_the_middle_of_joining_gets_words_and_joining_goes_on(
    club: BotHarness, errors: list[logging.LogRecord], media: dict[str, Any], step: str
) -> None:
    driver = club.chat
    driver.as_member(STRANGER)
    await driver.send("/start")
    if step in ("name", "birthday"):
        await driver.share_contact("+989350003003")
    if step == "birthday":
        await driver.send("Kaveh")
    before = await counts(club.club)
    calls = await feed(club.app, club.standin, {"message": message(STRANGER, **media)})
    assert_no_crash(calls, errors)
    assert await counts(club.club) == before
    [reply] = [c for c in calls if c.method == "sendMessage"]
    assert FINISH_FIRST in reply.text or NOT_YOUR_CONTACT in reply.text, reply.text


async def test_someone_elses_contact_while_joining_is_refused(
    club: BotHarness, errors: list[logging.LogRecord]
) -> None:
    driver = club.chat
    driver.as_member(STRANGER)
    await driver.send("/start")
    before = await counts(club.club)
    for owner in (SARA["id"], 0, -1, 10**15, STAFF_CHAT_ID):
        calls = await feed(
            club.app,
            club.standin,
            {"message": message(STRANGER, contact=contact(owner, "+989350003003"))},
        )
        assert_no_crash(calls, errors)
        [reply] = calls
        assert NOT_YOUR_CONTACT in reply.text
    assert await counts(club.club) == before


@pytest.mark.parametrize("mention", ["@other_bot", "@", "@bashgah_demo_bot_x", "@BASHGAH"])
def test_start_addressed_to_another_bot_does_not_begin_joining(
    shared: Shared, mention: str
) -> None:
    calls = shared.expect_nothing_changes({"message": command(f"/start{mention}", STRANGER)})
    assert not any(ASK_PHONE in c.text for c in calls)


def test_points_addressed_to_this_bot_by_name_still_answers(shared: Shared) -> None:
    calls = shared.expect_nothing_changes({"message": command("/points@bashgah_demo_bot")})
    assert len([c for c in calls if c.method == "sendMessage"]) == 1


async def test_buttons_naming_what_is_not_yours_change_nothing(
    club: BotHarness, errors: list[logging.LogRecord]
) -> None:
    """Real ids in forged presses: a gold-only reward for bronze Sara, another member's code."""
    async with club.club.sessions() as s, s.begin():
        rules = club.club.rules
        gold = await rewards.create(s, rules, title="Gold", cost=10, stock=5, min_tier="gold")
        lottery = await rewards.create(
            s, rules, title="Draw", cost=10, stock=1, min_tier="gold", allocation="lottery"
        )
        open_ = await rewards.create(s, rules, title="Tea", cost=10, stock=5)
        other = (
            await members.join(s, rules, telegram_id=7007, name="Omid", phone="+989350007007")
        ).member
        await purchases.record(s, rules, other.id, 500_000, reference="SEED-2")
        code = await redemptions.redeem(s, rules, other.id, open_.id, request_key="seed")
    presses = [f"rw:{gold.id}", f"rwok:{gold.id}", f"lot:{lottery.id}", f"mycx:{code.id}"]
    calls = await expect_nothing_changes(club, errors, *(callback(d) for d in presses))
    assert [c.method for c in calls] == ["answerCallbackQuery"] * len(presses)
    assert all(c.params.get("show_alert") for c in calls), "each refusal is an alert, in words"


# --- bugs found, now fixed ------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [without(command("/start"), "from"), without(message(text="سلام"), "from")],
    ids=["command", "text"],
)
async def test_bug_a_private_message_without_from_is_dropped_quietly(
    club: BotHarness, errors: list[logging.LogRecord], raw: dict[str, Any]
) -> None:
    await expect_nothing_changes(club, errors, {"message": raw})


@pytest.mark.parametrize(
    "raw",
    [
        {"message": without(message(text="hi"), "chat")},
        {
            "callback_query": {
                **callback("hist:1")["callback_query"],
                "message": without(bot_message(private(SARA)), "chat"),
            }
        },
    ],
    ids=["message", "callback_message"],
)
async def test_bug_a_message_without_chat_is_dropped_quietly(
    club: BotHarness, errors: list[logging.LogRecord], raw: dict[str, Any]
) -> None:
    await expect_nothing_changes(club, errors, raw)


async def test_bug_a_redeem_button_on_an_inline_message_is_refused_in_words(
    club: BotHarness, errors: list[logging.LogRecord]
) -> None:
    await expect_nothing_changes(club, errors, callback("rwok:1", inline=True))


async def test_bug_a_button_without_data_opens_nothing(
    club: BotHarness, errors: list[logging.LogRecord]
) -> None:
    calls = await expect_nothing_changes(club, errors, callback(None))
    assert [c.method for c in calls if c.method == "sendMessage"] == []


def _staff(bot: BotHarness) -> None:
    bot.standin.chat_member_status[(STAFF_CHAT_ID, STAFFER["id"])] = "member"


@pytest.mark.parametrize("kind", ["message", "edited_message"])
async def test_bug_the_same_message_with_another_amount_is_answered_in_words(
    club: BotHarness, errors: list[logging.LogRecord], kind: str
) -> None:
    """The /award's message id is its idempotency key: the same message arriving again (or
    edited) with another amount is a conflict, which staff should be told about in words."""
    _staff(club)
    award = command("/award #1 50 gift", STAFFER, chat=STAFF_GROUP)
    await feed(club.app, club.standin, {"message": award})
    before = await counts(club.club)
    changed = {**award, "text": "/award #1 60 gift", "edit_date": int(time.time())}
    calls = await feed(club.app, club.standin, {kind: changed})
    assert_no_crash(calls, errors)
    assert await counts(club.club) == before
    answered = [c.params["chat_id"] for c in calls if c.method == "sendMessage"]
    # A new delivery of the message is answered; an edit of an old message is dropped unread.
    assert answered == ([STAFF_CHAT_ID] if kind == "message" else [])


async def test_bug_a_redelivered_award_is_audited_and_told_once(
    club: BotHarness, errors: list[logging.LogRecord]
) -> None:
    _staff(club)
    raw = {
        "update_id": next(_ids),
        "message": command("/award #1 50 gift", STAFFER, chat=STAFF_GROUP),
    }
    await process(club.app, Update.de_json(raw, club.app.bot))
    before = await counts(club.club)
    sent = len(club.standin.calls)
    await process(club.app, Update.de_json(raw, club.app.bot))  # the same update again
    assert_no_crash(club.standin.calls[sent:], errors)
    assert await counts(club.club) == before
    told = [c for c in club.standin.calls[sent:] if c.params.get("chat_id") == SARA["id"]]
    assert told == []


async def test_bug_editing_a_purchase_command_does_not_record_a_second_purchase(
    club: BotHarness, errors: list[logging.LogRecord]
) -> None:
    _staff(club)
    purchase = command("/purchase #1 100000 INV-1", STAFFER, chat=STAFF_GROUP)
    await feed(club.app, club.standin, {"message": purchase})
    edited = {**purchase, "text": "/purchase #1 100000 INV-2", "edit_date": int(time.time())}
    await expect_nothing_changes(club, errors, {"edited_message": edited})


@pytest.mark.parametrize("user_id", [2**63, 10**20])
async def test_bug_a_user_id_beyond_64_bits_is_dropped_quietly(
    club: BotHarness, errors: list[logging.LogRecord], user_id: int
) -> None:
    forger = {"id": user_id, "is_bot": False, "first_name": "Forger"}
    await expect_nothing_changes(club, errors, {"message": command("/points", forger)})


@pytest.mark.parametrize("data", ["zz", "rwls:extra", "x" * 64, "\u202erw:1"])
async def test_bug_a_button_nobody_handles_is_answered_as_stale(
    club: BotHarness, errors: list[logging.LogRecord], data: str
) -> None:
    calls = await expect_nothing_changes(club, errors, callback(data))
    assert [c.method for c in calls] == ["answerCallbackQuery"]


@pytest.mark.parametrize(
    "invisible",
    ["\u200b\u200c\u200d\u2060\ufeff", "\u202e\u202c\u2066\u2069", "\x01\x02\x07\x1b\x7f"],
    ids=["zero_width", "bidi_controls", "control_chars"],
)
async def test_bug_an_invisible_name_is_refused_while_joining(
    club: BotHarness, errors: list[logging.LogRecord], invisible: str
) -> None:
    driver = club.chat
    driver.as_member(STRANGER)
    await driver.send("/start")
    await driver.share_contact("+989350003003")
    calls = await feed(club.app, club.standin, {"message": message(STRANGER, text=invisible)})
    assert_no_crash(calls, errors)
    [reply] = calls
    assert BAD_NAME in reply.text, reply.text


# --- the fuzz -------------------------------------------------------------------------------

HOSTILE_ALPHABET = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(
        list("سلامپچژگ۰۱۲۳۴۵۶۷۸۹٠١٢٣\u202e\u202d\u200f\u200e\u200b\u200c\u200d\ufeff\u2066")
        + list("\u2069\x00\x1b\n<>&/@:")
    ),
)
COMMANDS = words(
    "start cancel points balance history rewards myrewards invite card help settings forget "
    "profile purchase refund award deduct confirm member audit erase nps ces csat campaign_new "
    "reward_add segment campaigns export draw nope"
)
MENU_LABELS = ["امتیاز من", "جایزه‌ها", "راهنما", "تنظیمات", "پروفایل", "رد شدن"]
TEXTS = st.one_of(
    st.text(HOSTILE_ALPHABET, max_size=80),
    st.builds(
        lambda unit, n: (unit * n)[:HUGE],
        st.sampled_from(["س", "\u202e۱", "\u200b\u200c", "a\x00", "🌷", "<b>", "/", "ref_"]),
        st.integers(1, HUGE),
    ),
    st.builds(
        lambda c, mention, tail: f"/{c}{mention} {tail}".rstrip(),
        st.sampled_from(COMMANDS),
        st.sampled_from(["", "", "@other_bot", "@bashgah_demo_bot", "@"]),
        st.text(HOSTILE_ALPHABET, max_size=30),
    ),
    st.sampled_from(MENU_LABELS),
)
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
KINDS = words("rw rwok rwls lot mycx hist set prof sv svc svf forget cmp radd")
WORDS = words("lang offers quiet sec set city menu fa en xx on off skip save .. 0 1")
PREFIXED_DATA = st.builds(
    lambda kind, args: ":".join([kind, *args]),
    st.sampled_from(KINDS),
    st.lists(
        st.one_of(
            st.integers(-(10**30), 10**30).map(str),
            st.sampled_from([*WORDS, ""]),
            st.text(HOSTILE_ALPHABET, max_size=8),
        ),
        min_size=1,
        max_size=4,
    ),
)
CALLBACK_DATA = st.one_of(
    PREFIXED_DATA,
    PREFIXED_DATA,
    st.text(HOSTILE_ALPHABET, min_size=1, max_size=64),
    st.binary(min_size=1, max_size=64).map(lambda b: b.decode("utf-8", "replace")),
)
USERS = st.builds(
    lambda base, changes: {**base, **changes},
    st.sampled_from([SARA, STRANGER, STAFFER]),
    st.fixed_dictionaries(
        {},
        optional={
            "language_code": st.sampled_from(["en", "fa", "xx", "", "EN-us", "ar", "x" * 300]),
            "first_name": st.text(HOSTILE_ALPHABET, max_size=70),
            "last_name": st.text(HOSTILE_ALPHABET, max_size=70),
            "username": st.text(HOSTILE_ALPHABET, max_size=40),
            "is_bot": st.booleans(),
            "id": st.sampled_from([0, -1, 777, 2**52 - 1, 2**63, 10**20, BOT_USER["id"]]),
        },
    ),
)
CHATS = st.sampled_from(["private", "private", "private", "staff", "forged_staff", "group"])


def _chat(kind: str, user: dict[str, Any]) -> dict[str, Any]:
    return {
        "private": private(user),
        "staff": STAFF_GROUP,
        "forged_staff": FORGED_STAFF_PRIVATE,
        "group": {"id": -77, "type": "group", "title": "g"},
    }[kind]


@st.composite
def message_payloads(draw: st.DrawFn) -> dict[str, Any]:
    user = draw(USERS)
    chat = _chat(draw(CHATS), user)
    content = draw(
        st.one_of(
            TEXTS.map(lambda t: {"text": t}),
            TEXTS.map(
                lambda t: {
                    "text": t,
                    "entities": [
                        {"type": "bot_command", "offset": 0, "length": len(t.split(" ")[0])}
                    ],
                }
            ),
            st.fixed_dictionaries(
                {
                    "contact": st.builds(
                        contact,
                        st.sampled_from([None, -7, 999_999_999]),  # never the sender's own
                        st.sampled_from([SARA_PHONE, "+989350001122", "۰۹۳۵۰۰۰۱۱۲۲", "0", "+"]),
                    )
                }
            ),
            st.just({"sticker": sticker()}),
            TEXTS.map(lambda t: {"photo": photo(), "caption": t}),
            st.just({}),
        )
    )
    raw = message(user, chat, **content)
    drops = [(), (), (), ("entities",), ("text",), ("text", "entities"), ("date",), ("from",)]
    dropped = draw(st.sampled_from([*drops, ("chat",)]))
    return without(raw, *dropped)


@st.composite
def callback_payloads(draw: st.DrawFn) -> dict[str, Any]:
    user = draw(USERS)
    query = callback(draw(st.none() | CALLBACK_DATA), user, inline=draw(st.booleans()))
    return query["callback_query"]


def with_junk(strategy: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Fields Telegram might add one day, with nested junk: PTB keeps them as api_kwargs."""
    return st.builds(
        lambda raw, extra: {**extra, **raw},
        strategy,
        st.dictionaries(
            st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12), JUNK, max_size=2
        ),
    )


MESSAGE_UPDATES = st.one_of(
    with_junk(message_payloads()).map(lambda m: {"message": m}),
    with_junk(message_payloads()).map(lambda m: {"edited_message": {**m, "edit_date": 1}}),
    with_junk(message_payloads()).map(lambda m: {"business_message": m}),
)
CALLBACK_UPDATES = with_junk(callback_payloads()).map(lambda q: {"callback_query": q})
OTHER_UPDATES = st.one_of(
    with_junk(message_payloads()).map(
        lambda m: {"channel_post": {**without(m, "from"), "chat": CHANNEL}}
    ),
    st.sampled_from(
        [
            {"poll": poll()},
            {"my_chat_member": chat_member_change(private(SARA), "member", "kicked")},
            {"my_chat_member": chat_member_change(STAFF_GROUP, "left", "administrator")},
            {"chat_member": chat_member_change(STAFF_GROUP, "member", "left")},
            {
                "chat_join_request": {
                    "chat": STAFF_GROUP,
                    "from": STRANGER,
                    "user_chat_id": STRANGER["id"],
                    "date": 1,
                }
            },
        ]
    ),
    st.dictionaries(
        st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=16), JUNK, max_size=2
    ),
    st.builds(
        lambda kind, junk: {kind: junk},
        st.sampled_from(words("message callback_query poll my_chat_member inline_query")),
        st.dictionaries(st.text(max_size=8), JUNK, max_size=3),
    ),
)


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))


def check(template: Path, raws: list[dict[str, Any]]) -> None:
    """Feed the raws PTB accepts, one by one, to the shared bot; after each: no crash, the same
    row counts; every 20th example a newcomer joins from scratch."""
    shared = _shared(template)
    updates = []
    for raw in raws:
        try:
            updates.append(parse(shared.app, raw))
        except Exception:  # PTB refuses it before any handler would see it
            event("refused by Update.de_json")
            continue
    if not updates:
        reject()
    for update in updates:
        before = shared.counts()
        calls, errors = shared.process(update)
        kind = next((k for k, v in update.to_dict().items() if k != "update_id" and v), "none")
        event(f"{kind}: {'answered' if calls else 'silent'}")
        assert_no_crash(calls, errors)
        assert shared.counts() == before, update.to_dict()
    if next(shared.newcomers) % 20 == 1:  # now and then a full join: still healthy after the junk
        shared.healthy()


@FUZZ
@given(raws=st.lists(MESSAGE_UPDATES, min_size=1, max_size=3))
def test_fuzzed_messages_never_crash_or_change_the_books(
    sqlite_template: Path, raws: list[dict[str, Any]]
) -> None:
    check(sqlite_template, raws)


@FUZZ
@given(raws=st.lists(CALLBACK_UPDATES, min_size=1, max_size=3))
def test_fuzzed_button_presses_never_crash_or_change_the_books(
    sqlite_template: Path, raws: list[dict[str, Any]]
) -> None:
    check(sqlite_template, raws)


@settings(FUZZ, max_examples=100)
@given(raw=OTHER_UPDATES)
def test_fuzzed_other_update_types_never_crash_or_change_the_books(
    sqlite_template: Path, raw: dict[str, Any]
) -> None:
    check(sqlite_template, [raw])
