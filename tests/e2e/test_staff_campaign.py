"""A campaign made by staff with ``/campaign_new`` for "now" reaches its members.

It once did not: ``core.campaigns.create`` computed the next run before ``runs`` had its default,
so a one-off campaign was saved with no next run.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from core import members
from core.rules import Rules
from tests.e2e.harness import BotProcess, Chat, Club, Person, Telegram, plain, wait_until

PEOPLE = [Person(6000 + n, f"Guest{n}") for n in range(3)]
TEXT = "flash sale"
# The campaign sweep runs 5 s after the start, then every 30 s.
SWEEP_TIMEOUT = 40.0


async def _seed(session: AsyncSession, rules: Rules) -> None:
    for person in PEOPLE:
        await members.join(
            session, rules, telegram_id=person.id, name=person.full_name, locale="en"
        )


def test_a_campaign_for_now_made_by_staff_is_sent(
    tg: Telegram, bot: BotProcess, staff: Chat, club: Club
) -> None:
    club.seed(_seed)
    bot.start()
    staff.ask("/campaign_new", "")
    staff.ask("Flash", "")
    staff.ask("Hello {{ name }}, our " + TEXT + " is on!", "")
    staff.ask("tier >= bronze", str(len(PEOPLE)))  # the segment's size
    staff.ask("now", "")
    preview = staff.ask("-", TEXT)  # no button; the preview, with save and drop
    saved = staff.tap(preview, "cmp:save", "saved")

    assert "first run" in plain(saved.text), plain(saved.text)
    assert club.scalar("SELECT next_run_at FROM campaigns") is not None
    wait_until(
        lambda: {m.chat_id for m in tg.messages() if TEXT in m.text} >= {p.id for p in PEOPLE},
        SWEEP_TIMEOUT, "the campaign at its members", bot=bot,
    )  # fmt: skip
