"""Start-up of the real Application: command menus, per scope and language."""

from __future__ import annotations

from tests.conftest import BotHarness


async def test_command_menus_are_published_per_language(bot: BotHarness) -> None:
    menus = {
        call.params.get("language_code"): call.params
        for call in bot.standin.calls
        if call.method == "setMyCommands"
    }

    assert set(menus) == {"fa", "en", None}
    for params in menus.values():
        assert params["scope"] == {"type": "all_private_chats"}
    fa = {c["command"]: c["description"] for c in menus["fa"]["commands"]}
    en = {c["command"]: c["description"] for c in menus["en"]["commands"]}
    assert set(fa) == set(en) >= {"start", "points", "rewards", "invite", "card", "help"}
    assert fa["points"].startswith("موجودی")
    assert en["points"].startswith("Balance")
    assert menus[None]["commands"] == menus["fa"]["commands"]  # the club's default language
