"""The ``bashgah`` command: run the bot, try it offline, upgrade the database, check the rules."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from core.club import Club
from core.config import Settings
from core.db import upgrade_url
from core.errors import RulesError
from core.rules import load_rules


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bashgah", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="prepare the database and run the bot")
    db = commands.add_parser("db", help="database maintenance")
    db.add_subparsers(dest="db_command", required=True).add_parser(
        "upgrade", help="apply every migration not yet applied"
    )
    rules = commands.add_parser("rules", help="the club's rules file")
    rules.add_subparsers(dest="rules_command", required=True).add_parser(
        "check", help="validate the rules file (BASHGAH_RULES) and print it"
    )
    return parser


async def _prepare(settings: Settings) -> None:
    club = await Club.open(settings)
    await club.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
        if args.command == "db":
            upgrade_url(settings.database_url)
            print(f"database is up to date: {settings.database_url}")
        elif args.command == "rules":
            print(load_rules(settings.rules).model_dump_json(indent=2))
        else:
            asyncio.run(_prepare(settings))
            print(
                "database ready; the Telegram face of the bot is not part of this build yet",
                file=sys.stderr,
            )
            return 2
    except (RulesError, ValidationError) as exc:
        print(f"bashgah: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
