"""The issue's end-to-end check: a collector fed by a scenario, a real Prometheus scraping it,
a real VictoriaMetrics receiving its InfluxDB points; the exposition, every dashboard query,
the alert rules and the points are verified.

The collector is the real engine (collector.engine.Engine with its SQLite store) behind the
real ingest (collector.ingest.Ingestor), fed with the live scenario's sample batches
(tests.services_exporters: c21010-cpe1 down, district router d535-r1 down so Ba Tơ's
communes are unreachable, everything else up), served by
:func:`exporters.prometheus.metrics_handler` from an aiohttp app in a thread; the InfluxDB
writer listens on the ingest as in the collector process.
"""

from __future__ import annotations

import asyncio
import functools
import json
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.ingest import Ingestor
from netmon.collector.model import STATE_CODE, IngestCounters, Snapshot, State
from netmon.collector.store import SqliteStore
from netmon.config.inventory import Inventory
from netmon.config.loader import load_inventory
from netmon.config.settings import CollectorSettings, InfluxSettings
from netmon.exporters.grafana.dashboards import LANGUAGES, build
from netmon.exporters.influx import InfluxWriter
from netmon.exporters.prometheus import SnapshotCollector, metrics_handler, render
from tests.services import Service, free_port, start_prometheus, start_victoriametrics, wait_until
from tests.services_exporters import (
    LIVE_AGENT,
    LIVE_DOWN_CPE,
    LIVE_DOWN_ROUTER,
    LIVE_INTERVAL_S,
    LIVE_SNMP_CPE,
    live_batches,
)

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "exporters" / "alerts" / "netmon-rules.yml"
DISTRICT = "535"
VARIABLES = {
    "$district_name": "Huyện Ba Tơ",
    "$district": DISTRICT,
    "$commune_name": "Phường Trần Phú",  # LIVE_SNMP_CPE's commune
    "$device": LIVE_SNMP_CPE,
    "$__rate_interval": "10s",
    "$__range": "1h",
    "$__interval": "1s",
}


@dataclass
class Live:
    """The running pieces."""

    inv: Inventory
    engine: Engine
    prometheus: Service
    metrics_url: str
    victoriametrics: Service
    writer: InfluxWriter
    batches: list[wire.SampleBatch]

    def query(self, expr: str) -> list[dict[str, Any]]:
        url = f"{self.prometheus.url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.load(resp)
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    def api(self, path: str) -> Any:
        with urllib.request.urlopen(f"{self.prometheus.url}{path}", timeout=10) as resp:
            return json.load(resp)["data"]

    def snapshot(self) -> Snapshot:
        return self.engine.snapshot()


class _Clock:
    """Wall-clock time, except while the scenario is fed (then the batches' receive times)."""

    def __init__(self) -> None:
        self.fixed: float | None = None

    def __call__(self) -> float:
        return self.fixed if self.fixed is not None else time.time()


