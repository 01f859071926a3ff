"""Typed callback data (:mod:`bot.callbacks`): today's wire format keeps working, and forged data
of every kind is answered as stale before any handler runs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from sqlalchemy import select
from telegram import InlineKeyboardMarkup

from bot import callbacks
from bot.callbacks import Int, Kind, Word
from bot.shell import MEMBER
from core import outbox, rewards
from core.models import Delivery
from tests.conftest import BotHarness
from tests.helpers import join_user

STALE = "این دکمه دیگر معتبر نیست."

# Data exactly as this version's predecessors wrote it into messages and outbox rows (version 1).
STORED_TODAY = {
    "hist:2": (callbacks.HISTORY, (2,)),
    "rwls": (callbacks.CATALOGUE, ()),
    "rw:7": (callbacks.REWARD, (7,)),
    "rwok:7": (callbacks.REDEEM, (7,)),
    "lot:7": (callbacks.LOTTERY, (7,)),
    "mycx:3": (callbacks.CANCEL_CODE, (3,)),
    "pcf:1": (callbacks.CONFIRM_PURCHASE, (1,)),
    "pcx:1": (callbacks.CANCEL_PURCHASE, (1,)),
    "set:quiet:22-8": (callbacks.SETTING, ("quiet", "22-8")),
    "forget:yes": (callbacks.FORGET, ("yes",)),
    "sv:12:0": (callbacks.SURVEY_SCORE, (12, 0)),
    "svc:5:skip": (callbacks.SURVEY_SKIP, (5, "skip")),
    "svf:5": (callbacks.SURVEY_FOLLOW_UP, (5,)),
    "radd:tier:-": (callbacks.REWARD_TIER, ("-",)),
    "radd:alloc:lottery": (callbacks.REWARD_ALLOCATION, ("lottery",)),
    "cmp:drop": (callbacks.CAMPAIGN, ("drop",)),
    "prof:menu": (callbacks.PROFILE_MENU, ()),
    "prof:sec:interests": (callbacks.PROFILE_SECTION, ("interests",)),
    "prof:set:contact:telegram": (callbacks.PROFILE_CHOICE, ("contact", "telegram")),
    "prof:phone": (callbacks.PROFILE_PHONE, ()),
    "prof:city": (callbacks.PROFILE_CITY, ()),
    "imp:a1b2c3d4": (callbacks.IMPORT_APPLY, ("a1b2c3d4",)),
    "dcf:4": (callbacks.CONFIRM_DRAW, (4,)),
    "dcx:4": (callbacks.CANCEL_DRAW, (4,)),
}

# Data no version of the bot issued, at least one per kind: out of range, malformed, extra parts.
FORGED = {
    callbacks.HISTORY: ["hist:999999999999999999", "hist:10001", "hist:-1", "hist:١٢", "hist:"],
    callbacks.CATALOGUE: ["rwls:1"],
    callbacks.REWARD: ["rw:0", "rw:9223372036854775808", "rw:+1", "rw:1:2"],
    callbacks.REDEEM: ["rwok:99999999999999999999"],
    callbacks.LOTTERY: ["lot:1e3"],
    callbacks.CANCEL_CODE: ["mycx:0x1"],
    callbacks.CONFIRM_PURCHASE: ["pcf:9223372036854775808"],
    callbacks.CANCEL_PURCHASE: ["pcx:0"],
    callbacks.SETTING: ["set:bogus:1", "set:lang:", "set:lang:a b"],
    callbacks.FORGET: ["forget:maybe"],
    callbacks.SURVEY_SCORE: ["sv:1:11", "sv:0:1", "sv:1"],
    callbacks.SURVEY_SKIP: ["svc:1:later"],
    callbacks.SURVEY_FOLLOW_UP: ["svf:-1"],
    callbacks.REWARD_TIER: ["radd:tier:" + "g" * 33, "radd:tier:a:b"],
    callbacks.REWARD_ALLOCATION: ["radd:alloc:"],
    callbacks.CAMPAIGN: ["cmp:publish"],
    callbacks.PROFILE_MENU: ["prof:menu:1"],
    callbacks.PROFILE_SECTION: ["prof:sec:", "prof:sec:سن"],
    callbacks.PROFILE_CHOICE: ["prof:set:interests"],
    callbacks.PROFILE_PHONE: ["prof:phone:x"],
    callbacks.PROFILE_CITY: ["prof:city:x"],
    callbacks.IMPORT_APPLY: ["imp:", "imp:a:b", "imp:a b"],
    callbacks.CONFIRM_DRAW: ["dcf:0", "dcf:4:seed"],
    callbacks.CANCEL_DRAW: ["dcx:x"],
}
ALL_FORGED = [data for datas in FORGED.values() for data in datas]


@pytest.mark.parametrize("data", STORED_TODAY)
def test_data_stored_today_parses_as_its_kind(data: str) -> None:
    kind, values = STORED_TODAY[data]
    assert callbacks.parse(data) == (kind, values)
    assert kind.pack(*values) == data  # and is what the bot writes now


def test_every_kind_has_stored_and_forged_examples() -> None:
    assert {kind for kind, _ in STORED_TODAY.values()} == set(callbacks.KINDS)
    assert set(FORGED) == set(callbacks.KINDS)


@pytest.mark.parametrize("data", ALL_FORGED)
def test_forged_data_parses_as_nothing(data: str) -> None:
    assert callbacks.parse(data) is None


def test_packing_what_the_parser_would_refuse_is_a_bug() -> None:
    with pytest.raises(ValueError):
        callbacks.HISTORY.pack(10_001)


def _field_values(field: Int | Word) -> st.SearchStrategy[Any]:
    if isinstance(field, Int):
        return st.integers(field.lo, field.hi)
    if field.choices is not None:
        return st.sampled_from(sorted(field.choices))
    return st.from_regex(r"[!-9;-~]{1,32}", fullmatch=True)


@st.composite
def packed(draw: st.DrawFn) -> tuple[Kind, tuple[Any, ...]]:
    kind = draw(st.sampled_from(callbacks.KINDS))
    return kind, tuple(draw(_field_values(f)) for f in kind.fields)


@given(packed())
def test_what_is_packed_parses_back_to_the_same_kind_and_values(case: tuple[Kind, tuple]) -> None:
    kind, values = case
    assume(len(":".join([kind.prefix, *map(str, values)])) <= callbacks.MAX_BYTES)
    data = kind.pack(*values)
    assert callbacks.parse(data) == (kind, values)


# --- through the real application ----------------------------------------------------------


def _message_with(bot: BotHarness, markup: dict[str, Any]) -> dict[str, Any]:
    message = dict(bot.chat.last_bot_message())
    message["reply_markup"] = markup
    return message


async def test_a_button_queued_in_the_outbox_before_the_upgrade_reaches_its_handler(
    bot: BotHarness,
) -> None:
    """A campaign offer written to the outbox by the previous version, markup as it was stored,
    is sent after the upgrade; pressing it opens the reward."""
    member = await join_user(bot.club.sessions, bot.club.rules, MEMBER, "09121234567")
    async with bot.club.sessions() as s, s.begin():
        reward = await rewards.create(s, bot.club.rules, title="Coffee", cost=300)
        button = {"text": "Coffee", "callback_data": f"rw:{reward.id}"}
        await outbox.enqueue(
            s, chat_id=MEMBER["id"], kind="campaign", dedupe_key="before-upgrade",
            text="An offer", member_id=member.id, reply_markup={"inline_keyboard": [[button]]},
        )  # fmt: skip
    async with bot.club.sessions() as s:
        [delivery] = await s.scalars(
            select(Delivery).where(Delivery.dedupe_key == "before-upgrade")
        )
    sent = await bot.app.bot.send_message(
        delivery.chat_id,
        delivery.text,
        reply_markup=InlineKeyboardMarkup.de_json(delivery.reply_markup, bot.app.bot),
    )

    before = len(bot.standin.calls)

    await bot.chat.press(1, message=bot.standin.messages[sent.message_id])

    calls = bot.standin.calls[before:]
    assert [c.method for c in calls] == ["answerCallbackQuery", "editMessageText"]
    assert "text" not in calls[0].params  # answered by the reward handler, not as stale
    assert "Coffee" in calls[1].text


@pytest.mark.parametrize("data", ALL_FORGED)
async def test_forged_data_is_answered_as_stale_and_reaches_no_handler(
    bot: BotHarness, data: str
) -> None:
    await join_user(bot.club.sessions, bot.club.rules, MEMBER, "09121234567")
    await bot.chat.send("/points")
    message = _message_with(bot, {"inline_keyboard": [[{"text": "?", "callback_data": data}]]})

    before = len(bot.standin.calls)

    await bot.chat.press(1, message=message)

    calls = bot.standin.calls[before:]
    assert [(c.method, c.params.get("text")) for c in calls] == [("answerCallbackQuery", STALE)]
