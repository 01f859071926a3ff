"""The ``bashgah`` command: run the bot (and the HTTP API), try it offline, upgrade and back up the
database, check the rules, add branches, make and revoke API keys, subscribe the shop's URLs to
events, import an existing customer list."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sqlite3
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import ValidationError

from bot.app import build_application, run_polling, running
from bot.serving import listening_socket, run_polling_with_api, run_webhook
from bot.shell import DEFAULT_STAFF_CHAT, STAFF, Driver, interactive_lines, play
from bot.standin import BotApiStandin
from core import api_keys, backup, branches, hooks, imports
from core.audit import SYSTEM
from core.club import Club
from core.config import Settings
from core.db import upgrade_url
from core.errors import BashgahError, InvalidInput, RulesError
from core.event_types import EVENT_TYPES
from core.rules import load_rules
from web.problems import words

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
WEBHOOK_PORT = 8443
REPORT_LINES = 50  # refused rows and duplicates listed by ``import members``; the rest counted
HOOK_REFUSALS = ("url", "event_type", "hook_id")  # the value a refused hooks command named
KEY_ERRORS = {  # core.api_keys' reasons, as the owner at the terminal reads them
    "api_key_name": f"an API key's name is 1 to {api_keys.MAX_NAME} characters",
    "api_key_name_taken": "an API key named {name!r} exists already",
    "api_key_unknown": "no API key is named {name!r}",
    "api_key_branch": f"a branch code is 1 to {api_keys.MAX_BRANCH} characters",
    "api_key_branch_unknown": "no branch has the code {branch!r} (see `bashgah branch list`)",
}
BRANCH_ERRORS = {  # core.branches' reasons
    "branch_code": f"a branch code is 1 to {branches.MAX_CODE} letters, digits, '-' or '_'",
    "branch_name": f"a branch's name is 1 to {branches.MAX_NAME} characters",
    "branch_code_taken": "a branch with the code {code!r} exists already",
    "branch_chat_taken": "the group {chat} is another branch's staff group already",
    "branch_chat_is_club": "the group {chat} is the club's staff group, which serves main already",
    "branch_chat": "{chat} is not a group's chat id (a group's is negative, such as -100…)",
}
BACKUP_ERRORS = {  # core.backup's reasons
    "backup_postgresql": "the database is PostgreSQL: back it up with pg_dump "
    "(pg_dump --format=custom --file=bashgah.dump <database>)",
    "backup_in_memory": "the database ({url}) is in memory: there is no file to back up",
    "backup_no_database": "no database file at {url}",
    "backup_exists": "{target} exists already (add --force to replace it)",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bashgah", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run", help="run the bot (long polling, or a webhook); with --port, the HTTP API beside"
    )
    run.add_argument("--webhook-url", help="public HTTPS URL Telegram should post updates to")
    run.add_argument(
        "--webhook-secret",
        default=os.environ.get("BASHGAH_WEBHOOK_SECRET"),
        help="secret token Telegram sends with each update (default: BASHGAH_WEBHOOK_SECRET)",
    )
    run.add_argument("--listen", default="127.0.0.1", help="address the HTTP server binds")
    run.add_argument(
        "--port",
        type=int,
        help=(
            f"port of the webhook (default {WEBHOOK_PORT}); in polling mode, serve the HTTP API "
            "(and the Mini App at /app, reached at BASHGAH_PUBLIC_URL)"
        ),
    )
    shell = commands.add_parser("shell", help="chat with the bot offline, no token needed")
    shell.add_argument("--script", type=Path, help="play a scripted conversation and print it")
    shell.add_argument("--out", type=Path, help="save every photo and document the bot sends here")
    db = commands.add_parser("db", help="database maintenance").add_subparsers(
        dest="db_command", required=True
    )
    db.add_parser("upgrade", help="apply every migration not yet applied")
    saved = db.add_parser("backup", help="copy the SQLite database to FILE, safe while it runs")
    saved.add_argument("file", type=Path, help="the copy: a new file")
    saved.add_argument("--force", action="store_true", help="replace FILE if it exists")
    rules = commands.add_parser("rules", help="the club's rules file")
    rules.add_subparsers(dest="rules_command", required=True).add_parser(
        "check", help="validate the rules file (BASHGAH_RULES) and print it"
    )
    shops = commands.add_parser("branch", help="the club's branches").add_subparsers(
        dest="branch_command", required=True
    )
    shop = shops.add_parser("add", help="add a branch, with its cashiers' group if it has one")
    shop.add_argument("code", help="what staff and keys call it: letters, digits, - and _")
    shop.add_argument("name", help="its name, as people know it")
    shop.add_argument(
        "--staff-chat", type=int, help="the chat id of its cashiers' group (negative: -100…)"
    )
    shops.add_parser("list", help="every branch")
    keys = commands.add_parser("api-key", help="keys of the HTTP API").add_subparsers(
        dest="key_command", required=True
    )
    create = keys.add_parser("create", help="make a key and print it, once")
    create.add_argument("--name", required=True, help="who calls with it (the audit log's actor)")
    create.add_argument(
        "--branch",
        default=api_keys.DEFAULT_BRANCH,
        help="the code of the branch it sells in (`bashgah branch list`)",
    )
    keys.add_parser("list", help="the keys made (never the keys themselves)")
    keys.add_parser("revoke", help="refuse a key from now on").add_argument("name")
    hook = commands.add_parser("hooks", help="the shop's URLs events are posted to").add_subparsers(
        dest="hook_command", required=True
    )
    add = hook.add_parser("add", help="post events to URL, signed; prints the secret, once")
    add.add_argument("url", help="http:// or https:// address of the shop's receiver")
    add.add_argument(
        "--events",
        default="",
        help=f"comma-separated event types (default: all of {', '.join(EVENT_TYPES)})",
    )
    hook.add_parser("list", help="the hooks (never their secrets)")
    hook.add_parser("remove", help="post nothing more to a hook").add_argument("id", type=int)
    members = commands.add_parser("import", help="bring in data kept elsewhere").add_subparsers(
        dest="import_command", required=True
    )
    customers = members.add_parser(
        "members", help="a customer list (CSV or XLSX): report it, and with --apply import it"
    )
    customers.add_argument("file", type=Path, help="phone, name, birthday, balance, tier columns")
    customers.add_argument("--apply", action="store_true", help="import it (else a dry run)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings()
        if args.command == "db" and args.db_command == "backup":
            return _backup(settings, args.file, force=args.force)
        if args.command == "db":
            upgrade_url(settings.database_url)
            print(f"database is up to date: {settings.database_url}")
        elif args.command == "rules":
            print(load_rules(settings.rules).model_dump_json(indent=2))
        elif args.command == "shell":
            lines = _script_lines(args.script) if args.script else None
            asyncio.run(_shell(settings, lines, args.out))
        elif args.command == "branch":
            return asyncio.run(_branch(settings, args))
        elif args.command == "api-key":
            return asyncio.run(_api_key(settings, args))
        elif args.command == "hooks":
            return asyncio.run(_hooks(settings, args))
        elif args.command == "import":
            return _import(settings, args.file, apply=args.apply)
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
    port = WEBHOOK_PORT if args.webhook_url and args.port is None else args.port
    if port is None:
        serving = run_polling(app)
    else:
        try:
            sock = listening_socket(args.listen, port)
        except OSError as exc:
            print(f"bashgah: cannot listen on {args.listen}:{port}: {exc}", file=sys.stderr)
            return 1
        if args.webhook_url:
            serving = run_webhook(app, sock, args.webhook_url, args.webhook_secret)
        else:
            serving = run_polling_with_api(app, sock)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serving)
    return 0


async def _api_key(settings: Settings, args: argparse.Namespace) -> int:
    """``bashgah api-key create|list|revoke`` over the club's database."""
    club = await Club.open(settings)
    try:
        if args.key_command == "create":
            made = await api_keys.create(club, args.name, branch=args.branch)
            print(f"API key {made.key.name!r} (branch {made.key.branch}):")
            print(made.secret)
            print("Keep it safe: it is shown only now and will not be shown again.")
        elif args.key_command == "list":
            rows = [(k.name, k.branch, k.prefix + "…", _when(k.created_at), _when(k.revoked_at))
                    for k in await api_keys.listing(club)]  # fmt: skip
            _print_table(("name", "branch", "prefix", "created", "revoked"), rows)
        else:
            key = await api_keys.revoke(club, args.name)
            print(f"API key {key.name!r} revoked ({_when(key.revoked_at)}).")
    except InvalidInput as exc:
        said = KEY_ERRORS[exc.reason].format(name=args.name, branch=getattr(args, "branch", ""))
        print(f"bashgah: {said}", file=sys.stderr)
        return 1
    finally:
        await club.close()
    return 0


