"""English nouns agree with their number ("1 point", "2 points"); Persian keeps the singular.

The templates are rendered as the bot renders them (:class:`texts.Translator`) with 1 and with 2,
and no English template may put a plural noun straight after a bare ``|num``.
"""

from __future__ import annotations

import re
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from texts import LOCALES_DIR, Translator
from texts.plurals import counted, noun

T = Translator(ZoneInfo("Asia/Tehran"))
_PERSIAN_DIGIT = re.compile("[\u06f0-\u06f9]")


def _member(balance: int) -> SimpleNamespace:
    return SimpleNamespace(id=7, name="Sara", balance=balance, tier="bronze", status="active")


def _draw(winners: int) -> dict[str, object]:
    return {
        "reward": SimpleNamespace(id=3, title="Mug"),
        "draw": SimpleNamespace(policy="lottery", seed="s", entrants={"ids": [1, 2, 3]}),
        "winners": [_member(0) for _ in range(winners)],
    }


# (template key, its values for a number n, what English says for 1, and for 2)
CASES = [
    ("join/welcome_back", lambda n: {"member": _member(n)},
     "You have 1 point.", "You have 2 points."),
    ("points", lambda n: {"member": _member(n), "next_tier": None, "expiring": [],
                          "pending": SimpleNamespace(points=0)},
     "you have <b>1</b> point.", "you have <b>2</b> points."),
    ("notify/adjusted", lambda n: {"delta": n, "reason": "gift", "member": _member(n)},
     "We added 1 point to your account (gift). Balance: 1 point",
     "We added 2 points to your account (gift). Balance: 2 points"),
    ("staff/segment", lambda n: {"rule": "all", "count": n, "sample": []},
     "Matching: 1 member.", "Matching: 2 members."),
    ("campaign_new/schedule", lambda n: {"count": n},
     "has 1 member right now", "has 2 members right now"),
    ("staff/drawn", _draw, "went to 1 member:", "went to 2 members:"),
    ("errors/rate_limited", lambda n: {"seconds": n}, "in 1 second.", "in 2 seconds."),
]  # fmt: skip


@pytest.mark.parametrize(("key", "values", "one", "two"), CASES, ids=[c[0] for c in CASES])
def test_english_nouns_agree_with_one_and_two(key: str, values, one: str, two: str) -> None:
    assert one in T("en", key, **values(1))
    assert two in T("en", key, **values(2))


@pytest.mark.parametrize(
    ("key", "values"), [(c[0], c[1]) for c in CASES], ids=[c[0] for c in CASES]
)
def test_persian_words_stay_the_same_after_one_and_two(key: str, values) -> None:
    # The line with the number (a draw's goes on to list its winners, one or two).
    one, two = (T("fa", key, **values(n)).splitlines()[0] for n in (1, 2))
    assert _PERSIAN_DIGIT.sub("#", one) == _PERSIAN_DIGIT.sub("#", two)


def test_a_count_follows_each_language() -> None:
    assert [counted(n, "entry", "entries", "en") for n in (0, 1, 1500)] == [
        "0 entries", "1 entry", "1,500 entries",
    ]  # fmt: skip
    assert [noun(n, "code", None, "en") for n in (1, -1, 2)] == ["code", "code", "codes"]
    assert counted(2, "x", "xs", "fa") == "\u06f2 x"


_BARE_PLURAL = re.compile(
    r"\|num \}\}(</b>)? (points|members|friends|rows|days|codes|times|seconds|characters)\b"
)


def test_no_english_template_puts_a_plural_noun_after_a_bare_number() -> None:
    folder = LOCALES_DIR / "en"
    offenders = [
        str(path.relative_to(folder))
        for path in folder.rglob("*.j2")
        if _BARE_PLURAL.search(path.read_text())
    ]
    assert offenders == []
