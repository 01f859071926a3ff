"""Campaign templates through the real Application: a hostile template is asked again with why, in
the staff's language, and a member's ``/points`` is answered at once while a heavy template is
being checked (it used to freeze the bot: the render ran on the event loop)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.context import BotContext
from bot.notifications import campaigns as campaign_runs
from bot.shell import MEMBER, Driver
from core.models import Campaign, Delivery, utcnow
from tests.conftest import STAFF_CHAT_ID, BotHarness
from tests.test_bot_staff_words import _as_staff, _join
from tests.test_campaign_templates import BUSY

ANSWERED_WITHIN = 0.2  # seconds; a /points takes milliseconds, the busy check whole seconds


@pytest.fixture
def settled_heap() -> Iterator[None]:
    """The suite's heap kept out of the garbage collector while /points is timed: late in a full
    run, a full collection of what the tests before left behind pauses the loop for up to half a
    second (measured), and that is not what these tests measure."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


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


async def _points_while(bot: BotHarness, busy: asyncio.Task[object]) -> None:
    """Send a member's /points again and again for as long as ``busy`` runs: each is answered
    within :data:`ANSWERED_WITHIN`, and there were several (``busy`` lasted a while)."""
    member = Driver.for_member(bot.app, bot.standin)
    member.as_member(MEMBER)
    waits = []
    while not busy.done():
        started = time.perf_counter()
        answers = await member.send("/points")
        waits.append(time.perf_counter() - started)
        assert any(a.params.get("chat_id") == MEMBER["id"] for a in answers)
    assert max(waits) < ANSWERED_WITHIN, waits
    assert len(waits) >= 3, waits


@pytest.mark.usefixtures("settled_heap")
async def test_points_is_answered_at_once_while_a_heavy_template_is_checked(
    bot: BotHarness,
) -> None:
    await _join(bot)
    await _new_campaign(bot)

    checking = asyncio.create_task(bot.chat.send(BUSY))
    await _points_while(bot, checking)

    [refused] = [a for a in checking.result() if a.params.get("chat_id") == STAFF_CHAT_ID]
    assert "ثانیه بیشتر طول کشید" in refused.text


@pytest.mark.usefixtures("settled_heap")
async def test_points_is_answered_at_once_while_a_campaign_renders(bot: BotHarness) -> None:
    """A campaign saved before templates were checked renders within the budget, and is skipped."""
    await _join(bot)
    async with bot.club.sessions() as s, s.begin():
        s.add(Campaign(name="Old", template=BUSY, segment="tier >= bronze", runs=0,
                       run_at=utcnow(), next_run_at=utcnow() - timedelta(minutes=1),
                       status="scheduled"))  # fmt: skip

    running = asyncio.create_task(campaign_runs.run_due(BotContext(bot.app)))
    await _points_while(bot, running)

    await running  # the run failed its budget, was logged and skipped
    async with bot.club.sessions() as s:
        assert list(await s.scalars(select(Delivery))) == []
        assert (await s.scalar(select(Campaign))).runs == 0
