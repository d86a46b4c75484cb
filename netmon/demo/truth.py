"""Ground truth: what really happened to each simulated device, computed from the plan.

The simulator applies the plan's actions; this module replays the same actions without
sockets, so it knows, for every device and instant, whether the device was really UP,
DOWN (it did not answer), UNREACHABLE (an uplink above it did not answer; the topmost
such uplink is the root cause) or in MAINTENANCE (a declared window). Lossy or slow
devices are UP: they answer. An agent's silence changes nothing here: the devices
were up; the collector should learn it from the agent's outbox.

:class:`Truth` is written as JSON (``--truth FILE``) and read back by tests and
benchmarks, which compare it with the collector's states, availability and coverage.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netmon.collector.model import Availability, State
from netmon.config.inventory import Inventory
from netmon.demo.scenario import Plan

TRUTH_VERSION = 1


@dataclass(frozen=True, slots=True)
class Period:
    """A span in a state other than UP; ``end`` None while it lasts."""

    state: State
    start: float
    end: float | None
    cause: str = ""
    root_cause: str | None = None

    def overlap(self, start: float, end: float) -> float:
        """Seconds of this period inside [start, end)."""
        stop = end if self.end is None else min(self.end, end)
        return max(0.0, stop - max(self.start, start))


@dataclass
class Truth:
    """Per device, its non-UP periods; per commune, its access devices; the agents' silences."""

    scenario: str
    seed: int
    start: float
    end: float | None
    time_scale: float
    interval_s: float
    devices: dict[str, list[Period]]
    parents: dict[str, str | None]
    communes: dict[str, list[str]]
    silences: list[tuple[str, float, float | None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def state_at(self, device: str, t: float) -> Period | None:
        """The period a device is in at ``t`` (None: UP)."""
        for p in self.devices.get(device, ()):
            if p.start <= t and (p.end is None or t < p.end):
                return p
        return None

    def availability(self, device: str, start: float, end: float) -> Availability:
        """Seconds per state over [start, end) (up = the rest)."""
        secs = dict.fromkeys(State, 0.0)
        for p in self.devices.get(device, ()):
            secs[p.state] += p.overlap(start, end)
        up = max(0.0, (end - start) - sum(secs.values()))
        return Availability(
            up_s=up,
            down_s=secs[State.DOWN],
            unreachable_s=secs[State.UNREACHABLE],
            maintenance_s=secs[State.MAINTENANCE],
        )

    def connected(self, commune: str, t: float) -> bool:
        """Whether at least one access device of the commune is UP at ``t``."""
        return any(self.state_at(d, t) is None for d in self.communes.get(commune, ()))

    def commune_availability(self, commune: str, start: float, end: float) -> Availability:
        """A commune's seconds over [start, end): up while connected; otherwise in the
        best state among its access devices (maintenance, then unreachable, then down)."""
        devices = self.communes.get(commune, ())
        cuts = sorted({start, end, *(t for t in self.changes() if start < t < end)})
        secs = dict.fromkeys(State, 0.0)
        rank = (State.MAINTENANCE, State.UNREACHABLE, State.DOWN)
        for a, b in itertools.pairwise(cuts):
            periods = [self.state_at(d, a) for d in devices]
            if not devices:
                secs[State.DOWN] += b - a
            elif any(p is None for p in periods):
                secs[State.UP] += b - a
            else:
                states = {p.state for p in periods if p is not None}
                secs[next(s for s in rank if s in states)] += b - a
        return Availability(
            up_s=secs[State.UP],
            down_s=secs[State.DOWN],
            unreachable_s=secs[State.UNREACHABLE],
            maintenance_s=secs[State.MAINTENANCE],
        )

    def coverage(self, t: float) -> tuple[int, int]:
        """(connected communes, communes) at ``t``; a commune with no device is not connected."""
        return sum(self.connected(c, t) for c in self.communes), len(self.communes)

    def changes(self) -> list[float]:
        """Every instant at which some device's true state changes, sorted."""
        ts = {p.start for ps in self.devices.values() for p in ps}
        ts |= {p.end for ps in self.devices.values() for p in ps if p.end is not None}
        return sorted(ts)

    def to_json(self) -> dict[str, Any]:
        """The JSON document (see the scenarios README for its fields)."""
        return {
            "version": TRUTH_VERSION,
            "scenario": self.scenario,
            "seed": self.seed,
            "start": self.start,
            "end": self.end,
            "time_scale": self.time_scale,
            "interval_s": self.interval_s,
            "devices": {
                d: {
                    "parent": self.parents.get(d),
                    "periods": [
                        {
                            "state": p.state.value,
                            "start": p.start,
                            "end": p.end,
                            "cause": p.cause,
                            "root_cause": p.root_cause,
                        }
                        for p in ps
                    ],
                }
                for d, ps in self.devices.items()
            },
            "communes": self.communes,
            "agents_silent": [{"agent": a, "start": s, "end": e} for a, s, e in self.silences],
            "notes": self.notes,
        }

    def write(self, path: str | Path) -> None:
        """Write the JSON atomically (a reader never sees half a file)."""
        path = Path(path)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(json.dumps(self.to_json(), ensure_ascii=False, indent=1), encoding="utf-8")
        tmp.replace(path)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Truth:
        """Read a document written by :meth:`to_json`."""
        if doc.get("version") != TRUTH_VERSION:
            raise ValueError(f"truth version {doc.get('version')!r}, expected {TRUTH_VERSION}")
        return cls(
            scenario=doc["scenario"],
            seed=doc["seed"],
            start=doc["start"],
            end=doc["end"],
            time_scale=doc["time_scale"],
            interval_s=doc["interval_s"],
            devices={
                d: [Period(State(p["state"]), p["start"], p["end"], p["cause"], p["root_cause"]) for p in v["periods"]]
                for d, v in doc["devices"].items()
            },
            parents={d: v["parent"] for d, v in doc["devices"].items()},
            communes=doc["communes"],
            silences=[(x["agent"], x["start"], x["end"]) for x in doc["agents_silent"]],
            notes=doc["notes"],
        )

    @classmethod
    def read(cls, path: str | Path) -> Truth:
        """Read a truth file."""
        return cls.from_json(json.loads(Path(path).read_text(encoding="utf-8")))


def _intervals(events: Iterable[tuple[float, int]], end: float | None) -> list[tuple[float, float | None]]:
    """Spans where a running sum of +1/-1 steps is positive."""
    out: list[tuple[float, float | None]] = []
    level = 0
    opened = 0.0
    for t, step in events:
        before = level
        level += step
        if before <= 0 < level:
            opened = t
        elif before > 0 >= level and t > opened:
            out.append((opened, t))
    if level > 0:
        out.append((opened, end))
    return out


def compute(plan: Plan, inv: Inventory, *, interval_s: float, end: float | None = None) -> Truth:
    """The ground truth of a plan over an inventory, up to ``end`` (None: open)."""
    idx = inv.index
    steps: dict[str, list[tuple[float, int, str]]] = {}
    for a in plan.actions:
        if a.op in ("hold", "release") and (end is None or a.t < end):
            steps.setdefault(a.target, []).append((a.t, 1 if a.op == "hold" else -1, a.reason))
    # Own outages (the device itself off), with the reason of the first hold.
    own: dict[str, list[tuple[float, float | None, str]]] = {}
    for dev, st in steps.items():
        spans = _intervals(((t, s) for t, s, _ in st), end)
        own[dev] = [(s, e, next((r for t, k, r in st if k > 0 and t >= s), "")) for s, e in spans]

    def down_at(dev: str, t: float) -> tuple[float, float | None, str] | None:
        for s, e, r in own.get(dev, ()):
            if s <= t and (e is None or t < e):
                return s, e, r
        return None

    maint: dict[str, list[tuple[float, float]]] = {}
    for w in plan.maintenance:
        if w.device is not None and w.end is not None:
            maint.setdefault(w.device, []).append((w.start.timestamp(), w.end.timestamp()))

    # Boundaries where anything changes; between two, every state is constant.
    bounds = sorted(
        {s for v in own.values() for s, _, _ in v}
        | {e for v in own.values() for _, e, _ in v if e is not None}
        | {t for v in maint.values() for w in v for t in w}
    )
    devices: dict[str, list[Period]] = {}
    affected = set(own) | set(maint)
    children = idx.children()
    stack = list(own)
    while stack:  # every descendant of a device that went down is affected too
        for c in children.get(stack.pop(), ()):
            if c not in affected:
                affected.add(c)
                stack.append(c)
    for dev in idx.devices:
        periods: list[Period] = []
        if dev in affected:
            chain = idx.ancestors(dev)
            for i, t in enumerate(bounds):
                if end is not None and t >= end:
                    break
                nxt: float | None = bounds[i + 1] if i + 1 < len(bounds) else end
                if nxt is not None and end is not None:
                    nxt = min(nxt, end)
                state, cause, root = _state(dev, chain, t, down_at, maint)
                if state is None:
                    continue
                last = periods[-1] if periods else None
                if (
                    last is not None
                    and last.end == t
                    and (last.state, last.cause, last.root_cause) == (state, cause, root)
                ):
                    periods[-1] = Period(state, last.start, nxt, cause, root)
                else:
                    periods.append(Period(state, t, nxt, cause, root))
        devices[dev] = periods
    communes = {
        c.code: [d.id for d in c.devices if d.is_access]
        for c in [*(c for d in inv.districts for c in d.communes), *inv.communes]
    }
    silences: list[tuple[str, float, float | None]] = []
    opened: dict[str, float] = {}
    for a in plan.actions:
        if a.op == "agent_down":
            opened[a.target] = a.t
        elif a.op == "agent_up" and a.target in opened:
            silences.append((a.target, opened.pop(a.target), a.t))
    silences += [(ag, t, None) for ag, t in opened.items()]
    return Truth(
        scenario=plan.scenario,
        seed=plan.seed,
        start=plan.start,
        end=end,
        time_scale=plan.time_scale,
        interval_s=interval_s,
        devices=devices,
        parents={d: dv.parent for d, dv in idx.devices.items()},
        communes=communes,
        silences=silences,
        notes=list(plan.notes),
    )


def _state(
    dev: str,
    chain: list[str],
    t: float,
    down_at: Any,
    maint: dict[str, list[tuple[float, float]]],
) -> tuple[State | None, str, str | None]:
    if any(s <= t < e for s, e in maint.get(dev, ())):
        return State.MAINTENANCE, "maintenance window", None
    # The topmost ancestor that is itself off explains an outage below it.
    root = None
    for a in chain:
        if down_at(a, t) is not None:
            root = a
    if root is not None:
        return State.UNREACHABLE, f"uplink {root} down", root
    own = down_at(dev, t)
    if own is not None:
        return State.DOWN, own[2], None
    return None, "", None
