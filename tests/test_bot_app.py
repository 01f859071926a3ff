"""Start-up of the real Application: command menus, per scope and language."""

from __future__ import annotations

from tests.conftest import STAFF_CHAT_ID, BotHarness


async def test_command_menus_are_published_per_language(bot: BotHarness) -> None:
    calls = [call.params for call in bot.standin.calls if call.method == "setMyCommands"]
    menus = {
        params.get("language_code"): params
        for params in calls
        if params["scope"] == {"type": "all_private_chats"}
    }

    assert set(menus) == {"fa", "en", None}
    fa = {c["command"]: c["description"] for c in menus["fa"]["commands"]}
    en = {c["command"]: c["description"] for c in menus["en"]["commands"]}
    assert set(fa) == set(en) >= {"start", "points", "rewards", "invite", "card", "help"}
    assert fa["points"].startswith("موجودی")
    assert en["points"].startswith("Balance")
    assert menus[None]["commands"] == menus["fa"]["commands"]  # the club's default language


async def test_the_staff_group_gets_the_staff_menu(bot: BotHarness) -> None:
    [staff] = [
        call.params
        for call in bot.standin.calls
        if call.method == "setMyCommands" and call.params["scope"]["type"] == "chat"
    ]
    assert staff["scope"]["chat_id"] == STAFF_CHAT_ID
    commands = {c["command"] for c in staff["commands"]}
    assert {"purchase", "refund", "award", "deduct", "confirm", "audit"} <= commands