class _Server:
    """The metrics endpoint's aiohttp app in its own thread and event loop."""

    def __init__(self, app: web.Application, port: int) -> None:
        self._app = app
        self._port = port
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=asyncio.run, args=(self._main(),), name="metrics-server", daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        runner = web.AppRunner(self._app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self._port).start()
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10)

    def stop(self) -> None:
        assert self._loop is not None
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    inv = load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")
    settings = CollectorSettings.model_validate(
        {"inventory": "inventory.yaml", "state": {"default_interval_s": LIVE_INTERVAL_S, "down_after": 3}}
    )
    clock = _Clock()
    store = SqliteStore.open(":memory:")
    ingestor: Ingestor | None = None
    engine = Engine(
        inv, settings, store, clock=clock, ingest_counters=lambda: ingestor.counters() if ingestor else IngestCounters()
    )
    ingestor = Ingestor(engine, store, clock=clock)
    # The InfluxDB writer hooks on the ingest, as in the collector process.
    vm = start_victoriametrics(tmp_path_factory.mktemp("vm"))
    writer = InfluxWriter(InfluxSettings(url=vm.url), inv, None)
    ingestor.listeners.append(writer.offer)
    now = time.time()
    batches = live_batches(inv, now)
    for batch in batches:
        clock.fixed = batch.sent_at + 0.5
        ingestor.handle(wire.samples_topic(LIVE_AGENT), wire.encode(batch))
        engine.tick(clock.fixed)
    # A redelivery and a broken payload, for the collector-health panels.
    ingestor.handle(wire.samples_topic(LIVE_AGENT), wire.encode(batches[-1]))
    ingestor.handle(wire.samples_topic(LIVE_AGENT), b"{not json")
    clock.fixed = None
    status = wire.AgentStatus(
        v=1, agent=LIVE_AGENT, state="online", ts=now, version="1.0", devices=len(inv.index.devices)
    )
    ingestor.handle(wire.status_topic(LIVE_AGENT), wire.encode(status))
    engine.tick(time.time())
    asyncio.run(writer.flush())
    counters = ingestor.counters()
    assert (counters.batches, counters.duplicates, counters.invalid) == (len(batches), 1, {"json": 1}), counters

    registry = CollectorRegistry()
    collector = SnapshotCollector(engine.snapshot, coverage_target=1.0)
    registry.register(collector)
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(registry, prepare=[collector]))
    port = free_port()
    server = _Server(app, port)
    server.start()

    workdir = tmp_path_factory.mktemp("prometheus")
    prom = start_prometheus(
        workdir,
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"rule_files:\n  - {RULES}\n"
        "scrape_configs:\n  - job_name: netmon\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
    )
    lv = Live(inv, engine, prom, f"http://127.0.0.1:{port}/metrics", vm, writer, batches)
    try:
        # Enough scrapes for rate() over 10 s windows, and one rule evaluation after them.
        wait_until(
            lambda: (
                bool(r := lv.query("count_over_time(netmon_snapshot_timestamp_seconds[10s])"))
                and float(r[0]["value"][1]) >= 5
                and bool(lv.query('ALERTS{alertname="NetmonCommuneDown"}'))
            ),
            60,
            "prometheus scrapes and rule evaluations",
            prom.proc,
            prom.log,
        )
        yield lv
    finally:
        prom.stop()
        vm.stop()
        server.stop()
        engine.close()


