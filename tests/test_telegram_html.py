"""Telegram's HTML subset, checked before a template is saved, and long texts cut into parts that
Telegram takes: under its limits, at line ends, each part's tags balanced."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core import telegram_html
from core.telegram_html import HtmlProblem, problem, size, split


@pytest.mark.parametrize(
    "text",
    [
        "plain text, Tom & Jerry, 2 > 1",
        "<b>bold</b> <strong>s</strong> <i>i</i> <em>e</em> <u>u</u> <ins>n</ins>",
        "<s>s</s> <strike>s</strike> <del>d</del> <tg-spoiler>x</tg-spoiler>",
        '<span class="tg-spoiler">hidden</span>',
        '<a href="https://example.org/?a=1&amp;b=2">link</a>',
        '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
        '<pre><code class="language-python">print(1 &lt; 2)</code></pre>',
        "<blockquote>q</blockquote><blockquote expandable>long</blockquote>",
        "&lt;p&gt; &amp; &quot; &#1234; &#x1F600;",
        "<B>upper case tags</B>",
        "سلام <b>مریم</b>\nخط دوم",
    ],
)
def test_what_telegram_takes_passes(text: str) -> None:
    assert problem(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<p>Hi</p>", HtmlProblem("unsupported_tag", tag="p")),
        ("Hi<br>there", HtmlProblem("unsupported_tag", tag="br")),
        ("line\n<div>x</div>", HtmlProblem("unsupported_tag", tag="div", line=2)),
        ("<b>never closed", HtmlProblem("unclosed_tag", tag="b")),
        ("<b><i>crossed</b></i>", HtmlProblem("unexpected_end_tag", tag="b", expected="i")),
        ("closed</i>", HtmlProblem("unexpected_end_tag", tag="i")),
        ('<b class="x">x</b>', HtmlProblem("unknown_attribute", tag="b", attribute="class")),
        ('<a hraf="x">x</a>', HtmlProblem("unknown_attribute", tag="a", attribute="hraf")),
        ("<a>x</a>", HtmlProblem("missing_attribute", tag="a", attribute="href")),
        ('<span class="red">x</span>', HtmlProblem("bad_attribute_value", "span", "class")),
        ("1 < 2", HtmlProblem("stray_bracket")),
        ("a&nbsp;b", HtmlProblem("unknown_entity", tag="&nbsp;")),
    ],
)
def test_what_telegram_refuses_is_named(text: str, expected: HtmlProblem) -> None:
    assert problem(text) == expected


def test_a_text_that_fits_is_one_part_as_it_is() -> None:
    text = "<b>Hi</b>\n" * 10
    assert split(text) == [text]


def test_long_text_is_cut_at_line_ends_under_the_limit() -> None:
    lines = [f"#{n} <i>reward {n}</i> · {'x' * 90}" for n in range(100)]
    text = "<b>Rewards</b>\n" + "\n".join(lines)
    parts = split(text, 1000)
    assert len(parts) > 1
    assert all(size(part) <= 1000 for part in parts)
    assert "\n".join(parts) == text  # cut only at line ends, nothing lost or added
    assert all(problem(part) is None for part in parts)


def test_a_tag_open_across_the_cut_is_closed_and_opened_again() -> None:
    text = '<blockquote expandable><a href="https://x.org">' + "word " * 400 + "</a></blockquote>"
    parts = split(text, 300)
    assert all(size(part) <= 300 for part in parts)
    assert all(problem(part) is None for part in parts)
    assert all(part.startswith('<blockquote expandable><a href="https://x.org">') for part in parts)
    assert all(part.endswith("</a></blockquote>") for part in parts)


def test_a_word_longer_than_a_part_is_cut_between_characters_never_inside_an_entity() -> None:
    text = "&amp;" * 300
    parts = split(text, 100)
    assert all(size(part) <= 100 and problem(part) is None for part in parts)
    assert "".join(parts) == text


def test_a_caption_takes_its_own_limit_and_the_rest_the_message_limit() -> None:
    text = "\n".join("ردیف " + str(n) * 20 for n in range(400))
    caption, *rest = split(text, telegram_html.CAPTION_LIMIT, telegram_html.MESSAGE_LIMIT)
    assert size(caption) <= telegram_html.CAPTION_LIMIT
    assert rest and all(size(part) <= telegram_html.MESSAGE_LIMIT for part in rest)
    assert max(size(part) for part in rest) > telegram_html.CAPTION_LIMIT
    assert "\n".join([caption, *rest]) == text


def test_emoji_count_twice_as_telegram_counts_them() -> None:
    parts = split("🌷" * 3000)
    assert [size(part) for part in parts] == [4096, 1904]


@given(
    st.lists(
        st.sampled_from(["<b>", "</b>", "<i>", "</i>", "\n", " ", "word", "سلام", "&amp;", "🌷"]),
        max_size=400,
    ),
    st.integers(40, 400),
)
def test_every_part_fits_and_reads_the_same(atoms: list[str], limit: int) -> None:
    text = "".join(atoms)
    parts = split(text, limit)
    assert all(size(part) <= limit for part in parts)
    readable = [telegram_html.problem(p) for p in parts]
    if problem(text) is None:
        assert readable == [None] * len(parts)
