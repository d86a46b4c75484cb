"""Reboots on the site page, its API and ``netmon site``, over the known-outage scenario
(Lê Hồng Phong's CPE restarts between two polls at 05:06 and is never DOWN; Tịnh Khê's
comes back from its outage at 11:58, rebooted); and one reboot through the real path, from
an agent's batch on a real broker to the store, the API, the exposition and the report."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from aiohttp.test_utils import TestClient, TestServer
from paho.mqtt.enums import CallbackAPIVersion
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from rich.console import Console

from netmon.agent import wire
from netmon.collector.devices import Topology
from netmon.collector.engine import Engine
from netmon.collector.ingest import Ingestor
from netmon.collector.readmodel import StoredModel
from netmon.collector.store import SCHEMA_VERSION, SqliteStore, StoreReader
from netmon.collector.subscriber import run_subscriber
from netmon.collector.web import build_app
from netmon.config.loader import load_inventory
from netmon.config.settings import BrokerSettings, CollectorSettings
from netmon.exporters.prometheus import SnapshotCollector, render
from netmon.exporters.report import Period, build_report
from netmon.exporters.report_render import render_csv
from netmon.site import render_commune
from tests import services
from tests.people_scenario import BOOTS, HOUR, LE_HONG_PHONG, NOW, T0, TINH_KHE, engine_at

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    c = TestClient(TestServer(build_app(engine_at(NOW))))
    await c.start_server()
    yield c
    await c.close()


async def test_a_short_reboot_is_on_the_site_page_with_its_time_and_what_it_was(client: TestClient) -> None:
    api = await (await client.get(f"/api/v1/communes/{LE_HONG_PHONG}", params={"range": "30d"})).json()
    assert api["reboots"]["text"] == "khởi động lại 1 lần trong 30 ngày qua (không đủ lâu để bị tính là mất kết nối)"
    (event,) = api["reboots"]["events"]
    assert event["ts"] == BOOTS["c21010-cpe1"][0]
    assert (event["counted_as"], event["outage"], event["uptime_s"]) == ("up", False, 200.0)
    (dev,) = api["devices"]
    assert dev["reboots"]["count"] == 1
    assert dev["reboots_total"] == 1
    assert dev["last_reboot"] == BOOTS["c21010-cpe1"][0]
    page = await (await client.get(f"/commune/{LE_HONG_PHONG}", params={"range": "30d"})).text()
    assert '<div class="reboots">khởi động lại 1 lần trong 30 ngày qua (không đủ lâu' in page
    assert (
        '<li class="short"><time>05:06 01/10</time> — khởi động lại (không đủ lâu để bị tính là mất kết nối)</li>'
        in page
    )


async def test_a_reboot_that_ended_an_outage_says_it_was_counted(client: TestClient) -> None:
    api = await (await client.get(f"/api/v1/communes/{TINH_KHE}", params={"lang": "en"})).json()
    assert api["reboots"]["text"] == "1 reboot in the last 7 days"
    (event,) = api["reboots"]["events"]
    assert (event["counted_as"], event["outage"], event["note"]) == ("down", True, "counted as down")
    page = await (await client.get(f"/commune/{TINH_KHE}")).text()
    assert '<li class="outage"><time>11:58 01/10</time> — khởi động lại (đã được tính là mất kết nối)</li>' in page


async def test_a_range_without_reboots_says_so_and_a_device_without_uptime_says_nothing(client: TestClient) -> None:
    q = {"range": "custom", "from": str(T0 + 6 * HOUR), "to": str(T0 + 11 * HOUR)}
    api = await (await client.get(f"/api/v1/communes/{LE_HONG_PHONG}", params=q)).json()
    assert api["reboots"]["count"] == 0
    assert api["reboots"]["text"] == "không khởi động lại lần nào từ 06:00 01/10 đến 11:00 01/10"
    # An ICMP-only CPE: its uptime is never read, so no reboot could be seen: no claim.
    other = await (await client.get("/api/v1/communes/21400")).json()
    assert [d["reboots"]["text"] for d in other["devices"]] == [""]
    page = await (await client.get("/commune/21400")).text()
    assert 'class="reboots"' not in page


async def test_netmon_site_lists_the_reboots(client: TestClient) -> None:
    for lang, line in (
        ("vi", r"05:06 01/10 — khởi động lại \(không đủ lâu để bị tính là mất kết nối\)"),
        ("en", r"05:06 01/10 — reboot \(not long enough to be counted as down\)"),
    ):
        api = await (await client.get(f"/api/v1/communes/{LE_HONG_PHONG}", params={"lang": lang})).json()
        console = Console(record=True, width=160, color_system=None)
        console.print(render_commune(api, lang))
        out = console.export_text()
        assert re.search(line, out), out
        assert api["reboots"]["text"] in out


# --------------------------------------------------------------------------- the real path


class CountingIngestor(Ingestor):
    """The real ingestor; ``handled`` is set once it has taken ``expected`` messages."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.count = 0
        self.expected = 0
        self.handled = asyncio.Event()

    def handle(self, topic: str, payload: bytes) -> bool:
        ok = super().handle(topic, payload)
        self.count += 1
        if self.count >= self.expected:
            self.handled.set()
        return ok


