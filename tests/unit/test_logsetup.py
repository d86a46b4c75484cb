"""Structured logging: text and JSON lines, extras, one record per line, secrets redacted."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.config.logsetup import MIN_SECRET_LEN, forget_secrets, register_secret, setup_logging
from netmon.config.secrets import Secret
from netmon.config.settings import LogSettings


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Logging configured to a string buffer; restored afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buf = io.StringIO()
    yield buf
    for h in list(root.handlers):
        if h not in saved[0]:
            root.removeHandler(h)
    root.setLevel(saved[1])
    forget_secrets()


def test_text_line_has_ts_level_logger_msg_and_extras(stream: io.StringIO) -> None:
    setup_logging(LogSettings(level="INFO", format="text"), stream=stream)
    logging.getLogger("netmon.agent.poller").info(
        "device down %s", "now", extra={"agent": "d522", "device": "d522-r1", "note": "two words"}
    )
    line = stream.getvalue().rstrip("\n")
    assert "\n" not in line
    ts, level, logger, rest = line.split(" ", 3)
    assert ts.endswith("Z")
    assert "T" in ts
    assert (level, logger) == ("INFO", "netmon.agent.poller")
    assert rest.startswith("device down now ")
    assert "agent=d522" in rest
    assert "device=d522-r1" in rest
    assert 'note="two words"' in rest


def test_json_lines_parse_and_carry_extras(stream: io.StringIO) -> None:
    setup_logging(LogSettings(level="DEBUG", format="json"), stream=stream)
    log = logging.getLogger("netmon.collector.engine")
    log.debug("state change", extra={"device": "c21010-cpe1", "commune": "21010", "count": 3})
    log.warning("second")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(x) for x in lines)
    assert (first["level"], first["logger"]) == ("DEBUG", "netmon.collector.engine")
    assert first["msg"] == "state change"
    assert (first["device"], first["commune"], first["count"]) == ("c21010-cpe1", "21010", 3)
    assert set(second) == {"ts", "level", "logger", "msg"}


def test_level_filters_records(stream: io.StringIO) -> None:
    setup_logging(LogSettings(level="WARNING", format="text"), stream=stream)
    logging.getLogger("x").info("hidden")
    logging.getLogger("x").warning("shown")
    assert "hidden" not in stream.getvalue()
    assert "shown" in stream.getvalue()


def test_second_setup_replaces_the_first(stream: io.StringIO) -> None:
    other = io.StringIO()
    setup_logging(LogSettings(format="text"), stream=other)
    setup_logging(LogSettings(format="json"), stream=stream)
    logging.getLogger("x").warning("once")
    assert other.getvalue() == ""
    assert len(stream.getvalue().splitlines()) == 1


def test_newline_in_hostile_text_cannot_forge_a_line(stream: io.StringIO) -> None:
    setup_logging(LogSettings(format="text"), stream=stream)
    hostile = "Cisco\n2026-01-01T00:00:00.000Z ERROR collector forged"
    logging.getLogger("netmon.agent.snmp").warning("sysDescr %s", hostile, extra={"descr": hostile})
    assert len(stream.getvalue().splitlines()) == 1


def test_secret_object_in_args_and_extras_is_redacted(stream: io.StringIO) -> None:
    setup_logging(LogSettings(format="json"), stream=stream)
    pw = Secret("hunter2-broker-password")
    log = logging.getLogger("netmon.agent.publisher")
    log.info("connecting with %r and %s", pw, pw, extra={"password": pw, "nested": {"k": [pw]}})
    out = stream.getvalue()
    assert "hunter2-broker-password" not in out
    assert "<secret>" in json.loads(out)["password"]


def test_revealed_value_of_a_registered_secret_is_redacted_everywhere(stream: io.StringIO) -> None:
    token = Secret("tok-9f8e7d6c5b4a")
    setup_logging(LogSettings(format="text"), stream=stream, secrets=[token])
    log = logging.getLogger("somelibrary")
    log.error("auth failed for user netmon pass=%s", token.reveal(), extra={"url": f"http://u:{token.reveal()}@h"})
    try:
        raise RuntimeError(f"boom {token.reveal()}")
    except RuntimeError:
        log.exception("with traceback")
    out = stream.getvalue()
    assert token.reveal() not in out
    assert out.count("<secret>") >= 3
    assert "Traceback" in out


def test_a_secret_seen_once_is_redacted_when_later_revealed(stream: io.StringIO) -> None:
    setup_logging(LogSettings(format="json"), stream=stream)
    s = Secret("learned-secret-value")
    log = logging.getLogger("x")
    log.info("resolved %s", s)
    log.info("library echo %s", s.reveal())
    assert "learned-secret-value" not in stream.getvalue()


def test_broken_format_arguments_do_not_lose_the_record(stream: io.StringIO) -> None:
    register_secret("abcd-secret")
    setup_logging(LogSettings(format="text"), stream=stream)
    # straight to our handler: pytest's own capture handler raises on a bad format string
    (handler,) = [
        h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler) and h.stream is stream
    ]
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "two %s %s abcd-secret", ("only-one",), None)
    handler.handle(record)
    out = stream.getvalue()
    assert "unformattable" in out
    assert "abcd-secret" not in out


def test_short_values_are_not_searched_for(stream: io.StringIO) -> None:
    register_secret("a" * (MIN_SECRET_LEN - 1))
    setup_logging(LogSettings(format="text"), stream=stream)
    logging.getLogger("x").warning("banana")
    assert "banana" in stream.getvalue()


@settings(max_examples=150, deadline=None)
@given(
    # 8+ characters: shorter random strings could occur in the timestamp or level name; no
    # '<>' (the marker itself) nor '\\' (escapes of the surrounding text could spell it)
    secret=st.text(st.characters(exclude_characters="<>\\", exclude_categories=["Cs"]), min_size=8, max_size=40),
    prefix=st.text(max_size=20),
    fmt=st.sampled_from(["text", "json"]),
)
def test_property_a_registered_secret_never_appears(secret: str, prefix: str, fmt: str) -> None:
    buf = io.StringIO()
    root = logging.getLogger()
    saved = list(root.handlers)
    try:
        setup_logging(LogSettings(format=fmt), stream=buf, secrets=[Secret(secret)])  # type: ignore[arg-type]
        logging.getLogger("p").warning(prefix + secret + prefix, extra={"v": prefix + secret})
        assert secret not in buf.getvalue()
    finally:
        for h in list(root.handlers):
            if h not in saved:
                root.removeHandler(h)
        forget_secrets()


def test_log_lines_never_show_a_password_in_a_url(stream: io.StringIO) -> None:
    setup_logging(LogSettings(level="DEBUG", format="text"), stream=stream)
    log = logging.getLogger("netmon.test")
    url = "mqtt://admin:hunter22-url-secret@broker.example:1883"
    log.info("connecting to %s", url)
    log.warning("failed", extra={"url": url})
    try:
        raise ConnectionError(f"cannot reach {url}")
    except ConnectionError:
        log.exception("library error")
    text = stream.getvalue()
    assert "hunter22" not in text
    assert text.count("mqtt://<secret>@broker.example:1883") >= 3
