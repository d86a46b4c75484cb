"""Pure pieces of the status page: language choice, times in Asia/Ho_Chi_Minh, durations, SVG."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netmon.collector.web import svg
from netmon.collector.web.i18n import LANGUAGES, clock, duration, pick_language, unit_phrase


@pytest.mark.parametrize(
    ("query", "cookie", "header", "expected"),
    [
        (None, None, None, "vi"),
        ("en", None, None, "en"),
        (None, "en", "vi", "en"),
        ("vi", "en", "en", "vi"),
        (None, None, "en-US,en;q=0.9", "en"),
        (None, None, "vi-VN,vi;q=0.9,en;q=0.8", "vi"),
        (None, None, "fr-FR,en;q=0.5", "en"),
        (None, None, "en;q=0", "vi"),
        ("xx", "yy", "zz", "vi"),
    ],
)
def test_language_choice(query: str | None, cookie: str | None, header: str | None, expected: str) -> None:
    assert pick_language(query, cookie, header) == expected


@given(st.none() | st.text(max_size=10), st.none() | st.text(max_size=10), st.none() | st.text(max_size=60))
def test_language_choice_never_fails(query: str | None, cookie: str | None, header: str | None) -> None:
    assert pick_language(query, cookie, header) in LANGUAGES


def test_times_are_shown_in_vietnam_whatever_the_server_zone() -> None:
    hcm = ZoneInfo("Asia/Ho_Chi_Minh")
    t = datetime(2026, 10, 1, 14, 2, tzinfo=hcm).timestamp()
    assert clock(t, t + 60) == "14:02"
    assert clock(t, t + 86400) == "14:02 01/10"
    assert clock(t, t + 400 * 86400) == "14:02 01/10/2026"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "–"), (0, "0 s"), (59, "59 s"), (60, "1 min"), (3600, "1 h 00"), (7380, "2 h 03"), (90000, "1 d 1 h")],
)
def test_durations(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text


def test_district_names_inside_sentences() -> None:
    assert unit_phrase("Huyện Ba Tơ", "vi") == "huyện Ba Tơ"
    assert unit_phrase("Huyện Ba Tơ", "en") == "Ba Tơ district"
    assert unit_phrase("Thị xã Đức Phổ", "vi") == "thị xã Đức Phổ"


@given(st.text(max_size=30))
def test_svg_labels_are_escaped(label: str) -> None:
    out = svg.hbars([(label, 0.5)], target=1.0, title=label) + svg.histogram([(label, 3)], title=label)
    assert "<script" not in out
    body = out.replace("<svg", "").replace("</svg>", "")
    for tag in ("<text", "<rect", "<line", "</text>"):
        body = body.replace(tag, "")
    assert "<" not in body.replace("&lt;", "")


@given(st.lists(st.tuples(st.floats(0, 1e6), st.none() | st.floats(0, 10), st.booleans()), max_size=50))
def test_sparkline_never_fails(points: list[tuple[float, float | None, bool]]) -> None:
    out = svg.sparkline(sorted(points, key=lambda p: p[0]))
    assert out.startswith("<svg")
    assert out.endswith("</svg>")
    assert "nan" not in out.lower()
