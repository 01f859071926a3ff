"""A moment plus whole days inside SQL, the same on SQLite and PostgreSQL.

A window that starts at a time read from a row (a message's ``sent_at``) ends at that time plus
some days, and the comparison has to happen in the query. PostgreSQL adds an interval. SQLite
keeps our times as text, ``2026-03-01 09:00:00.000000`` in UTC (:class:`core.models.UTCDateTime`),
so the days are added with ``strftime`` to the whole seconds and the microseconds are put back
(``substr(at, 20)``): the result is text of the same shape, which compares with the stored times
exactly as they compare with each other.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Integer, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from core.models import UTCDateTime


class days_after(FunctionElement[Any]):
    """``moment + days`` (a column or expression of UTC times; ``days`` a whole number)."""

    type = UTCDateTime()
    name = "days_after"
    inherit_cache = True

    def __init__(self, moment: Any, days: int) -> None:
        super().__init__(moment, literal(days, Integer))


@compiles(days_after)
def _postgresql(element: days_after, compiler: SQLCompiler, **kw: Any) -> str:
    moment, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"({moment} + make_interval(days => {days}))"


@compiles(days_after, "sqlite")
def _sqlite(element: days_after, compiler: SQLCompiler, **kw: Any) -> str:
    moment, days = (compiler.process(clause, **kw) for clause in element.clauses)
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {moment}, '+' || {days} || ' days')"
        f" || substr({moment}, 20))"
    )
