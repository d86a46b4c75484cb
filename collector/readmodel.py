"""The collector's read model: the transition log as timelines, availability and coverage
over any window, and the snapshot that exporters and pages render.

* :class:`RecentLog` keeps the recent transition log in memory (the longest standard window
  and a day): every device's timeline and, merged from them, every commune's. The write
  path (:mod:`collector.apply`) appends to it.
* :class:`History` answers the :class:`~collector.model.Reader` queries over a window: from
  the recent log when the window lies in it, else from the store (read on its own
  read-only connection, for just the devices the unit is made of). ``netmon report`` uses a
  :class:`History` over the store alone, without a write engine.
* :func:`build_snapshot` and :func:`standard_availability` make the immutable
  :class:`~collector.model.Snapshot` from the devices' records and the recent log.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import NamedTuple

import msgspec

from netmon.agent import wire
from netmon.collector import availability as av
from netmon.collector import coverage as cov
from netmon.collector import reboots as rb
from netmon.collector.devices import NOTHING_MEASURED, Live, Measured, Topology
from netmon.collector.model import (
    DEVICE_WINDOWS_S,
    STANDARD_WINDOWS_S,
    AgentView,
    Availability,
    CommuneView,
    Counts,
    CoveragePoint,
    DeviceSeries,
    DeviceView,
    DistrictView,
    HistoryPoint,
    IngestCounters,
    InterfaceView,
    Outage,
    Reboot,
    Scope,
    Snapshot,
    StandardAvailability,
    State,
    StoreHealth,
    Transition,
    WindowFigures,
    device_series,
)
from netmon.collector.state import DeviceState
from netmon.collector.steps import run_to_end
from netmon.collector.storeread import StoreReader
from netmon.collector.timeline import Timeline

#: How far back the transition log is kept in memory (the longest standard window + a day).
MEMORY_S = max(STANDARD_WINDOWS_S) + 86400.0
#: The timeline of a device never seen (read only).
_EMPTY = Timeline()


@dataclass(frozen=True, slots=True)
class RebootTally:
    """A device's reboots since the store began: how many, and when the last came back."""

    count: int
    last: float


class RecentLog:
    """The recent transition log, in memory, and the reboots recorded beside it.

    Args:
        topology: The inventory, indexed.
        since: The log covers ``[since, now]``.
        timelines: Per device, its points from ``since`` on, preceded by the last one before.
        outage_counts: Per device, outages since the store began.
        reboots: Per device, when its reboots from ``since`` on came back (to know a reboot
            reported twice).
        reboot_tallies: Per device, its reboots since the store began.
    """

    def __init__(
        self,
        topology: Topology,
        since: float,
        timelines: dict[str, Timeline],
        outage_counts: dict[str, int],
        *,
        reboots: dict[str, list[float]] | None = None,
        reboot_tallies: dict[str, RebootTally] | None = None,
    ) -> None:
        self.topology = topology
        self.since = since
        self.device = timelines
        self.outage_counts = outage_counts
        self.reboots = reboots if reboots is not None else {}
        self.reboot_tallies = reboot_tallies if reboot_tallies is not None else {}
        self._commune: dict[str, Timeline] = {}
        self._dirty: set[str] = set(topology.communes)

    @classmethod
    def from_store(cls, topology: Topology, store: StoreReader, since: float) -> RecentLog:
        """The log from ``since`` on, as the store has it."""
        tallies = {d: RebootTally(n, last) for d, (n, last) in store.reboot_counts().items()}
        return cls(
            topology,
            since,
            store.timelines(since),
            store.outage_counts(),
            reboots=store.reboot_times(since),
            reboot_tallies=tallies,
        )

    def add_reboot(self, dev_id: str, at: float) -> bool:
        """Record a reboot of a device that came back at ``at``; False (nothing recorded)
        when it is one already recorded (see :func:`collector.reboots.already_known`)."""
        times = self.reboots.setdefault(dev_id, [])
        if rb.already_known(times, at):
            return False
        times.append(at)
        tally = self.reboot_tallies.get(dev_id)
        self.reboot_tallies[dev_id] = (
            RebootTally(1, at) if tally is None else RebootTally(tally.count + 1, max(tally.last, at))
        )
        return True

    def retopologise(self, topology: Topology) -> None:
        """A new inventory: every commune is merged again."""
        self.topology = topology
        self._dirty.update(topology.communes)

    def touched(self, dev_id: str) -> None:
        """A device's timeline changed: its commune's needs merging again."""
        c = self.topology.commune_of_access.get(dev_id)
        if c is not None:
            self._dirty.add(c)

    def communes(self) -> dict[str, Timeline]:
        """Every commune's timeline, merged from its access devices'."""
        if self._dirty:
            access = self.topology.access
            for c in self._dirty:
                self._commune[c] = av.commune_timeline([self.device.get(d, _EMPTY) for d in access.get(c, ())])
            self._dirty.clear()
        return self._commune

    def trim(self, now: float) -> None:
        """Forget the points older than :data:`MEMORY_S` (keeping the one in force then)."""
        since = now - MEMORY_S
        for dev_id, tl in self.device.items():
            i = 0
            tl_times = tl.times
            while i + 1 < len(tl_times) and tl_times[i + 1] <= since:
                i += 1
            if i:
                self.device[dev_id] = tl[i:]
        for dev_id, times in self.reboots.items():
            if times and min(times) < since:
                self.reboots[dev_id] = [t for t in times if t >= since]
        self.since = since
        self._dirty.update(self.topology.communes)


