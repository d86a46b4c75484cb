"""The InfluxDB writer's pure parts: line protocol, tags, buffer policy, error classes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from netmon.agent import wire
from netmon.config.inventory import Inventory
from netmon.config.loader import load_inventory
from netmon.config.settings import InfluxSettings
from netmon.exporters.influx import InfluxWriter, WriterCollector, _tag, batch_lines, classify
from tests.services import require

ROOT = Path(__file__).resolve().parents[2]
TS = 1_790_000_000.123456


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")


@pytest.fixture(scope="module")
def inv2025() -> Inventory:
    return load_inventory(ROOT / "config" / "quang-ngai-2025.yaml")


def writer(inv: Inventory, **kw: object) -> InfluxWriter:
    return InfluxWriter(InfluxSettings.model_validate({"url": "http://127.0.0.1:9", **kw}), inv, None)


def batch(*samples: wire.Sample, seq: int = 1) -> wire.SampleBatch:
    return wire.SampleBatch(v=1, agent="a1", seq=seq, sent_at=TS + 1, samples=list(samples))


def tags_of(inv: Inventory) -> dict[str, str]:
    return writer(inv)._tags


def test_icmp_sample_line(inv: Inventory) -> None:
    s = wire.Sample(
        device="c21010-cpe1", probe="icmp", ts=TS, ok=True, rtt=wire.Rtt(0.01, 0.02, 0.03, 0.004), loss=0.0, sent=3
    )
    (line,) = batch_lines(batch(s), tags_of(inv))
    assert line == (
        "netmon_probe,device=c21010-cpe1,role=cpe,province=51,district=522,commune=21010,probe=icmp "
        "ok=true,up=1i,rtt_min_s=0.01,rtt_avg_s=0.02,rtt_max_s=0.03,jitter_s=0.004,loss_ratio=0.0,sent=3i "
        "1790000000123"
    )


def test_failed_sample_carries_the_reason_as_a_tag(inv: Inventory) -> None:
    s = wire.Sample(device="d522-r1", probe="snmp", ts=TS, ok=False, reason="timeout")
    (line,) = batch_lines(batch(s), tags_of(inv))
    assert (
        line
        == "netmon_probe,device=d522-r1,role=district_router,province=51,district=522,probe=snmp,reason=timeout ok=false,up=0i 1790000000123"
    )


def test_interfaces_become_points_with_escaped_names(inv: Inventory) -> None:
    s = wire.Sample(
        device="c21010-cpe1",
        probe="snmp",
        ts=TS,
        ok=True,
        response_s=0.05,
        interfaces=[
            wire.Interface(
                index=1, name="Gi0/1, uplink=wan", oper_status=1, in_octets=2**64 - 1, out_octets=5, in_bps=8000.0
            ),
            wire.Interface(index=7, name="", oper_status=2),
        ],
    )
    lines = batch_lines(batch(s), tags_of(inv))
    assert lines[1] == (
        r"netmon_interface,device=c21010-cpe1,role=cpe,province=51,district=522,commune=21010,interface=Gi0/1\,\ uplink\=wan "
        "oper_status=1i,admin_status=1i,in_octets=1.8446744073709552e+19,out_octets=5i,in_bps=8000.0 1790000000123"
    )
    assert ",interface=7 " in lines[2]  # no name: the ifIndex


def test_unknown_devices_are_not_written_but_counted(inv: Inventory) -> None:
    w = writer(inv)
    w.offer(batch(wire.Sample(device="nobody", probe="icmp", ts=TS, ok=True)))
    assert (w.stats.offered_points, w.stats.unknown_device_samples) == (0, 1)


def test_2025_structure_has_no_district_tag(inv2025: Inventory) -> None:
    dev = next(d for d in inv2025.index.devices if d.startswith("c"))
    (line,) = batch_lines(batch(wire.Sample(device=dev, probe="icmp", ts=TS, ok=True)), tags_of(inv2025))
    assert "district=" not in line
    assert ",commune=" in line


def test_full_buffer_drops_the_oldest_points(inv: Inventory) -> None:
    w = writer(inv, max_buffer=3, batch_size=2)
    for i in range(5):
        w.offer(batch(wire.Sample(device="c21010-cpe1", probe="icmp", ts=TS + i, ok=True), seq=i))
    assert (w.stats.offered_points, w.stats.dropped_points, w.stats.buffered) == (5, 2, 3)
    assert [line.rsplit(" ", 1)[1] for line in w._buffer] == [str(round((TS + i) * 1000)) for i in (2, 3, 4)]


@pytest.mark.parametrize(
    ("status", "transient"),
    [(None, True), (429, True), (500, True), (503, True), (400, False), (401, False), (404, False), (413, False)],
)
def test_retry_classification(status: int | None, transient: bool) -> None:
    assert (classify(status).__name__ == "_Transient") is transient


@given(st.text(max_size=30))
def test_escaped_tags_have_no_bare_separators(value: str) -> None:
    out = _tag(value)
    assert "\n" not in out
    i = 0
    while i < len(out):
        if out[i] == "\\":
            i += 2
            continue
        assert out[i] not in ", ="
        i += 1


def test_writer_self_metrics_pass_promtool(inv: Inventory) -> None:
    w = writer(inv)
    w.offer(batch(wire.Sample(device="c21010-cpe1", probe="icmp", ts=TS, ok=True)))
    reg = CollectorRegistry()
    reg.register(WriterCollector(w))
    text = generate_latest(reg)
    assert b"netmon_influx_points_offered_total 1.0" in text
    out = subprocess.run([require("promtool"), "check", "metrics"], input=text, capture_output=True, check=False)
    assert out.returncode == 0
    assert out.stdout.strip() == b"", out.stdout
