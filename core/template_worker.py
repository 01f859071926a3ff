"""Campaign templates rendered in a process of their own, within a time budget, off the event loop.

:mod:`core.campaign_templates` bounds what each step of a template may do, but not how long a legal
template that is merely busy takes (a loop doing thousands of sums). Rendered on the event loop,
such a template froze the bot: no member's ``/points`` was answered until it was done.

A thread would free the loop but not stop the template: Python cannot kill a thread, and a render
that is busy holds the GIL, so every answer on the loop waits its turn at each hand-off. So the
templates render in one child process (:func:`serve`), started on first use and kept for the
next job. A job is a line of JSON in and a line out; a thread waits for the answer (the loop
awaits that thread), and a timer kills the child when the job's budget is spent: the job fails as
``too_slow`` and the next job starts a fresh child. The child also caps its memory, so a step that
slipped past the sandbox's size checks fails there as ``too_big`` instead of swapping.

A job is a check (:func:`check`: the whitelist, a trial render with sample values, Telegram's HTML
rules) or a batch of messages (:func:`render_each`: one per member of a campaign's batch, the
template compiled once). Jobs run one at a time; campaigns are rare, members' commands never wait
for them.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from core.campaign_templates import check_template, compile_template, render_compiled
from core.errors import InvalidTemplate

BUDGET_SECONDS: Final = 2.0  # a check, or a batch's fixed part
# Each message's share of a batch's budget, and what a check's sample message may take: a typical
# message renders in a tenth of a millisecond.
MESSAGE_SECONDS: Final = 0.05
MEMORY_BYTES: Final = 512 * 2**20
NICENESS: Final = 10


async def check(text: str) -> str:
    """:func:`core.campaign_templates.check_template` within :data:`BUDGET_SECONDS`, off the loop.

    :raises InvalidTemplate: what to fix; ``too_slow`` (``seconds``) when the trial render does
        not finish in time, ``too_slow_per_member`` when it takes over :data:`MESSAGE_SECONDS`.
    """
    await _run(text, {"template": text, "check": True}, BUDGET_SECONDS)
    return text


async def render_each(template: str, variables: Sequence[Mapping[str, object]]) -> list[str]:
    """One message per set of variables (strings and numbers: they reach the worker as JSON), in
    order, within the batch's budget, off the loop."""
    if not variables:
        return []
    seconds = BUDGET_SECONDS + MESSAGE_SECONDS * len(variables)
    job = {"template": template, "variables": [dict(v) for v in variables], "check": False}
    return await _run(template, job, seconds)


async def _run(template: str, job: dict[str, Any], seconds: float) -> list[str]:
    answer = await asyncio.to_thread(_WORKER.run, json.dumps(job), seconds)
    if "error" in answer:
        details = dict(answer["error"])
        raise InvalidTemplate(details.pop("reason"), template[:40], **details)
    return answer["messages"]


class _Worker:
    """The child process and the lock that gives it one job at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None

    def run(self, job: str, seconds: float) -> dict[str, Any]:
        """Send ``job`` and wait for its answer, killing the child if it takes over ``seconds``."""
        with self._lock:
            process = self._started()
            process.stdin.write(job + "\n")  # type: ignore[union-attr]
            process.stdin.flush()  # type: ignore[union-attr]
            timer = threading.Timer(seconds, process.kill)
            timer.start()
            try:
                line = process.stdout.readline()  # type: ignore[union-attr]
            finally:
                timer.cancel()
            if line:
                return json.loads(line)
            self._process = None
            if process.wait() == -signal.SIGKILL:
                return {"error": {"reason": "too_slow", "seconds": round(seconds)}}
            return {"error": {"reason": "broken"}}

    def _started(self) -> subprocess.Popen[str]:
        """The running child, or a new one once it says it is ready."""
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__], cwd=Path(__file__).resolve().parents[1],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
        )  # fmt: skip
        if self._process.stdout.readline() != "ready\n":  # type: ignore[union-attr]
            raise RuntimeError("the template worker did not start")
        return self._process


_WORKER = _Worker()


def serve() -> None:
    """The child: answer each job line on stdin with a line on stdout, until stdin closes."""
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    os.nice(NICENESS)  # on a busy machine, the bot's answers to members come first
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which closes stdin
    print("ready", flush=True)
    for line in sys.stdin:
        job = json.loads(line)
        try:
            if job["check"]:
                check_template(job["template"], within=MESSAGE_SECONDS)
                answer: dict[str, Any] = {"messages": []}
            else:
                template = compile_template(job["template"])
                answer = {"messages": [render_compiled(template, v) for v in job["variables"]]}
        except InvalidTemplate as exc:
            answer = {"error": exc.details}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()
