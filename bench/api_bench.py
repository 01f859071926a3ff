"""Purchases a second through the HTTP API: real HTTP through uvicorn on loopback.

The server is the one ``bashgah run --port`` starts (:func:`bot.serving.api_server`) over a fresh
SQLite club (or, with ``--database-url``, an empty PostgreSQL database) with members joined by
core. ``--clients`` clients, each with its own API key and connection, post ``POST
/api/v1/purchases`` (a member by number, an amount, a reference, an ``Idempotency-Key``) one after
another; the per-key rate limit is lifted, since this measures the server, not the limit. Every
answer must be 201. The last line printed::

    api: clients=16 purchases_per_s=420 p50_ms=35.1 p99_ms=80.4 engine=sqlite

    python -m bench.api_bench                        # 16 clients, 2,000 purchases
    python -m bench.api_bench --clients 4 --purchases 200
    python -m bench.api_bench --database-url postgresql+asyncpg://bashgah:bashgah@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: ``python bench/api_bench.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.update_bench import join_members, log, settings_for
from bot.serving import api_server, listening_socket
from core import api_keys
from core.club import Club
from web.app import API_PREFIX
from web.limits import RateLimiter

UNLIMITED = RateLimiter(rate=1e9, burst=10**9)


async def _client(
    url: str, secret: str, jobs: list[int], member_count: int, latencies: list[float]
) -> None:
    headers = {"Authorization": f"Bearer {secret}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as client:
        for n in jobs:
            body = {"member": str(1 + n % member_count), "amount": 50_000, "reference": f"API-{n}"}
            started = time.perf_counter()
            answer = await client.post(
                f"{API_PREFIX}/purchases", json=body, headers={"Idempotency-Key": f"k-{n}"}
            )
            latencies.append(time.perf_counter() - started)
            if answer.status_code != 201:
                raise RuntimeError(f"purchase {n}: {answer.status_code} {answer.text}")


async def measure(
    clients: int, count: int, member_count: int, folder: Path, database_url: str | None = None
) -> dict[str, Any]:
    log(f"api bench: {count} purchases from {clients} clients, {member_count} members")
    settings = settings_for(folder / "api.db")
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    club = await Club.open(settings)
    stop = asyncio.Event()
    try:
        await join_members(club, member_count)
        secrets = [(await api_keys.create(club, f"till-{c}")).secret for c in range(clients)]
        sock = listening_socket("127.0.0.1", 0)
        server = api_server(club, stop)
        server.config.app.state.limiter = UNLIMITED
        serving = asyncio.create_task(server.serve(sockets=[sock]))  # the socket already listens
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        latencies: list[float] = []
        started = time.perf_counter()
        await asyncio.gather(
            *(
                _client(url, secrets[c], list(range(c, count, clients)), member_count, latencies)
                for c in range(clients)
            )
        )
        seconds = time.perf_counter() - started
        stop.set()
        await serving
        sock.close()
    finally:
        stop.set()
        await club.close()
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "engine": "postgresql" if database_url else "sqlite",
        "clients": clients,
        "purchases_per_s": count / seconds,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
    }


def line(result: dict[str, Any]) -> str:
    return (
        f"api: clients={result['clients']:.0f} purchases_per_s={result['purchases_per_s']:.0f} "
        f"p50_ms={result['p50_ms']:.1f} p99_ms={result['p99_ms']:.1f} engine={result['engine']}"
    )


def run(
    clients: int = 16, count: int = 2000, member_count: int = 200, database_url: str | None = None
) -> str:
    with tempfile.TemporaryDirectory(prefix="bashgah-api-bench-") as folder:
        result = measure(clients, count, member_count, Path(folder), database_url)
        return line(asyncio.run(result))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--purchases", type=int, default=2000)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument(
        "--database-url", help="an empty PostgreSQL database instead of a fresh SQLite file"
    )
    args = parser.parse_args(argv)
    print(run(args.clients, args.purchases, args.members, args.database_url), flush=True)


if __name__ == "__main__":
    main()
