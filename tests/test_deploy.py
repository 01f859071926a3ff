"""``deploy/``: the systemd unit and the settings file it reads, kept true to the code.

The example settings name exactly what :class:`core.config.Settings` reads (and the webhook
secret ``bashgah run`` reads itself), each with its comment, so a new setting cannot be left out
and a renamed one cannot linger; every example value is one the bot accepts; and the unit runs
``bashgah run`` with those settings, writing only in the folder that holds the database.
"""

from __future__ import annotations

import configparser
import re
from pathlib import Path, PurePosixPath

import pytest

from core.backup import sqlite_path
from core.config import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
ENV_EXAMPLE = DEPLOY / "bashgah.env.example"
PREFIX = Settings.model_config["env_prefix"]
READ_BY_THE_RUN_COMMAND = {"BASHGAH_WEBHOOK_SECRET"}  # bot.cli's --webhook-secret default
SETTING = re.compile(rf"^#?({PREFIX}[A-Z_]+)=(.*)$")


def _settings_lines() -> list[tuple[int, str, str]]:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    return [(n, *found.groups()) for n, line in enumerate(lines) if (found := SETTING.match(line))]


def test_the_example_names_every_setting_once_with_a_comment() -> None:
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    names = [name for _, name, _ in _settings_lines()]
    expected = {PREFIX + field.upper() for field in Settings.model_fields}

    assert sorted(names) == sorted(expected | READ_BY_THE_RUN_COMMAND)
    for n, name, _ in _settings_lines():
        assert lines[n - 1].startswith("# ") or SETTING.match(lines[n - 1]), name


def test_every_example_value_is_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in Settings.model_fields:
        monkeypatch.delenv(PREFIX + name.upper(), raising=False)
    every = "\n".join(f"{name}={value}" for _, name, value in _settings_lines())
    (tmp_path / "env").write_text(every, encoding="utf-8")

    settings = Settings(_env_file=tmp_path / "env")

    assert settings.staff_chat_id is not None and settings.bot_token is not None
    assert settings.proxy_url is not None and str(settings.rules).startswith("/etc/bashgah/")


def test_the_unit_runs_the_bot_writing_only_beside_its_database() -> None:
    unit = configparser.ConfigParser(interpolation=None)
    unit.optionxform = str  # systemd's keys are case-sensitive
    unit.read(DEPLOY / "bashgah.service", encoding="utf-8")
    service = unit["Service"]

    program, *arguments = service["ExecStart"].split()
    assert PurePosixPath(program).name == "bashgah" and arguments == ["run"]
    assert service["EnvironmentFile"] == "/etc/bashgah/env"
    assert service["Restart"] == "on-failure" and service["User"] == "bashgah"
    assert (service["NoNewPrivileges"], service["ProtectSystem"]) == ("yes", "strict")
    assert service["PrivateTmp"] == "yes"
    [writable] = service["ReadWritePaths"].split()
    values = {name: value for _, name, value in _settings_lines()}
    database = sqlite_path(values[f"{PREFIX}DATABASE_URL"])
    assert database.parent == Path(writable) == Path(service["WorkingDirectory"])
