"""The glossary: one word per concept and language; causes and durations in words."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netmon.collector.glossary import AVOID, LANGUAGES, TERMS, cause, duration, interface_state, reason, term
from netmon.collector.model import State
from netmon.config.inventory import Role

ROOT = Path(__file__).resolve().parents[2]


def test_every_state_role_and_interface_state_has_a_word_in_each_language() -> None:
    for s in State:
        assert term(f"state.{s.value}", "vi")
        assert term(f"state.{s.value}", "en")
    for r in Role:
        assert term(f"role.{r.value}", "vi")
    for code in range(1, 8):
        assert interface_state(code, "vi") != interface_state(code, "en")
    assert interface_state(42, "vi") == "không rõ (42)"


def test_one_word_per_state() -> None:
    for lang in LANGUAGES:
        words = [term(f"state.{s.value}", lang) for s in State]
        assert len(set(words)) == len(words)


def test_no_term_is_one_of_the_avoided_variants() -> None:
    for key, (vi, en) in TERMS.items():
        for pattern in AVOID["vi"]:
            assert not re.search(pattern, vi, re.IGNORECASE), (key, vi, pattern)
        for pattern in AVOID["en"]:
            assert not re.search(pattern, en, re.IGNORECASE), (key, en, pattern)


def _reason_codes() -> set[str]:
    """Every failure code an agent puts in a sample's ``reason``, read from the agent's code."""
    codes: set[str] = set()
    for path in (ROOT / "agent").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        codes |= set(re.findall(r'reason="([a-z_]+)"', text))
        codes |= set(re.findall(r'_Response\("([a-z_]+)"', text))
        codes |= set(re.findall(r'SnmpResult\(False, "([a-z_]+)"', text))
        codes |= set(re.findall(r'Reply\("([a-z_]+)"', text))
        codes |= set(re.findall(r'UsmError\.[A-Z_]+: "([a-z_]+)"', text))
        classify = re.search(r"\ndef classify\(.*?\n\n\n", text, re.DOTALL)
        if classify:
            codes |= set(re.findall(r'return "([a-z_]+)"', classify.group(0)))
        for pair in re.findall(r'reason = "([a-z_]+)" if .* else "([a-z_]+)"', text):
            codes |= set(pair)
        codes |= set(re.findall(r'return (?:True|False), "([a-z_]+)"', text))
    return codes


def test_every_failure_code_of_the_agents_has_words() -> None:
    codes = _reason_codes()
    assert {"timeout", "auth", "unknown_user", "resolve", "unreachable", "malformed", "refused"} <= codes
    for code in codes:
        assert f"reason.{code}" in TERMS, code
        assert reason(code, "vi") != code


@pytest.mark.parametrize(
    ("raw", "vi", "en"),
    [
        (
            "3 failed rounds: timeout",
            "3 lượt thăm dò liên tiếp không có trả lời (hết thời gian chờ)",
            "3 failed rounds in a row (timeout)",
        ),
        (
            "1 failed rounds: auth",
            "1 lượt thăm dò không có trả lời (sai khóa xác thực SNMP)",
            "1 failed round (SNMP authentication failed)",
        ),
        (
            "2 failed rounds: no answer",
            "2 lượt thăm dò liên tiếp không có trả lời (không trả lời)",
            "2 failed rounds in a row (no answer)",
        ),
        (
            "4 failed rounds: weird_new_code",
            "4 lượt thăm dò liên tiếp không có trả lời (weird_new_code)",
            "4 failed rounds in a row (weird_new_code)",
        ),
        ("agent demo-d533 offline", "trạm giám sát demo-d533 ngắt kết nối", "monitoring agent demo-d533 went offline"),
        ("unreachable: d535-r1 is down", "d535-r1 mất kết nối", "d535-r1 is down"),
        ("no data", "không nhận được dữ liệu", "nothing received"),
        ("no data yet", "chưa nhận được dữ liệu nào", "nothing received yet"),
        ("answering again", "trả lời trở lại", "answering again"),
        ("maintenance ended", "hết thời gian bảo trì", "maintenance ended"),
        ("firmware upgrade", "firmware upgrade", "firmware upgrade"),  # an operator's own words
        ("", "", ""),
    ],
)
def test_causes_in_words(raw: str, vi: str, en: str) -> None:
    assert cause(raw, "vi") == vi
    assert cause(raw, "en") == en


@given(st.integers(1, 50), st.sampled_from(sorted(k.removeprefix("reason.") for k in TERMS if k.startswith("reason."))))
def test_every_core_failure_cause_reads_as_vietnamese(n: int, code: str) -> None:
    text = cause(f"{n} failed rounds: {code}", "vi")
    for pattern in AVOID["vi"]:
        assert not re.search(pattern, text, re.IGNORECASE), (text, pattern)


@given(st.floats(0, 1e9, allow_nan=False))
def test_durations_never_mix_languages(seconds: float) -> None:
    vi = duration(seconds, "vi")
    assert not re.search(r"\d (s|min|h|d)\b", vi)
    assert re.fullmatch(r"\d+ (giây|phút|giờ|ngày)( \d+ (phút|giờ))?", vi), vi
