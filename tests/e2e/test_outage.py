"""The Bot API answering 500s, then not answering at all, for a while: the bot rides it out.

Twenty members and a campaign due now are written before the start. Once the bot has answered a
first ``/points``, every Bot API method fails: 500s for 8 s, then 8 s of requests that are never
answered (the client times out). Meanwhile the campaign sweep writes its twenty messages to the
outbox and members ask ``/points``. When the API is back the process must still be running,
answer the members (their updates waited at Telegram), answer new ones, and send every queued row.

Two bugs this found, now fixed: the sender counted one pause step per failed row (a batch failing
at once paused it for a minute), and a campaign whose first progress post failed never reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from core import members
from core.models import Campaign, utcnow
from core.rules import Rules
from tests.e2e.harness import (
    STAFF_CHAT,
    Background,
    Person,
    background_scenario,
    bot_processes,
    fake_telegram,
    member_chat,
    new_club,
    plain,
    wait_until,
)

MEMBERS = [Person(4000 + n, f"Member{n}") for n in range(20)]
ERRORS_FOR = 8.0  # seconds of 500s
HANGS_FOR = 8.0  # then seconds of requests never answered
TEXT = "autumn offer"
# The sender's 60 s pause (see above) plus its retry backoff, with room to spare.
CATCH_UP_TIMEOUT = 120.0
# Members' updates waited at Telegram: polling comes back within its own backoff (PTB: up to
# the getUpdates read timeout after a hang).
ANSWER_TIMEOUT = 40.0
PROMPT = 30.0  # what "catches up" should mean for the outbox: sent within this after the outage


@dataclass
class Outage:
    healed_at: float  # the fake's clock
    answered: dict[int, float]  # member: when their /points was answered (the fake's clock)
    campaign_sent_at: list[float]
    alive: bool
    server_errors: int
    timeouts: int
    statuses: list[tuple[str, int]]  # of the outbox rows
    unbalanced: list[tuple[int, int, int, int]]
    staff_heard: list[str]  # what the staff group was told about the campaign


async def _seed(session: AsyncSession, rules: Rules) -> None:
    for person in MEMBERS:
        await members.join(
            session, rules, telegram_id=person.id, name=person.full_name, locale="en"
        )
    now = utcnow()
    session.add(
        Campaign(
            name="Autumn", template="Hello {{ name }}, an " + TEXT + " for you!",
            segment="tier >= bronze", run_at=now, next_run_at=now, status="scheduled", runs=0,
        )
    )  # fmt: skip


@background_scenario("outage")
def outage(template: Path, folder: Path) -> Outage:
    club = new_club(template, folder)
    club.seed(_seed)
    with fake_telegram() as tg, bot_processes(tg, club) as make:
        bot = make()
        bot.start()
        member_chat(tg, MEMBERS[0], bot).ask("/points", "you have")
        api = tg.api
        asked = tg.mark()

        tg.call(setattr, api, "fault_methods", {"*"})
        tg.call(api.fail_for, ERRORS_FOR, "500")
        for person in MEMBERS[1:4]:
            member_chat(tg, person, bot).send("/points")
        wait_until(lambda: not api.failing, ERRORS_FOR + 5, "the end of the 500s", bot=bot)
        tg.call(api.fail_for, HANGS_FOR, "timeout")
        for person in MEMBERS[4:6]:
            member_chat(tg, person, bot).send("/points")
        wait_until(lambda: not api.failing, HANGS_FOR + 5, "the end of the hangs", bot=bot)
        healed_at = api.clock()
        alive_after = bot.alive

        answered = {
            person.id: tg.wait_message(
                person.id, "you have", since=asked, timeout=ANSWER_TIMEOUT, bot=bot
            ).at
            for person in MEMBERS[1:6]
        }
        later = member_chat(tg, MEMBERS[6], bot).ask("/points", "you have", timeout=ANSWER_TIMEOUT)
        answered[MEMBERS[6].id] = later.at

        def campaign_sends() -> list[float]:
            return [m.at for m in tg.messages() if TEXT in m.text]

        def statuses() -> list[tuple[str, int]]:
            return club.query("SELECT status, COUNT(*) FROM deliveries GROUP BY status")

        wait_until(
            lambda: len(campaign_sends()) >= len(MEMBERS), CATCH_UP_TIMEOUT,
            "the queued campaign", bot=bot,
        )  # fmt: skip
        wait_until(lambda: statuses() == [("sent", len(MEMBERS))], 30, "the rows settled", bot=bot)
        return Outage(
            healed_at, answered, campaign_sends(), alive_after and bot.alive, api.server_errors,
            api.timeouts, statuses(), club.unbalanced_books(),
            [plain(m.text) for m in tg.messages(STAFF_CHAT) if "Autumn" in m.text],
        )  # fmt: skip


@pytest.mark.background("outage")
def test_the_bot_survives_an_outage_and_catches_up(background: dict[str, Background]) -> None:
    outage: Outage = background["outage"].result()
    assert outage.alive
    assert outage.server_errors > 0 and outage.timeouts > 0, "the outage never hit the bot"
    assert len(outage.answered) == 6, "members asking during or after the outage are answered"
    assert len(outage.campaign_sent_at) == len(MEMBERS), "each queued message sent once"
    assert outage.statuses == [("sent", len(MEMBERS))]
    assert outage.unbalanced == []


@pytest.mark.background("outage")
def test_queued_messages_go_out_soon_after_the_outage(background: dict[str, Background]) -> None:
    outage: Outage = background["outage"].result()
    late = max(outage.campaign_sent_at) - outage.healed_at
    assert late <= PROMPT, f"the last queued message went out {late:.0f} s after the outage"


@pytest.mark.background("outage")
def test_the_staff_group_hears_how_the_campaign_went(background: dict[str, Background]) -> None:
    outage: Outage = background["outage"].result()
    assert any("finished" in text for text in outage.staff_heard), outage.staff_heard
