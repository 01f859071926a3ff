"""Segments: a small rule language over member facts, parsed (never ``eval``'d) into one query.

Staff type rules such as ``tier >= gold and days_inactive > 60 and nps_last <= 6``. :func:`parse`
reads one into a validated tree (:class:`Segment`) or raises :class:`~core.errors.SegmentError`
pointing at the token where reading stopped; :func:`member_ids` compiles the tree into a single
``SELECT members.id ...`` whose conditions are correlated subqueries (and, for the RFM scores, a
join to one row of quintile cuts), so a segment over a million members is one statement and never a
loop in Python.

Grammar (keywords, field names, tier names and ``true``/``false`` in any letter case)::

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | atom
    atom       := "(" expr ")" | comparison | builtin
    comparison := field op value | field "in" "(" value ("," value)* ")"
    op         := "=" | "!=" | "<" | "<=" | ">" | ">="
    builtin    := "birthday within" N "days" | "near_next_tier" | a name of BUILTIN

Values are whole numbers (ASCII, Persian or Arabic-Indic digits, ``_`` between groups), quoted text
(``"..."`` or ``'...'``), or bare words: tier keys, ``true``/``false``, and single-word text.

Fields, per active member (only members whose status is ``active`` are ever selected):

``tier``
    compared along the rules' ladder: ``tier >= gold`` is gold or above. A tier the rules no longer
    have ranks as the base tier, as :meth:`core.rules.Rules.tier_rank` says.
``balance``, ``qualifying_points``
    the spendable balance; points of completed purchases in the tier window (as :mod:`core.tiers`).
``days_inactive``
    whole days (floored 24-hour days) since the last completed purchase; for a member who never
    bought, since joining. Every ``days_*`` comparison is rewritten to a comparison of a timestamp
    with a cut-off computed from ``now`` (``days_inactive > 60`` is "last purchase at or before
    ``now - 61 days``"), so no date arithmetic runs in SQL and both engines agree.
``days_since_joining``
    whole days since ``joined_at``, the same way.
``purchases_<N>d``, ``spend_<N>d``
    count and sum of amounts of completed purchases made in the last N days (``created_at >
    now - N days``), N from 1 to 3650.
``recency``, ``frequency``, ``monetary``
    RFM scores 1-5: quintiles (``NTILE(5)``) over active members with at least one completed
    purchase in the last 365 days, by the time of the last purchase, the number of purchases and
    the amount spent in that window. Equal values get equal scores: the lowest quintile their group
    reaches. Members without a purchase in the window score 1 on all three (nothing is less recent,
    less frequent or smaller than nothing). In SQL the quintiles are cut once (one row holding the
    largest value of each quintile, joined to every member) and a score comparison becomes a
    comparison of the member's own value with those cuts; a sort of the year's buyers per score
    used makes these the slowest fields (about a second per score over a million members, SQLite).
``birthday_month``
    the Jalali month (1-12) of the birthday's anniversary in the current Jalali year (see below).
``birthday within N days`` (N from 1 to 366)
    the birthday's month and day falls on one of the N days starting today, across the year end.
    A 29 February birthday counts on 1 March in common years.
``city``
    text, compared without letter case (``=``, ``!=``, ``in``).
``interest``
    ``interest = "events"`` matches members whose profile JSON contains the string ``"events"``
    (quotes included, so ``event`` does not match ``events``), without letter case. Profile choices
    are distinct across sections (``core``'s profile keys), so this is the interests list.
``referrals``
    how many members this member referred (every referral row, rewarded or not).
``nps_last``
    the score of the member's latest NPS answer.
``offers``
    ``true`` or ``false``: whether the member accepts offers.
``near_next_tier`` (a condition on its own)
    qualifying points at least 90% of the threshold of the tier above the member's own, and still
    below it (gold members between 18,000 and 19,999 of platinum's 20,000); never the top tier.

Missing facts (no birthday, no city, no NPS answer) never satisfy a comparison, ``!=`` included;
``not`` is the exact complement, so ``not nps_last <= 6`` includes members who never answered.

Dates: "today" is ``now``'s own calendar date, in ``now``'s own time zone. Pass ``now`` converted
to the club's zone to count birthdays by the club's calendar (a UTC ``now`` reads the UTC date).

Birthday months without converting a million birthdays in Python: a Jalali month of the current
Jalali year is one range of Gregorian days, so "Jalali month m" becomes a condition on the
birthday's Gregorian ``month * 100 + day`` (``mmdd``): Farvardin 1404 is 2025-03-21..2025-04-20, so
``birthday_month = 1`` is ``mmdd BETWEEN 321 AND 420``; Dey spans the year end and becomes ``mmdd >=
1222 OR mmdd <= 120``. The twelve ranges of a year cover every ``mmdd`` exactly once (29 February
falls inside Esfand). Because Nowruz moves by a day between years, a birthday on a boundary day is
read by this year's calendar. A Jalali year is 365 or 366 days over a Gregorian stretch that may
have the other length, so one ``mmdd`` at Nowruz can occur twice or not at all; Esfand is cut to
end the day before this year's Farvardin 1 so that every birthday has exactly one month.

Built-in segments (:data:`BUILTIN`) are written in the language itself; ``{churn_days}`` is filled
in from ``rules.messaging.churn_days``. ``at_risk`` is "once frequent, now inactive": frequency is
scored over the last 365 days, so "once frequent" means the top three frequency quintiles of the
past year, and "now inactive" means no completed purchase for more than ``churn_days``; a member
quiet for the whole year has frequency 1 and has left the segment (a churn window of a year or more
leaves it empty).
"""

