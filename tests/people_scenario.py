"""A scenario with KNOWN outages for the web page, `netmon site` and report tests.

The province is the real Quảng Ngãi 2021 inventory (170 communes, one CPE each). Over one
day from ``T0`` (2026-10-01 00:00 Asia/Ho_Chi_Minh):

* Xã Tịnh Khê's CPE (c21211-cpe1) is DOWN 10:00–12:00 (2 h, "timeout");
* Ba Tơ district's router (d535-r1) is DOWN 14:00–15:00, so every CPE of Ba Tơ's communes
  is UNREACHABLE for that hour (root cause d535-r1);
* Phường Lê Hồng Phong's CPE (c21010-cpe1) goes DOWN at 23:00 and is still down at ``NOW``
  (T0 + 24 h), so 169 communes are connected at the end.

``ScenarioReader`` is a small interval-based stand-in of ``collector.model.Reader`` used
until the collector engine is available; ``feed_engine`` drives the real engine with sample
batches for the same scenario.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from collector.model import (
    STANDARD_WINDOWS_S,
    Availability,
    CommuneView,
    Counts,
    CoveragePoint,
    DeviceView,
    DistrictView,
    HistoryPoint,
    IngestCounters,
    InterfaceView,
    Outage,
    Scope,
    Snapshot,
    State,
)
from config.inventory import Inventory
from config.loader import load_inventory

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


class ScenarioReader:
    """An interval-based Reader over the scenario (monitoring starts at ``T0``)."""

    def __init__(self, inv: Inventory, evs: list[Event], now: float = NOW, start: float = T0) -> None:
        self.inv = inv
        self.idx = inv.index
        self.now = now
        self.start = start
        self.events = evs
        self.by_device: dict[str, list[Event]] = {}
        for e in evs:
            self.by_device.setdefault(e.device, []).append(e)
        self._snap: Snapshot | None = None

    # -- timelines
    def _device_state(self, dev: str, t: float) -> tuple[State, float, Event | None]:
        if t < self.start:
            return State.UNKNOWN, 0.0, None
        since = self.start
        for e in sorted(self.by_device.get(dev, []), key=lambda e: e.start):
            end = e.end if e.end is not None else float("inf")
            if e.start <= t < end:
                return e.state, e.start, e
            if end <= t:
                since = max(since, end)
        return State.UP, since, None

    def _breaks(self, devices: list[str], start: float, end: float) -> list[float]:
        pts = {start, end, self.start}
        for d in devices:
            for e in self.by_device.get(d, []):
                pts.add(e.start)
                if e.end is not None:
                    pts.add(e.end)
        return sorted(p for p in pts if start <= p <= end)

    def _access(self, commune: str) -> list[str]:
        return [d.id for d in self.idx.communes[commune].devices if d.is_access]

    def _commune_state(self, commune: str, t: float) -> State:
        states = [self._device_state(d, t)[0] for d in self._access(commune)]
        if not states or all(s is State.UNKNOWN for s in states):
            return State.UNKNOWN
        if State.UP in states:
            return State.UP
        if State.DOWN in states:
            return State.DOWN
        return State.UNREACHABLE

    def _commune_availability(self, commune: str, start: float, end: float) -> Availability:
        acc = dict.fromkeys(State, 0.0)
        pts = self._breaks(self._access(commune), start, end)
        for a, b in itertools.pairwise(pts):
            acc[self._commune_state(commune, a)] += b - a
        return _avail(acc)

    def _communes_of(self, scope: Scope, ident: str) -> list[str]:
        if scope == "commune":
            return [ident]
        if scope == "district":
            return [c.code for c in self.idx.districts[ident].communes]
        return list(self.idx.communes)

    # -- Reader
    def availability(self, scope: Scope, ident: str, start: float, end: float) -> Availability:
        if scope == "device":
            acc = dict.fromkeys(State, 0.0)
            pts = self._breaks([ident], start, end)
            for a, b in itertools.pairwise(pts):
                acc[self._device_state(ident, a)[0]] += b - a
            return _avail(acc)
        total = dict.fromkeys(State, 0.0)
        for c in self._communes_of(scope, ident):
            a = self._commune_availability(c, start, end)
            total[State.UP] += a.up_s
            total[State.DOWN] += a.down_s
            total[State.UNREACHABLE] += a.unreachable_s
            total[State.UNKNOWN] += a.unknown_s
            total[State.MAINTENANCE] += a.maintenance_s
        return _avail(total)

    def time_weighted_coverage(self, scope: Scope, ident: str, start: float, end: float) -> float:
        communes = self._communes_of(scope, ident)
        if not communes or end <= start:
            return 0.0
        up = sum(self._commune_availability(c, start, end).up_s for c in communes)
        return up / (len(communes) * (end - start))

    def coverage_series(self, start: float, end: float, step_s: float) -> list[CoveragePoint]:
        out = []
        t = start
        while t < end:
            n = sum(1 for c in self.idx.communes if self._commune_state(c, t) is State.UP)
            out.append(CoveragePoint(t, n, len(self.idx.communes)))
            t += step_s
        return out

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
        found = []
        for e in self.events:
            e_end = e.end if e.end is not None else float("inf")
            if e.start >= end or e_end <= start or e.start >= self.now:
                continue
            pl = self.idx.placement[e.device]
            o = Outage(
                e.device,
                pl.commune.code if pl.commune else None,
                pl.district.code if pl.district else None,
                e.state,
                e.start,
                e.end if e.end is not None and e.end <= self.now else None,
                e.cause,
                e.root_cause,
            )
            if (
                (device and o.device != device)
                or (commune and o.commune != commune)
                or (district and o.district != district)
            ):
                continue
            found.append(o)
        found.sort(key=lambda o: (-o.start, o.device))
        return found[:limit] if limit is not None else found

    def history(self, device: str, since: float) -> list[HistoryPoint]:
        out = []
        t = max(since, self.start)
        k = 0
        while t <= self.now and device in self.idx.devices:
            state = self._device_state(device, t)[0]
            ok = state is State.UP
            out.append(
                HistoryPoint(t, ok, 0.020 + 0.004 * (k % 5) if ok else None, 0.0 if ok else 1.0, 0.002 if ok else None)
            )
            t += 300.0
            k += 1
        return out

    def snapshot(self) -> Snapshot:
        if self._snap is None:
            self._snap = self._build_snapshot()
        return self._snap

    def _build_snapshot(self) -> Snapshot:
        now = self.now
        devices: dict[str, DeviceView] = {}
        for dev_id, dev in self.idx.devices.items():
            pl = self.idx.placement[dev_id]
            state, since, ev = self._device_state(dev_id, now)
            up = state is State.UP
            devices[dev_id] = DeviceView(
                id=dev_id,
                role=dev.role.value,
                name=dev.name,
                address=dev.address,
                commune=pl.commune.code if pl.commune else None,
                district=pl.district.code if pl.district else None,
                parent=dev.parent,
                agent=f"agent-{pl.district.code}" if pl.district else "agent-p",
                state=state,
                since=since,
                cause=ev.cause if ev else "",
                root_cause=ev.root_cause if ev else None,
                last_seen=now - 30 if up else since,
                last_ok=now - 30 if up else since,
                rtt_avg_s=0.024 if up else None,
                rtt_min_s=0.02 if up else None,
                rtt_max_s=0.03 if up else None,
                jitter_s=0.002 if up else None,
                loss_ratio=0.0 if up else 1.0,
                response_s=0.05 if up else None,
                sys_uptime_s=(now - since) if up else None,
                sys_name=dev_id,
                is_access=dev.is_access,
                interfaces=(
                    InterfaceView(
                        1,
                        "wan0",
                        "uplink",
                        1 if up else 2,
                        1,
                        100_000_000,
                        51_200.0 if up else None,
                        12_800.0 if up else None,
                    ),
                    InterfaceView(2, "lan0", "UBND <xã>", 1, 1, 100_000_000, 8_000.0, 20_000.0),
                ),
            )
        communes: dict[str, CommuneView] = {}
        for code, c in self.idx.communes.items():
            state = self._commune_state(code, now)
            access = self._access(code)
            since = max((devices[d].since for d in access), default=self.start)
            roots = {devices[d].root_cause for d in access if devices[d].root_cause}
            dist = self.idx.commune_district[code]
            communes[code] = CommuneView(
                code=code,
                name=c.name,
                district=dist.code if dist else None,
                connected=state is State.UP,
                provisioned=bool(access),
                state=state,
                since=since,
                devices=tuple(d.id for d in c.devices),
                root_cause=next(iter(roots)) if len(roots) == 1 else None,
            )

        def counts(codes: list[str]) -> Counts:
            by: dict[State, int] = {}
            for code in codes:
                if communes[code].provisioned:
                    by[communes[code].state] = by.get(communes[code].state, 0) + 1
            return Counts(
                len(codes),
                sum(1 for c in codes if communes[c].provisioned),
                sum(1 for c in codes if communes[c].connected),
                by,
            )

        districts = {
            d.code: DistrictView(
                d.code,
                d.name,
                counts([c.code for c in d.communes]),
                tuple(x.id for x in d.devices),
                tuple(c.code for c in d.communes),
            )
            for d in self.inv.districts
        }
        availability: dict[tuple[str, str, int], Availability] = {}
        for w in STANDARD_WINDOWS_S[:2]:
            availability[("province", self.inv.province.code, w)] = self.availability(
                "province", self.inv.province.code, now - w, now
            )
            for d in districts:
                availability[("district", d, w)] = self.availability("district", d, now - w, now)
            for c in communes:
                availability[("commune", c, w)] = self.availability("commune", c, now - w, now)
            for dv in devices:
                availability[("device", dv, w)] = self.availability("device", dv, now - w, now)
        return Snapshot(
            taken_at=now,
            province_code=self.inv.province.code,
            province_name=self.inv.province.name,
            edition=self.inv.edition,
            devices=devices,
            communes=communes,
            districts=districts,
            province=counts(list(communes)),
            agents={},
            ingest=IngestCounters(),
            availability=availability,
            outage_counts={},
        )


def _avail(acc: dict[State, float]) -> Availability:
    return Availability(
        acc[State.UP], acc[State.DOWN], acc[State.UNREACHABLE], acc[State.UNKNOWN], acc[State.MAINTENANCE]
    )


def scenario_reader() -> ScenarioReader:
    """The stand-in Reader over the scenario."""
    inv = inventory()
    return ScenarioReader(inv, events(inv))
