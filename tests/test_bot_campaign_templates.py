"""Campaign templates through the real Application: a hostile template is asked again with why, in
the staff's language, and a member's ``/points`` is answered at once while a heavy template is
being checked (it used to freeze the bot: the render ran on the event loop)."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from bot.shell import MEMBER, Driver
from core.models import Campaign
from tests.conftest import STAFF_CHAT_ID, BotHarness
from tests.test_bot_staff_words import _as_staff, _join
from tests.test_campaign_templates import BUSY

ANSWERED_WITHIN = 0.2  # seconds; a /points takes milliseconds, the busy check whole seconds


async def _new_campaign(bot: BotHarness) -> None:
    _as_staff(bot)
    await bot.chat.send("/campaign_new")
    await bot.chat.send("Yalda")


async def test_hostile_templates_are_asked_again_with_why_in_persian(bot: BotHarness) -> None:
    await _new_campaign(bot)
    [nested] = await bot.chat.send(
        "{% for a in name %}{% for b in name %}{{ a }}{% endfor %}{% endfor %}"
    )
    assert "حلقهٔ تودرتو" in nested.text and nested.markup.get("force_reply") is True
    [lipsum] = await bot.chat.send("{{ lipsum(n=100000) }} {{ name }}")
    assert "<code>lipsum</code> در پیام‌ها در دسترس نیست" in lipsum.text
    [center] = await bot.chat.send("{{ name|center(1000000000) }}")
    assert "فیلتر <code>center</code>" in center.text and "upper" in center.text
    [repeat] = await bot.chat.send("{{ 'x' * 100000000 }}")
    assert "نویسه بیشتر می‌شود" in repeat.text
    [macro] = await bot.chat.send("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}")
    assert "ماکرو" in macro.text
    [busy] = await bot.chat.send(BUSY)
    assert "ثانیه بیشتر طول کشید" in busy.text
    [next_step] = await bot.chat.send("<b>سلام</b> {{ name }}")
    assert "قاعده" in next_step.text
    async with bot.club.sessions() as s:
        assert list(await s.scalars(select(Campaign))) == []


async def test_points_is_answered_at_once_while_a_heavy_template_is_checked(
    bot: BotHarness,
) -> None:
    await _join(bot)
    member = Driver.for_member(bot.app, bot.standin)
    member.as_member(MEMBER)
    await _new_campaign(bot)

    checking = asyncio.create_task(bot.chat.send(BUSY))
    waits = []
    while not checking.done():  # /points, again and again, for as long as the check goes on
        started = time.perf_counter()
        answers = await member.send("/points")
        waits.append(time.perf_counter() - started)
        assert any(a.params.get("chat_id") == MEMBER["id"] for a in answers)

    assert max(waits) < ANSWERED_WITHIN, waits
    assert len(waits) >= 3, waits  # the check lasted a while, and /points was answered meanwhile
    [refused] = [a for a in checking.result() if a.params.get("chat_id") == STAFF_CHAT_ID]
    assert "ثانیه بیشتر طول کشید" in refused.text
