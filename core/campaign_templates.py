"""A campaign's message template: what staff may write in it, and rendering it within a size cap.

Staff write these templates, and one that loops inside a loop over a long text, pads a value to a
billion spaces (``center(10**9)``), repeats a string (``'x' * 10**8``) or raises a number to a huge
power would take the renderer's CPU and memory for minutes. Two layers stop that:

- **Before it is saved**, the parsed template (``Environment.parse``) is held against a whitelist
  (:func:`allowed`): text, the message's variables, ``{% if %}``, one level of ``{% for %}``,
  comparisons and arithmetic, and the filters of :data:`FILTERS`. Nested or recursive loops,
  ``{% set %}``, macros and ``{% call %}``, includes, function and method calls, and Jinja's
  globals (``lipsum``, ``range``, ``cycler``…) are refused with what was used.
- **While it renders**, :class:`StaffSandbox` has no globals and only those filters, refuses every
  call, and checks ``*``, ``**`` and ``%`` before it computes them: no single step makes a value
  larger than :data:`MAX_OUTPUT` or a number longer than :data:`MAX_NUMBER_BITS`. The output is
  counted chunk by chunk as it is produced and refused once it passes :data:`MAX_OUTPUT`.

What neither layer bounds is the time a legal but busy template takes: that budget is
:mod:`core.template_worker`'s, which renders in a separate process it can stop. This module is pure
and synchronous so that process can import it without the database or Telegram code.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Final

from jinja2 import (
    StrictUndefined,
    Template,
    TemplateError,
    TemplateSyntaxError,
    UndefinedError,
    nodes,
)
from jinja2.defaults import DEFAULT_NAMESPACE
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from core import telegram_html
from core.errors import InvalidTemplate

MAX_TEMPLATE: Final = 3000
# A rendered message may be longer than one Telegram message (the sender cuts it into parts), but
# not by much: a campaign is a message, not a document.
MAX_OUTPUT: Final = 2 * telegram_html.MESSAGE_LIMIT
MAX_NUMBER_BITS: Final = 16_384  # about 4,900 digits, past Python's own limit for printing them
VARIABLES: Final = ("name", "tier", "balance", "to_next_tier", "next_tier", "expiring_points",
                    "expiring_date", "referral_link", "member_number")  # fmt: skip
# Filters that shrink or reshape a value without enlarging it beyond its own size.
FILTERS: Final = ("abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float",
                  "int", "last", "length", "lower", "round", "string", "title", "trim",
                  "truncate", "upper", "wordcount")  # fmt: skip
_NODES: Final = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Const, nodes.Name, nodes.If,
    nodes.For, nodes.CondExpr, nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos,
    nodes.Compare, nodes.Operand, nodes.Concat, nodes.BinExpr, nodes.Getattr, nodes.Getitem,
    nodes.Slice, nodes.Filter, nodes.Test, nodes.List, nodes.Tuple, nodes.Keyword,
)  # fmt: skip
# What a refused node is called in the error, so the text can name it in the staff's language.
_CONSTRUCTS: Final = {
    nodes.Macro: "macro", nodes.CallBlock: "macro", nodes.Call: "call", nodes.Assign: "set",
    nodes.AssignBlock: "set", nodes.Include: "include", nodes.Import: "include",
    nodes.FromImport: "include", nodes.Extends: "include", nodes.Block: "include",
    nodes.With: "set",
}  # fmt: skip
_UNDEFINED = re.compile(r"'([^']{1,40})' is undefined")


class TooBig(SecurityError):
    """A step or the whole output would pass the sandbox's size caps."""


class StaffSandbox(SandboxedEnvironment):
    """Jinja's sandbox with nothing in it that a staff message does not need.

    The sandbox already keeps templates away from Python internals; this one also takes away its
    globals and all but :data:`FILTERS`, refuses calls, repeated lists and ``%`` on text, and sizes
    ``*`` and ``**`` before computing them (Jinja folds constant arithmetic while compiling unless
    it is intercepted, so ``'x' * 10**9`` would otherwise be computed by the compiler itself).
    """

    intercepted_binops = frozenset({"*", "**", "%"})

    def __init__(self) -> None:
        super().__init__(autoescape=True, undefined=StrictUndefined)
        self.globals.clear()
        self.filters = {name: self.filters[name] for name in FILTERS}

    def call(self, *args: Any, **kwargs: Any) -> Any:
        raise SecurityError("templates call nothing")

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "%" and isinstance(left, str):
            raise SecurityError("no printf formatting")  # "%999999999d" pads without a limit
        if operator == "*" and (isinstance(left, list | tuple) or isinstance(right, list | tuple)):
            raise SecurityError("no repeated lists")  # printed, [[s] * n] * n is n * n * len(s)
        if operator == "*" and isinstance(left, str) and isinstance(right, int):
            _fits(len(left) * right)
        elif operator == "*" and isinstance(left, int) and isinstance(right, str):
            _fits(len(right) * left)
        elif operator == "*" and isinstance(left, int) and isinstance(right, int):
            _fits_number(left.bit_length() + right.bit_length())
        elif operator == "**" and isinstance(left, int) and isinstance(right, int):
            _fits_number(left.bit_length() * right)
        return super().call_binop(context, operator, left, right)


