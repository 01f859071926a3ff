"""``bashgah run --port``: the HTTP app (:func:`web.app.create_app`) served beside long polling, or
with Telegram's webhook as one of its routes.

One process, one event loop, one open club: uvicorn runs as a task of the loop that handles
Telegram's updates, over the club :func:`bot.app.running` opened, so an API call and a staff
command share the database pool and the rules. The command line binds the listening socket before
the club opens, so a port already taken stops the start at once with its reason, not after the
migrations with uvicorn's ``sys.exit``. uvicorn installs no signal handlers of its own here: the
SIGINT and SIGTERM of :func:`bot.updates.stop_signal` stop the updates and the server together,
and if either ends on its own (a revoked token, a crash), the other is stopped too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Awaitable, Callable, Iterator
from urllib.parse import urlsplit

import uvicorn
from telegram import Update
from telegram.ext import Application
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.app import running
from bot.context import club_of
from bot.staff_access import staff_admin_check
from bot.updates import SHUTDOWN_SECONDS as UPDATES_SHUTDOWN_SECONDS
from bot.updates import UpdateFlow, poll, stop_signal
from bot.webhook import WebhookHandling
from core.club import Club
from web.app import API_PREFIX, create_app
from web.launch import IsAdmin
from web.telegram_webhook import TelegramWebhook

log = logging.getLogger(__name__)

# A till and a web shop make few connections; these bound what a flood of them can hold.
MAX_CONNECTIONS = 2048  # connections (or requests in progress) at once; past it, 503 at once
IDLE_SECONDS = 5  # a connection that sends nothing (new, or kept alive after a response) is closed
MAX_HEADER_BYTES = 16 * 1024  # a request whose head is still incomplete past this gets 400
BACKLOG = 128  # connections the kernel queues before they are accepted
SHUTDOWN_SECONDS = 10  # how long requests in progress may take to end when the bot stops


class _H11(H11Protocol):
    """uvicorn's h11 protocol, which also closes a new connection that sends nothing.

    uvicorn times out only a kept-alive connection idle after a response: silent sockets opened
    by the thousand would stay for good, and past :data:`MAX_CONNECTIONS` leave every caller a 503.
    A head trickled in a byte at a time is not timed out (uvicorn has no such timeout): the TLS
    proxy in front bounds that.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )


class _ApiServer(uvicorn.Server):
    """uvicorn, stopped by the bot's stop event rather than by signal handlers of its own."""

    def __init__(self, config: uvicorn.Config, stop: asyncio.Event) -> None:
        super().__init__(config)
        self._stop = stop

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # stop_signal() already has SIGINT and SIGTERM for polling and the server alike

    async def on_tick(self, counter: int) -> bool:
        return self._stop.is_set() or await super().on_tick(counter)


def listening_socket(host: str, port: int) -> socket.socket:
    """The API's socket, bound and listening (an ``OSError`` says why not)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family, backlog=BACKLOG)


def api_server(
    club: Club,
    stop: asyncio.Event,
    webhook: TelegramWebhook | None = None,
    *,
    is_admin: IsAdmin | None = None,
) -> uvicorn.Server:
    """uvicorn over the HTTP app of ``club`` (its Mini App dashboard for those ``is_admin``
    says administer the staff group), with its limits, no access log (the audit log says what
    changed), and the process's own logging rather than uvicorn's."""
    config = uvicorn.Config(
        create_app(club, webhook, is_admin=is_admin),
        http=_H11,
        ws="none",
        log_config=None,
        access_log=False,
        server_header=False,
        limit_concurrency=MAX_CONNECTIONS,
        backlog=BACKLOG,
        timeout_keep_alive=IDLE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
    )
    return _ApiServer(config, stop)


async def run_polling_with_api(app: Application, sock: socket.socket) -> None:
    """Long polling and the HTTP API on ``sock`` (:func:`listening_socket`) until SIGINT or
    SIGTERM, then a clean stop of both (updates and requests in flight end) before the club
    closes."""
    flow = UpdateFlow(app)
    await _serve(app, sock, flow, None, lambda stop: poll(app, flow, stop))


async def run_webhook(app: Application, sock: socket.socket, url: str, secret: str) -> None:
    """The HTTP app on ``sock`` with Telegram's webhook at the path of ``url`` (registered with
    ``secret``) until SIGINT or SIGTERM; updates in flight end before the club closes."""
    handling = WebhookHandling(app)
    webhook = TelegramWebhook(urlsplit(url).path or "/", secret, handling.receive)

    async def receive_until(stop: asyncio.Event) -> None:
        await app.bot.set_webhook(url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
        await stop.wait()

    await _serve(app, sock, handling.flow, webhook, receive_until)


async def _serve(
    app: Application,
    sock: socket.socket,
    flow: UpdateFlow,
    webhook: TelegramWebhook | None,
    updates: Callable[[asyncio.Event], Awaitable[None]],
) -> None:
    """uvicorn on ``sock`` beside ``updates(stop)``; either ending stops the other, and the
    updates of ``flow`` still in hand end before the club closes."""
    with sock:
        stop = stop_signal()
        async with running(app, background_work=True):
            server = api_server(club_of(app), stop, webhook, is_admin=staff_admin_check(app))
            serving = asyncio.create_task(server.serve(sockets=[sock]), name="http")
            serving.add_done_callback(lambda _: stop.set())
            host, port = sock.getsockname()[:2]
            log.info("the HTTP API is on http://%s:%d%s/docs", host, port, API_PREFIX)
            try:
                await updates(stop)
            finally:
                stop.set()
                await serving
                await flow.finish(UPDATES_SHUTDOWN_SECONDS)
