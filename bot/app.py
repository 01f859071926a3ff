"""Building the python-telegram-bot Application: settings in, a ready bot out.

Services are opened once when the bot starts and closed when it stops (:func:`running`);
``Defaults`` give HTML parse mode and the club's time zone to every call and job. Updates reach it
through :mod:`bot.updates` (long polling) or :mod:`bot.webhook`, not PTB's ``Updater``, so that an
update is confirmed to Telegram only once handled.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from telegram import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    MenuButtonWebApp,
    WebAppInfo,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ContextTypes,
    Defaults,
)
from telegram.request import BaseRequest

from bot import background, routing
from bot.context import (
    CLUB_KEY,
    GROUP_REPLIES_KEY,
    TRANSLATOR_KEY,
    BotContext,
    group_replies_of,
)
from bot.group_replies import GroupReplies
from bot.handlers import errors
from bot.persistence import DatabasePersistence, PromptApplication
from bot.updates import UpdateFlow, poll, stop_signal
from core import branches
from core.club import Club
from core.config import Settings
from core.locales import LOCALES
from texts import Translator, commands_from

log = logging.getLogger(__name__)

SHELL_TOKEN = "1:offline-shell"
ANSWERS_AT_SHUTDOWN_SECONDS = 10.0  # how long queued group answers may take to go out at a stop


def build_application(settings: Settings, request: BaseRequest | None = None) -> Application:
    """The whole bot. With ``request`` (a stand-in) it never touches the network."""
    token = settings.bot_token.get_secret_value() if settings.bot_token else SHELL_TOKEN
    translator = Translator(settings.tz, settings.locale)
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{settings.api_base_url}/bot")
        .base_file_url(f"{settings.api_base_url}/file/bot")
        .defaults(Defaults(parse_mode=ParseMode.HTML, tzinfo=settings.tz))
        .context_types(ContextTypes(context=BotContext))
        .application_class(PromptApplication)
        .persistence(DatabasePersistence())
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    else:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=2))
        if settings.proxy_url is not None:  # getUpdates has its own connection pool and proxy
            proxy = settings.proxy_url.get_secret_value()
            builder = builder.proxy(proxy).get_updates_proxy(proxy)
    app = builder.build()
    app.bot_data["settings"] = settings
    app.bot_data[TRANSLATOR_KEY] = translator
    app.bot_data[GROUP_REPLIES_KEY] = GroupReplies(app.bot, paced=request is None)
    routing.register(app, translator.all_labels)
    app.add_error_handler(errors.on_error)
    return app


async def _open(app: Application) -> None:
    """Open the club (migrations, rules, catalogue) before PTB loads the stored conversations."""
    settings: Settings = app.bot_data["settings"]
    club = await Club.open(settings)
    app.bot_data[CLUB_KEY] = club
    if isinstance(app.persistence, DatabasePersistence):
        app.persistence.use(club)


async def _publish_commands(app: Application) -> None:
    """The command menus, per language, for members, for the staff chat and for the branches'
    groups known now (a group added later has its commands, not yet their menu); and, with a
    public URL, the members' menu button opening the Mini App."""
    settings: Settings = app.bot_data["settings"]
    translator: Translator = app.bot_data[TRANSLATOR_KEY]
    for locale in LOCALES:
        await app.bot.set_my_commands(
            _commands(translator(locale, "menus/member")),
            scope=BotCommandScopeAllPrivateChats(),
            language_code=locale,
        )
    await app.bot.set_my_commands(
        _commands(translator(settings.locale, "menus/member")),
        scope=BotCommandScopeAllPrivateChats(),
    )
    if settings.staff_chat_id is not None:
        await app.bot.set_my_commands(
            _commands(translator(settings.locale, "menus/staff")),
            scope=BotCommandScopeChat(settings.staff_chat_id),
        )
    till = _commands(translator(settings.locale, "menus/branch"))
    for branch in await branches.listing(app.bot_data[CLUB_KEY]):
        if branch.staff_chat_id is None:
            continue
        try:
            await app.bot.set_my_commands(till, scope=BotCommandScopeChat(branch.staff_chat_id))
        except TelegramError as error:  # the bot is not in the group yet: the commands still work
            log.warning("no command menu for branch %s's group: %s", branch.code, error)
    if settings.miniapp_url is not None:  # unset: no Mini App is advertised, the menu stays
        await app.bot.set_chat_menu_button(
            menu_button=MenuButtonWebApp(
                translator(settings.locale, "buttons/menu_app"), WebAppInfo(settings.miniapp_url)
            )
        )


def _commands(text: str) -> list[BotCommand]:
    return [BotCommand(command, description) for command, description in commands_from(text)]


async def _close(app: Application) -> None:
    club = app.bot_data.pop(CLUB_KEY, None)
    if club is not None:
        await club.close()


@asynccontextmanager
async def running(app: Application, *, background_work: bool = False) -> AsyncIterator[Application]:
    """Initialize and open the bot without polling: for the shell, webhook mode and the tests.

    Tests drive sweeps and the sender themselves; the shell and webhook mode want them running.
    """
    await _open(app)
    try:
        async with app:  # initialize() loads the stored conversations from the club's database
            await _publish_commands(app)
            await app.start()  # the job queue, for conversation timeouts and scheduled work
            if background_work:
                await background.start(app)
            try:
                yield app
            finally:
                await group_replies_of(app).close(ANSWERS_AT_SHUTDOWN_SECONDS)
                await background.stop(app)
                await app.stop()  # the last write of the persistence, while the club is open
    finally:
        await _close(app)


async def run_polling(app: Application) -> None:
    """Long polling (:func:`bot.updates.poll`) until SIGINT or SIGTERM, then a clean stop."""
    stop = stop_signal()
    async with running(app, background_work=True):
        await poll(app, UpdateFlow(app), stop)