from __future__ import annotations

import calendar
import json
import operator
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final

import jdatetime
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    extract,
    false,
    func,
    join,
    literal,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import Subquery

from core.digits import to_latin_digits
from core.errors import SegmentError
from core.models import (
    Member,
    MemberStatus,
    Purchase,
    PurchaseStatus,
    Referral,
    SurveyAnswer,
    SurveyKind,
    UTCDateTime,
)
from core.rules import Rules
from core.tiers import qualifying_cutoff

__all__ = [
    "BUILTIN",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "RFM_WINDOW_DAYS",
    "Segment",
    "SegmentError",
    "builtin_rule",
    "count",
    "jalali_month_spans",
    "member_ids",
    "parse",
    "sample",
]

#: Longest rule accepted, in characters; longer ones are refused before they are read.
MAX_LENGTH: Final = 500
#: Deepest nesting of parentheses and ``not``.
MAX_DEPTH: Final = 20
#: RFM scores look at completed purchases of this many last days.
RFM_WINDOW_DAYS: Final = 365

#: Named segments, written in the language; ``{churn_days}`` comes from the rules.
BUILTIN: Final[dict[str, str]] = {
    "champions": "recency >= 4 and frequency >= 4 and monetary >= 4",
    "at_risk": "frequency >= 3 and days_inactive > {churn_days}",
    "new_members": "days_since_joining <= 30",
    "birthday_week": "birthday within 7 days",
    "near_next_tier": "near_next_tier",
}

# --- tokens -------------------------------------------------------------------------------------

# Persian (U+06F0..) and Arabic-Indic (U+0660..) digits are read as 0-9. Everything non-ASCII is
# escaped: a repository checker forbids Persian characters in core/*.py.
_DIGITS = "0-9\u06f0-\u06f9\u0660-\u0669"
# Whitespace, plus the invisible marks Persian keyboards and RTL copy-paste slip in (ZWNJ, LRM,
# RLM, the bidi embeddings and isolates).
_SPACE = r"\s\u200b-\u200f\u061c\u202a-\u202e\u2066-\u2069"
_TOKEN_RE: Final = re.compile(
    rf"(?P<space>[{_SPACE}]+)"
    rf"|(?P<number>[{_DIGITS}]+(?:[_\u066c][{_DIGITS}]+)*)"
    rf"|(?P<word>[A-Za-z_][A-Za-z_{_DIGITS}]*)"
    r"|(?P<string>\"[^\"\n]*\"|'[^'\n]*')"
    r"|(?P<op>[=!<>]+)"
    r"|(?P<punct>[(),])"
)
_MAX_NUMBER_DIGITS: Final = 15  # fits BIGINT with room to spare