async def _branch(settings: Settings, args: argparse.Namespace) -> int:
    """``bashgah branch add|list`` over the club's database; a running bot sees a new branch's
    group within :data:`bot.staff_access.BRANCH_CACHE_SECONDS`, without a restart."""
    club = await Club.open(settings)
    try:
        if args.branch_command == "add":
            made = await branches.add(club, args.code, args.name, staff_chat_id=args.staff_chat)
            group = f", cashiers' group {made.staff_chat_id}" if made.staff_chat_id else ""
            print(f"branch {made.code!r} added ({made.name}{group}).")
        else:
            rows = [(b.code, b.name, str(b.staff_chat_id or "-"), _when(b.created_at))
                    for b in await branches.listing(club)]  # fmt: skip
            _print_table(("code", "name", "staff group", "created"), rows)
    except InvalidInput as exc:
        said = BRANCH_ERRORS[exc.reason].format(code=args.code, chat=args.staff_chat)
        print(f"bashgah: {said}", file=sys.stderr)
        return 1
    finally:
        await club.close()
    return 0


async def _hooks(settings: Settings, args: argparse.Namespace) -> int:
    """``bashgah hooks add|list|remove`` over the club's database; a refusal in the club's
    language, with the value refused."""
    club = await Club.open(settings)
    try:
        if args.hook_command == "add":
            events = [name for name in args.events.split(",") if name.strip()]
            made = await hooks.add(club, args.url, events)
            print(f"hook {made.id}: {made.url} ({_events_of(made.events)})")
            print(f"secret: {made.secret}")
            print("Keep it safe: it is shown only now and will not be shown again.")
        elif args.hook_command == "list":
            rows = [(str(h.id), h.url, _events_of(h.events), _when(h.created_at),
                     _when(h.removed_at)) for h in await hooks.listing(club)]  # fmt: skip
            _print_table(("id", "url", "events", "created", "removed"), rows)
        else:
            removed = await hooks.remove(club, args.id)
            print(f"hook {removed.id} removed ({_when(removed.removed_at)}): {removed.url}")
    except BashgahError as exc:
        refused = next((exc.details[k] for k in HOOK_REFUSALS if k in exc.details), "")
        text = words(club.settings.locale, exc.code, exc.details)
        print(f"bashgah: {text} ({refused})", file=sys.stderr)
        return 1
    finally:
        await club.close()
    return 0


