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
    ("query", "cookie", "default", "expected"),
    [
        (None, None, "vi", "vi"),
        ("en", None, "vi", "en"),
        (None, "en", "vi", "en"),
        ("vi", "en", "en", "vi"),
        (None, None, "en", "en"),
        ("xx", "yy", "zz", "vi"),
    ],
)
def test_language_choice(query: str | None, cookie: str | None, default: str, expected: str) -> None:
    assert pick_language(query, cookie, default) == expected


@given(st.none() | st.text(max_size=10), st.none() | st.text(max_size=10), st.text(max_size=5))
def test_language_choice_never_fails(query: str | None, cookie: str | None, default: str) -> None:
    assert pick_language(query, cookie, default) in LANGUAGES


def test_times_are_shown_in_vietnam_whatever_the_server_zone() -> None:
    hcm = ZoneInfo("Asia/Ho_Chi_Minh")
    t = datetime(2026, 10, 1, 14, 2, tzinfo=hcm).timestamp()
    assert clock(t, t + 60) == "14:02"
    assert clock(t, t + 86400) == "14:02 01/10"
    assert clock(t, t + 400 * 86400) == "14:02 01/10/2026"


@pytest.mark.parametrize(
    ("seconds", "vi", "en"),
    [
        (None, "–", "–"),
        (0, "0 giây", "0 s"),
        (59, "59 giây", "59 s"),
        (60, "1 phút", "1 min"),
        (3600, "1 giờ", "1 h 00"),
        (7380, "2 giờ 3 phút", "2 h 03"),
        (86400, "1 ngày", "1 d 0 h"),
        (90000, "1 ngày 1 giờ", "1 d 1 h"),
        (58 * 86400 + 9 * 3600, "58 ngày 9 giờ", "58 d 9 h"),
    ],
)
def test_durations(seconds: float | None, vi: str, en: str) -> None:
    assert duration(seconds, "vi") == vi
    assert duration(seconds, "en") == en


def test_district_names_inside_sentences() -> None:
    assert unit_phrase("Huyện Ba Tơ", "vi") == "huyện Ba Tơ"
    assert unit_phrase("Huyện Ba Tơ", "en") == "Ba Tơ district"
    assert unit_phrase("Thị xã Đức Phổ", "vi") == "thị xã Đức Phổ"
    assert unit_phrase("Thị xã Đức Phổ", "en") == "Đức Phổ town"
    assert unit_phrase("Thành phố Quảng Ngãi", "en") == "Quảng Ngãi city"


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


def test_an_empty_chart_says_so() -> None:
    out = svg.sparkline([], label="Độ trễ", empty="không có dữ liệu")
    assert ">không có dữ liệu</text>" in out
    assert "không có dữ liệu" not in svg.sparkline([(1.0, 0.02, True)], empty="không có dữ liệu")
