"""The collector's read model: immutable views that exporters, the web page, the
``netmon site`` command and reports render. Nothing here computes; see
:mod:`collector.state`, :mod:`collector.availability` and :mod:`collector.coverage`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal, Protocol, runtime_checkable

import msgspec


class State(StrEnum):
    """State of a device (and, summarised, of a commune)."""

    UP = "up"
    DOWN = "down"
    UNREACHABLE = "unreachable"
    UNKNOWN = "unknown"
    MAINTENANCE = "maintenance"


#: The numeric code of each state, as exported in ``netmon_device_state`` (documented).
STATE_CODE: dict[State, int] = {
    State.UNKNOWN: 0,
    State.UP: 1,
    State.DOWN: 2,
    State.UNREACHABLE: 3,
    State.MAINTENANCE: 4,
}

Scope = Literal["device", "commune", "district", "province"]


class InterfaceView(msgspec.Struct, frozen=True, gc=False):
    """An interface as last polled."""

    index: int
    name: str
    alias: str
    oper_status: int
    admin_status: int
    speed_bps: int | None = None
    in_bps: float | None = None
    out_bps: float | None = None
    in_octets: int | None = None
    out_octets: int | None = None
    in_errors: int | None = None
    out_errors: int | None = None
    in_discards: int | None = None
    out_discards: int | None = None


def last_round_start(state: State, last_seen: float | None, interval_s: float | None) -> float | None:
    """When a device's last round began, as far as its measurements go: a value measured
    before is not of that round (see :meth:`DeviceView.current`); None when no value is,
    because nothing is heard from the device (UNKNOWN, or never seen)."""
    if last_seen is None or state is State.UNKNOWN:
        return None
    return last_seen - (interval_s or 0.0) / 2


class DeviceView(msgspec.Struct, frozen=True, gc=False):
    """A device's current state and latest measurements (a msgspec struct: every scrape
    after a round makes one per device, 30,000 at national scale, and its constructor is C).

    ``cause`` says in words why it is in its state (``"3 failed rounds: timeout"``);
    ``root_cause`` is the id of the device whose failure explains an UNREACHABLE state.
    Times are Unix seconds.
    """

    id: str
    role: str
    name: str
    address: str
    commune: str | None
    district: str | None
    parent: str | None
    agent: str | None
    state: State
    since: float
    cause: str = ""
    root_cause: str | None = None
    flapping: bool = False
    last_seen: float | None = None
    last_ok: float | None = None
    rtt_min_s: float | None = None
    rtt_avg_s: float | None = None
    rtt_max_s: float | None = None
    jitter_s: float | None = None
    loss_ratio: float | None = None
    response_s: float | None = None
    sys_uptime_s: float | None = None
    sys_name: str | None = None
    sys_descr: str | None = None
    is_access: bool = False
    interfaces: tuple[InterfaceView, ...] = ()
    #: When the values were measured: the ICMP/TCP probe behind ``rtt_*``, ``jitter_s`` and
    #: ``loss_ratio``; the SNMP answer behind ``response_s`` and ``sys_uptime_s``; the
    #: interface walk. None: not since the collector started.
    probe_at: float | None = None
    snmp_at: float | None = None
    interfaces_at: float | None = None
    #: The device's poll interval (a round), seconds.
    interval_s: float | None = None
    #: Reboots recorded since collection began, and when the last one came back (None: none).
    reboots: int = 0
    last_reboot: float | None = None

    def current(self, at: float | None) -> bool:
        """Whether a value measured at ``at`` belongs to the device's last round: False for a
        value older than that round (a device that stopped answering keeps its last good
        interface table), and for every value of a device nothing is heard from (UNKNOWN)."""
        start = last_round_start(self.state, self.last_seen, self.interval_s)
        return start is not None and at is not None and at >= start

    #: Tables the last SNMP poll could not read (``ifTable``, ``ifXTable``) -> reason.
    unread: Mapping[str, str] = msgspec.field(default_factory=dict)


class InterfaceSeries(msgspec.Struct, frozen=True, gc=False):
    """What a scrape exports of an interface: its label (IF-MIB name, else its index), its
    ifOperStatus and its octet counters."""

    label: str
    oper_status: int
    in_octets: int | None
    out_octets: int | None


class DeviceSeries(msgspec.Struct, frozen=True, gc=False):
    """What a scrape exports of a device: where it is, its state, and the measurements of
    its last round (None: not measured in it; ``interfaces``: no interface walk in it).

    A national scrape reads 30,000 of these: :meth:`Snapshot.device_series` makes them from
    what the views are made of, without making the views (``DeviceView`` has 33 fields).
    """

    id: str
    role: str
    name: str
    commune: str | None
    district: str | None
    state: State
    since: float
    flapping: bool
    rtt_avg_s: float | None
    jitter_s: float | None
    loss_ratio: float | None
    response_s: float | None
    interfaces: tuple[InterfaceSeries, ...] | None


class _InterfaceLike(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def oper_status(self) -> int: ...
    @property
    def in_octets(self) -> int | None: ...
    @property
    def out_octets(self) -> int | None: ...


class _StateLike(Protocol):
    @property
    def state(self) -> State: ...
    @property
    def since(self) -> float: ...
    @property
    def flapping(self) -> bool: ...


class _MeasuredLike(Protocol):
    @property
    def rtt_avg_s(self) -> float | None: ...
    @property
    def jitter_s(self) -> float | None: ...
    @property
    def loss_ratio(self) -> float | None: ...
    @property
    def response_s(self) -> float | None: ...
    @property
    def probe_at(self) -> float | None: ...
    @property
    def snmp_at(self) -> float | None: ...
    @property
    def interfaces_at(self) -> float | None: ...
    @property
    def interfaces(self) -> Sequence[_InterfaceLike] | None: ...


def device_series(
    dev_id: str,
    *,
    role: str,
    name: str,
    commune: str | None,
    district: str | None,
    core: _StateLike,
    measured: _MeasuredLike,
    last_seen: float | None,
    interval_s: float | None,
) -> DeviceSeries:
    """A device's series: its state from ``core``, and from ``measured`` what was measured in
    its last round (a view is both; the engine keeps them apart)."""
    start = last_round_start(core.state, last_seen, interval_s)
    m = measured
    probe = start is not None and m.probe_at is not None and m.probe_at >= start
    walk = start is not None and m.interfaces_at is not None and m.interfaces_at >= start
    return DeviceSeries(
        dev_id,
        role,
        name,
        commune,
        district,
        core.state,
        core.since,
        core.flapping,
        m.rtt_avg_s if probe else None,
        m.jitter_s if probe else None,
        m.loss_ratio if probe else None,
        m.response_s if start is not None and m.snmp_at is not None and m.snmp_at >= start else None,
        tuple(
            InterfaceSeries(x.name or str(x.index), x.oper_status, x.in_octets, x.out_octets)
            for x in m.interfaces or ()
        )
        if walk
        else None,
    )


def series_of_view(view: DeviceView) -> DeviceSeries:
    """A device's series, from its view."""
    return device_series(
        view.id,
        role=view.role,
        name=view.name,
        commune=view.commune,
        district=view.district,
        core=view,
        measured=view,
        last_seen=view.last_seen,
        interval_s=view.interval_s,
    )


