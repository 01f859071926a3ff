"""``bashgah shell --script``: a scripted conversation, played by the real command, read back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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
