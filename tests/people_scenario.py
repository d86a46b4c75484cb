"""A scenario with KNOWN outages for the web page, `netmon site` and report tests.

The province is the real Quảng Ngãi 2021 inventory (170 communes, one CPE each). Over one
day from ``T0`` (2026-10-01 00:00 Asia/Ho_Chi_Minh):

* Xã Tịnh Khê's CPE (c21211-cpe1) is DOWN 10:00–12:00 (2 h, "timeout");
* Ba Tơ district's router (d535-r1) is DOWN 14:00–15:00, so every CPE of Ba Tơ's communes
  is UNREACHABLE for that hour (root cause d535-r1);
* Phường Lê Hồng Phong's CPE (c21010-cpe1) goes DOWN at 23:00 and is still down at ``NOW``
  (T0 + 24 h), so 169 communes are connected at the end;
* reboots (SNMP sysUpTime starting again, ``BOOTS``): Lê Hồng Phong's CPE restarts between
  two polls and is back at 05:06:40 (a short power cut: never DOWN); Tịnh Khê's comes back
  from its outage at 11:58, rebooted.

``feed_engine`` drives the real collector engine with ICMP (and, for a few devices, SNMP)
sample batches on a controlled clock; the tests then read it only through
``collector.model.Reader``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.model import (
    State,
)
from netmon.config.inventory import Inventory
from netmon.config.loader import load_inventory
from netmon.config.settings import CollectorSettings

INVENTORY_PATH = Path(__file__).resolve().parents[1] / "config" / "quang-ngai-2021.yaml"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 10, 1, tzinfo=TZ).timestamp()
HOUR = 3600.0
DAY = 86400.0
NOW = T0 + DAY

TINH_KHE = "21211"
BA_TO = "535"
LE_HONG_PHONG = "21010"


@dataclass(frozen=True)
class Event:
    """A device out of service over [start, end) (end None: still out at NOW)."""

    device: str
    state: State
    start: float
    end: float | None
    cause: str = ""
    root_cause: str | None = None


def inventory() -> Inventory:
    """The scenario's inventory."""
    return load_inventory(INVENTORY_PATH)


def events(inv: Inventory) -> list[Event]:
    """The scenario's outages."""
    out = [
        Event("c21211-cpe1", State.DOWN, T0 + 10 * HOUR, T0 + 12 * HOUR, "timeout"),
        Event("d535-r1", State.DOWN, T0 + 14 * HOUR, T0 + 15 * HOUR, "timeout"),
        Event("c21010-cpe1", State.DOWN, T0 + 23 * HOUR, None, "timeout"),
    ]
    ba_to = inv.index.districts[BA_TO]
    for c in ba_to.communes:
        for d in c.devices:
            out.append(Event(d.id, State.UNREACHABLE, T0 + 14 * HOUR, T0 + 15 * HOUR, "parent down", "d535-r1"))
    return out


def ba_to_communes(inv: Inventory) -> int:
    """Number of communes in Ba Tơ district."""
    return len(inv.index.districts[BA_TO].communes)


#: Poll interval of the engine-fed scenario (10 min keeps the feed fast: 144 rounds a day).
INTERVAL_S = 600.0


