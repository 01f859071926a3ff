"""What staff may write in a campaign's template: hostile ones refused before they are saved, in the
staff's language, with what was used; a busy one stopped by the worker's time budget; ordinary
ones (Persian text, members' fields, conditions, a loop) rendered as before."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from core import campaign_templates, template_worker
from core.campaign_templates import StaffSandbox
from core.errors import InvalidTemplate
from core.locales import LOCALES
from texts import Translator

TRANSLATOR = Translator(ZoneInfo("Asia/Tehran"))


def busy(characters: int, rounds: int) -> str:
    """A single loop of legal steps: each power is small, but it takes a few milliseconds to print
    and rounds of them add up."""
    power = "{% if ((7 ** (5000 + c|length))|string)|length > 0 %}{% endif %}"
    return "{% for c in '" + "x" * characters + "' %}" + power * rounds + "{% endfor %}"


BUSY = busy(1000, 30)  # seconds of work (tens on a loaded machine), far past the budget

HOSTILE = [
    ("{% for a in name %}{% for b in name %}{{ a }}{{ b }}{% endfor %}{% endfor %}",
     {"reason": "not_allowed", "construct": "nested_loop"}),
    ("{% for c in name recursive %}{{ loop(c) }}{% endfor %}",
     {"reason": "not_allowed", "construct": "nested_loop"}),
    ("{{ lipsum(n=1000) }}", {"reason": "not_allowed", "construct": "global", "name": "lipsum"}),
    ("{{ range(10**9)|length }}",
     {"reason": "not_allowed", "construct": "global", "name": "range"}),
    ("{{ cycler }}", {"reason": "not_allowed", "construct": "global", "name": "cycler"}),
    ("{{ name|center(10**9) }}",
     {"reason": "not_allowed", "construct": "filter", "name": "center"}),
    ("{{ name|indent(10**9) }}",
     {"reason": "not_allowed", "construct": "filter", "name": "indent"}),
    ("{{ name|wordwrap(10**9) }}",
     {"reason": "not_allowed", "construct": "filter", "name": "wordwrap"}),
    ("{{ '%-1000000000s'|format(name) }}",
     {"reason": "not_allowed", "construct": "filter", "name": "format"}),
    ("{{ name|replace('', name * 100) }}",
     {"reason": "not_allowed", "construct": "filter", "name": "replace"}),
    ("{{ '{:>1000000000}'.format(name) }}", {"reason": "not_allowed", "construct": "call"}),
    ("{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
     {"reason": "not_allowed", "construct": "macro"}),
    ("{% macro m() %}{{ caller() }}{% endmacro %}{% call m() %}x{% endcall %}",
     {"reason": "not_allowed", "construct": "macro"}),
    ("{% set s = name ~ name %}{{ s }}", {"reason": "not_allowed", "construct": "set"}),
    ("{% include 'errors/error.j2' %}", {"reason": "not_allowed", "construct": "include"}),
    ("{{ 'x' * 10**8 }}", {"reason": "too_big"}),
    ("{{ [[name * 8000] * 8000] * 8000 }}", {"reason": "unsafe"}),
    ("{{ 9 ** (10**6) }}", {"reason": "too_big"}),
    ("{{ '%01000000000d' % 1 }}", {"reason": "unsafe"}),
    ("{% for c in 'x' * 2000 %}{{ c * 8 }}{% endfor %}", {"reason": "too_big"}),  # output, at last
]  # fmt: skip


@pytest.mark.parametrize(("template", "expected"), HOSTILE)
async def test_a_hostile_template_is_refused_before_it_is_saved_with_what_was_used(
    template: str, expected: dict[str, str]
) -> None:
    with pytest.raises(InvalidTemplate) as refused:
        await template_worker.check(template)
    assert expected.items() <= refused.value.details.items()
    for locale in LOCALES:
        text = TRANSLATOR(locale, "errors/invalid_template", **refused.value.details)
        fallback = TRANSLATOR(locale, "errors/invalid_template", reason="?")
        assert text and text != fallback and "not_allowed" not in text
        if "name" in expected:
            assert expected["name"] in text


@pytest.mark.parametrize(("template", "expected"), HOSTILE)
def test_the_same_templates_are_refused_in_process_too(
    template: str, expected: dict[str, str]
) -> None:
    with pytest.raises(InvalidTemplate) as refused:
        campaign_templates.check_template(template)
    assert expected.items() <= refused.value.details.items()


def test_the_sandbox_stops_what_the_whitelist_would_miss() -> None:
    """Compiled without the whitelist, the same steps still fail in the sandbox itself."""
    env = StaffSandbox()
    hostile = ("{{ lipsum() }}", "{{ name.upper() }}", "{{ 'x' * 10**8 }}", "{{ 9 ** (10**6) }}",
               "{{ '%09999999d' % 1 }}")  # fmt: skip
    for source in hostile:
        with pytest.raises(InvalidTemplate), campaign_templates.typed_errors(source):
            env.from_string(source).render(name="x")
    with pytest.raises(InvalidTemplate), campaign_templates.typed_errors(""):
        env.from_string("{{ name|center(10**9) }}")  # no such filter here


def test_the_busy_template_passes_the_whitelist() -> None:
    campaign_templates.allowed(StaffSandbox().parse(BUSY))
    assert len(BUSY) <= campaign_templates.MAX_TEMPLATE


async def test_a_busy_template_is_stopped_by_the_time_budget_and_the_next_one_renders() -> None:
    with pytest.raises(InvalidTemplate) as stopped:
        await template_worker.check(BUSY)
    assert stopped.value.details == {
        "reason": "too_slow", "seconds": round(template_worker.BUDGET_SECONDS)
    }  # fmt: skip
    fa = TRANSLATOR("fa", "errors/invalid_template", **stopped.value.details)
    en = TRANSLATOR("en", "errors/invalid_template", **stopped.value.details)
    assert "ثانیه" in fa and "2 seconds" in en
    assert await template_worker.render_each("سلام {{ name }}", [{"name": "سارا"}]) == ["سلام سارا"]


async def test_a_template_too_slow_to_build_for_every_member_is_refused() -> None:
    """A fifth of a second fits the check's budget, but not a campaign's thousands of members."""
    with pytest.raises(InvalidTemplate) as refused:
        await template_worker.check(busy(800, 1))
    assert refused.value.details == {
        "reason": "too_slow_per_member", "limit": round(template_worker.MESSAGE_SECONDS * 1000)
    }  # fmt: skip
    fa = TRANSLATOR("fa", "errors/invalid_template", **refused.value.details)
    en = TRANSLATOR("en", "errors/invalid_template", **refused.value.details)
    assert "۵۰ میلی‌ثانیه" in fa and "50 milliseconds per member" in en


async def test_ordinary_templates_render_for_each_member_as_before() -> None:
    template = (
        "<b>{{ name }}</b> عزیز، {{ balance }} امتیاز دارید."
        "{% if to_next_tier %} تا سطح {{ next_tier }} {{ to_next_tier }} امتیاز مانده.{% endif %}"
        "{% for c in name|upper %}{{ c }}{% if not loop.last %}.{% endif %}{% endfor %}"
    )
    await template_worker.check(template)
    members = [
        {"name": "سارا", "balance": "۱۲۰", "to_next_tier": "۸۰", "next_tier": "نقره‌ای"},
        {"name": "<i>Ali</i> & co", "balance": "0", "to_next_tier": "", "next_tier": ""},
    ]
    assert await template_worker.render_each(template, members) == [
        "<b>سارا</b> عزیز، ۱۲۰ امتیاز دارید. تا سطح نقره‌ای ۸۰ امتیاز مانده.س.ا.ر.ا",
        "<b>&lt;i&gt;Ali&lt;/i&gt; &amp; co</b> عزیز، 0 امتیاز دارید."
        "&lt;.I.&gt;.A.L.I.&lt;./.I.&gt;. .&amp;. .C.O",
    ]
    assert await template_worker.render_each(template, []) == []


async def test_a_template_that_fails_for_a_member_fails_the_batch() -> None:
    with pytest.raises(InvalidTemplate) as failed:
        await template_worker.render_each("{{ name }} {{ nickname }}", [{"name": "x"}])
    assert failed.value.details == {"reason": "undefined", "variable": "nickname"}
