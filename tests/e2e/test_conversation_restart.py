"""A join half done when the bot is killed (kill -9) goes on after the restart.

The member shares the contact, the bot asks for the name and confirms the update to Telegram;
then the process dies. The restarted bot must remember both where the join stood and the draft
(the phone from the contact), so the name and the birthday finish the join.
"""

from __future__ import annotations

from tests.e2e.harness import BotProcess, Club, Person, Telegram, member_chat, wait_until

LEILA = Person(1003, "Leila", "Rahimi")


def test_a_join_survives_kill_9_between_two_steps(
    tg: Telegram, bot: BotProcess, club: Club
) -> None:
    bot.start()
    leila = member_chat(tg, LEILA, bot)
    leila.ask("/start", "share your mobile number")
    since = tg.mark()
    contact = leila.share_contact("989351112233")
    leila.expect("What name should we use", since=since)
    # The bot confirms an update with its next getUpdates, after handling it: from then on
    # Telegram will not deliver the contact again, and only the database remembers it.
    wait_until(lambda: tg.api.confirmed_offset > contact, 15.0, "the contact confirmed", bot=bot)
    bot.kill()

    bot.start()
    leila.ask(LEILA.full_name, "birthday")
    welcome = leila.ask("Skip", "Welcome aboard")
    assert LEILA.full_name in welcome.text
    assert club.query(
        "SELECT name, phone, phone_verified FROM members WHERE telegram_id = ?", LEILA.id
    ) == [(LEILA.full_name, "+989351112233", 1)]
    ended = "SELECT count(*) FROM conversation_states WHERE kind = 'conversation'"
    wait_until(lambda: club.scalar(ended) == 0, 15.0, "the ended join forgotten", bot=bot)