class Clock:
    """A controlled clock for the engine."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def engine_settings(store_path: str = ":memory:") -> CollectorSettings:
    """Collector settings for the scenario: 10-minute rounds, 3 failed rounds make DOWN."""
    return CollectorSettings.model_validate(
        {
            "inventory": str(INVENTORY_PATH),
            "store": {"path": store_path},
            "state": {"default_interval_s": INTERVAL_S, "down_after": 3},
        }
    )


def feed_engine(
    engine: Engine,
    clock: Clock,
    inv: Inventory,
    evs: list[Event],
    *,
    until: float = NOW,
    icmp: bool = True,
    silent: tuple[str, float] | None = None,
) -> None:
    """Drive the real engine with ICMP sample batches every ``INTERVAL_S`` from ``T0`` to
    ``until``: a device fails every round that falls inside one of its events.

    Args:
        icmp: False: ICMP is off (as in the demo), every device answers SNMP only.
        silent: (district code, time): every district has its own agent (``agent-d<code>``,
            ``agent-p<code>`` for the province's devices); this district's agent sends nothing
            from that time on and its last will arrives one round later.
    """
    by_device: dict[str, list[Event]] = {}
    for e in evs:
        by_device.setdefault(e.device, []).append(e)
    agent_of = dict.fromkeys(inv.index.devices, "agent-test")
    silent_agent, silent_at = None, float("inf")
    if silent is not None:
        agent_of = {
            dev: f"agent-d{p.district.code}" if p.district is not None else f"agent-p{inv.province.code}"
            for dev, p in inv.index.placement.items()
        }
        silent_agent, silent_at = f"agent-d{silent[0]}", silent[1]
    seqs: dict[str, int] = {}
    will_sent = False
    rnd = 0
    t = T0
    while t < until:
        per_agent: dict[str, list[wire.Sample]] = {}
        for dev, agent in agent_of.items():
            if agent == silent_agent and t >= silent_at:
                continue
            out = any(e.start <= t < (e.end if e.end is not None else float("inf")) for e in by_device.get(dev, []))
            per_agent.setdefault(agent, []).extend(_round_samples(dev, t, out=out, icmp=icmp, rnd=rnd))
        rnd += 1
        clock.now = t + 1.0
        for agent, samples in per_agent.items():
            seqs[agent] = seqs.get(agent, 0) + 1
            engine.apply_batch(
                wire.SampleBatch(v=1, agent=agent, seq=seqs[agent], sent_at=t + 0.5, samples=samples), t + 1.0
            )
        if silent_agent is not None and not will_sent and t >= silent_at + INTERVAL_S:
            will_sent = True
            engine.agent_status(wire.AgentStatus(v=1, agent=silent_agent, state="offline", ts=T0), t + 1.0)
        engine.tick(t + 1.0)
        t += INTERVAL_S
    clock.now = until
    engine.tick(until)


def _round_samples(dev: str, t: float, *, out: bool, icmp: bool, rnd: int) -> list[wire.Sample]:
    """A device's samples of one round: ICMP (and SNMP for ``SNMP_DEVICES``), or SNMP only."""
    if not icmp:
        return [
            wire.Sample(device=dev, probe="snmp", ts=t, ok=False, reason="timeout") if out else _snmp_sample(dev, t)
        ]
    if out:
        samples = [wire.Sample(device=dev, probe="icmp", ts=t, ok=False, reason="timeout", loss=1.0, sent=3)]
        if dev in SNMP_DEVICES:
            samples.append(wire.Sample(device=dev, probe="snmp", ts=t, ok=False, reason="timeout"))
        return samples
    rtt = 0.020 + 0.001 * (rnd % 7)
    samples = [
        wire.Sample(
            device=dev, probe="icmp", ts=t, ok=True, rtt=wire.Rtt(rtt, rtt, rtt + 0.004, 0.001), loss=0.0, sent=3
        )
    ]
    if dev in SNMP_DEVICES:
        samples.append(_snmp_sample(dev, t))
    return samples


#: Devices that also answer SNMP in the scenario (uptime, interfaces on their site page).
SNMP_DEVICES = frozenset({"c21010-cpe1", "c21211-cpe1", "d535-r1"})
#: When devices came back from a reboot (every device booted at T0 - 1000 s before).
BOOTS: dict[str, tuple[float, ...]] = {
    "c21010-cpe1": (T0 + 5 * HOUR + 400.0,),
    "c21211-cpe1": (T0 + 12 * HOUR - 120.0,),
}


def _snmp_sample(dev: str, t: float) -> wire.Sample:
    # The agent flags the first poll after a boot: it reads a smaller uptime than before.
    booted = max((b for b in BOOTS.get(dev, ()) if b <= t), default=T0 - 1000.0)
    return wire.Sample(
        device=dev,
        probe="snmp",
        ts=t,
        ok=True,
        response_s=0.05,
        sys_uptime_s=t - booted,
        rebooted=booted > T0 and t - booted < INTERVAL_S,
        sys_name=dev,
        interfaces=[
            wire.Interface(
                index=1,
                name="wan0",
                oper_status=1,
                alias="uplink",
                speed_bps=100_000_000,
                in_bps=51_200.0,
                out_bps=12_800.0,
            ),
            wire.Interface(
                index=2,
                name="lan0",
                oper_status=1,
                alias="UBND <xã>",
                speed_bps=100_000_000,
                in_bps=8_000.0,
                out_bps=20_000.0,
            ),
            wire.Interface(index=3, name="lan1", oper_status=2, admin_status=1, alias="spare"),
        ],
    )


@functools.cache
def engine_at(until: float) -> Engine:
    """The scenario's engine at ``until``, fed once per test session (read it, never write)."""
    return scenario_engine(until=until)


def scenario_engine(
    store_path: str = ":memory:",
    *,
    until: float = NOW,
    inv: Inventory | None = None,
    evs: list[Event] | None = None,
    icmp: bool = True,
    silent: tuple[str, float] | None = None,
) -> Engine:
    """The real collector engine (with its SQLite store) fed with the scenario up to ``until``;
    another inventory or list of events may replace the scenario's; ``icmp`` and ``silent``
    as in :func:`feed_engine`."""
    from netmon.collector.store import SqliteStore

    inv = inv if inv is not None else inventory()
    clock = Clock(T0 - 1.0)
    store = SqliteStore.open(store_path)
    engine = Engine(inv, engine_settings(store_path), store, clock=clock)
    feed_engine(engine, clock, inv, events(inv) if evs is None else evs, until=until, icmp=icmp, silent=silent)
    return engine


#: Mộ Đức district: its agent goes silent in :func:`silent_agent_engine`.
MO_DUC = "533"
#: Lý Sơn district: no communes (its district centre is the site to watch).
LY_SON = "536"
SILENT_AT = T0 + 2 * HOUR


@functools.cache
def silent_agent_engine(until: float = T0 + 3 * HOUR) -> Engine:
    """The demo's situation: ICMP off (SNMP only), one agent per district, Mộ Đức's agent
    silent from ``SILENT_AT`` (its last will one round later), at 03:00 (the scenario's
    outages come later in the day). Read it, never write."""
    return scenario_engine(until=until, icmp=False, silent=(MO_DUC, SILENT_AT))