class History:
    """Availability, coverage and outages over any window.

    Args:
        topology: The inventory, indexed.
        store: The stored log.
        recent: The recent log in memory (None: every window is read from the store).
    """

    def __init__(self, topology: Topology, store: StoreReader, recent: RecentLog | None = None) -> None:
        self.topology = topology
        self.store = store
        self._recent = recent

    def reads_store(self, start: float) -> bool:
        """Whether a window from ``start`` is read from the store (slow: call it off the
        event loop); a window in the recent log is answered from memory."""
        return self._recent is None or start < self._recent.since

    def _timelines(self, scope: Scope, ident: str, start: float) -> tuple[Mapping[str, Timeline], list[str]]:
        """The timelines a unit's figures are made of over a window from ``start``: its
        own (a device) or its communes' (the others), and the communes."""
        topo = self.topology
        communes = list(topo.communes_of(scope, ident))
        recent = self._recent
        if recent is not None and start >= recent.since:
            return (recent.device if scope == "device" else recent.communes()), communes
        # Only the devices the unit is made of, read once.
        dev_tl = self.store.timelines(start, topo.devices_of(scope, ident))
        if scope == "device":
            return dev_tl, communes
        return {
            c: av.commune_timeline([dev_tl.get(d, _EMPTY) for d in topo.access.get(c, ())]) for c in communes
        }, communes

    def availability(self, scope: Scope, ident: str, start: float, end: float) -> Availability:
        """Time in states of a device, commune, district or the province over ``[start, end)``."""
        tls, communes = self._timelines(scope, ident, start)
        if scope == "device":
            return av.device_availability(tls.get(ident, _EMPTY), start, end)
        return av.total(av.device_availability(tls.get(c, _EMPTY), start, end) for c in communes)

    def time_weighted_coverage(self, scope: Scope, ident: str, start: float, end: float) -> float:
        """Average share of the unit's communes connected over ``[start, end)``."""
        tls, communes = self._timelines(scope, ident, start)
        return cov.time_weighted(tls, communes, start, end)

    def figures(self, scope: Scope, ident: str, start: float, end: float) -> WindowFigures:
        """Availability and time-weighted coverage of a unit over ``[start, end)``, from
        one read of its timelines."""
        tls, communes = self._timelines(scope, ident, start)
        if scope == "device":
            return WindowFigures(av.device_availability(tls.get(ident, _EMPTY), start, end), None)
        a = av.total(av.device_availability(tls.get(c, _EMPTY), start, end) for c in communes)
        return WindowFigures(a, cov.time_weighted(tls, communes, start, end))

    def coverage_series(self, start: float, end: float, step_s: float) -> list[CoveragePoint]:
        """Province coverage sampled every ``step_s`` over ``[start, end]``."""
        tls, communes = self._timelines("province", self.topology.inventory.province.code, start)
        return cov.series(tls, communes, start, end, step_s)

    def outages(
        self,
        start: float,
        end: float,
        *,
        device: str | None = None,
        commune: str | None = None,
        district: str | None = None,
        limit: int | None = None,
    ) -> list[Outage]:
        """Outages overlapping ``[start, end)``, newest first."""
        return self.store.outages(start, end, device=device, commune=commune, district=district, limit=limit)

    def history(self, device: str, since: float) -> list[HistoryPoint]:
        """Recent latency points of a device, oldest first."""
        return self.store.history(device, since)

    def transitions(self, device: str, start: float, end: float) -> list[Transition]:
        """A device's stored transitions in ``[start, end)`` (for explanations)."""
        return self.store.transitions(device, start, end)

    def reboots(
        self,
        start: float,
        end: float,
        *,
        device: str | None = None,
        commune: str | None = None,
        district: str | None = None,
        limit: int | None = None,
    ) -> list[Reboot]:
        """Reboots that came back in ``[start, end)``, newest first, each judged against its
        device's timeline (``counted_as``, see :func:`collector.reboots.counted_as`)."""
        found = self.store.reboots(start, end, devices=self._placed(device, commune, district), limit=limit)
        if not found:
            return found
        facts = self.topology.facts
        default = max((f.interval_s for f in facts.values()), default=0.0)
        slack = {r.device: facts[r.device].interval_s if r.device in facts else default for r in found}
        since = min(r.ts - slack[r.device] for r in found)
        recent = self._recent
        if recent is not None and since >= recent.since:
            tls: Mapping[str, Timeline] = recent.device
        else:
            tls = self.store.timelines(since, slack)
        return [replace(r, counted_as=rb.counted_as(tls.get(r.device, _EMPTY), r.ts, slack[r.device])) for r in found]

    def _placed(self, device: str | None, commune: str | None, district: str | None) -> Collection[str] | None:
        """The devices placed in a unit (a district: its own and its communes'), None for
        every device; every filter given must hold."""
        facts = self.topology.facts
        if device is not None:
            candidates: Iterable[str] = (device,) if device in facts else ()
        elif commune is not None:
            c = self.topology.inventory.index.communes.get(commune)
            candidates = [d.id for d in c.devices] if c is not None else ()
        elif district is not None:
            candidates = facts
        else:
            return None
        return [
            d
            for d in candidates
            if d in facts
            and (commune is None or facts[d].commune == commune)
            and (district is None or facts[d].district == district)
        ]


