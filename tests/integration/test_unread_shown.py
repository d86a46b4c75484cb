"""An SNMP poll that could not read the interface tables reaches the technician: the real
engine keeps it on the device's view, and the page, the API and ``netmon site`` say
"không đọc được bảng cổng" / "interfaces not read" with the table and the reason."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.agent import wire
from netmon.collector.engine import Engine
from tests.people_scenario import HOUR, T0, scenario_engine
from tests.services_web import serve_app

ROOT = Path(__file__).resolve().parents[2]
AT = T0 + 2 * HOUR
DEVICE, COMMUNE = "c21010-cpe1", "21010"
UNREAD = {"ifTable": "timeout", "ifXTable": "timeout"}


def with_unread(engine: Engine, seq: int, unread: dict[str, str] | None) -> None:
    sample = wire.Sample(device=DEVICE, probe="snmp", ts=AT + seq, ok=True, sys_uptime_s=9000.0, unread=unread)
    engine.apply_batch(
        wire.SampleBatch(v=1, agent="agent-unread", seq=seq, sent_at=AT + seq, samples=[sample]), AT + seq
    )


@pytest.fixture(scope="module")
def engine() -> Engine:
    eng = scenario_engine(until=AT)
    with_unread(eng, 1, UNREAD)
    return eng


@pytest.fixture(scope="module")
def url(engine: Engine) -> Iterator[str]:
    with serve_app(engine) as base:
        yield base


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.read().decode())


def test_the_view_the_api_and_the_page_say_interfaces_not_read(engine: Engine, url: str) -> None:
    view = engine.snapshot().devices[DEVICE]
    assert dict(view.unread) == UNREAD
    assert view.interfaces  # the last interfaces read are still shown, with the warning beside them
    device = json.loads(get(f"{url}/api/v1/devices/{DEVICE}"))
    assert device["interfaces_unread"] == UNREAD
    vi = get(f"{url}/commune/{COMMUNE}?lang=vi")
    assert "không đọc được bảng cổng: ifTable (hết thời gian chờ), ifXTable (hết thời gian chờ)" in vi
    en = get(f"{url}/commune/{COMMUNE}?lang=en")
    assert "interfaces not read: ifTable (timeout), ifXTable (timeout)" in en


def test_netmon_site_says_it_too(url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NETMON_TOKEN"} | {"COLUMNS": "160", "LANG": "C.UTF-8"}
    out = subprocess.run(
        [sys.executable, "-m", "netmon", "site", COMMUNE, "--url", url, "--lang", "en"],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        env=env,
    ).stdout
    assert "interfaces not read: ifTable (timeout), ifXTable (timeout)" in out


def test_a_complete_poll_clears_it() -> None:
    eng = scenario_engine(until=AT)
    with_unread(eng, 1, UNREAD)
    with_unread(eng, 2, None)
    assert eng.snapshot().devices[DEVICE].unread == {}