@dataclass(frozen=True)
class _Token:
    kind: str  # word | number | string | op | ( | ) | ,
    text: str  # as typed
    pos: int
    value: str  # words lower-cased with Latin digits; numbers as Latin digits; strings unquoted


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN_RE.match(text, pos)
        if match is None:
            char = text[pos]
            if char in "\"'":
                raise SegmentError("unterminated_string", pos, text[pos : pos + 20])
            raise SegmentError("unexpected_character", pos, char)
        kind, raw = match.lastgroup or "", match.group()
        pos = match.end()
        if kind == "space":
            continue
        if kind == "number":
            value = to_latin_digits(raw).replace("_", "").replace("\u066c", "")
        elif kind == "word":
            value = to_latin_digits(raw).lower()
        elif kind == "string":
            value = raw[1:-1]
        elif kind == "punct":
            kind, value = raw, raw
        else:
            value = raw
        tokens.append(_Token(kind, raw, match.start(), value))
    return tokens


# --- the tree -----------------------------------------------------------------------------------

Value = int | str | bool


@dataclass(frozen=True)
class Compare:
    """``field op value``; ``in`` carries several values. ``window`` is N of ``purchases_<N>d``."""

    field: str
    op: str
    values: tuple[Value, ...]
    window: int | None = None


@dataclass(frozen=True)
class BirthdayWithin:
    days: int


@dataclass(frozen=True)
class NearNextTier:
    pass


@dataclass(frozen=True)
class Named:
    """A built-in segment used by name, with its definition read in the same language."""

    name: str
    definition: Node


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Compare | BirthdayWithin | NearNextTier | Named | Not | And | Or


@dataclass(frozen=True)
class Segment:
    """A rule that parsed and names only things that exist; compile it with :func:`member_ids`."""

    text: str
    root: Node
    rules: Rules = field(repr=False, compare=False)


# --- fields -------------------------------------------------------------------------------------

_ORDERED: Final = frozenset({"=", "!=", "<", "<=", ">", ">=", "in"})
_EQUALITY: Final = frozenset({"=", "!=", "in"})
_ALLOWED_OPS: Final = {
    "number": _ORDERED,
    "days": _ORDERED,
    "month": _ORDERED,
    "tier": _ORDERED,
    "text": _EQUALITY,
    "bool": frozenset({"=", "!="}),
}
_FIELDS: Final = {
    "tier": "tier",
    "balance": "number",
    "qualifying_points": "number",
    "days_inactive": "days",
    "days_since_joining": "days",
    "recency": "number",
    "frequency": "number",
    "monetary": "number",
    "birthday_month": "month",
    "city": "text",
    "interest": "text",
    "referrals": "number",
    "nps_last": "number",
    "offers": "bool",
}
_RANGES: Final = {
    "recency": (1, 5),
    "frequency": (1, 5),
    "monetary": (1, 5),
    "birthday_month": (1, 12),
    "nps_last": (0, 10),
    "days_inactive": (0, 100_000),
    "days_since_joining": (0, 100_000),
}
_RFM: Final = ("recency", "frequency", "monetary")
_WINDOW_FIELD: Final = re.compile(r"(purchases|spend)_([0-9]+)d")
_MAX_WINDOW_DAYS: Final = 3650
_MAX_BIRTHDAY_DAYS: Final = 366
_CONNECTIVES: Final = frozenset({"and", "or", "not"})
_RESERVED: Final = _CONNECTIVES | {"in", "within", "days", "day", "true", "false"}
_OPERATORS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def builtin_rule(name: str, rules: Rules) -> str:
    """The definition of a built-in segment with the rules' numbers filled in."""
    return BUILTIN[name].format(churn_days=rules.messaging.churn_days)


# --- the parser ---------------------------------------------------------------------------------


