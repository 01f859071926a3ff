"""Property-based fuzzing of staff command arguments through the real Application.

Whatever staff type, the bot answers in words (never the "unexpected error" text), and the books
stay balanced: balance = sum of the ledger = sum of the open lots, for every member.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import build_application, running
from bot.shell import STAFF, Driver
from bot.standin import BotApiStandin
from core import ledger, members, purchases
from core.config import Settings
from tests.conftest import STAFF_CHAT_ID, fresh_sqlite_url

COMMANDS = ["/purchase", "/refund", "/award", "/deduct", "/confirm", "/member",
            "/audit", "/reward_stock", "/reward_off", "/reward_edit", "/draw", "/export",
            "/erase"]  # fmt: skip
TOKENS = st.one_of(
    st.sampled_from(["#1", "#2", "1", "2", "@sara_a", "09121234567", "+98", "912", "123",
                     "4567", "۲۵۰٬۰۰۰", "٢٥٠", "-5", "0", "10" * 30, "INV-1", "<b>x</b>", "&",
                     "cost", "title", "tier", "ends", "-", "members", "ledger", "gold",
                     "هزار", "میلیون", "میلیارد", "تومان", "ریال", "250k", "2.5m", "۲٫۵", "1,2",
                     "000", "9121234567", "2/5", "60m", "1e3", "∞"]),
    st.integers(-(10**20), 10**20).map(str),
    st.text(min_size=1, max_size=12).filter(lambda t: t.split() == [t]),
)  # fmt: skip


class Club:
    """One bot and database for all examples: state accumulates, as in a real staff group."""

    def __init__(self, template: Path) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.runner = asyncio.Runner()
        url = fresh_sqlite_url(template, Path(self.folder.name))
        settings_ = Settings(_env_file=None, database_url=url, staff_chat_id=STAFF_CHAT_ID)
        self.standin = BotApiStandin()
        self.standin.chat_member_status[(STAFF_CHAT_ID, STAFF["id"])] = "administrator"
        self.app = build_application(settings_, request=self.standin)
        self.context = running(self.app)
        self.runner.run(self.context.__aenter__())
        self.runner.run(self._seed())
        self.chat = Driver.for_member(self.app, self.standin)
        self.chat.as_staff(STAFF_CHAT_ID)

    async def _seed(self) -> None:
        club = self.app.bot_data["club"]
        async with club.sessions() as s, s.begin():
            for n in (1, 2):
                member = (
                    await members.join(s, club.rules, telegram_id=100 + n, name=f"m{n}",
                                       username=f"user{n}_x", phone=f"0912000000{n}")
                ).member  # fmt: skip
                await purchases.record(s, club.rules, member.id, 500_000, reference=f"INV-{n}")

    def close(self) -> None:
        self.runner.run(self.context.__aexit__(None, None, None))
        self.runner.close()
        self.folder.cleanup()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_any_staff_arguments_get_words_and_keep_the_books(
    sqlite_template: Path, data: st.DataObject
) -> None:
    club = _club(sqlite_template)
    command = data.draw(st.sampled_from(COMMANDS))
    args = data.draw(st.lists(TOKENS, max_size=5))
    calls = club.runner.run(club.chat.send(" ".join([command, *args])))

    replies = [c for c in calls if c.params.get("chat_id") == STAFF_CHAT_ID]
    assert replies, "staff always get an answer"
    for reply in replies:
        assert "خطایی رخ داد" not in reply.text, (command, args)
    club.runner.run(_books_balance(club))


async def _books_balance(club: Club) -> None:
    sessions = club.app.bot_data["club"].sessions
    async with sessions() as s:
        for member_id in (1, 2):
            member = await ledger.lock_member(s, member_id)
            assert member.balance == await ledger.ledger_sum(s, member_id)
            assert member.balance == await ledger.lots_sum(s, member_id) >= 0


_CLUBS: dict[Path, Club] = {}


def _club(template: Path) -> Club:
    if template not in _CLUBS:
        _CLUBS[template] = Club(template)
    return _CLUBS[template]


def teardown_module() -> None:
    for club in _CLUBS.values():
        club.close()
    _CLUBS.clear()
