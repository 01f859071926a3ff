"""Every kind of inline-button data, declared once: its prefix, its typed fields and their bounds.

Buttons outlive the code that made them: they sit in chats for months and inside queued outbox
rows (campaign offers, survey scales). So the wire format is version 1 and frozen: today's
``<prefix>[:<field>…]`` strings, unchanged. A new kind gets a new prefix; a changed kind gets a
new prefix too, never a new meaning for an old one.

Handlers register with :meth:`Kind.handler`, whose pattern accepts only data that :meth:`Kind.parse`
reads in full and within bounds. Anything else (unknown, forged, out of range) matches no handler
and falls through to :func:`bot.handlers.guard.stale_button`, so no handler ever sees it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler

MAX_BYTES = 64  # Telegram's limit on callback data
MAX_ID = 2**63 - 1  # a database id (BIGINT)
MAX_PAGE = 10_000
_WORD = re.compile(r"[!-9;-~]{1,32}")  # printable ASCII without ':' or spaces

Value = int | str


@dataclass(frozen=True)
class Int:
    """A decimal in ASCII digits within ``lo..hi`` (``int()`` would take Persian digits and
    unbounded lengths, and a page that large overflows the database's offset)."""

    lo: int
    hi: int

    def read(self, raw: str) -> int | None:
        if not (raw.isascii() and raw.isdigit()) or len(raw) > len(str(self.hi)):
            return None
        value = int(raw)
        return value if self.lo <= value <= self.hi else None


@dataclass(frozen=True)
class Word:
    """A short token; ``choices`` narrows it to a fixed set. Open words (tier keys, profile
    options) are checked against the club's rules by the handler, which knows them."""

    choices: frozenset[str] | None = None

    def read(self, raw: str) -> str | None:
        if self.choices is not None:
            return raw if raw in self.choices else None
        return raw if _WORD.fullmatch(raw) else None


Field = Int | Word
ID = Int(1, MAX_ID)
PAGE = Int(0, MAX_PAGE)


def one_of(*choices: str) -> Word:
    return Word(frozenset(choices))


@dataclass(frozen=True)
class Kind:
    """One kind of button: ``prefix`` (it may hold a ':' itself, as ``prof:sec``) and its fields."""

    prefix: str
    fields: tuple[Field, ...] = ()

    def pack(self, *values: Value) -> str:
        """The data for a button of this kind; a value its own parser would refuse is a bug."""
        data = ":".join([self.prefix, *map(str, values)])
        if self.parse(data) is None:
            raise ValueError(f"{data!r} is not valid {self.prefix!r} data")
        return data

    def parse(self, data: object) -> tuple[Value, ...] | None:
        """The typed fields of ``data``, or None unless it is exactly this kind, within bounds."""
        if not isinstance(data, str) or len(data.encode()) > MAX_BYTES:
            return None
        if data == self.prefix:
            return () if not self.fields else None
        if not data.startswith(self.prefix + ":"):
            return None
        raws = data[len(self.prefix) + 1 :].split(":")
        if len(raws) != len(self.fields):
            return None
        values = tuple(f.read(raw) for f, raw in zip(self.fields, raws, strict=True))
        return None if None in values else values

    def matches(self, data: object) -> bool:
        return self.parse(data) is not None

    def of(self, update: Update) -> tuple[Value, ...]:
        """The fields of the pressed button (its handler's pattern has already parsed them)."""
        values = self.parse(update.callback_query.data)
        assert values is not None, "a handler registered without its kind's pattern"
        return values

    def handler(
        self, callback: Callable[[Update, Any], Coroutine[Any, Any, Any]]
    ) -> CallbackQueryHandler:
        return CallbackQueryHandler(callback, pattern=self.matches)


# --- the kinds (wire format version 1: these strings are in chats and outbox rows) --------

HISTORY = Kind("hist", (PAGE,))
CATALOGUE = Kind("rwls")
REWARD = Kind("rw", (ID,))  # also in queued campaign offers
REDEEM = Kind("rwok", (ID,))
LOTTERY = Kind("lot", (ID,))
CANCEL_CODE = Kind("mycx", (ID,))
CONFIRM_PURCHASE = Kind("pcf", (ID,))
CANCEL_PURCHASE = Kind("pcx", (ID,))
SETTING = Kind("set", (one_of("lang", "offers", "surveys", "quiet"), Word()))
FORGET = Kind("forget", (one_of("yes", "no"),))
SURVEY_SCORE = Kind("sv", (ID, Int(0, 10)))  # in queued survey invites
SURVEY_SKIP = Kind("svc", (ID, one_of("skip")))
SURVEY_FOLLOW_UP = Kind("svf", (ID,))
REWARD_TIER = Kind("radd:tier", (Word(),))
REWARD_ALLOCATION = Kind("radd:alloc", (Word(),))
CAMPAIGN = Kind("cmp", (one_of("save", "drop"),))
PROFILE_MENU = Kind("prof:menu")
PROFILE_SECTION = Kind("prof:sec", (Word(),))
PROFILE_CHOICE = Kind("prof:set", (Word(), Word()))
PROFILE_PHONE = Kind("prof:phone")
PROFILE_CITY = Kind("prof:city")
# A reported customer list's short id in the chat's memory (bot.handlers.staff_import).
IMPORT_APPLY = Kind("imp", (Word(),))
CONFIRM_DRAW = Kind("dcf", (ID,))  # a draw held before its lottery's deadline
CANCEL_DRAW = Kind("dcx", (ID,))

KINDS = (
    HISTORY, CATALOGUE, REWARD, REDEEM, LOTTERY, CANCEL_CODE, CONFIRM_PURCHASE, CANCEL_PURCHASE,
    SETTING, FORGET, SURVEY_SCORE, SURVEY_SKIP, SURVEY_FOLLOW_UP, REWARD_TIER, REWARD_ALLOCATION,
    CAMPAIGN, PROFILE_MENU, PROFILE_SECTION, PROFILE_CHOICE, PROFILE_PHONE, PROFILE_CITY,
    IMPORT_APPLY, CONFIRM_DRAW, CANCEL_DRAW,
)  # fmt: skip


def parse(data: object) -> tuple[Kind, tuple[Value, ...]] | None:
    """Which kind ``data`` is and its fields, or None for data no button of ours carries."""
    for kind in KINDS:
        values = kind.parse(data)
        if values is not None:
            return kind, values
    return None