@runtime_checkable
class SeriesSource(Protocol):
    """A mapping of device views that can give the devices' series without making the views."""

    def series(self) -> Iterator[DeviceSeries]:
        """Every device's series, in the mapping's order."""
        ...


@dataclass(frozen=True, slots=True)
class Counts:
    """Communes of a unit: in the inventory, provisioned, connected, and by state."""

    communes: int
    provisioned: int
    connected: int
    by_state: dict[State, int] = field(default_factory=dict)

    @property
    def coverage_ratio(self) -> float:
        """Connected / communes in the inventory (0 when there are none)."""
        return self.connected / self.communes if self.communes else 0.0

    @property
    def provisioned_ratio(self) -> float:
        """Provisioned / communes in the inventory (0 when there are none)."""
        return self.provisioned / self.communes if self.communes else 0.0


@dataclass(frozen=True, slots=True)
class CommuneView:
    """A commune's connectivity: connected when at least one access device is UP."""

    code: str
    name: str
    district: str | None
    connected: bool
    provisioned: bool
    state: State
    since: float
    devices: tuple[str, ...] = ()
    root_cause: str | None = None


@dataclass(frozen=True, slots=True)
class DistrictView:
    """A district (2021 structure) and its communes' counts."""

    code: str
    name: str
    counts: Counts
    devices: tuple[str, ...] = ()
    communes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentView:
    """What the collector knows of an agent."""

    id: str
    online: bool
    last_seen: float | None
    version: str = ""
    devices: int = 0
    last_seq: int | None = None