def standard_availability(topology: Topology, recent: RecentLog, now: float) -> StandardAvailability:
    """Availability of every unit over the standard windows ending at ``now`` (a device's
    over :data:`~collector.model.DEVICE_WINDOWS_S`)."""
    return run_to_end(standard_availability_steps(topology, recent, now, units_per_step=0))


def standard_availability_steps(
    topology: Topology, recent: RecentLog, now: float, *, units_per_step: int
) -> Generator[None, None, StandardAvailability]:
    """:func:`standard_availability` in steps of ``units_per_step`` devices or communes (0:
    one step), so that a national refresh (0.3-0.5 s) does not stall the event loop: the
    caller resumes it at each tick. Every unit is computed over windows ending at the same
    ``now`` (points added since are past the windows' end)."""
    step = units_per_step or 2**62
    starts = [now - w for w in STANDARD_WINDOWS_S]
    # Most units share the same figures (up the whole window): one object for each
    # distinct value keeps a national snapshot's memory small (values are immutable).
    one: dict[Availability, Availability] = {}
    same: dict[tuple[Availability, ...], tuple[Availability, ...]] = {}

    def shared(items: Iterable[Availability]) -> tuple[Availability, ...]:
        t = tuple(one.setdefault(a, a) for a in items)
        return same.setdefault(t, t)

    def windows(tl: Timeline, starts: list[float]) -> tuple[Availability, ...]:
        return shared(av.device_availability(tl, start, now) for start in starts)

    device_starts = [now - w for w in DEVICE_WINDOWS_S]
    devices: dict[str, tuple[Availability, ...]] = {}
    for k, dev_id in enumerate(topology.facts, 1):
        devices[dev_id] = windows(recent.device.get(dev_id, _EMPTY), device_starts)
        if k % step == 0:
            yield
    communes: dict[str, tuple[Availability, ...]] = {}
    com_tl = recent.communes()
    for k, c in enumerate(topology.communes, 1):
        communes[c] = windows(com_tl.get(c, _EMPTY), starts)
        if k % step == 0:
            yield
            com_tl = recent.communes()  # merged again where the write path moved them meanwhile
    n = range(len(STANDARD_WINDOWS_S))
    districts = {
        d: shared(av.total(communes[c][i] for c in cs) for i in n) for d, cs in topology.district_communes.items()
    }
    province = {topology.inventory.province.code: shared(av.total(a[i] for a in communes.values()) for i in n)}
    return StandardAvailability(
        {"device": devices, "commune": communes, "district": districts, "province": province},
        {"device": DEVICE_WINDOWS_S},
    )


