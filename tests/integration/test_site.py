"""`netmon site` in a subprocess against the status app serving the scenario's engine."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.config.secrets import Secret
from tests.people_scenario import HOUR, T0, TINH_KHE, engine_at
from tests.services import free_port
from tests.services_web import serve_app

ROOT = Path(__file__).resolve().parents[2]
AT = T0 + 11 * HOUR  # Tịnh Khê's CPE has been down for an hour


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    with serve_app(engine_at(AT)) as base:
        yield base


def _site(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "NETMON_TOKEN"}
    full_env.update({"COLUMNS": "120", "LANG": "C.UTF-8", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "netmon", "site", *args],
        check=False,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=full_env,
    )


def test_site_shows_the_commune_devices_and_outage(url: str) -> None:
    r = _site("tinh khe", "--url", url)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "Xã Tịnh Khê (21211)" in out
    assert "c21211-cpe1" in out
    assert "mất kết nối từ 10:00 — 3 lượt thăm dò liên tiếp không có trả lời (hết thời gian chờ)" in out
    assert "mất kết nối  mất kết nối" not in out
    assert "1 giờ (đang diễn ra)" in out  # the ongoing outage's duration
    assert "UBND <xã>" in out  # interface alias, printed as text
    assert re.search(r"Trả lời lần cuối +09:50", out)
    assert "đang hoạt động" in out
    assert "(số liệu cũ lúc 09:50)" in out  # the interfaces and SNMP uptime of its last good poll
    assert "│ Xã Tịnh Khê c21211-cpe1" in out  # outages by commune name
    for english in ("failed rounds", "timeout", " h 00", " min"):
        assert english not in out, english
    en = _site("21211", "--url", url, "--lang", "en")
    assert "down since 10:00 — 3 failed rounds in a row (timeout)" in en.stdout
    assert "1 h 00 (ongoing)" in en.stdout
    # A terminal set to English does not change the product's language; NETMON_LANG does.
    assert "mất kết nối từ 10:00" in _site("21211", "--url", url, env={"LANG": "en_US.UTF-8"}).stdout
    assert "down since 10:00" in _site("21211", "--url", url, env={"NETMON_LANG": "en"}).stdout


def test_json_is_the_api_answer(url: str) -> None:
    r = _site("TỊNH KHÊ", "--url", url, "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["code"] == TINH_KHE
    assert data["state"] == "down"


def test_several_matches_are_listed_with_codes(url: str) -> None:
    r = _site("nghia", "--url", url)
    assert r.returncode == 3
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("  ")]
    assert len(lines) > 5
    assert all(ln.split()[0].isdigit() for ln in lines)
    none = _site("zzzz qqq", "--url", url)
    assert none.returncode == 1
    assert "zzzz qqq" in none.stderr


def test_cannot_reach_the_collector() -> None:
    port = free_port()
    r = _site("tinh khe", "--url", f"http://127.0.0.1:{port}", "--lang", "en")
    assert r.returncode == 2
    assert "Cannot reach the collector" in r.stderr
    assert "Traceback" not in r.stderr


def test_token_from_option_or_environment() -> None:
    with serve_app(engine_at(AT), token=Secret("t0ken")) as base:
        denied = _site("21211", "--url", base)
        assert denied.returncode == 2
        assert "token" in denied.stderr.lower()
        assert _site("21211", "--url", base, "--token", "t0ken").returncode == 0
        assert _site("21211", "--url", base, env={"NETMON_TOKEN": "t0ken"}).returncode == 0


def test_watch_refreshes(url: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "netmon", "site", "21211", "--url", url, "--watch", "0.2", "--lang", "en"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "120"},
    )
    # A deadline: reading stops when the process is killed, whatever it prints.
    deadline = threading.Timer(60, proc.kill)
    deadline.start()
    try:
        assert proc.stdout is not None
        seen = 0
        for line in proc.stdout:
            if line.startswith("Data as of:"):
                seen += 1
                if seen == 3:
                    break
        assert seen == 3
    finally:
        deadline.cancel()
        proc.terminate()
        proc.wait(10)


def test_a_district_query_lists_its_communes(url: str) -> None:
    r = _site("huyen ba to", "--url", url, "--lang", "en")
    assert r.returncode == 0, r.stderr
    assert "Huyện Ba Tơ (535)" in r.stdout
    assert "21484 Thị trấn Ba Tơ" in r.stdout
    ly_son = _site("ly son", "--url", url)
    assert ly_son.returncode == 0, ly_son.stderr
    assert "Tỷ lệ xã kết nối: – · Đơn vị này không có cấp xã" in ly_son.stdout
    assert "0/0" not in ly_son.stdout
