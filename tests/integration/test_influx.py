"""The InfluxDB writer against a real server speaking the InfluxDB v2 write API
(VictoriaMetrics): points written are read back by query, values and measurement times
compared; writes retry until the server comes up."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from netmon.config.inventory import Inventory
from netmon.config.loader import load_inventory
from netmon.config.secrets import Secret
from netmon.config.settings import InfluxSettings
from netmon.exporters.influx import InfluxWriter
from tests.services import Service, free_port, start_victoriametrics, wait_until
from tests.services_exporters import LIVE_DOWN_CPE, LIVE_SNMP_CPE, live_batches

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")


@pytest.fixture(scope="module")
def vm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    svc = start_victoriametrics(tmp_path_factory.mktemp("vm"))
    yield svc
    svc.stop()


def export(vm: Service, selector: str) -> list[dict[str, Any]]:
    """Raw points of the series matching ``selector`` (VictoriaMetrics' export API)."""
    with urllib.request.urlopen(f"{vm.url}/internal/force_flush", timeout=10):
        pass
    url = f"{vm.url}/api/v1/export?" + urllib.parse.urlencode({"match[]": selector})
    with urllib.request.urlopen(url, timeout=10) as resp:
        return [json.loads(line) for line in resp.read().decode().splitlines() if line]


def promql(vm: Service, expr: str, at: float) -> list[dict[str, Any]]:
    url = f"{vm.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}", "step": "1s"})
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = json.load(resp)
    assert body["status"] == "success"
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def settings(url: str, **kw: Any) -> InfluxSettings:
    return InfluxSettings.model_validate({"url": url, "org": "netmon", "bucket": "netmon", **kw})


async def test_points_read_back_with_measurement_times(vm: Service, inv: Inventory) -> None:
    now = time.time() - 3600  # measured an hour ago, written now: the point must carry the hour-old time
    batches = live_batches(inv, now)
    writer = InfluxWriter(settings(vm.url, batch_size=250), inv, Secret("any-token"))
    for b in batches:
        writer.offer(b)
    await writer.flush()
    st = writer.stats
    assert st.written_points == st.offered_points > 0
    assert (st.dropped_points, st.rejected_points, st.buffered) == (0, 0, 0)

    probes = [s for b in batches for s in b.samples if s.device == LIVE_SNMP_CPE and s.probe == "icmp"]
    (series,) = export(vm, f'netmon_probe_rtt_avg_s{{device="{LIVE_SNMP_CPE}"}}')
    assert series["timestamps"] == [round(s.ts * 1000) for s in probes]
    assert series["values"] == [s.rtt.avg for s in probes if s.rtt]
    labels = series["metric"]
    assert {k: labels[k] for k in ("device", "probe", "role", "province", "district", "commune")} == {
        "device": LIVE_SNMP_CPE,
        "probe": "icmp",
        "role": "cpe",
        "province": "51",
        "district": "522",
        "commune": "21013",
    }

    (down,) = export(vm, f'netmon_probe_up{{device="{LIVE_DOWN_CPE}",probe="icmp"}}')
    assert down["values"] == [0] * len(batches)
    assert down["metric"]["reason"] == "timeout"
    (loss,) = export(vm, f'netmon_probe_loss_ratio{{device="{LIVE_DOWN_CPE}"}}')
    assert loss["values"] == [1] * len(batches)

    snmp = [s for b in batches for s in b.samples if s.device == LIVE_SNMP_CPE and s.probe == "snmp"]
    (octets,) = export(vm, f'netmon_interface_in_octets{{device="{LIVE_SNMP_CPE}",interface="wan0"}}')
    assert octets["values"] == [s.interfaces[0].in_octets for s in snmp if s.interfaces]
    assert octets["timestamps"] == [round(s.ts * 1000) for s in snmp]

    # Every probe sample is a point: one ``up`` per sample of the inventory's devices.
    ups = export(vm, '{__name__="netmon_probe_up"}')
    assert sum(len(s["values"]) for s in ups) == sum(len(b.samples) for b in batches)

    # And PromQL sees it at the measurement time.
    last = probes[-1]
    result = promql(vm, f'netmon_probe_rtt_avg_s{{device="{LIVE_SNMP_CPE}"}}', last.ts)
    assert [float(r["value"][1]) for r in result] == [pytest.approx(0.020)]


async def test_writes_retry_until_the_server_comes_up(tmp_path: Path, inv: Inventory) -> None:
    port = free_port()
    writer = InfluxWriter(
        settings(f"http://127.0.0.1:{port}", batch_size=100, flush_interval_s=0.1),
        inv,
        None,
        retry_initial_s=0.05,
        retry_max_s=0.2,
    )
    batch = live_batches(inv, time.time() - 600, rounds=1)[0]
    writer.offer(batch)
    task = asyncio.create_task(writer.run(), name="influx-writer")
    svc: Service | None = None
    try:
        # The server is not there yet: writes fail and back off.
        await asyncio.to_thread(wait_until, lambda: writer.stats.retries >= 2, 30, "write retries")
        assert writer.stats.written_points == 0
        (tmp_path / "vm").mkdir()
        svc = await asyncio.to_thread(start_victoriametrics, tmp_path / "vm", port)
        await asyncio.to_thread(
            wait_until, lambda: writer.stats.written_points == writer.stats.offered_points, 30, "writes after retries"
        )
        assert writer.stats.buffered == 0
        ups = export(svc, '{__name__="netmon_probe_up"}')
        assert sum(len(s["values"]) for s in ups) == len(batch.samples)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if svc is not None:
            svc.stop()


async def test_offer_never_blocks_when_the_server_is_down(inv: Inventory) -> None:
    writer = InfluxWriter(settings(f"http://127.0.0.1:{free_port()}", max_buffer=500, batch_size=100), inv, None)
    batches = live_batches(inv, time.time() - 600, rounds=4)
    t0 = time.perf_counter()
    for b in batches:
        writer.offer(b)
    assert time.perf_counter() - t0 < 0.5
    st = writer.stats
    assert st.buffered == 500
    assert st.dropped_points == st.offered_points - 500
    await writer.flush()  # one attempt, fails, keeps the points
    assert (st.written_points, st.buffered, st.write_errors) == (0, 500, 1)