def device_view(
    topology: Topology,
    dev_id: str,
    core: DeviceState,
    live: Live,
    measured: Measured | None,
    *,
    reboots: RebootTally | None = None,
) -> DeviceView:
    """A device as the pages and exporters show it (``reboots``: its tally, if any)."""
    facts = topology.facts[dev_id]
    m = measured or NOTHING_MEASURED
    d = facts.device
    return DeviceView(
        id=dev_id,
        role=d.role.value,
        name=d.name,
        address=d.address,
        commune=facts.commune,
        district=facts.district,
        parent=d.parent,
        agent=live.agent,
        state=core.state,
        since=core.since,
        cause=core.cause,
        root_cause=core.root_cause,
        flapping=core.flapping,
        last_seen=live.last_seen,
        last_ok=live.last_ok,
        rtt_min_s=m.rtt_min_s,
        rtt_avg_s=m.rtt_avg_s,
        rtt_max_s=m.rtt_max_s,
        jitter_s=m.jitter_s,
        loss_ratio=m.loss_ratio,
        response_s=m.response_s,
        sys_uptime_s=live.sys_uptime_s,
        sys_name=live.sys_name,
        sys_descr=live.sys_descr,
        is_access=d.is_access,
        interfaces=tuple(interface_view(i) for i in m.interfaces or ()),
        probe_at=m.probe_at,
        snmp_at=m.snmp_at,
        interfaces_at=m.interfaces_at,
        interval_s=facts.interval_s,
        unread=m.unread or {},
        reboots=reboots.count if reboots is not None else 0,
        last_reboot=reboots.last if reboots is not None else None,
    )


def interface_view(i: wire.Interface) -> InterfaceView:
    """An interface as last polled."""
    return InterfaceView(
        index=i.index,
        name=i.name,
        alias=i.alias,
        oper_status=i.oper_status,
        admin_status=i.admin_status,
        speed_bps=i.speed_bps,
        in_bps=i.in_bps,
        out_bps=i.out_bps,
        in_octets=i.in_octets,
        out_octets=i.out_octets,
        in_errors=i.in_errors,
        out_errors=i.out_errors,
        in_discards=i.in_discards,
        out_discards=i.out_discards,
    )


class ViewInputs(msgspec.Struct, frozen=True, gc=False):
    """What a device's view is made of, as it was when the snapshot was taken (``live`` and
    ``measured`` are copies: the write path goes on moving its own)."""

    core: DeviceState
    live: Live
    measured: Measured | None
    reboots: RebootTally | None


class DeviceViews(Mapping[str, DeviceView]):
    """Every device's view, made when first read.

    A snapshot is taken on the event loop; at national scale making 30,000 views there
    stalled the batches behind it for 0.2-0.5 s. Here the snapshot keeps what each view is
    made of, and a view is made when read: a page reads a few; a scrape reads none, only
    every device's series (:meth:`series`), from the same inputs.
    """

    __slots__ = ("_inputs", "_made", "_topology")

    def __init__(self, topology: Topology, inputs: dict[str, ViewInputs]) -> None:
        self._topology = topology
        self._inputs = inputs
        self._made: dict[str, DeviceView] = {}

    def __getitem__(self, dev_id: str) -> DeviceView:
        view = self._made.get(dev_id)
        if view is None:
            i = self._inputs[dev_id]
            view = self._made[dev_id] = device_view(
                self._topology, dev_id, i.core, i.live, i.measured, reboots=i.reboots
            )
        return view

    def __iter__(self) -> Iterator[str]:
        return iter(self._inputs)

    def __len__(self) -> int:
        return len(self._inputs)

    def __contains__(self, dev_id: object) -> bool:
        return dev_id in self._inputs

    def series(self) -> Iterator[DeviceSeries]:
        """Every device's series, read from what its view would be made of (a scrape reads
        all 30,000; making their views first cost it 0.2 s)."""
        facts_of = self._topology.facts
        nothing = NOTHING_MEASURED
        for dev_id, i in self._inputs.items():
            facts = facts_of[dev_id]
            d = facts.device
            yield device_series(
                dev_id,
                role=d.role.value,
                name=d.name,
                commune=facts.commune,
                district=facts.district,
                core=i.core,
                measured=i.measured or nothing,
                last_seen=i.live.last_seen,
                interval_s=facts.interval_s,
            )


