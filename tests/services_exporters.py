"""Test support for the exporters: snapshots built from an inventory and a scenario.

``scenario_snapshot`` derives a :class:`collector.model.Snapshot` from an inventory and the
states of a few devices, with the collector's rules for commune connectivity (a commune is
connected when one of its access devices is UP) and counts. The engine computes these in
production; tests whose subject is the engine live with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from netmon.collector.model import (
    STANDARD_WINDOWS_S,
    AgentView,
    Availability,
    CommuneView,
    Counts,
    DeviceView,
    DistrictView,
    IngestCounters,
    InterfaceView,
    Snapshot,
    State,
)
from netmon.config.inventory import Inventory, iter_devices
from tests.services import Service, free_port, http_ok, require


def _counts(views: list[CommuneView]) -> Counts:
    by_state: dict[State, int] = {}
    for c in views:
        by_state[c.state] = by_state.get(c.state, 0) + 1
    return Counts(
        communes=len(views),
        provisioned=sum(c.provisioned for c in views),
        connected=sum(c.connected for c in views),
        by_state=by_state,
    )


def scenario_snapshot(
    inv: Inventory,
    now: float,
    *,
    states: Mapping[str, State] | None = None,
    default: State = State.UP,
    since: float | None = None,
    flapping: frozenset[str] = frozenset(),
    rtt_s: Mapping[str, float] | None = None,
    loss: Mapping[str, float] | None = None,
    agents: Mapping[str, bool] | None = None,
    agent_last_seen: float | None = None,
    ingest: IngestCounters | None = None,
    outage_counts: Mapping[str, int] | None = None,
    interfaces: bool = True,
    device_availability: bool = True,
) -> Snapshot:
    """A snapshot where every device is in ``default`` state except those in ``states``.

    Devices that are UP get measurements (RTT 20 ms unless ``rtt_s`` says otherwise, loss 0,
    jitter 2 ms, SNMP response 15 ms) and, with ``interfaces``, two interfaces; DOWN and
    UNREACHABLE devices keep none. Availability over the standard windows is 1.0 for UP
    devices and 0.5 for the others.
    """
    states = states or {}
    rtt_s = rtt_s or {}
    loss = loss or {}
    since = now - 600 if since is None else since
    devices: dict[str, DeviceView] = {}
    per_commune: dict[str, list[DeviceView]] = {}
    availability: dict[tuple[str, str, int], Availability] = {}
    for _path, dev, district, commune in iter_devices(inv):
        dev_id = dev.id
        st = states.get(dev_id, default)
        up = st == State.UP
        itfs: tuple[InterfaceView, ...] = ()
        if interfaces and up:
            itfs = (
                InterfaceView(1, "ge-0/0/0", "uplink", 1, 1, 1_000_000_000, 8e6, 2e6, 123_456_789, 98_765_432, 0, 1),
                InterfaceView(2, "ge-0/0/1", "lan", 2, 1, 100_000_000, None, None, 1000, 2000, 0, 0),
            )
        view = DeviceView(
            id=dev_id,
            role=str(dev.role),
            name=dev.name or dev_id,
            address=dev.address,
            commune=commune.code if commune else None,
            district=district.code if district else None,
            parent=dev.parent,
            agent="agent-1",
            state=st,
            since=since,
            cause="" if up else "3 failed rounds: timeout",
            flapping=dev_id in flapping,
            last_seen=now - 5,
            rtt_avg_s=rtt_s.get(dev_id, 0.020) if up else None,
            rtt_min_s=0.015 if up else None,
            rtt_max_s=0.030 if up else None,
            jitter_s=0.002 if up else None,
            loss_ratio=loss.get(dev_id, 0.0) if up else None,
            response_s=0.015 if up else None,
            is_access=dev.is_access,
            interfaces=itfs,
            # Measured in the last round (``last_seen``): current, so exported.
            probe_at=now - 5 if up else None,
            snmp_at=now - 5 if up else None,
            interfaces_at=now - 5 if itfs else None,
            interval_s=60.0,
        )
        devices[dev_id] = view
        if commune is not None:
            per_commune.setdefault(commune.code, []).append(view)
        if device_availability:
            for w in STANDARD_WINDOWS_S:
                availability[("device", dev_id, w)] = (
                    Availability(up_s=float(w)) if up else Availability(up_s=w / 2, down_s=w / 2)
                )

    communes: dict[str, CommuneView] = {}
    index = inv.index
    for code, commune in index.communes.items():
        district = index.commune_district.get(code)
        access = [d for d in per_commune.get(code, []) if d.is_access]
        connected = any(d.state == State.UP for d in access)
        if not access:
            cstate = State.UNKNOWN
        elif connected:
            cstate = State.UP
        elif all(d.state == State.UNREACHABLE for d in access):
            cstate = State.UNREACHABLE
        elif any(d.state == State.DOWN for d in access):
            cstate = State.DOWN
        else:
            cstate = access[0].state
        communes[code] = CommuneView(
            code=code,
            name=commune.name,
            district=district.code if district else None,
            connected=connected,
            provisioned=bool(access),
            state=cstate,
            since=since,
            devices=tuple(d.id for d in per_commune.get(code, [])),
        )
        for w in STANDARD_WINDOWS_S:
            availability[("commune", code, w)] = (
                Availability(up_s=float(w)) if connected else Availability(up_s=w / 2, down_s=w / 2)
            )

    districts: dict[str, DistrictView] = {}
    for dcode, d in index.districts.items():
        views = [c for c in communes.values() if c.district == dcode]
        districts[dcode] = DistrictView(
            code=dcode,
            name=d.name,
            counts=_counts(views),
            devices=tuple(x.id for x in d.devices),
            communes=tuple(c.code for c in views),
        )
        up_share = sum(c.connected for c in views) / len(views) if views else 1.0
        for w in STANDARD_WINDOWS_S:
            availability[("district", dcode, w)] = Availability(up_s=w * up_share, down_s=w * (1 - up_share))
    province = _counts(list(communes.values()))
    share = province.coverage_ratio
    for w in STANDARD_WINDOWS_S:
        availability[("province", inv.province.code, w)] = Availability(up_s=w * share, down_s=w * (1 - share))

    agent_views = {
        a: AgentView(a, online, agent_last_seen if agent_last_seen is not None else now - 5, "1.0", len(devices))
        for a, online in (agents or {"agent-1": True}).items()
    }
    return Snapshot(
        taken_at=now,
        province_code=inv.province.code,
        province_name=inv.province.name,
        edition=inv.edition,
        devices=devices,
        communes=communes,
        districts=districts,
        province=province,
        agents=agent_views,
        ingest=ingest
        or IngestCounters(
            batches=10,
            samples=500,
            duplicates=1,
            invalid={"json": 2, "schema": 1},
            rejected_samples={"value": 1, "schema": 0, "foreign_device": 3},
            ledger_gaps=1,
            missing_batches={"d522": 4},
        ),
        availability=availability,
        outage_counts=dict(outage_counts or {}),
    )


def national_inventory(devices: int = 30_000, per_commune: int = 3, communes_per_district: int = 15) -> Inventory:
    """A synthetic national-scale inventory: ``devices`` devices at communes (a router, a CPE,
    a switch per commune), district routers above them, one core."""
    communes_n = devices // per_commune
    districts: list[dict[str, Any]] = []
    roles = ("commune_router", "cpe", "switch")
    for di in range(0, communes_n, communes_per_district):
        dcode = f"{di // communes_per_district:03d}"
        dr = f"d{dcode}-r1"
        comms = []
        for ci in range(di, min(di + communes_per_district, communes_n)):
            code = f"{ci:05d}"
            comms.append(
                {
                    "code": code,
                    "name": f"Xã Thử Nghiệm {ci}",
                    "devices": [
                        {"id": f"c{code}-{roles[k % 3]}{k}", "role": roles[k % 3], "address": "127.0.0.1", "parent": dr}
                        for k in range(per_commune)
                    ],
                }
            )
        districts.append(
            {
                "code": dcode,
                "name": f"Huyện {dcode}",
                "devices": [{"id": dr, "role": "district_router", "address": "127.0.0.1", "parent": "p00-core"}],
                "communes": comms,
            }
        )
    return Inventory.model_validate(
        {
            "edition": "2021",
            "province": {"code": "00", "name": "Toàn quốc"},
            "devices": [{"id": "p00-core", "role": "core_router", "address": "127.0.0.1"}],
            "districts": districts,
        }
    )


#: The live scenario's poll interval; three failed rounds make a device DOWN.
LIVE_INTERVAL_S = 60.0
LIVE_AGENT = "agent-test"
#: The live scenario: this CPE is down; this district's router is down, so its communes are
#: unreachable; this CPE answers SNMP with two interfaces.
LIVE_DOWN_CPE = "c21010-cpe1"
LIVE_DOWN_ROUTER = "d535-r1"
LIVE_SNMP_CPE = "c21013-cpe1"


def live_batches(inv: Inventory, now: float, rounds: int = 4) -> list[Any]:
    """Sample batches of the live scenario: ``rounds`` ICMP rounds ending a little over one
    interval before ``now`` (so a tick at ``now`` refreshes the engine's availability, which
    it does at most once a minute); ``LIVE_DOWN_CPE``, ``LIVE_DOWN_ROUTER`` and every device below the router
    fail every round, the others answer (RTT 20 ms); ``LIVE_DOWN_CPE`` answered SNMP in the
    first round only."""
    from netmon.agent import wire

    index = inv.index
    failing = {LIVE_DOWN_CPE, LIVE_DOWN_ROUTER}
    district = index.placement[LIVE_DOWN_ROUTER].district
    assert district is not None
    failing |= {d.id for c in district.communes for d in c.devices}
    batches = []
    for r in range(rounds):
        t = now - (rounds - r) * LIVE_INTERVAL_S - 2.0
        samples = []
        for dev_id in index.devices:
            if dev_id in failing:
                samples.append(
                    wire.Sample(device=dev_id, probe="icmp", ts=t, ok=False, reason="timeout", loss=1.0, sent=3)
                )
            else:
                samples.append(
                    wire.Sample(
                        device=dev_id,
                        probe="icmp",
                        ts=t,
                        ok=True,
                        rtt=wire.Rtt(0.015, 0.020, 0.030, 0.002),
                        loss=0.0,
                        sent=3,
                    )
                )
        samples.append(
            wire.Sample(
                device=LIVE_SNMP_CPE,
                probe="snmp",
                ts=t,
                ok=True,
                response_s=0.05,
                sys_uptime_s=100_000.0 + r * LIVE_INTERVAL_S,
                interfaces=[
                    wire.Interface(
                        index=1,
                        name="wan0",
                        oper_status=1,
                        speed_bps=100_000_000,
                        in_octets=10_000 * (r + 1),
                        out_octets=5_000 * (r + 1),
                    ),
                    wire.Interface(
                        index=2, name="lan0", oper_status=2, speed_bps=100_000_000, in_octets=0, out_octets=0
                    ),
                ],
            )
        )
        # The down CPE answered SNMP in the first round only: its interface table and SNMP
        # response time are stale afterwards, and must not be exported.
        samples.append(
            wire.Sample(
                device=LIVE_DOWN_CPE,
                probe="snmp",
                ts=t,
                ok=True,
                response_s=0.04,
                interfaces=[wire.Interface(index=1, name="wan0", oper_status=1, in_octets=1, out_octets=1)],
            )
            if r == 0
            else wire.Sample(device=LIVE_DOWN_CPE, probe="snmp", ts=t, ok=False, reason="timeout")
        )
        batches.append(wire.SampleBatch(v=1, agent=LIVE_AGENT, seq=r + 1, sent_at=t + 0.5, samples=samples))
    return batches


def start_alertmanager(workdir: Path, config_file: Path, port: int | None = None) -> Service:
    """Prometheus Alertmanager on 127.0.0.1 with the given configuration, clustering off."""
    exe = require("prometheus-alertmanager")
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    svc = Service(
        "alertmanager",
        [
            exe,
            f"--config.file={config_file}",
            f"--storage.path={workdir / f'am-{port}'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        workdir,
        port,
    )
    return svc.start(lambda: http_ok(f"http://127.0.0.1:{port}/-/ready"))


_PROMQL_WORDS = frozenset(
    {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset"}
)


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (label names, functions, keywords,
    strings, durations and numbers left out)."""
    import re

    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)  # label lists
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        word = m.group(0)
        rest = expr[m.end() :].lstrip()
        if word in _PROMQL_WORDS or rest.startswith("("):
            continue  # a keyword or a function call
        if m.start() > 0 and (expr[m.start() - 1].isdigit() or expr[m.start() - 1] == "."):
            continue  # part of a number (1e3) or duration
        names.add(word)
    return names
