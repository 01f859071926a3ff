"""``bashgah shell --script``: a scripted conversation, played by the real command, read back."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from bot.shell import interactive_lines, render
from bot.shell_time import parse_span
from bot.standin import ApiCall

SCRIPT = """\
# a newcomer joins with the contact button and asks for points
/start
/press 1
/press 1
/press 1
/points
/as staff
/points
/as member
/nonsense
"""


def test_a_scripted_conversation_prints_its_transcript(tmp_path: Path) -> None:
    script = tmp_path / "demo.txt"
    script.write_text(SCRIPT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASHGAH_")}
    env["BASHGAH_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'shell.db'}"

    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "shell", "--script", str(script)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=True,
    )  # fmt: skip
    transcript = done.stdout

    assert "you> /start" in transcript
    assert "[1] 📱 ارسال شمارهٔ من" in transcript
    assert "عضویت شما کامل شد" in transcript
    assert "موجودی شما ۰ امتیاز است" in transcript
    assert "staff> /points" in transcript
    # the member command in the staff group is pointed to the private chat (issue 14: staff are
    # never left without an answer), and nothing else is said there
    after_staff = transcript.split("staff> /points\n", 1)[1]
    assert after_staff.startswith("bot: /points دستور اعضاست")
    assert after_staff.split("\n", 1)[1].startswith("staff> /as member")
    assert "این دستور را نمی‌شناسم" in transcript
    assert "Traceback" not in done.stderr


TIME_SCRIPT = """\
/start
/press 1
/press 1
/press 1
/as staff
/purchase 09121234567 250000 INV-1
/as member
/advance 1h
/press 5
/advance 45d
/points
/as member Leila
/start
/as member Sara
/points
/as staff
/stats
"""
RULES = """\
[expiry]
days = 40

[messaging]
quiet_start = 0
quiet_end = 0
"""


def test_time_moves_on_members_have_names_and_files_are_kept(tmp_path: Path) -> None:
    """The issue's walk: join, a purchase, the CSAT an hour later, points warned of and then
    expired over 45 days, a second member, and /stats with its chart saved under --out."""
    (tmp_path / "demo.txt").write_text(TIME_SCRIPT, encoding="utf-8")
    (tmp_path / "rules.toml").write_text(RULES, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASHGAH_")}
    env["BASHGAH_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'shell.db'}"
    env["BASHGAH_RULES"] = str(tmp_path / "rules.toml")

    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "shell", "--script", "demo.txt", "--out", "files"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=True,
    )  # fmt: skip
    steps = done.stdout.split("you> /advance 1h\n", 1)[1]
    survey, rest = steps.split("you> /press 5\n", 1)
    assert "چقدر راضی بودید" in survey, "the CSAT came an hour after the purchase"
    answered, later = rest.split("you> /advance 45d\n", 1)
    assert "ممنون از پاسخ شما" in answered
    month, after = later.split("you> /points\n", 1)
    warned_30, warned_7 = month.index("تا ۳۰ روز آینده"), month.index("تا ۷ روز دیگر")
    assert warned_30 < warned_7, "the warnings come first, in order"
    assert "موجودی شما ۰ امتیاز است" in after.split("you>", 1)[0], "then the points expired"
    leila = after.split("you> /as member Leila\nyou> /start\n", 1)[1]
    assert "خوش آمدید" in leila.split("you>", 1)[0], "Leila is a newcomer in her own chat"
    assert "موجودی شما ۰ امتیاز است" in leila.split("you> /as member Sara\nyou> /points\n")[1]
    saved = tmp_path / "files" / "001-stats.png"
    assert f"(saved files/{saved.name})" in done.stdout
    assert saved.read_bytes().startswith(b"\x89PNG")
    assert "Traceback" not in done.stderr


def test_alerts_and_toasts_of_button_presses_are_printed() -> None:
    alert = ApiCall("answerCallbackQuery", {"text": "فقط مدیران", "show_alert": "true"})
    toast = ApiCall("answerCallbackQuery", {"text": "این دکمه قدیمی است"})
    transcript = render([alert, toast]).splitlines()
    assert transcript == ["bot (alert): فقط مدیران", "bot (toast): این دکمه قدیمی است"]


@pytest.mark.parametrize(
    ("typed", "span"),
    [("31d", timedelta(days=31)), ("2h", timedelta(hours=2)), ("۳۰m", timedelta(minutes=30)),
     ("0d", None), ("-1d", None), ("2w", None), ("d", None), ("99999d", None), ("", None)],
)  # fmt: skip
def test_spans_the_shell_takes(typed: str, span: timedelta | None) -> None:
    assert parse_span(typed) == span


async def test_typed_input_is_read_off_the_event_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """While the shell waits for a person to type, the bot's loop runs on (its jobs with it).

    The typist finishes once the loop has ticked twenty times, however loaded the machine: a loop
    blocked in ``input()`` never ticks, and the typist gives up waiting after 10 s."""
    ticked = threading.Event()

    def slow_typist(prompt: str = "") -> str:
        ticked.wait(10)
        return "/points"

    monkeypatch.setattr("builtins.input", slow_typist)
    ticks = 0

    async def the_bots_loop() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            if ticks == 20:
                ticked.set()
            await asyncio.sleep(0.01)

    running = asyncio.create_task(the_bots_loop())
    typed = await anext(interactive_lines())
    running.cancel()
    assert typed == "/points"
    assert ticks >= 20, "the loop stood still while the shell waited"
