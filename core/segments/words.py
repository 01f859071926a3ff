"""Segments: the other words a rule may use for the language's own, such as Persian field, tier and
keyword names (``tier >= silver`` with each word in Persian), read as the language's words before
parsing.

The words themselves are the faces' (the locales' labels: ``labels/segment_word`` and
``labels/tier``), handed in as a :class:`Vocabulary`; the parser reads a rule through it and keeps
the rule in the language's own words too (:attr:`~core.segments.tree.Segment.canonical`), which is
what a campaign saves, so a campaign reads the same whatever the words it was typed in. A word is
compared after :func:`normalize`: letter case, Arabic and Persian forms of yeh and kaf, the
zero-width non-joiner, kashida and hamza marks do not matter.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from core.digits import to_latin_digits
from core.segments.builtin import BUILTIN
from core.segments.fields import _FIELDS, _RESERVED

#: Every word of the language that another may name: fields (``{n}``: a window's days),
#: keywords, and the built-in segments.
WORDS: Final = (
    *_FIELDS, "purchases_{n}d", "spend_{n}d", "birthday", "within", "days", "day",
    *sorted(_RESERVED - {"within", "days", "day"}), *BUILTIN,
)  # fmt: skip
DAYS: Final = "{n}"  # where a windowed field's alias takes its days

# Arabic yeh, alef maksura and kaf as Persian writes them; marks that do not change a word.
_SAME = str.maketrans({"\u064a": "\u06cc", "\u0649": "\u06cc", "\u0643": "\u06a9"})
_IGNORED = re.compile("[\u200c\u200d\u0640\u0654\u064b-\u065f\u0670]")


def normalize(word: str) -> str:
    """How a word is compared: Latin digits, lower case, one spelling of yeh and kaf, no ZWNJ."""
    return _IGNORED.sub("", to_latin_digits(word).lower().translate(_SAME))


@dataclass(frozen=True)
class Vocabulary:
    """Other words for the language's own; :data:`NONE` is the language alone."""

    words: Mapping[str, str] = field(default_factory=dict)  # normalized word -> own word
    windows: tuple[tuple[re.Pattern[str], str], ...] = ()  # alias with the days -> own word
    names: Mapping[str, str] = field(default_factory=dict)  # own word -> the staff's word

    def own(self, word: str) -> str | None:
        """The language's word for ``word``, if ``word`` is another word for one."""
        key = normalize(word)
        if key in self.words:
            return self.words[key]
        for pattern, own in self.windows:
            match = pattern.fullmatch(key)
            if match is not None:
                return own.replace(DAYS, match.group(1))
        return None

    def name(self, own: str) -> str:
        """How the staff call ``own`` (itself when they have no word of their own for it)."""
        return self.names.get(own, own)

    def nearest(self, word: str, owns: Iterable[str]) -> str:
        """The staff's word among ``owns`` closest to a mistyped ``word``, or ""."""
        shown = {normalize(self.name(own)): self.name(own) for own in owns}
        shown.update({own: own for own in owns})
        found = difflib.get_close_matches(normalize(word), list(shown), n=1, cutoff=0.6)
        return shown[found[0]] if found else ""


NONE: Final = Vocabulary()


def vocabulary(
    aliases: Iterable[tuple[str, str]], names: Mapping[str, str] | None = None
) -> Vocabulary:
    """A vocabulary from ``(own word, other word)`` pairs (the first pair of a word wins; a word
    the same as its own is left out), and the staff's own ``names``."""
    words: dict[str, str] = {}
    windows: list[tuple[re.Pattern[str], str]] = []
    for own, other in aliases:
        key = normalize(other)
        if not key or key == normalize(own) or key in words:
            continue
        if DAYS in own:
            before, _, after = key.partition(DAYS)
            windows.append((re.compile(f"{re.escape(before)}([0-9]+){re.escape(after)}"), own))
        else:
            words[key] = own
    return Vocabulary(words, tuple(windows), dict(names or {}))