class SnapshotParts(NamedTuple):
    """What a snapshot is made of beside the topology and the recent log.

    Attributes:
        devices: Every device's view (kept up to date by the caller).
        core: Every device's core state (for the communes' root causes).
        agents: Every agent's view.
        ingest: The ingestion counters.
        availability: The standard windows' availability.
        started: When the engine started (the "since" of a commune never heard of).
        store: Whether the store takes writes.
    """

    devices: Mapping[str, DeviceView]
    core: Mapping[str, DeviceState]
    agents: dict[str, AgentView]
    ingest: IngestCounters
    availability: Mapping[tuple[str, str, int], Availability]
    started: float
    store: StoreHealth


def build_snapshot(
    topology: Topology, recent: RecentLog, parts: SnapshotParts, now: float, *, previous: Snapshot | None = None
) -> Snapshot:
    """The immutable snapshot at ``now``; a commune's view that has not changed since
    ``previous`` (of the same topology) is that one (views are immutable)."""
    before = previous.communes if previous is not None else {}
    com_tl = recent.communes()
    communes: dict[str, CommuneView] = {}
    states: dict[str, State] = {}
    provisioned: dict[str, bool] = {}
    idx = topology.inventory.index
    core = parts.core
    for code in topology.communes:
        access = topology.access.get(code, ())
        tl = com_tl.get(code)
        cstate = tl[-1][1] if tl else State.UNKNOWN
        since = tl[-1][0] if tl else parts.started
        root = None
        if cstate == State.UNREACHABLE:
            root = next((core[d].root_cause for d in access if core[d].root_cause), None)
        states[code] = cstate
        provisioned[code] = bool(access)
        old = before.get(code)
        if old is not None and old.state == cstate and old.since == since and old.root_cause == root:
            communes[code] = old
            continue
        district = idx.commune_district.get(code)
        communes[code] = CommuneView(
            code=code,
            name=idx.communes[code].name,
            district=district.code if district else None,
            connected=cstate == State.UP,
            provisioned=bool(access),
            state=cstate,
            since=since,
            devices=tuple(dv.id for dv in idx.communes[code].devices),
            root_cause=root,
        )
    districts = {
        code: DistrictView(
            code=code,
            name=d.name,
            counts=cov.counts(topology.district_communes[code], states, provisioned),
            devices=tuple(dv.id for dv in d.devices),
            communes=topology.district_communes[code],
        )
        for code, d in idx.districts.items()
    }
    province: Counts = cov.counts(topology.communes, states, provisioned)
    inv = topology.inventory
    return Snapshot(
        taken_at=now,
        province_code=inv.province.code,
        province_name=inv.province.name,
        edition=inv.edition,
        devices=parts.devices,
        communes=communes,
        districts=districts,
        province=province,
        agents=dict(parts.agents),
        ingest=parts.ingest,
        availability=parts.availability,
        outage_counts=dict(recent.outage_counts),
        store=parts.store,
        reboot_counts={d: t.count for d, t in recent.reboot_tallies.items()},
        inventory_key=topology,
    )


class StoredModel(History):
    """The read model of a store file alone, without a write engine (``netmon report``).

    The transition log from ``since`` on is read once into a :class:`RecentLog`; states
    shown are those the collector last saved. Nothing is written to the store.

    Args:
        topology: The inventory, indexed.
        store: The store, read-only.
        since: The earliest time the queries will ask about.
        now: The present (a window is cut there).
    """

    def __init__(self, topology: Topology, store: StoreReader, since: float, now: float) -> None:
        self._memory = RecentLog.from_store(topology, store, since)
        super().__init__(topology, store, self._memory)
        self._records = store
        self._now = now

    def snapshot(self) -> Snapshot:
        """The network as the collector last saved it."""
        topo = self.topology
        saved = self._records.saved_devices()
        core: dict[str, DeviceState] = {}
        views: dict[str, DeviceView] = {}
        for dev_id in topo.facts:
            rec = saved.get(dev_id)
            c, live = (rec.core, rec.live) if rec is not None else (DeviceState(since=self._now), Live())
            core[dev_id] = c
            views[dev_id] = device_view(topo, dev_id, c, live, None, reboots=self._memory.reboot_tallies.get(dev_id))
        parts = SnapshotParts(
            devices=views,
            core=core,
            agents=self._records.saved_agents(),
            ingest=IngestCounters(),
            availability={},
            started=self._now,
            store=StoreHealth(),
        )
        return build_snapshot(topo, self._memory, parts, self._now)