@dataclass(frozen=True, slots=True)
class IngestCounters:
    """Collector self-metrics of ingestion, monotonically increasing."""

    batches: int = 0
    samples: int = 0
    duplicates: int = 0
    late_samples: int = 0
    unknown_devices: int = 0
    invalid: dict[str, int] = field(default_factory=dict)
    dead_letters: int = 0
    #: samples left out of batches that were applied, by reason (``value``, ``schema``,
    #: ``foreign_device``)
    rejected_samples: dict[str, int] = field(default_factory=dict)
    #: open gaps in the agents' sequence numbers (batches not, or not yet, received)
    ledger_gaps: int = 0
    #: per agent, the batches those gaps hold
    missing_batches: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """Whether the collector's store takes writes.

    Attributes:
        ok: It does.
        since: When writes began to fail (None: they do not).
        error: The store's own words for the last failure (``database or disk is full``).
        failures: Failed writes since the collector started (batches and ticks).
    """

    ok: bool = True
    since: float | None = None
    error: str = ""
    failures: int = 0


@dataclass(frozen=True, slots=True)
class Availability:
    """Seconds spent in each state over a window; unknown and maintenance are apart."""

    up_s: float = 0.0
    down_s: float = 0.0
    unreachable_s: float = 0.0
    unknown_s: float = 0.0
    maintenance_s: float = 0.0

    @property
    def ratio(self) -> float | None:
        """up / (up + down + unreachable); None when nothing was observed."""
        denom = self.up_s + self.down_s + self.unreachable_s
        return self.up_s / denom if denom > 0 else None

    @property
    def total_s(self) -> float:
        """All seconds accounted for."""
        return self.up_s + self.down_s + self.unreachable_s + self.unknown_s + self.maintenance_s


@dataclass(frozen=True, slots=True)
class Outage:
    """A stretch of time a device was DOWN or UNREACHABLE with one root cause; ``end`` None
    while it lasts.

    An outage whose state or root cause changes (the core recovers while the district
    uplink stays cut: the communes behind it are now unreachable because of the district
    router) is stored as consecutive stretches; ``continues`` marks every stretch after
    the first, so that outages are counted once and each stretch names its own fault.
    """

    device: str
    commune: str | None
    district: str | None
    state: State
    start: float
    end: float | None
    cause: str = ""
    root_cause: str | None = None
    continues: bool = False

    def duration(self, now: float) -> float:
        """Length in seconds, up to ``now`` for an outage still open."""
        return (self.end if self.end is not None else now) - self.start


@dataclass(frozen=True, slots=True)
class Reboot:
    """A device that restarted: an agent saw its SNMP sysUpTime start again.

    A reboot shorter than ``down_after`` rounds never makes the device DOWN: it is no
    outage, yet it is a fact (a short power cut in a commune) that planners need to see.

    Attributes:
        device: The device's id.
        ts: When the device came back, as best known: the reporting sample's time minus the
            uptime it read, kept between the device's previous uptime reading and that sample.
        reported_at: Measurement time of the sample that reported it.
        agent: The agent that reported it first.
        uptime_s: The sysUpTime that sample read (None: not sent).
        counted_as: What the device's state was around it (None: not judged): UP means the
            reboot was too short to be counted as an outage; DOWN or UNREACHABLE that it was
            part of one; UNKNOWN that nothing was heard then; MAINTENANCE a declared window.
    """

    device: str
    ts: float
    reported_at: float
    agent: str
    uptime_s: float | None = None
    counted_as: State | None = None

    @property
    def outage(self) -> bool:
        """Whether the reboot was part of an outage (the device was down or unreachable)."""
        return self.counted_as in (State.DOWN, State.UNREACHABLE)


@dataclass(frozen=True, slots=True)
class Transition:
    """A device's change of state, as stored."""

    device: str
    ts: float
    old: State
    new: State
    cause: str = ""
    root_cause: str | None = None


@dataclass(frozen=True, slots=True)
class WindowFigures:
    """A unit's figures over a window.

    Attributes:
        availability: Time in each state.
        time_weighted_coverage: Average share of its communes connected (None for a device).
    """

    availability: Availability
    time_weighted_coverage: float | None


@dataclass(frozen=True, slots=True)
class HistoryPoint:
    """One latency measurement for the small charts."""

    ts: float
    ok: bool
    rtt_avg_s: float | None = None
    loss_ratio: float | None = None
    jitter_s: float | None = None


@dataclass(frozen=True, slots=True)
class CoveragePoint:
    """Coverage at an instant."""

    ts: float
    connected: int
    communes: int