async def test_a_reboot_goes_from_the_wire_to_the_store_api_exposition_and_report_once(
    mosquitto: services.Service, tmp_path: Path
) -> None:
    """An agent's batch flagging a reboot, published at QoS 1 to a real Mosquitto and sent
    twice (a redelivery), and a second agent's report of the same reboot: the collector's
    real subscriber, ingestor, engine and SQLite store record one reboot, and the API, the
    Prometheus exposition and the report (read from the store as ``netmon report`` reads
    it) all say one."""
    inv = load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")
    path = tmp_path / "netmon.sqlite"
    settings = CollectorSettings(inventory="x", store={"path": str(path)})  # type: ignore[arg-type]
    store = SqliteStore.open(path)
    dev = "c21211-cpe1"
    base = float(int(time.time()) - 600)
    started = [base - 60.0]  # the collector runs from before the agent's first poll

    def clock() -> float:
        return started.pop() if started else time.time()

    engine = Engine(inv, settings, store, clock=clock)
    ingest = CountingIngestor(engine, store)
    came_back = base + 5 * 60 - 20

    def batch(agent: str, seq: int, t: float, booted: float, rebooted: bool = False) -> bytes:
        s = wire.Sample(device=dev, probe="snmp", ts=t, ok=True, sys_uptime_s=t - booted, rebooted=rebooted)
        return wire.encode(wire.SampleBatch(v=1, agent=agent, seq=seq, sent_at=t, samples=[s]))

    one = [batch("one", k + 1, base + k * 60, base - 10_000) for k in range(5)]
    one.append(batch("one", 6, base + 5 * 60, came_back, rebooted=True))
    one.append(one[-1])  # the broker delivers it again
    one += [batch("one", k + 1, base + k * 60, came_back) for k in range(6, 8)]
    two = batch("two", 1, base + 5 * 60 + 30, came_back + 1, rebooted=True)  # its clock a second off

    broker = BrokerSettings(url=f"mqtt://127.0.0.1:{mosquitto.port}", reconnect_min_s=0.05, reconnect_max_s=0.2)
    ready = asyncio.Event()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="agents", protocol=mqtt.MQTTv5)
    async with asyncio.TaskGroup() as tg:
        task = tg.create_task(run_subscriber(broker, ingest, client_id="collector-reboots", ready=ready), name="sub")
        try:
            async with asyncio.timeout(10):
                await ready.wait()
            pub.connect("127.0.0.1", mosquitto.port)
            pub.loop_start()
            for phase, (agent, payloads) in enumerate((("one", one), ("two", [two]))):
                ingest.expected += len(payloads)
                ingest.handled.clear()
                for payload in payloads:
                    pub.publish(wire.samples_topic(agent), payload, qos=1).wait_for_publish(10)
                async with asyncio.timeout(10):
                    await ingest.handled.wait()
                assert ingest.count == ingest.expected, phase
        finally:
            pub.loop_stop()
            pub.disconnect()
            task.cancel()
    assert ingest.counters().duplicates == 1

    # The store: one row, dated when the device came back, by the agent that saw it first.
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT device, ts, agent, uptime_s FROM reboots").fetchall()
    conn.close()
    assert rows == [(dev, came_back, "one", 20.0)]

    # The API of the device and of its commune.
    client = TestClient(TestServer(build_app(engine)))
    await client.start_server()
    try:
        api = await (await client.get(f"/api/v1/devices/{dev}", params={"range": "24h"})).json()
        commune = await (await client.get("/api/v1/communes/21211", params={"range": "24h"})).json()
    finally:
        await client.close()
    assert (api["reboots_total"], api["last_reboot"], api["reboots"]["count"]) == (1, came_back, 1)
    assert [(e["ts"], e["agent"], e["counted_as"]) for e in api["reboots"]["events"]] == [(came_back, "one", "up")]
    assert commune["reboots"]["text"] == "khởi động lại 1 lần trong 24 giờ qua (không đủ lâu để bị tính là mất kết nối)"

    # The exposition.
    registry = CollectorRegistry()
    registry.register(SnapshotCollector(engine.snapshot))
    families = {f.name: f for f in text_string_to_metric_families(render(registry).decode())}
    reboots = {s.labels["device"]: s.value for s in families["netmon_device_reboots"].samples}
    assert reboots[dev] == 1
    assert sum(reboots.values()) == 1
    assert len(reboots) == len(inv.index.devices)
    engine.close()

    # The report, from the store file alone (as `netmon report` reads it, beside the collector).
    reader = StoreReader.open(path, schema=SCHEMA_VERSION)
    try:
        model = StoredModel(Topology.build(inv, settings), reader, base - 60, time.time())
        report = build_report(model, Period(base - 60, time.time(), "today"), poll_interval_s=60.0)
    finally:
        reader.close()
    row = next(r for r in report.communes if r.code == "21211")
    assert (row.reboots, row.short_reboots) == (1, 1)
    assert (report.province.reboots, report.province.short_reboots) == (1, 1)
    communes = {r["Mã"]: r for r in csv.DictReader(io.StringIO(render_csv(report, "vi")["communes.csv"]))}
    assert communes["21211"]["Khởi động lại"] == "1"