def _fits(size: int) -> None:
    if size > MAX_OUTPUT:
        raise TooBig(f"{size} characters")


def _fits_number(bits: int) -> None:
    if bits > MAX_NUMBER_BITS:
        raise TooBig(f"a {bits}-bit number")


_ENV = StaffSandbox()


def allowed(tree: nodes.Template) -> None:
    """Refuse what the whitelist does not hold: :class:`InvalidTemplate` ``not_allowed`` with the
    ``construct`` used (its ``name`` for a filter or a Jinja global, and the ``allowed`` filters
    for a filter) and its ``line``.

    A name that is no variable is left to the render, which knows the variables it is given.
    """
    _visit(tree, frozenset(), in_loop=False)


def _visit(node: nodes.Node, targets: frozenset[str], *, in_loop: bool) -> None:
    line = node.lineno
    if isinstance(node, nodes.Call):
        _visit(node.node, targets, in_loop=in_loop)  # ``lipsum()`` is refused as ``lipsum``
    if not isinstance(node, _NODES):
        construct = next((c for kind, c in _CONSTRUCTS.items() if isinstance(node, kind)), "other")
        raise InvalidTemplate("not_allowed", construct=construct, name="", line=line)
    if isinstance(node, nodes.Name) and node.name in DEFAULT_NAMESPACE and node.name not in targets:
        raise InvalidTemplate("not_allowed", construct="global", name=node.name, line=line)
    if isinstance(node, nodes.Filter) and node.name not in _ENV.filters:
        raise InvalidTemplate(
            "not_allowed", construct="filter", name=node.name, line=line, allowed=" ".join(FILTERS)
        )
    if isinstance(node, nodes.For):
        if in_loop or node.recursive:
            raise InvalidTemplate("not_allowed", construct="nested_loop", name="", line=line)
        _visit(node.iter, targets, in_loop=False)
        names = [node.target, *node.target.find_all(nodes.Name)]
        inner = targets | {n.name for n in names if isinstance(n, nodes.Name)}
        for child in (*node.body, *node.else_, *([node.test] if node.test else [])):
            _visit(child, inner, in_loop=True)
        return
    for child in node.iter_child_nodes():
        _visit(child, targets, in_loop=in_loop)


def compile_template(text: str) -> Template:
    """The template parsed, held against the whitelist, and compiled: ready to render many times."""
    with typed_errors(text):
        tree = _ENV.parse(text)
        allowed(tree)
        return _ENV.from_string(tree)


def render_compiled(template: Template, variables: Mapping[str, object]) -> str:
    """The message for one member, counted as it is produced and cut off past :data:`MAX_OUTPUT`."""
    parts: list[str] = []
    size = 0
    with typed_errors(""):
        for chunk in template.generate(**variables):
            size += len(chunk)
            _fits(size)
            parts.append(chunk)
    return "".join(parts).strip()


def render(template: str, variables: Mapping[str, object]) -> str:
    """The message for one member. Anything outside the sandbox fails as a typed error."""
    return render_compiled(compile_template(template), variables)


def check_template(text: str, *, within: float | None = None) -> str:
    """Refuse what the whitelist does not hold, trial-render with sample values, and check the
    message's HTML as Telegram reads it; :class:`InvalidTemplate` says what to fix.

    ``within`` is the seconds one member's message may take (:mod:`core.template_worker`'s share
    of a batch's budget per message): a template slower than that passes a check of one message
    but would fail every campaign run, so it is ``too_slow_per_member`` (``limit``, in ms) now.
    """
    if not text.strip():
        raise InvalidTemplate("empty")
    if len(text) > MAX_TEMPLATE:
        raise InvalidTemplate("too_long", text[:40], limit=MAX_TEMPLATE)
    template = compile_template(text)
    started = time.perf_counter()
    message = render_compiled(template, dict.fromkeys(VARIABLES, "x"))
    if within is not None and time.perf_counter() - started > within:
        raise InvalidTemplate("too_slow_per_member", text[:40], limit=round(within * 1000))
    found = telegram_html.problem(message)
    if found is not None:
        raise InvalidTemplate(
            found.reason, text[:40], tag=found.tag, attribute=found.attribute,
            expected=found.expected, line=found.line,
        )  # fmt: skip
    return text


@contextmanager
def typed_errors(template: str) -> Iterator[None]:
    """Whatever Jinja or Python raises for a template, as the :class:`InvalidTemplate` that says
    why."""
    try:
        yield
    except InvalidTemplate:
        raise
    except (TooBig, MemoryError) as exc:
        raise InvalidTemplate("too_big", template[:40], limit=MAX_OUTPUT) from exc
    except TemplateSyntaxError as exc:
        raise InvalidTemplate("syntax", template[:40], line=exc.lineno) from exc
    except UndefinedError as exc:
        name = _UNDEFINED.search(str(exc))
        raise InvalidTemplate(
            "undefined", template[:40], variable=name.group(1) if name else ""
        ) from exc
    except SecurityError as exc:
        raise InvalidTemplate("unsafe", template[:40]) from exc
    except (TemplateError, ArithmeticError, TypeError, ValueError) as exc:
        raise InvalidTemplate("broken", template[:40]) from exc