@dataclass(frozen=True)
class Snapshot:
    """Everything the collector knows now, immutable: read at scrape or render time."""

    taken_at: float
    province_code: str
    province_name: str
    edition: str
    #: Every device's view (made when first read: see ``collector.readmodel.DeviceViews``).
    devices: Mapping[str, DeviceView]
    communes: dict[str, CommuneView]
    districts: dict[str, DistrictView]
    province: Counts
    agents: dict[str, AgentView]
    ingest: IngestCounters
    #: Availability ratio per scope over the standard windows: {(scope, id, window_s): Availability};
    #: ``id`` is the province code for scope ``province``.
    availability: Mapping[tuple[str, str, int], Availability] = field(default_factory=dict)
    #: Outages by device since start of collection (counts, for the *_total metric).
    outage_counts: dict[str, int] = field(default_factory=dict)
    #: Whether the store takes writes (a full disk degrades the collector, never stops it).
    store: StoreHealth = field(default_factory=StoreHealth)
    #: Reboots by device since start of collection (counts, for the *_total metric).
    reboot_counts: dict[str, int] = field(default_factory=dict)
    #: The same object from one snapshot to the next while the inventory is the same (the
    #: engine's indexed inventory): what a scrape writes from the inventory alone is then
    #: the previous scrape's. None: no such promise.
    inventory_key: object = None

    def device_series(self) -> Iterator[DeviceSeries]:
        """What a scrape exports of every device, in the order of ``devices``."""
        devices = self.devices
        if isinstance(devices, SeriesSource):
            return devices.series()
        return (series_of_view(view) for view in devices.values())


#: Windows for which the snapshot carries availability: 1 h, 1 day, 7 days, 30 days.
STANDARD_WINDOWS_S: tuple[int, ...] = (3600, 86400, 7 * 86400, 30 * 86400)
#: The standard windows of a device's own figures: a day (what its page shows); its
#: commune, district and province have every standard window.
DEVICE_WINDOWS_S: tuple[int, ...] = (86400,)


class StandardAvailability(Mapping[tuple[str, str, int], Availability]):
    """The standard windows' availability, read as ``{(scope, id, window_s): Availability}``.

    Kept as ``{scope: {id: one Availability per window}}``: a national snapshot has
    160,000 keys, and a tuple for each cost 10 MB; the per-window tuples are shared
    between units with the same figures (most of them).

    Args:
        by_scope: Per scope, per unit, its figures over the scope's windows, in order.
        windows: Per scope, its windows (by default :data:`STANDARD_WINDOWS_S`).
    """

    __slots__ = ("_by_scope", "_index")

    def __init__(
        self,
        by_scope: dict[str, dict[str, tuple[Availability, ...]]],
        windows: Mapping[str, tuple[int, ...]] | None = None,
    ) -> None:
        self._by_scope = by_scope
        given = windows or {}
        self._index = {scope: {w: i for i, w in enumerate(given.get(scope, STANDARD_WINDOWS_S))} for scope in by_scope}

    def __getitem__(self, key: tuple[str, str, int]) -> Availability:
        scope, ident, window = key
        return self._by_scope[scope][ident][self._index[scope][window]]

    def __iter__(self) -> Iterator[tuple[str, str, int]]:
        for scope, units in self._by_scope.items():
            windows = self._index[scope]
            for ident in units:
                for w in windows:
                    yield scope, ident, w

    def __len__(self) -> int:
        return sum(len(self._index[scope]) * len(units) for scope, units in self._by_scope.items())


class Reader(Protocol):
    """The read API of a collector, behind the web page, the CLI, reports and exporters."""

    def snapshot(self) -> Snapshot:
        """The current state."""
        ...

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
        """Outages overlapping [start, end), newest first."""
        ...

    def availability(self, scope: Scope, ident: str, start: float, end: float) -> Availability:
        """Time in states of a device, a commune, a district or the province over a window.

        For a commune: up while connected, down/unreachable while not (by the state of
        its access devices), unknown or maintenance when all its access devices are.
        For a district or the province: the sum over its communes.
        """
        ...

    def coverage_series(self, start: float, end: float, step_s: float) -> list[CoveragePoint]:
        """Province coverage sampled every ``step_s`` over a window."""
        ...

    def time_weighted_coverage(self, scope: Scope, ident: str, start: float, end: float) -> float:
        """Average share of the unit's communes connected over a window (0..1)."""
        ...

    def figures(self, scope: Scope, ident: str, start: float, end: float) -> WindowFigures:
        """Availability and time-weighted coverage of a unit over a window, read once."""
        ...

    def reads_store(self, start: float) -> bool:
        """Whether a window from ``start`` is read from the store: slow (a 90-day national
        window reads tens of megabytes); the caller runs such reads off its event loop."""
        ...

    def history(self, device: str, since: float) -> list[HistoryPoint]:
        """Recent latency measurements of a device, oldest first."""
        ...

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
        """Reboots that came back in [start, end), newest first, each judged against its
        device's states (``counted_as``): of a device, of the devices of a commune, of the
        devices of a district (its own and its communes'), or of every device."""
        ...