def _backup(settings: Settings, target: Path, *, force: bool) -> int:
    """``bashgah db backup FILE [--force]``: the copy, or why not, as the owner reads it."""
    try:
        made = backup.backup(settings.database_url, target, force=force, progress=_tenths())
    except InvalidInput as exc:
        text = BACKUP_ERRORS[exc.reason].format(url=settings.database_url, target=target)
        print(f"bashgah: {text}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.Error) as exc:
        print(f"bashgah: cannot back up to {target}: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {made.source} to {made.target}")
    return 0


def _tenths() -> backup.Progress:
    """A progress line each tenth of the copy, so a large database shows it is moving."""
    shown = [-1]

    def progress(done: int, total: int) -> None:
        tenth = done * 10 // max(total, 1)
        if tenth != shown[0]:
            shown[0] = tenth
            print(f"copied {tenth * 10}%", flush=True)

    return progress


def _events_of(events: Sequence[str]) -> str:
    return ",".join(events) if events else "all"


def _import(settings: Settings, path: Path, *, apply: bool) -> int:
    """``bashgah import members FILE [--apply]``: the report, then (with --apply) the import."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        print(f"bashgah: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 1
    return asyncio.run(_import_members(settings, path, data, apply=apply))


async def _import_members(settings: Settings, path: Path, data: bytes, *, apply: bool) -> int:
    club = await Club.open(settings)
    try:
        report = imports.check_file(club, data)
        _print_report(report)
        if apply:
            applied = await imports.apply(club, SYSTEM, report, progress=_print_progress)
            print(
                f"applied: {applied.created} created, {applied.existing} existing, "
                f"{applied.credited} balances credited ({applied.points} points), "
                f"{applied.skipped} imported before"
            )
            if applied.conflicts:
                rows = ", ".join(map(str, applied.conflicts[:REPORT_LINES]))
                print(f"balance differs from the one imported before, left as it was: rows {rows}")
        else:
            print("dry run: nothing was written (add --apply to import)")
    except InvalidInput as exc:
        print(f"bashgah: {path} is not a customer list: {exc}", file=sys.stderr)
        return 1
    finally:
        await club.close()
    return 0


def _print_report(report: imports.Report) -> None:
    print(
        f"rows: {len(report.accepted)} accepted, {len(report.refused)} refused, "
        f"{len(report.duplicates)} duplicates"
    )
    for refused in report.refused[:REPORT_LINES]:
        print(f"  row {refused.number}: refused, bad {refused.reason}")
    if len(report.refused) > REPORT_LINES:
        print(f"  … and {len(report.refused) - REPORT_LINES} more refused")
    for duplicate in report.duplicates[:REPORT_LINES]:
        print(f"  row {duplicate.number}: {duplicate.phone} is row {duplicate.first}'s already")
    if len(report.duplicates) > REPORT_LINES:
        print(f"  … and {len(report.duplicates) - REPORT_LINES} more duplicates")


def _print_progress(done: int, total: int) -> None:
    print(f"imported {done}/{total}", flush=True)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "-"


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    for row in (header, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _script_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


async def _shell(settings: Settings, lines: Iterable[str] | None, out: Path | None) -> None:
    standin = BotApiStandin()
    staff_chat = settings.staff_chat_id or DEFAULT_STAFF_CHAT
    settings = settings.model_copy(update={"bot_token": None, "staff_chat_id": staff_chat})
    standin.chat_member_status[(staff_chat, STAFF["id"])] = "administrator"
    app = build_application(settings, request=standin)
    async with running(app, background_work=True):
        driver = Driver.for_member(app, standin)
        steps = lines if lines is not None else interactive_lines()
        await play(driver, steps, sys.stdout, staff_chat, files=out)


if __name__ == "__main__":
    sys.exit(main())