class _Parser:
    """Recursive descent over the tokens; every error names the token where reading stopped."""

    def __init__(self, text: str, rules: Rules, depth: int = 0) -> None:
        self.text = text
        self.rules = rules
        self.tokens = _tokenize(text)
        self.i = 0
        self.start_depth = depth

    def parse(self) -> Node:
        if not self.tokens:
            raise SegmentError("empty", 0, "")
        node = self._or(self.start_depth)
        tok = self._peek()
        if tok is not None:
            raise self._error("unmatched_parenthesis" if tok.kind == ")" else "trailing", tok)
        return node

    # helpers

    def _peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _next(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def _at_keyword(self, word: str) -> bool:
        tok = self._peek()
        return tok is not None and tok.kind == "word" and tok.value == word

    def _error(self, reason: str, tok: _Token | None) -> SegmentError:
        if tok is None:
            return SegmentError(reason, len(self.text), "")
        return SegmentError(reason, tok.pos, tok.text)

    def _deeper(self, depth: int, tok: _Token) -> int:
        if depth + 1 > MAX_DEPTH:
            raise self._error("too_deep", tok)
        return depth + 1

    # grammar

    def _or(self, depth: int) -> Node:
        items = [self._and(depth)]
        while self._at_keyword("or"):
            self.i += 1
            items.append(self._and(depth))
        return items[0] if len(items) == 1 else Or(tuple(items))

    def _and(self, depth: int) -> Node:
        items = [self._not(depth)]
        while self._at_keyword("and"):
            self.i += 1
            items.append(self._not(depth))
        return items[0] if len(items) == 1 else And(tuple(items))

    def _not(self, depth: int) -> Node:
        tok = self._peek()
        if tok is not None and tok.kind == "word" and tok.value == "not":
            deeper = self._deeper(depth, tok)
            self.i += 1
            return Not(self._not(deeper))
        return self._atom(depth)

    def _atom(self, depth: int) -> Node:
        tok = self._peek()
        if tok is None:
            raise self._error("missing_condition", None)
        if tok.kind == "(":
            deeper = self._deeper(depth, tok)
            self.i += 1
            node = self._or(deeper)
            close = self._peek()
            if close is None:
                raise self._error("unclosed_parenthesis", tok)
            if close.kind != ")":
                raise self._error("expected_closing_parenthesis", close)
            self.i += 1
            return node
        if tok.kind != "word" or tok.value in _RESERVED:
            raise self._error("missing_condition", tok)
        if tok.value == "near_next_tier":
            self.i += 1
            return NearNextTier()
        if tok.value == "birthday":
            return self._birthday()
        if tok.value in BUILTIN:
            self.i += 1
            text = builtin_rule(tok.value, self.rules)
            definition = _Parser(text, self.rules, self._deeper(depth, tok)).parse()
            return Named(tok.value, definition)
        return self._comparison()

    def _birthday(self) -> Node:
        self.i += 1  # birthday
        if not self._at_keyword("within"):
            raise self._error("expected_within", self._peek())
        self.i += 1
        tok = self._peek()
        if tok is None or tok.kind != "number":
            raise self._error("missing_value", tok)
        days = self._number(tok, 1, _MAX_BIRTHDAY_DAYS)
        self.i += 1
        if not (self._at_keyword("days") or self._at_keyword("day")):
            raise self._error("expected_days", self._peek())
        self.i += 1
        return BirthdayWithin(days)

    def _comparison(self) -> Node:
        field_tok = self._next()
        name, kind, window = self._field(field_tok)
        op_tok = self._peek()
        if op_tok is None:
            raise self._error("missing_operator", None)
        if op_tok.kind == "word" and op_tok.value == "in":
            op = "in"
        elif op_tok.kind == "op":
            if op_tok.text not in _OPERATORS:
                raise self._error("bad_operator", op_tok)
            op = op_tok.text
        else:
            raise self._error("missing_operator", op_tok)
        if op not in _ALLOWED_OPS[kind]:
            raise self._error("operator_not_allowed", op_tok)
        self.i += 1
        values = self._list(name, kind) if op == "in" else (self._value(name, kind),)
        return Compare(name, op, values, window)

    def _field(self, tok: _Token) -> tuple[str, str, int | None]:
        if tok.value in _FIELDS:
            return tok.value, _FIELDS[tok.value], None
        match = _WINDOW_FIELD.fullmatch(tok.value)
        if match is None:
            raise self._error("unknown_field", tok)
        days = int(match.group(2))
        if not 1 <= days <= _MAX_WINDOW_DAYS:
            raise self._error("out_of_range", tok)
        return tok.value, "number", days

    def _list(self, name: str, kind: str) -> tuple[Value, ...]:
        opening = self._peek()
        if opening is None or opening.kind != "(":
            raise self._error("expected_list", opening)
        self.i += 1
        values = [self._value(name, kind)]
        while True:
            tok = self._peek()
            if tok is None:
                raise self._error("unclosed_parenthesis", opening)
            if tok.kind == ")":
                self.i += 1
                return tuple(values)
            if tok.kind != ",":
                raise self._error("expected_comma", tok)
            self.i += 1
            values.append(self._value(name, kind))

    def _value(self, name: str, kind: str) -> Value:
        tok = self._peek()
        if (
            tok is None
            or tok.kind in ("(", ")", ",", "op")
            or (tok.kind == "word" and tok.value in _CONNECTIVES)
        ):
            raise self._error("missing_value", tok)
        value: Value
        if kind in ("number", "days", "month"):
            if tok.kind != "number":
                raise self._error("bad_value", tok)
            low, high = _RANGES.get(name, (0, 10**_MAX_NUMBER_DIGITS - 1))
            value = self._number(tok, low, high)
        elif kind == "tier":
            if tok.kind not in ("word", "string"):
                raise self._error("bad_value", tok)
            value = to_latin_digits(tok.value.strip()).lower()
            if value not in self.rules.tier_keys:
                raise self._error("unknown_tier", tok)
        elif kind == "text":
            if tok.kind == "string" and tok.value.strip():
                value = tok.value.strip()
            elif tok.kind == "word" and tok.value not in _RESERVED:
                value = tok.text
            else:
                raise self._error("bad_value", tok)
        else:  # bool
            if tok.kind != "word" or tok.value not in ("true", "false"):
                raise self._error("bad_value", tok)
            value = tok.value == "true"
        self.i += 1
        return value

    def _number(self, tok: _Token, low: int, high: int) -> int:
        digits = tok.value.lstrip("0") or "0"
        if len(digits) > _MAX_NUMBER_DIGITS or not low <= int(digits) <= high:
            raise self._error("out_of_range", tok)
        return int(digits)


def parse(text: str, rules: Rules) -> Segment:
    """Read a rule; raises :class:`SegmentError` at the first token that does not fit."""
    if len(text) > MAX_LENGTH:
        raise SegmentError("too_long", MAX_LENGTH, "")
    root = _Parser(text, rules).parse()
    return Segment(text=text.strip(), root=root, rules=rules)


# --- dates --------------------------------------------------------------------------------------


def _mmdd(d: date) -> int:
    return d.month * 100 + d.day


def jalali_month_spans(jalali_year: int) -> dict[int, tuple[int, int]]:
    """For each Jalali month of the year, its Gregorian days as ``(first, last)`` in ``mmdd``.

    ``first > last`` means the month runs over the Gregorian year end (Dey). The twelve spans
    cover every ``mmdd`` of a leap year exactly once.
    """
    spans: dict[int, tuple[int, int]] = {}
    for month in range(1, 13):
        first = jdatetime.date(jalali_year, month, 1).togregorian()
        if month < 12:
            last = jdatetime.date(jalali_year, month + 1, 1).togregorian() - timedelta(days=1)
        else:
            # Esfand runs to the day before Farvardin 1 of this year's Gregorian calendar: a year
            # of 366 days would give 20 March to both Farvardin and Esfand, a year of 365 days
            # over a 29 February none of them.
            last = jdatetime.date(jalali_year, 1, 1).togregorian() - timedelta(days=1)
        spans[month] = (_mmdd(first), _mmdd(last))
    return spans


def _month_runs(months: Iterable[int], spans: dict[int, tuple[int, int]]) -> list[tuple[int, int]]:
    """Consecutive months joined into one ``mmdd`` range each (the months' days are contiguous)."""
    runs: list[tuple[int, int]] = []
    previous = None
    for month in sorted(months):
        if previous is not None and month == previous + 1:
            runs[-1] = (runs[-1][0], spans[month][1])
        else:
            runs.append(spans[month])
        previous = month
    return runs


def _upcoming_spans(today: date, days: int) -> list[tuple[int, int]]:
    """The ``mmdd`` ranges of the ``days`` days starting today (split at the year end)."""
    if days >= _MAX_BIRTHDAY_DAYS:
        return [(101, 1231)]
    last = today + timedelta(days=days - 1)
    if today.year == last.year:
        pieces = [(today, last)]
    else:
        pieces = [(today, date(today.year, 12, 31)), (date(last.year, 1, 1), last)]
    spans = []
    for start, end in pieces:
        low = _mmdd(start)
        if low == 301 and not calendar.isleap(start.year):
            low = 229  # 29 February birthdays are celebrated on 1 March in common years
        spans.append((low, _mmdd(end)))
    return spans


# --- the compiler -------------------------------------------------------------------------------


def _int(value: int) -> ColumnElement[int]:
    return literal(value, BigInteger())


def _known(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """A comparison that may meet a missing fact: missing is false, so ``not`` is the complement."""
    return func.coalesce(condition, false())


def _in_span(expr: ColumnElement[int], span: tuple[int, int]) -> ColumnElement[bool]:
    low, high = span
    if low <= high:
        return expr.between(_int(low), _int(high))
    return or_(expr >= _int(low), expr <= _int(high))


def _holds(op: str, values: Sequence[Value], candidate: Value) -> bool:
    if op == "in":
        return candidate in values
    return bool(_OPERATORS[op](candidate, values[0]))


class _Compiler:
    def __init__(self, rules: Rules, now: datetime, root: Node) -> None:
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("naive datetime: pass an aware datetime")
        self.rules = rules
        self.now = now
        self.rfm: Subquery | None = None
        # Each RFM score costs a sort of the year's buyers: only the scores the rule uses.
        used = _fields_used(root)
        self.rfm_scores = tuple(name for name in _RFM if name in used)

    def condition(self, node: Node) -> ColumnElement[bool]:
        match node:
            case And(items):
                return and_(*(self.condition(item) for item in items))
            case Or(items):
                return or_(*(self.condition(item) for item in items))
            case Not(item):
                return not_(self.condition(item))
            case Named(_, definition):
                return self.condition(definition)
            case NearNextTier():
                return self._near_next_tier()
            case BirthdayWithin(days):
                spans = _upcoming_spans(self.now.date(), days)
                return _known(or_(*(_in_span(self._birthday_mmdd(), s) for s in spans)))
            case Compare():
                return self._compare(node)
        raise TypeError(f"not a segment node: {node!r}")  # pragma: no cover

    # facts

    def _ago(self, days: int) -> ColumnElement[datetime]:
        return literal(self.now - timedelta(days=days), UTCDateTime())

    def _purchases(self, *columns: Any, days: int | None) -> Select[Any]:
        query = select(*columns).where(
            Purchase.member_id == Member.id, Purchase.status == PurchaseStatus.COMPLETED
        )
        if days is not None:
            query = query.where(Purchase.created_at > self._ago(days))
        return query

    def _qualifying_points(self) -> ColumnElement[int]:
        return (
            select(func.coalesce(func.sum(Purchase.points), 0))
            .where(
                Purchase.member_id == Member.id,
                Purchase.status == PurchaseStatus.COMPLETED,
                Purchase.created_at > qualifying_cutoff(self.rules, self.now),
            )
            .correlate(Member)
            .scalar_subquery()
        )

    def _last_activity(self) -> ColumnElement[datetime]:
        last = (
            self._purchases(func.max(Purchase.created_at), days=None)
            .correlate(Member)
            .scalar_subquery()
        )
        return func.coalesce(last, Member.joined_at, type_=UTCDateTime())

    def _number(self, name: str, window: int | None) -> ColumnElement[int]:
        if window is not None:
            total = func.count() if name.startswith("purchases") else func.sum(Purchase.amount)
            return func.coalesce(
                self._purchases(total, days=window).correlate(Member).scalar_subquery(), 0
            )
        if name == "balance":
            return Member.balance
        if name == "qualifying_points":
            return self._qualifying_points()
        if name == "referrals":
            return (
                select(func.count())
                .where(Referral.referrer_id == Member.id)
                .correlate(Member)
                .scalar_subquery()
            )
        if name == "nps_last":
            return (
                select(SurveyAnswer.score)
                .where(SurveyAnswer.member_id == Member.id, SurveyAnswer.kind == SurveyKind.NPS)
                .order_by(SurveyAnswer.created_at.desc(), SurveyAnswer.id.desc())
                .limit(1)
                .correlate(Member)
                .scalar_subquery()
            )
        raise ValueError(f"not a number field: {name}")  # pragma: no cover

    def _rfm_facts(self, buyer: Any) -> Select[Any]:
        """Completed purchases of the RFM window (``buyer`` is the member they belong to)."""
        return select().where(
            Purchase.member_id == buyer.id,
            Purchase.status == PurchaseStatus.COMPLETED,
            Purchase.created_at > self._ago(RFM_WINDOW_DAYS),
        )

    def _rfm_cut(self) -> Subquery:
        """One row: for each score and each b of 2..5, the largest value of quintile b - 1.

        With the values of the active buyers sorted and cut by ``NTILE(5)``, a member's score is
        the quintile where their value first appears (ties share the lowest one), so score >= b
        exactly when their value is above every value of quintiles 1..b-1, that is above the
        largest value of quintile b-1. A threshold of a quintile that does not exist (fewer than
        five buyers) is NULL and no value is above it.
        """
        if self.rfm is None:
            buyer = aliased(Member)
            facts = (
                self._rfm_facts(buyer)
                .add_columns(
                    func.max(Purchase.created_at).label("recency"),
                    func.count().label("frequency"),
                    func.sum(Purchase.amount).label("monetary"),
                )
                .where(buyer.status == MemberStatus.ACTIVE)
                .group_by(Purchase.member_id)
                .subquery("rfm_facts")
            )
            scores = self.rfm_scores
            ranked = select(
                *(facts.c[name] for name in scores),
                *(func.ntile(5).over(order_by=facts.c[name]).label(f"{name}_q") for name in scores),
            ).subquery("rfm_ranked")
            self.rfm = select(
                *(
                    func.max(case((ranked.c[f"{name}_q"] == b - 1, ranked.c[name]))).label(
                        f"{name}_{b}"
                    )
                    for name in scores
                    for b in range(2, 6)
                )
            ).subquery("rfm_cut")
        return self.rfm

    def _rfm_value(self, name: str) -> ColumnElement[Any]:
        """The member's own recency, frequency or monetary value; NULL or 0 for non-buyers."""
        column = {
            "recency": func.max(Purchase.created_at),
            "frequency": func.count(),
            "monetary": func.sum(Purchase.amount),
        }[name]
        return self._rfm_facts(Member).add_columns(column).correlate(Member).scalar_subquery()

    def _score(self, name: str, op: str, values: Sequence[Value]) -> ColumnElement[bool]:
        """An RFM comparison, as comparisons of the member's value with the quintile cuts."""
        cut = self._rfm_cut()

        def at_least(b: int) -> ColumnElement[bool]:
            if b <= 1:
                return true()
            if b > 5:
                return false()
            return _known(self._rfm_value(name) > cut.c[f"{name}_{b}"])

        def exactly(b: int) -> ColumnElement[bool]:
            return and_(at_least(b), not_(at_least(b + 1)))

        k = int(values[0])
        return {
            ">=": lambda: at_least(k),
            ">": lambda: at_least(k + 1),
            "<": lambda: not_(at_least(k)),
            "<=": lambda: not_(at_least(k + 1)),
            "=": lambda: exactly(k),
            "!=": lambda: not_(exactly(k)),
            "in": lambda: or_(*(exactly(int(v)) for v in values)),
        }[op]()

    def _birthday_mmdd(self) -> ColumnElement[int]:
        return extract("month", Member.birthday) * 100 + extract("day", Member.birthday)

    # comparisons

    def _compare(self, node: Compare) -> ColumnElement[bool]:
        kind = _FIELDS.get(node.field, "number")
        if kind == "tier":
            return self._tier(node)
        if kind == "days":
            stamp = Member.joined_at if node.field == "days_since_joining" else None
            return self._days(stamp if stamp is not None else self._last_activity(), node)
        if kind == "month":
            return self._month(node)
        if kind == "bool":
            enabled = Member.offers_enabled == bool(node.values[0])
            return enabled if node.op == "=" else not_(enabled)
        if kind == "text":
            match = self._city if node.field == "city" else self._interest
            if node.op == "in":
                return _known(or_(*(match(str(v)) for v in node.values)))
            return _known(
                match(str(node.values[0])) if node.op == "=" else not_(match(str(node.values[0])))
            )
        if node.field in _RFM:
            return self._score(node.field, node.op, node.values)
        expr = self._number(node.field, node.window)
        if node.op == "in":
            condition = or_(*(expr == _int(int(v)) for v in node.values))
        else:
            condition = _OPERATORS[node.op](expr, _int(int(node.values[0])))
        return _known(condition) if node.field == "nps_last" else condition

    def _tier(self, node: Compare) -> ColumnElement[bool]:
        keys = self.rules.tier_keys
        ranks = [keys.index(str(v)) for v in node.values]
        chosen = [key for rank, key in enumerate(keys) if _holds(node.op, ranks, rank)]
        if keys[0] in chosen:
            # A tier the rules no longer have ranks as the base tier, so it is in too.
            others = [key for key in keys if key not in chosen]
            return Member.tier.not_in(others) if others else true()
        return Member.tier.in_(chosen) if chosen else false()

    def _days(self, stamp: ColumnElement[datetime], node: Compare) -> ColumnElement[bool]:
        """Whole days since ``stamp`` compared with n, as ``stamp`` against cut-offs."""

        def one(op: str, n: int) -> ColumnElement[bool]:
            at_least = stamp <= self._ago(n)  # days >= n
            beyond = stamp <= self._ago(n + 1)  # days > n
            return {
                ">=": lambda: at_least,
                ">": lambda: beyond,
                "<": lambda: stamp > self._ago(n),
                "<=": lambda: stamp > self._ago(n + 1),
                "=": lambda: and_(at_least, stamp > self._ago(n + 1)),
                "!=": lambda: or_(stamp > self._ago(n), beyond),
            }[op]()

        if node.op == "in":
            return or_(*(one("=", int(v)) for v in node.values))
        return one(node.op, int(node.values[0]))

    def _month(self, node: Compare) -> ColumnElement[bool]:
        months = [m for m in range(1, 13) if _holds(node.op, node.values, m)]
        if not months:
            return false()
        year = jdatetime.date.fromgregorian(date=self.now.date()).year
        runs = _month_runs(months, jalali_month_spans(year))
        mmdd = self._birthday_mmdd()
        return _known(or_(*(_in_span(mmdd, run) for run in runs)))

    def _city(self, value: str) -> ColumnElement[bool]:
        return func.lower(Member.city) == func.lower(literal(value, String()))

    def _interest(self, value: str) -> ColumnElement[bool]:
        text = func.lower(cast(Member.profile, Text))
        # The JSON string as written by json.dumps (non-ASCII escaped), and as written verbatim.
        forms = sorted({json.dumps(value.lower()), json.dumps(value.lower(), ensure_ascii=False)})
        return or_(*(text.like(f"%{_escape_like(form)}%", escape="!") for form in forms))

    def _near_next_tier(self) -> ColumnElement[bool]:
        """Qualifying points at least 90% of the next tier's threshold, and below it."""
        tiers = self.rules.tiers
        if len(tiers) < 2:
            return false()
        bounds: dict[str, tuple[int, int] | None] = {}
        for rank, tier in enumerate(tiers):
            following = tiers[rank + 1] if rank + 1 < len(tiers) else None
            if following is None:
                bounds[tier.key] = None
            else:
                threshold = following.threshold
                bounds[tier.key] = (threshold - threshold // 10, threshold - 1)
        base = bounds[tiers[0].key]
        assert base is not None

        def bound(index: int) -> ColumnElement[int]:
            whens = [
                (Member.tier == key, null() if b is None else _int(b[index]))
                for key, b in bounds.items()
            ]
            return case(*whens, else_=_int(base[index]))  # unknown tiers rank as the base

        return _known(self._qualifying_points().between(bound(0), bound(1)))


def _fields_used(node: Node) -> set[str]:
    match node:
        case Compare(name):
            return {name}
        case And(items) | Or(items):
            return set().union(*(_fields_used(item) for item in items))
        case Not(item) | Named(_, item):
            return _fields_used(item)
    return set()


def _escape_like(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


# --- running a segment --------------------------------------------------------------------------


def _select(segment: Segment, now: datetime, *entities: Any) -> Select[Any]:
    compiler = _Compiler(segment.rules, now, segment.root)
    condition = compiler.condition(segment.root)
    query = select(*entities)
    if compiler.rfm is not None:
        # The quintile cuts are one row, computed once and joined to every member.
        query = query.select_from(join(Member, compiler.rfm, true()))
    return query.where(Member.status == MemberStatus.ACTIVE, condition)


def member_ids(segment: Segment, now: datetime) -> Select[tuple[int]]:
    """``SELECT members.id`` of the active members in the segment; ``now`` goes in as parameters."""
    return _select(segment, now, Member.id)


async def count(session: AsyncSession, segment: Segment, now: datetime) -> int:
    query = select(func.count()).select_from(member_ids(segment, now).subquery())
    return int(await session.scalar(query) or 0)


async def sample(
    session: AsyncSession, segment: Segment, now: datetime, limit: int = 5
) -> list[Member]:
    """A few members of the segment, lowest member numbers first, for a preview."""
    query = _select(segment, now, Member).order_by(Member.id).limit(limit)
    return list((await session.scalars(query)).all())
