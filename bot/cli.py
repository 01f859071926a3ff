"""The ``bashgah`` command: run the bot, try it offline, upgrade the database, check the rules."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import ValidationError

from bot.app import build_application, run_polling, running
from bot.shell import DEFAULT_STAFF_CHAT, STAFF, Driver, interactive_lines, play
from bot.standin import BotApiStandin
from bot.webhook import run_webhook
from core.config import Settings
from core.db import upgrade_url
from core.errors import RulesError
from core.rules import load_rules

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bashgah", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run the bot (long polling, or a webhook)")
    run.add_argument("--webhook-url", help="public HTTPS URL Telegram should post updates to")
    run.add_argument(
        "--webhook-secret",
        default=os.environ.get("BASHGAH_WEBHOOK_SECRET"),
        help="secret token Telegram sends with each update (default: BASHGAH_WEBHOOK_SECRET)",
    )
    run.add_argument("--listen", default="127.0.0.1", help="address the webhook server binds")
    run.add_argument("--port", type=int, default=8443, help="port the webhook server binds")
    shell = commands.add_parser("shell", help="chat with the bot offline, no token needed")
    shell.add_argument("--script", type=Path, help="play a scripted conversation and print it")
    db = commands.add_parser("db", help="database maintenance")
    db.add_subparsers(dest="db_command", required=True).add_parser(
        "upgrade", help="apply every migration not yet applied"
    )
    rules = commands.add_parser("rules", help="the club's rules file")
    rules.add_subparsers(dest="rules_command", required=True).add_parser(
        "check", help="validate the rules file (BASHGAH_RULES) and print it"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
        if args.command == "db":
            upgrade_url(settings.database_url)
            print(f"database is up to date: {settings.database_url}")
        elif args.command == "rules":
            print(load_rules(settings.rules).model_dump_json(indent=2))
        elif args.command == "shell":
            lines = _script_lines(args.script) if args.script else None
            asyncio.run(_shell(settings, lines))
        else:
            return _run(settings, args)
    except (RulesError, ValidationError) as exc:
        print(f"bashgah: {exc}", file=sys.stderr)
        return 1
    return 0


def _run(settings: Settings, args: argparse.Namespace) -> int:
    if settings.bot_token is None:
        print("bashgah: set BASHGAH_BOT_TOKEN (or try `bashgah shell`)", file=sys.stderr)
        return 1
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if args.webhook_url and not args.webhook_secret:
        print("bashgah: webhook mode needs --webhook-secret", file=sys.stderr)
        return 1
    app = build_application(settings)
    if args.webhook_url:
        serving = run_webhook(app, args.webhook_url, args.webhook_secret, args.listen, args.port)
    else:
        serving = run_polling(app)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serving)
    return 0


def _script_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


async def _shell(settings: Settings, lines: Iterable[str] | None) -> None:
    standin = BotApiStandin()
    staff_chat = settings.staff_chat_id or DEFAULT_STAFF_CHAT
    settings = settings.model_copy(update={"bot_token": None, "staff_chat_id": staff_chat})
    standin.chat_member_status[(staff_chat, STAFF["id"])] = "administrator"
    app = build_application(settings, request=standin)
    async with running(app, background_work=True):
        driver = Driver.for_member(app, standin)
        steps = lines if lines is not None else interactive_lines()
        await play(driver, steps, sys.stdout, staff_chat)


if __name__ == "__main__":
    sys.exit(main())
