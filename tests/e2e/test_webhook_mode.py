"""``bashgah run --webhook-url ...``: the real process, Telegram's webhook a route of its HTTP app.

The fake plays Telegram: it records ``setWebhook`` and posts updates to the registered URL with
the registered secret token (or a wrong one, or none, as anyone could). A request without the
right token is refused with 403 and changes nothing; an update delivered twice (same
``update_id``, as Telegram does after a lost answer) is handled once. Updates are handled in the
order they are queued, so a later update's answer shows that an earlier one was (or was not)
handled. A flood of silent connections does not keep Telegram out.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from bot.serving import IDLE_SECONDS
from core import members
from core.rules import Rules
from tests.e2e.harness import (
    STAFF_CHAT,
    BotProcess,
    Chat,
    Club,
    Person,
    Telegram,
    free_port,
    member_chat,
    plain,
    silent_connections,
    staff_chat,
)
from tests.e2e.test_api_process import SILENT_CONNECTIONS

SECRET = "e2e_S3cret-token"
SARA = Person(1001, "Sara", "Ahmadi")


async def _seed(session: AsyncSession, rules: Rules) -> None:
    await members.join(
        session, rules, telegram_id=SARA.id, name=SARA.full_name, phone="+989121234567",
        phone_verified=True, locale="en",
    )  # fmt: skip


def _points(tg: Telegram, sara: Chat, expect: str) -> int:
    """Sara's /points, delivered by "Telegram"; waits for the answer. Returns how many answers to
    /points Sara has had."""
    since = tg.mark()
    assert tg.api.post_to_webhook(sara.text_update("/points")) == 200
    sara.expect(expect, since=since)
    return sum("you have" in plain(m.text) for m in tg.messages(SARA.id))


def test_webhook_refuses_wrong_secrets_and_handles_a_replay_once(
    tg: Telegram, bot_factory: Callable[..., BotProcess], club: Club
) -> None:
    club.seed(_seed)
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    bot = bot_factory(
        "--webhook-url", url, "--webhook-secret", SECRET, "--listen", "127.0.0.1",
        "--port", str(port),
    )  # fmt: skip
    bot.start()
    assert tg.api.webhook is not None
    assert (tg.api.webhook["url"], tg.api.webhook["secret_token"]) == (url, SECRET)
    staff = staff_chat(tg, bot)
    sara = member_chat(tg, SARA, bot)

    purchase = staff.text_update("/purchase 09121234567 100000 W-1")
    purchase["update_id"] = tg.call(tg.api.next_update_id)
    for secret in (None, "", "wrong", SECRET[:-1], SECRET + "x", SECRET.upper()):
        assert tg.api.post_to_webhook(purchase, secret=secret) == 403, secret
    assert _points(tg, sara, "you have 0 points") == 1
    assert tg.messages(STAFF_CHAT) == []
    assert club.query("SELECT COUNT(*) FROM purchases") == [(0,)]

    # the right secret, twice: handled once
    assert tg.api.post_to_webhook(purchase) == 200
    assert tg.api.post_to_webhook(purchase) == 200
    assert _points(tg, sara, "you have 100 points") == 2
    staff_answers = [plain(m.text) for m in tg.messages(STAFF_CHAT)]
    assert len(staff_answers) == 1 and "Purchase of 100,000 Toman" in staff_answers[0]

    # a member's command replayed: one answer, not two
    replayed = sara.text_update("/points")
    replayed["update_id"] = tg.call(tg.api.next_update_id)
    since = tg.mark()
    assert tg.api.post_to_webhook(replayed) == 200
    assert tg.api.post_to_webhook(replayed) == 200
    sara.expect("you have 100 points", since=since)
    assert _points(tg, sara, "you have 100 points") == 4  # the replay's one, and this one

    assert club.query("SELECT reference, points FROM purchases") == [("W-1", 100)]
    assert club.unbalanced_books() == []
    assert tg.api.methods["getUpdates"] == 0, "webhook mode never polls"
    assert bot.alive


def test_silent_connections_do_not_starve_the_webhook(
    tg: Telegram, bot_factory: Callable[..., BotProcess], club: Club
) -> None:
    """The receiver's old failure: 1,100 idle connections and Telegram could not get through."""
    club.seed(_seed)
    port = free_port()
    bot = bot_factory(
        "--webhook-url", f"http://127.0.0.1:{port}/hook", "--webhook-secret", SECRET,
        "--listen", "127.0.0.1", "--port", str(port),
    )  # fmt: skip
    bot.start()
    sara = member_chat(tg, SARA, bot)
    with silent_connections(port, SILENT_CONNECTIONS, closed_within=IDLE_SECONDS + 10):
        assert _points(tg, sara, "you have 0 points") == 1
