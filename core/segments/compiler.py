"""Segments, step three: a validated tree compiled into SQL conditions on ``members``.

Every condition is a correlated subquery or a comparison with literals computed here from ``now``
(day cut-offs, birthday ``mmdd`` ranges, RFM quintile cuts joined as one row), so a segment is one
statement whatever the number of members, and SQLite and PostgreSQL give the same answer. The
reasoning behind each field's SQL is in the package docstring (:mod:`core.segments`).
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Iterable, Sequence
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
    literal,
    not_,
    null,
    or_,
    select,
    true,
)
from sqlalchemy.orm import aliased
from sqlalchemy.sql.selectable import Subquery

from core import jalali
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
from core.segments.fields import _FIELDS, _MAX_BIRTHDAY_DAYS, _OPERATORS, _RFM
from core.segments.tree import (
    And,
    BirthdayWithin,
    Compare,
    Named,
    NearNextTier,
    Node,
    Not,
    Or,
    Value,
)
from core.tiers import qualifying_cutoff, qualifying_points_query

#: RFM scores look at completed purchases of this many last days.
RFM_WINDOW_DAYS: Final = 365


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
        low = jalali.mmdd(start)
        if low == 301 and not calendar.isleap(start.year):
            low = 229  # 29 February birthdays are celebrated on 1 March in common years
        spans.append((low, jalali.mmdd(end)))
    return spans


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
        cutoff = qualifying_cutoff(self.rules, self.now)
        return qualifying_points_query(Member.id, cutoff).correlate(Member).scalar_subquery()

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
        runs = _month_runs(months, jalali.jalali_month_spans(year))
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