def exposition(live: Live) -> dict[str, list[dict[str, str]]]:
    with urllib.request.urlopen(live.metrics_url, timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, list[dict[str, str]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append(s.labels)
    return out


def test_prometheus_scrapes_the_exposition(live: Live) -> None:
    up = live.query('up{job="netmon"}')
    assert [float(r["value"][1]) for r in up] == [1.0]
    # Prometheus holds one series per exposed sample of the current scrape.
    exposed = exposition(live)
    stored = live.query('count({__name__=~"netmon_.+", job="netmon"})')
    assert int(stored[0]["value"][1]) == sum(len(v) for v in exposed.values())
    state = {r["metric"]["device"]: float(r["value"][1]) for r in live.query("netmon_device_state")}
    assert state[LIVE_DOWN_CPE] == STATE_CODE[State.DOWN]
    assert state[LIVE_DOWN_ROUTER] == STATE_CODE[State.DOWN]
    ba_to = {d.id for c in live.inv.index.districts[DISTRICT].communes for d in c.devices}
    assert {state[d] for d in ba_to} == {STATE_CODE[State.UNREACHABLE]}
    assert state[LIVE_SNMP_CPE] == STATE_CODE[State.UP]


def test_prometheus_holds_no_stale_series_of_a_down_device(live: Live) -> None:
    """The down CPE answered SNMP once, then nothing: Prometheus has its loss (measured every
    round) but not its last interface table, SNMP response time or RTT."""
    sel = f'{{device="{LIVE_DOWN_CPE}"}}'
    assert _values(live.query(f"netmon_device_loss_ratio{sel}"), "device") == {LIVE_DOWN_CPE: 1.0}
    for name in ("netmon_interface_oper_status", "netmon_device_snmp_response_seconds", "netmon_device_rtt_seconds"):
        assert live.query(name + sel) == [], name
    # A device answering SNMP now keeps its series.
    assert live.query(f'netmon_interface_oper_status{{device="{LIVE_SNMP_CPE}"}}')
    # No district without communes ranks among the lowest coverage.
    assert live.query('netmon_district_coverage_ratio{district="536"}') == []


def _targets(lang: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for name, board in build(lang).items():
        for panel in board["panels"]:
            for target in panel["targets"]:
                yield name, panel, target


def _expr(target: dict[str, Any]) -> str:
    expr: str = target["expr"]
    for var, value in VARIABLES.items():
        expr = expr.replace(var, value)
    assert "$" not in expr, expr
    return expr


def _values(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


def test_every_dashboard_query_returns_the_expected_series(live: Live) -> None:
    snap = live.snapshot()
    inv = live.inv
    communes = len(inv.index.communes)
    ba_to = inv.index.districts[DISTRICT]
    ba_to_communes = {c.code for c in ba_to.communes}
    out_communes = {"21010", *ba_to_communes}
    out_devices = {LIVE_DOWN_CPE, LIVE_DOWN_ROUTER} | {d.id for c in ba_to.communes for d in c.devices}
    assert snap.availability[("province", "51", 3600)].ratio is not None

    # (dashboard, English panel title, refId) -> check of the instant query's result.
    def coverage(r: list[dict[str, Any]]) -> None:
        assert [float(x["value"][1]) for x in r] == pytest.approx([(communes - len(out_communes)) / communes])

    # One query per state (and per window), so that each legend is a word of the language.
    by_state = {
        "A": communes - len(out_communes),
        "B": 1,
        "C": len(ba_to_communes),
        "D": 0,
        "E": 0,
    }
    assert [t["legendFormat"] for _, p, t in _targets("vi") if p["title"] == "Số xã theo trạng thái"][:5] == [
        "hoạt động",
        "mất kết nối",
        "không liên lạc được",
        "không rõ",
        "bảo trì",
    ]

    def down_communes(r: list[dict[str, Any]]) -> None:
        assert {x["metric"]["commune"] for x in r} == out_communes
        assert all(x["metric"]["commune_name"] for x in r)
        since = {x["metric"]["commune"]: float(x["value"][1]) / 1000 for x in r}
        assert since["21010"] == pytest.approx(snap.communes["21010"].since, abs=0.01)

    def down_devices(r: list[dict[str, Any]]) -> None:
        assert {x["metric"]["device"] for x in r} == out_devices
        assert {x["metric"]["commune"] for x in r if x["metric"]["device"] == LIVE_DOWN_CPE} == {"21010"}

    def district_down_devices(r: list[dict[str, Any]]) -> None:
        assert {x["metric"]["device"] for x in r} == {d.id for c in ba_to.communes for d in c.devices} | {
            LIVE_DOWN_ROUTER
        }

    def worst(r: list[dict[str, Any]]) -> None:
        values = _values(r, "district")
        assert len(values) == 10
        assert values[DISTRICT] == 0.0
        assert min(values, key=lambda k: values[k]) == DISTRICT

    def province_availability(r: list[dict[str, Any]]) -> None:
        got = _values(r, "window")
        assert set(got) == {"1h"}
        ratio = snap.availability[("province", "51", 3600)].ratio
        assert got["1h"] == pytest.approx(ratio)
        assert 0 < got["1h"] < 1

    def district_availability(r: list[dict[str, Any]]) -> None:
        # Ba Tơ's communes were never reachable in the scenario.
        assert _values(r, "commune") == dict.fromkeys(ba_to_communes, 0.0)

    def district_communes(r: list[dict[str, Any]]) -> None:
        assert _values(r, "commune") == dict.fromkeys(ba_to_communes, float(STATE_CODE[State.UNREACHABLE]))

    def site_state(r: list[dict[str, Any]]) -> None:
        assert _values(r, "device") == {LIVE_SNMP_CPE: STATE_CODE[State.UP]}

    def rtt(r: list[dict[str, Any]]) -> None:
        assert _values(r, "device") == {LIVE_SNMP_CPE: pytest.approx(0.020)}

    def interfaces(r: list[dict[str, Any]]) -> None:
        assert _values(r, "interface") == {"wan0": 1.0, "lan0": 2.0}

    def traffic(r: list[dict[str, Any]]) -> None:
        assert set(_values(r, "interface")) == {"wan0", "lan0"}

    def agents(r: list[dict[str, Any]]) -> None:
        assert _values(r, "agent") == {LIVE_AGENT: 1.0}

    def devices_per_agent(r: list[dict[str, Any]]) -> None:
        assert _values(r, "agent") == {LIVE_AGENT: float(len(inv.index.devices))}

    def snapshot_age(r: list[dict[str, Any]]) -> None:
        assert 0 <= float(r[0]["value"][1]) < 30

    checks = {
        ("netmon-province.json", "Commune coverage", "A"): coverage,
        ("netmon-province.json", "Coverage vs target", "A"): coverage,
        ("netmon-province.json", "Coverage vs target", "B"): lambda r: _one(r, 1.0),
        ("netmon-province.json", "Communes", "A"): lambda r: _one(r, communes - len(out_communes)),
        ("netmon-province.json", "Communes", "B"): lambda r: _one(r, communes),
        ("netmon-province.json", "Communes", "C"): lambda r: _one(r, communes),
        **{
            ("netmon-province.json", "Communes by state", ref): functools.partial(_one, value=n)
            for ref, n in by_state.items()
        },
        ("netmon-province.json", "Commune coverage", "B"): lambda r: _one(r, 1.0),
        ("netmon-province.json", "Worst districts by coverage", "B"): lambda r: _one(r, 1.0),
        ("netmon-province.json", "Disconnected communes, since", "A"): down_communes,
        ("netmon-province.json", "Devices down now, since", "A"): down_devices,
        ("netmon-province.json", "Worst districts by coverage", "A"): worst,
        ("netmon-province.json", "Availability", "A"): province_availability,
        ("netmon-district.json", "Commune availability (1 day)", "A"): district_availability,
        ("netmon-district.json", "Commune coverage", "A"): lambda r: _one(r, 0.0),
        ("netmon-district.json", "Communes by state", "C"): lambda r: _one(r, len(ba_to_communes)),
        ("netmon-district.json", "Communes by state", "A"): lambda r: _one(r, 0),
        ("netmon-district.json", "Communes", "A"): district_communes,
        ("netmon-district.json", "Communes", "B"): lambda r: assert_set(r, "commune", ba_to_communes),
        ("netmon-district.json", "Devices down now, since", "A"): district_down_devices,
        ("netmon-site.json", "State", "A"): site_state,
        ("netmon-site.json", "Round-trip time", "A"): rtt,
        ("netmon-site.json", "Jitter", "A"): lambda r: _one(r, 0.002),
        ("netmon-site.json", "Packet loss", "A"): lambda r: _one(r, 0.0),
        ("netmon-site.json", "SNMP response time", "A"): lambda r: _one(r, 0.05),
        ("netmon-site.json", "State history", "A"): site_state,
        ("netmon-site.json", "Interface status", "A"): interfaces,
        ("netmon-site.json", "Traffic", "A"): traffic,
        ("netmon-site.json", "Traffic", "B"): traffic,
        ("netmon-site.json", "Outages in the time range", "A"): lambda r: _one(r, 0.0),
        ("netmon-health.json", "Agents online", "A"): agents,
        ("netmon-health.json", "Devices per agent", "A"): devices_per_agent,
        ("netmon-health.json", "Collector state age", "A"): snapshot_age,
        ("netmon-health.json", "Duplicate batches", "A"): lambda r: _one(r, 1),
        ("netmon-health.json", "Invalid payloads by reason", "A"): lambda r: assert_set(r, "reason", {"json"}),
        ("netmon-health.json", "Dead letters", "A"): lambda r: _one(r, snap.ingest.dead_letters),
    }
    seen: set[tuple[str, str, str]] = set()
    for name, panel, target in _targets("en"):
        key = (name, panel["title"], target["refId"])
        result = live.query(_expr(target))
        assert result, f"{key}: {target['expr']} returned nothing"
        if key in checks:
            checks[key](result)
            seen.add(key)
    assert seen == set(checks), set(checks) - seen


def _one(result: list[dict[str, Any]], value: float) -> None:
    assert [float(r["value"][1]) for r in result] == pytest.approx([value])


def assert_set(result: list[dict[str, Any]], label: str, expected: set[str]) -> None:
    assert {r["metric"][label] for r in result} == expected


def test_both_languages_run_the_same_queries() -> None:
    exprs = {lang: sorted((n, t["expr"]) for n, _, t in _targets(lang)) for lang in LANGUAGES}
    assert exprs["vi"] == exprs["en"]
    titles = {lang: [p["title"] for n, p, _ in _targets(lang)] for lang in LANGUAGES}
    assert titles["vi"] != titles["en"]


def test_template_variables_resolve(live: Live) -> None:
    """Each picker lists the scenario's value, given the pickers before it (a name picker
    drives the code variable behind it)."""
    for lang in LANGUAGES:
        for board in build(lang).values():
            for var in board["templating"]["list"]:
                metric, label = var["definition"].removeprefix("label_values(").removesuffix(")").rsplit(", ", 1)
                for name, value in VARIABLES.items():
                    metric = metric.replace(name, value)
                values = live.api(f"/api/v1/label/{label}/values?" + urllib.parse.urlencode({"match[]": metric}))
                assert VARIABLES[f"${var['name']}"] in values, var
                if var.get("hide") == 2:  # a code behind a name: exactly one
                    assert values == [VARIABLES[f"${var['name']}"]], var


def test_alert_rules_load_and_go_pending_on_the_scenario(live: Live) -> None:
    groups = live.api("/api/v1/rules")["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert rules
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
    alerts = live.api("/api/v1/alerts")["alerts"]
    by_name: dict[str, list[dict[str, str]]] = {}
    for a in alerts:
        by_name.setdefault(a["labels"]["alertname"], []).append(a["labels"])
        assert a["state"] == "pending"  # every rule has a "for" longer than this test
    ba_to = {c.code for c in live.inv.index.districts[DISTRICT].communes}
    assert {a["commune"] for a in by_name["NetmonCommuneDown"]} == {"21010", *ba_to}
    assert [(a["device"], a["district"], a["district_name"]) for a in by_name["NetmonDistrictUplinkDown"]] == [
        (LIVE_DOWN_ROUTER, DISTRICT, "Huyện Ba Tơ")
    ]
    assert [a["province"] for a in by_name["NetmonCoverageBelowTarget"]] == ["51"]
    assert set(by_name) == {"NetmonCommuneDown", "NetmonDistrictUplinkDown", "NetmonCoverageBelowTarget"}
    # The collector is scraped under the job the collector rules watch: they are quiet.
    names = {r["name"] for r in rules}
    assert {"NetmonCollectorDown", "NetmonCollectorAbsent"} <= names
    assert [float(r["value"][1]) for r in live.query('up{job="netmon"}')] == [1.0]


def test_exposition_matches_render_of_the_same_snapshot(live: Live) -> None:
    registry = CollectorRegistry()
    snap = live.snapshot()
    registry.register(SnapshotCollector(lambda: snap))
    local = {s.name for f in text_string_to_metric_families(render(registry).decode()) for s in f.samples}
    assert local == set(exposition(live))


def test_influx_points_of_the_same_scenario(live: Live) -> None:
    """The accepted batches (not the duplicate, not the broken payload) reached the InfluxDB
    API with their measurement times."""
    vm = live.victoriametrics
    assert live.writer.stats.written_points == live.writer.stats.offered_points > 0
    with urllib.request.urlopen(f"{vm.url}/internal/force_flush", timeout=10):
        pass
    url = f"{vm.url}/api/v1/export?" + urllib.parse.urlencode({"match[]": '{__name__="netmon_probe_up"}'})
    with urllib.request.urlopen(url, timeout=10) as resp:
        series = [json.loads(line) for line in resp.read().decode().splitlines() if line]
    fed = [s for b in live.batches for s in b.samples]
    assert sum(len(s["values"]) for s in series) == len(fed)
    down = next(s for s in series if s["metric"]["device"] == LIVE_DOWN_CPE and s["metric"]["probe"] == "icmp")
    assert down["values"] == [0] * len(live.batches)
    assert down["timestamps"] == [round(s.ts * 1000) for s in fed if s.device == LIVE_DOWN_CPE and s.probe == "icmp"]
