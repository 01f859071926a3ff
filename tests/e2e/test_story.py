"""The whole story of a shop that connects its till, told through HTTP and Telegram together.

One ``bashgah run --port`` process (long polling against the fake Bot API, the HTTP API on
loopback), the owner's command line beside it, and the shop's own receiver of signed events:

1. the till registers a customer by phone and records two purchases, one of them retried;
2. it refunds one;
3. the customer joins in Telegram with the contact button and sees the right balance;
4. the owner imports a CSV of 3 customers, twice, and their balances are right after both runs;
5. the shop's hook has received each event, signed with its secret.

Bad keys, bad fields, replays and floods are refused on the way, and change nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.serving import IDLE_SECONDS
from tests.e2e.harness import (
    BotProcess,
    Club,
    Person,
    Telegram,
    free_port,
    member_chat,
    run_cli,
    wait_until,
)
from tests.e2e.test_api_process import new_key
from tests.e2e.test_process import join
from web.limits import BURST, RATE

SARA = Person(1001, "Sara", "Ahmadi")
PHONE = "09121234567"
IMPORT_CSV = """phone,name,birthday,opening_balance
09351112233,Leila Karimi,1370/05/14,1200
+98 912 555 0001,Omid Rahimi,1988-02-01,300
۰۹۱۹۸۸۸۷۷۶۶,Nima Tehrani,,0
"""
IMPORTED = {"+989351112233": 1200, "+989125550001": 300, "+989198887766": 0}


class Receiver:
    """The shop's endpoint for events: it keeps those whose signature is right, refuses others."""

    def __init__(self) -> None:
        self.secret = b""
        self.events: list[dict[str, Any]] = []
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                expected = "sha256=" + hmac.new(receiver.secret, body, hashlib.sha256).hexdigest()
                good = hmac.compare_digest(expected, self.headers.get("X-Bashgah-Signature", ""))
                if good:
                    event = json.loads(body)
                    assert event["id"] == self.headers["X-Bashgah-Delivery"]
                    receiver.events.append(event)
                else:
                    receiver.refused += 1
                self.send_response(204 if good else 401)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    shop = Receiver()
    thread = threading.Thread(target=shop.server.serve_forever, daemon=True)
    thread.start()
    yield shop
    shop.server.shutdown()


def test_a_till_customer_joins_in_telegram_with_the_points_the_api_gave(
    tg: Telegram,
    bot_factory: Callable[..., BotProcess],
    club: Club,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    port = free_port()
    bot = bot_factory("--listen", "127.0.0.1", "--port", str(port))
    key = new_key(bot, "till-1")
    added = run_cli(bot, "hooks", "add", receiver.url)
    secret = re.search(r"secret: (\S+)", added.stdout)
    assert secret, added.stdout
    receiver.secret = secret.group(1).encode()
    bot.start()
    auth = {"Authorization": f"Bearer {key}"}

    # A till keeps an idle connection for less than the server's IDLE_SECONDS, or a request sent
    # as the server closes it is reset (httpx's default expiry equals it).
    keep_alive = httpx.Limits(keepalive_expiry=IDLE_SECONDS / 2)
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}/api/v1", timeout=15.0, limits=keep_alive
    ) as api:

        def post(path: str, body: dict[str, Any], idem: str, **headers: str) -> httpx.Response:
            return api.post(path, json=body, headers={**auth, "Idempotency-Key": idem, **headers})

        # 1. the till registers Sara and records two purchases; the first is sent twice
        assert post("/members", {"phone": PHONE, "name": "Sara"}, "reg-1").status_code == 201
        sale = {"member": PHONE, "amount": 250_000, "reference": "INV-1"}
        first = post("/purchases", sale, "sale-1")
        assert first.status_code == 201, first.text
        again = post("/purchases", sale, "sale-1")
        assert (again.status_code, again.json()) == (201, first.json())
        second = post("/purchases", {"member": PHONE, "amount": 100_000, "reference": "INV-2"},
                      "sale-2")  # fmt: skip
        assert second.status_code == 201 and second.json()["balance"] == 350

        # ... and what is refused changes nothing
        wrong_key = post("/purchases", sale, "x", Authorization="Bearer bgh_wrong")
        assert wrong_key.status_code == 401
        assert wrong_key.headers["content-type"].startswith("application/problem+json")
        bad = post("/purchases", {"member": PHONE, "amount": "lots", "reference": "INV-3"}, "b-1")
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"
        reused = post("/purchases", {**sale, "amount": 1}, "sale-1")
        assert reused.status_code == 409

        def till(first: int) -> list[int]:  # one of 16 tills, each on its own connection
            with httpx.Client(base_url=api.base_url, timeout=15.0) as own:
                return [own.post("/purchases", json=sale, headers={**auth, "Idempotency-Key":
                                 f"f{first}-{n}"}).status_code for n in range(8)]  # fmt: skip

        with ThreadPoolExecutor(16) as pool:
            flood = [status for statuses in pool.map(till, range(16)) for status in statuses]
        assert 429 in flood and set(flood) <= {409, 429}
        assert club.query("SELECT reference, amount FROM purchases ORDER BY id") == [
            ("INV-1", 250_000), ("INV-2", 100_000)
        ]  # fmt: skip

        # 2. the second purchase is refunded
        time.sleep(2 * BURST / RATE)  # the flooded key's bucket fills up again
        refund = post("/purchases/INV-2/refund", {}, "refund-1")
        assert refund.status_code == 200, refund.text
        sara_row = api.get(f"/members/{PHONE}", headers=auth).json()
        assert (sara_row["balance"], sara_row["phone_verified"]) == (250, False)

        # 3. Sara joins in Telegram with the contact button: the till's account becomes hers
        sara = member_chat(tg, SARA, bot)
        join(sara, "+989121234567")
        sara.ask("/points", "Dear Sara, you have 250 points")  # the name the till gave
        assert api.get(f"/members/{PHONE}", headers=auth).json()["phone_verified"] is True

        # 4. the owner imports a customer list, twice: the second run changes nothing
        csv = tmp_path / "customers.csv"
        csv.write_text(IMPORT_CSV, encoding="utf-8")
        for run in range(2):
            report = run_cli(bot, "import", "members", str(csv), "--apply").stdout
            assert "3" in report, report
            balances = {
                phone: api.get(f"/members/{phone}", headers=auth).json()["balance"]
                for phone in IMPORTED
            }
            assert balances == IMPORTED, (run, report)
        assert club.unbalanced_books() == []

    # 5. the shop heard it all, signed
    expected = ["member.joined", "purchase.recorded", "purchase.recorded", "purchase.refunded",
                "member.claimed"]  # fmt: skip
    wait_until(lambda: all(t in receiver.types() for t in expected), 15, "the events", bot=bot)
    assert receiver.refused == 0
    recorded = [e["data"] for e in receiver.events if e["type"] == "purchase.recorded"]
    assert sorted(d["reference"] for d in recorded) == ["INV-1", "INV-2"], "the retry sent none"
    assert len({e["id"] for e in receiver.events}) == len(receiver.events)
    assert str(SARA.id) not in json.dumps(receiver.events), "never the member's Telegram id"
