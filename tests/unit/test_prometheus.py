"""The Prometheus exposition: families, formats, label rules, promtool's lint, the handler."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics
from prometheus_client.parser import text_string_to_metric_families as parse_text

from netmon.collector.model import STATE_CODE, Snapshot, State
from netmon.collector.steps import Steps
from netmon.config.inventory import Inventory
from netmon.config.loader import load_inventory
from netmon.exporters.prometheus import (
    CONTENT_TYPE_OPENMETRICS,
    CONTENT_TYPE_TEXT,
    METRIC_NAMES,
    SnapshotCollector,
    build_families,
    family_steps,
    metrics_handler,
    render,
    wants_openmetrics,
)
from tests.services import require
from tests.services_exporters import scenario_snapshot
from tests.unit.test_several_collectors import render_families

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_790_000_000.0


@pytest.fixture(scope="module")
def inv2021() -> Inventory:
    return load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")


@pytest.fixture(scope="module")
def inv2025() -> Inventory:
    return load_inventory(ROOT / "config" / "quang-ngai-2025.yaml")


def registry_for(inv: Inventory, **kw: object) -> CollectorRegistry:
    snap = scenario_snapshot(inv, NOW, **kw)  # type: ignore[arg-type]
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(lambda: snap, coverage_target=1.0))
    return reg


def samples_of(text: str, openmetrics: bool = False) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    parse = parse_openmetrics if openmetrics else parse_text
    return {(s.name, tuple(sorted(s.labels.items()))): s.value for f in parse(text) for s in f.samples}


def test_render_parses_like_prometheus_client_in_both_formats(inv2021: Inventory) -> None:
    reg = registry_for(inv2021, states={"c21010-cpe1": State.DOWN})
    ours_text = render(reg).decode()
    ours_om = render(reg, openmetrics=True).decode()
    theirs_text = generate_latest(reg).decode()
    theirs_om = generate_openmetrics(reg).decode()
    assert samples_of(ours_text) == samples_of(theirs_text)
    assert samples_of(ours_om, True) == samples_of(theirs_om, True)
    # Types and help survive, too.
    ours_types = {f.name: (f.type, f.documentation) for f in parse_openmetrics(ours_om)}
    theirs_types = {f.name: (f.type, f.documentation) for f in parse_openmetrics(theirs_om)}
    assert ours_types == theirs_types
    assert ours_om.endswith("# EOF\n")


def test_scenario_values_are_exported(inv2021: Inventory) -> None:
    reg = registry_for(
        inv2021,
        states={"c21010-cpe1": State.DOWN, "d522-r1": State.UNREACHABLE},
        flapping=frozenset({"c21013-cpe1"}),
        outage_counts={"c21010-cpe1": 3},
    )
    s = samples_of(render(reg).decode())
    dev = lambda d: (("device", d),)  # noqa: E731
    assert s[("netmon_device_state", dev("c21010-cpe1"))] == STATE_CODE[State.DOWN]
    assert s[("netmon_device_state", dev("d522-r1"))] == STATE_CODE[State.UNREACHABLE]
    assert s[("netmon_device_up", dev("c21010-cpe1"))] == 0
    assert s[("netmon_device_up", dev("c21013-cpe1"))] == 1
    assert s[("netmon_device_flapping", dev("c21013-cpe1"))] == 1
    assert s[("netmon_device_outages_total", dev("c21010-cpe1"))] == 3
    assert s[("netmon_device_rtt_seconds", dev("c21013-cpe1"))] == pytest.approx(0.020)
    # A device that does not answer has no RTT rather than a NaN or a stale zero.
    assert ("netmon_device_rtt_seconds", dev("c21010-cpe1")) not in s
    info = next(k for k in s if k[0] == "netmon_device_info" and ("device", "c21010-cpe1") in k[1])
    labels = dict(info[1])
    assert labels == {
        "device": "c21010-cpe1",
        "role": "cpe",
        "province": "51",
        "district": "522",
        "commune": "21010",
        "commune_name": "Phường Lê Hồng Phong",
        "name": labels["name"],
    }
    commune = (("commune", "21010"), ("commune_name", "Phường Lê Hồng Phong"), ("district", "522"), ("province", "51"))
    assert s[("netmon_commune_connected", commune)] == 0
    assert s[("netmon_commune_availability_ratio", tuple(sorted((*commune, ("window", "30d")))))] == 0.5
    province = (("province", "51"), ("province_name", "Tỉnh Quảng Ngãi"))
    assert s[("netmon_province_communes", province)] == len(inv2021.index.communes)
    assert s[("netmon_province_communes_connected", province)] == len(inv2021.index.communes) - 1
    by_state = {dict(k[1])["state"]: v for k, v in s.items() if k[0] == "netmon_province_communes_by_state"}
    assert by_state == {
        "up": len(inv2021.index.communes) - 1,
        "down": 1,
        "unreachable": 0,
        "unknown": 0,
        "maintenance": 0,
    }
    assert s[("netmon_collector_invalid_batches_total", (("reason", "json"),))] == 2
    assert s[("netmon_collector_rejected_samples_total", (("reason", "foreign_device"),))] == 3
    assert s[("netmon_collector_ledger_gaps", ())] == 1
    assert s[("netmon_agent_missing_batches", (("agent", "d522"),))] == 4


def test_state_mapping_is_documented_in_help(inv2021: Inventory) -> None:
    helps = {f.name: f.documentation for f in parse_text(render(registry_for(inv2021)).decode())}
    for state, code in STATE_CODE.items():
        assert f"{code}={state.value}" in helps["netmon_device_state"]
        assert f"{code}={state.value}" in helps["netmon_commune_state"]


def test_2025_structure_keeps_the_same_label_names(inv2021: Inventory, inv2025: Inventory) -> None:
    """Without districts, device and commune series keep a ``district`` label (empty)."""

    def label_names(inv: Inventory) -> dict[str, set[tuple[str, ...]]]:
        text = render(registry_for(inv)).decode()
        out: dict[str, set[tuple[str, ...]]] = {}
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            name, _, rest = line.partition("{")
            keys = tuple(kv.split("=")[0] for kv in rest.rsplit("}", 1)[0].split('",') if kv) if rest else ()
            out.setdefault(name.split(" ")[0], set()).add(keys)
        return out

    a, b = label_names(inv2021), label_names(inv2025)
    for name in ("netmon_device_info", "netmon_commune_connected", "netmon_commune_availability_ratio"):
        assert a[name] == b[name], name
    assert 'district=""' in render(registry_for(inv2025)).decode()
    assert "netmon_district_communes{" not in render(registry_for(inv2025)).decode()


def test_every_exported_name_is_declared(inv2021: Inventory) -> None:
    names = {s.name for f in parse_text(render(registry_for(inv2021)).decode()) for s in f.samples}
    assert names <= METRIC_NAMES
    # The scenario exercises nearly every family; the rest need states it does not have.
    assert len(names) >= len(METRIC_NAMES) - 1


def test_no_timestamps_or_free_text_in_labels(inv2021: Inventory) -> None:
    snap = scenario_snapshot(inv2021, NOW, states={"c21010-cpe1": State.DOWN})
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(lambda: snap))
    values = {v for f in parse_text(render(reg).decode()) for s in f.samples for v in s.labels.values()}
    causes = {d.cause for d in snap.devices.values() if d.cause}
    aliases = {i.alias for d in snap.devices.values() for i in d.interfaces}
    assert not (values & (causes | aliases))
    assert not any(v.replace(".", "").isdigit() and len(v) >= 9 for v in values)  # no Unix times


def test_promtool_check_metrics_finds_nothing(inv2021: Inventory, inv2025: Inventory) -> None:
    promtool = require("promtool")
    for inv in (inv2021, inv2025):
        out = subprocess.run(
            [promtool, "check", "metrics"], input=render(registry_for(inv)), capture_output=True, check=False
        )
        assert out.returncode == 0, out.stdout.decode() + out.stderr.decode()
        assert out.stdout.strip() == b"", out.stdout.decode()


def test_snapshot_is_read_at_scrape_time(inv2021: Inventory) -> None:
    snaps = [scenario_snapshot(inv2021, NOW), scenario_snapshot(inv2021, NOW + 60, states={"p51-core": State.DOWN})]
    calls: list[int] = []

    def current() -> object:
        calls.append(1)
        return snaps[len(calls) - 1]

    reg = CollectorRegistry()
    reg.register(SnapshotCollector(current))  # type: ignore[arg-type]
    assert calls == []  # registering does not take a snapshot (describe() is static)
    first = samples_of(render(reg).decode())
    second = samples_of(render(reg).decode())
    key = ("netmon_device_state", (("device", "p51-core"),))
    assert (first[key], second[key]) == (STATE_CODE[State.UP], STATE_CODE[State.DOWN])


@pytest.mark.parametrize(
    ("accept", "om"),
    [
        ("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1", True),
        ("text/plain;version=0.0.4", False),
        ("", False),
        ("application/openmetrics-text;q=0", False),
        ("*/*", False),
    ],
)
def test_accept_negotiation(accept: str, om: bool) -> None:
    assert wants_openmetrics(accept) is om


async def test_handler_serves_both_formats_and_gzip(inv2021: Inventory) -> None:
    reg = registry_for(inv2021)
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(reg))
    async with TestClient(TestServer(app)) as client:
        r = await client.get("/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
        assert r.status == 200
        assert r.headers["Content-Type"] == CONTENT_TYPE_OPENMETRICS
        assert (await r.text()).endswith("# EOF\n")
        r = await client.get(
            "/metrics", headers={"Accept": "text/plain", "Accept-Encoding": "gzip"}, auto_decompress=False
        )
        assert r.headers["Content-Type"] == CONTENT_TYPE_TEXT
        assert r.headers["Content-Encoding"] == "gzip"
        body = gzip.decompress(await r.read()).decode()
        assert samples_of(body) == samples_of(render(reg).decode())


label_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20)


@settings(max_examples=60, deadline=None)
@given(name=label_text.filter(str.strip), commune_name=label_text.filter(str.strip))
def test_any_inventory_name_round_trips(name: str, commune_name: str) -> None:
    inv = Inventory.model_validate(
        {
            "province": {"code": "51", "name": "P"},
            "communes": [
                {
                    "code": "21010",
                    "name": commune_name,
                    "devices": [{"id": "c21010-cpe1", "role": "cpe", "address": "127.0.0.1", "name": name}],
                }
            ],
        }
    )
    text = render(registry_for(inv)).decode()
    info = next(s for f in parse_text(text) for s in f.samples if s.name == "netmon_device_info")
    commune = inv.communes[0]
    assert (info.labels["name"], info.labels["commune_name"]) == (commune.devices[0].name, commune.name)
    assert samples_of(text) == samples_of(generate_latest(registry_for(inv)).decode())


def test_same_snapshot_object_reuses_the_families(inv2021: Inventory) -> None:
    snap = scenario_snapshot(inv2021, NOW)
    collector = SnapshotCollector(lambda: snap)
    first = collector.collect()
    assert collector.collect() is first
    other = SnapshotCollector(lambda: scenario_snapshot(inv2021, NOW))
    assert other.collect() is not other.collect()  # a new snapshot object: families built anew


async def test_prepared_handler_takes_the_snapshot_on_the_loop_thread(inv2021: Inventory) -> None:
    import threading

    snap = scenario_snapshot(inv2021, NOW)
    threads: list[str] = []

    def current() -> Snapshot:
        threads.append(threading.current_thread().name)
        return snap

    reg = CollectorRegistry()
    collector = SnapshotCollector(current)
    reg.register(collector)
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(reg, prepare=[collector]))
    async with TestClient(TestServer(app)) as client:
        for _ in range(3):
            r = await client.get("/metrics")
            assert r.status == 200
            assert "netmon_device_state" in await r.text()
    assert threads == [threading.current_thread().name] * 3


def _series_text(snap: Snapshot) -> str:
    """The exposition of a snapshot, written from nothing."""
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(lambda: snap))
    return render(reg).decode()


def _series(snap: Snapshot) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return samples_of(_series_text(snap))


def test_values_older_than_the_last_round_are_not_exported() -> None:
    """A device that stopped answering keeps its last interface table and SNMP figures on
    the page (greyed); /metrics has no stale series of them."""
    from tests.people_scenario import HOUR, T0, engine_at, silent_agent_engine

    down = _series(engine_at(T0 + 11 * HOUR).snapshot())  # c21211-cpe1 down since 10:00, SNMP too
    of = {(name, dict(labels).get("device")) for name, labels in down}
    assert ("netmon_device_loss_ratio", "c21211-cpe1") in of  # 100 % loss: measured in the last round
    assert down[("netmon_device_loss_ratio", (("device", "c21211-cpe1"),))] == 1.0
    for name in ("netmon_device_snmp_response_seconds", "netmon_interface_oper_status", "netmon_device_rtt_seconds"):
        assert (name, "c21211-cpe1") not in of, name
    assert ("netmon_interface_oper_status", "c21010-cpe1") in of  # up, answering SNMP: exported
    assert ("netmon_device_snmp_response_seconds", "c21010-cpe1") in of
    # Nothing heard of a device (its agent is silent): none of its measurements.
    silent = _series(silent_agent_engine().snapshot())
    heard = {dict(labels).get("device") for name, labels in silent if name == "netmon_interface_oper_status"}
    assert "c21400-cpe1" not in heard  # Mộ Đức
    assert "c21211-cpe1" in heard


def test_a_unit_without_communes_has_no_coverage_series(inv2021: Inventory) -> None:
    samples = samples_of(render(registry_for(inv2021)).decode())
    ratios = {
        dict(labels)["district"]
        for name, labels in samples
        if name in ("netmon_district_coverage_ratio", "netmon_district_provisioned_ratio")
    }
    assert "536" not in ratios  # Lý Sơn: no communes, no ratio (it never heads "lowest coverage")
    assert len(ratios) == 12
    assert (
        samples[
            ("netmon_district_communes", (("district", "536"), ("district_name", "Huyện Lý Sơn"), ("province", "51")))
        ]
        == 0
    )


def test_families_made_in_steps_are_those_made_at_once(inv2021: Inventory) -> None:
    snap = scenario_snapshot(inv2021, NOW, states={"d535-r1": State.DOWN})
    steps = Steps(family_steps(snap, devices_per_step=7))
    yielded = 0
    while not steps.step():
        yielded += 1
    assert yielded == len(snap.devices) // 7
    assert steps.result is not None
    assert render_families(steps.result) == render_families(build_families(snap))


async def test_a_scrape_lets_the_loop_apply_batches_between_its_steps(inv2021: Inventory) -> None:
    import asyncio

    snap = scenario_snapshot(inv2021, NOW)
    collector = SnapshotCollector(lambda: snap)
    turns = 0
    started = asyncio.Event()

    async def other_work() -> None:  # a batch's turn: whenever the loop lets it run
        nonlocal turns
        started.set()
        while True:
            turns += 1
            await asyncio.sleep(0)  # counts the loop's turns: one per pass

    task = asyncio.create_task(other_work())
    await started.wait()
    before = turns
    await collector.prepare(devices_per_step=10)
    task.cancel()
    assert turns - before >= len(snap.devices) // 10
    assert render_families(list(collector.collect())) == render_families(build_families(snap))


async def test_a_scrape_takes_from_the_one_before_only_what_has_not_changed() -> None:
    """A prepared scrape keeps the previous one's lines of unchanged communes, their
    availability until its refresh, and the devices' info lines while the inventory is the
    same. Through state changes, a refresh and a reload that renames a commune and a device,
    its text is always the one written from nothing, and the kept lines are really kept."""
    from netmon.config.inventory import Inventory
    from tests.unit.test_engine import make, small_inventory

    eng, sim, _ = make()
    current: list[Snapshot] = []
    collector = SnapshotCollector(lambda: current[-1])
    registry = CollectorRegistry()
    registry.register(collector)

    async def scrape() -> str:
        current.append(eng.snapshot())
        await collector.prepare(devices_per_step=2)
        text = render(registry).decode()
        assert text == _series_text(current[-1]), "a kept line is stale"
        return text

    def line(text: str, prefix: str) -> str:
        return next(x for x in text.splitlines() if x.startswith(prefix))

    for k in range(3):
        sim.round(k)
    await scrape()
    kept = collector._cache.communes["00002"]
    kept_lines = (kept.connected, kept.windows)
    kept_info = collector._cache.device_info["b"]
    sim.round(3, tick=False)  # new samples; no tick, so the availability is not refreshed
    await scrape()
    assert current[-1] is not current[-2]
    assert current[-1].availability is current[-2].availability
    again = collector._cache.communes["00002"]
    assert (again.connected, again.windows) == kept_lines
    assert again.connected is kept_lines[0]
    assert again.windows is kept_lines[1]
    assert collector._cache.device_info["b"] is kept_info
    for k in range(4, 9):
        sim.round(k, down={"a"})  # commune 00001 goes down; the ticks refresh the availability
    text = await scrape()
    assert 'netmon_commune_connected{province="51",district="001",commune="00001",commune_name="C1"} 0' in text
    assert current[-1].availability is not current[-2].availability
    assert collector._cache.communes["00002"].windows is not kept_lines[1]

    raw = small_inventory().model_dump(mode="json")
    raw["districts"][0]["communes"][1]["name"] = 'C2 "mới"'  # a quote, to be escaped
    raw["districts"][0]["communes"][1]["devices"][0]["name"] = "Bộ định tuyến B"
    eng.reload(Inventory.model_validate(raw))
    sim.round(9, down={"a"})
    text = await scrape()
    assert 'commune_name="C2 \\"mới\\""' in line(text, 'netmon_device_info{device="b"')
    assert 'name="Bộ định tuyến B"' in line(text, 'netmon_device_info{device="b"')
    assert 'commune_name="C2 \\"mới\\""' in line(text, "netmon_commune_connected{") + text
    assert 'commune_name="C2"' not in text
