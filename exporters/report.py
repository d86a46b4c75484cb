"""The coverage and availability report for planners: the model computed from Reader queries
(renderers: :mod:`netmon.exporters.report_render`, :mod:`netmon.exporters.report_xlsx`).

What the numbers mean (per district and for the province, over the period [start, end)):

* the figures' window: the part of the period the store has monitoring data for, from the
  first moment any commune was observed to the last sample heard (plus one poll interval, as
  long as the collector holds a state before calling it stale), cut at the present; its
  share of the period is stated, and a period without any data is refused (:class:`NoData`);
* communes: communes in the inventory; provisioned: those with at least one access device;
* connected at end: communes whose access devices were UP in the last second of the window;
* time-weighted coverage: the Reader's average share of communes connected over the window
  (none for a unit without communes);
* availability: up / (up + down + unreachable) summed over the unit's communes; unknown
  (no monitoring data) and maintenance time are shown apart, never counted as down;
* communes meeting the objective: availability >= ``availability_target``;
* outages: periods a commune was disconnected (all its access devices out at once), from
  the devices' outages; their number and total duration (clipped to the window);
* reboots: how many times the commune's devices restarted (an agent saw their SNMP
  sysUpTime start again) and came back within the window, and how many of those were too
  short to be counted as an outage (the device stayed UP: a short power cut no other figure
  shows). A unit's are its communes'.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from netmon.collector.model import Availability, Outage, Reader, Reboot, Snapshot, State
from netmon.exporters.report_words import fmt_time, report_words
from netmon.exporters.structures import StructureSplit

Progress = Callable[[int, int], None]

#: Buckets of the availability distribution, as (lower bound, label); the last catches the rest.
DISTRIBUTION: tuple[tuple[float, str], ...] = (
    (0.999, "≥ 99.9%"),
    (0.99, "99–99.9%"),
    (0.95, "95–99%"),
    (0.90, "90–95%"),
    (0.0, "< 90%"),
)


class PeriodError(ValueError):
    """A period that cannot be understood (``--month 2026-13``)."""


@dataclass(frozen=True, slots=True)
class Period:
    """A report's period [start, end) in Unix seconds, with its label and time zone."""

    start: float
    end: float
    label: str
    tz: str = "Asia/Ho_Chi_Minh"


def _midnight(d: date, tz: ZoneInfo) -> float:
    return datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()


def _parse_moment(text: str, tz: ZoneInfo) -> float:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"{text!r} is not an ISO date or time (2026-10-01 or 2026-10-01T08:00)") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.timestamp()


def period_from(
    *,
    month: str | None = None,
    quarter: str | None = None,
    start: str | None = None,
    end: str | None = None,
    tz: str = "Asia/Ho_Chi_Minh",
) -> Period:
    """The period named by ``--month 2026-10``, ``--quarter 2026Q3`` or ``--from/--to``.

    Raises:
        PeriodError: when the period is malformed or empty.
    """
    try:
        zone = ZoneInfo(tz)
    except (KeyError, ValueError):
        raise PeriodError(f"unknown time zone {tz!r}") from None
    if month:
        m = re.fullmatch(r"(\d{4})-(\d{1,2})", month.strip())
        if not m or not 1 <= int(m[2]) <= 12:
            raise PeriodError(f"--month {month!r}: expected YYYY-MM, e.g. 2026-10")
        y, mo = int(m[1]), int(m[2])
        first = date(y, mo, 1)
        nxt = date(y + (mo == 12), mo % 12 + 1, 1)
        return Period(_midnight(first, zone), _midnight(nxt, zone), f"{y:04d}-{mo:02d}", tz)
    if quarter:
        q = re.fullmatch(r"(\d{4})-?[Qq]([1-4])", quarter.strip())
        if not q:
            raise PeriodError(f"--quarter {quarter!r}: expected YYYYQn, e.g. 2026Q3")
        y, n = int(q[1]), int(q[2])
        first = date(y, 3 * (n - 1) + 1, 1)
        nxt = date(y + (n == 4), (3 * n) % 12 + 1, 1)
        return Period(_midnight(first, zone), _midnight(nxt, zone), f"{y:04d}Q{n}", tz)
    if start:
        if not end:
            raise PeriodError("--from needs --to")
        s, e = _parse_moment(start, zone), _parse_moment(end, zone)
        if e <= s:
            raise PeriodError("--to must be after --from")
        return Period(s, e, f"{start}–{end}", tz)
    raise PeriodError("give --month, --quarter or --from/--to")


class NoData(Exception):
    """A period the store has no monitoring data for: its report would show only zeros.

    Attributes:
        period: The period asked for.
        last_data: Where the store's data ends (None when it holds none).
        next_data: The first data after the period, when the period lies before the data.
        provisioned: Communes with an access device (0: nothing could ever be observed).
    """

    def __init__(
        self, period: Period, *, last_data: float | None, next_data: float | None = None, provisioned: int = 1
    ) -> None:
        self.period = period
        self.last_data = last_data
        self.next_data = next_data
        self.provisioned = provisioned
        super().__init__(self.message("en"))

    def message(self, lang: str) -> str:
        """What to tell the planner, in their language."""
        w = report_words(lang)
        p = self.period
        parts = [
            w["no_data"].format(label=p.label, start=fmt_time(p.start, p.tz, lang), end=fmt_time(p.end, p.tz, lang))
        ]
        if not self.provisioned:
            parts.append(w["no_data_unprovisioned"])
        elif self.last_data is None:
            parts.append(w["no_data_store"])
        elif self.next_data is not None:
            parts.append(w["no_data_next"].format(time=fmt_time(self.next_data, p.tz, lang)))
        else:
            parts.append(w["no_data_last"].format(time=fmt_time(self.last_data, p.tz, lang)))
        return " ".join(parts)


#: A period whose data covers at least this share is complete (a few seconds of restart
#: between two polls are not worth a warning on a month).
COMPLETE_RATIO = 0.999
#: How finely the start of the data is searched for.
DATA_START_RESOLUTION_S = 1.0


@dataclass(frozen=True, slots=True)
class DataCoverage:
    """The part of a period the store has monitoring data for: every figure of the report is
    computed over ``[start, end)``.

    Attributes:
        start: The first moment any commune was observed (the period's start when earlier).
        end: The last sample heard plus one poll interval, cut at the period's end and the present.
        ratio: Observed commune-time over (provisioned communes x the period's length).
    """

    start: float
    end: float
    ratio: float

    @property
    def complete(self) -> bool:
        """True when the data covers (almost) the whole period."""
        return self.ratio >= COMPLETE_RATIO


def _observed_s(a: Availability) -> float:
    return a.up_s + a.down_s + a.unreachable_s + a.maintenance_s


def first_observed(reader: Reader, province: str, lo: float, hi: float) -> float | None:
    """The first moment in ``[lo, hi)`` any commune of the province was observed (to within
    :data:`DATA_START_RESOLUTION_S`), None when none was.

    Nothing observed over ``[lo, t)`` stays true up to the first observation and false after,
    so a bisection over the Reader's availability finds it without reading the timelines.
    """

    def seen(t: float) -> bool:
        return _observed_s(reader.availability("province", province, lo, t)) > 0

    if hi <= lo or not seen(hi):
        return None
    if seen(min(hi, lo + DATA_START_RESOLUTION_S)):
        return lo
    a, b = lo, hi  # nothing seen over [lo, a), something over [lo, b)
    while b - a > DATA_START_RESOLUTION_S:
        mid = (a + b) / 2
        if seen(mid):
            b = mid
        else:
            a = mid
    return b  # the window from here holds only observed time (at most a second of it left out)


def data_coverage(reader: Reader, snap: Snapshot, period: Period, *, poll_interval_s: float) -> DataCoverage:
    """The part of ``period`` the store has monitoring data for.

    The data ends at the last sample heard from any device plus one poll interval (the
    collector holds a state that long before calling it stale): a store whose collector has
    stopped says nothing of the time after, though its timelines keep their last state.

    Raises:
        NoData: when no commune was observed during the period.
    """
    heard = [d.last_seen for d in snap.devices.values() if d.last_seen is not None]
    provisioned = snap.province.provisioned
    if not heard or not provisioned:
        raise NoData(period, last_data=None, provisioned=provisioned)
    data_end = min(snap.taken_at, max(heard) + poll_interval_s)
    end = min(period.end, data_end)
    start = first_observed(reader, snap.province_code, period.start, end)
    if start is None:
        after = first_observed(reader, snap.province_code, period.end, data_end)
        raise NoData(period, last_data=data_end, next_data=after)
    observed = _observed_s(reader.availability("province", snap.province_code, start, end))
    return DataCoverage(start, end, observed / (provisioned * (period.end - period.start)))


@dataclass(frozen=True, slots=True)
class UnitRow:
    """The figures of a district or of the province."""

    code: str
    name: str
    communes: int
    provisioned: int
    connected_end: int
    time_weighted_coverage: float | None
    availability: float | None
    up_s: float
    down_s: float
    unreachable_s: float
    unknown_s: float
    maintenance_s: float
    meeting_objective: int
    outages: int
    outage_s: float
    reboots: int = 0
    short_reboots: int = 0

    @property
    def coverage_end(self) -> float | None:
        """Connected at end / communes in the inventory (none for a unit without communes)."""
        return self.connected_end / self.communes if self.communes else None


@dataclass(frozen=True, slots=True)
class CommuneRow:
    """The figures of one commune."""

    code: str
    name: str
    district: str | None
    district_name: str | None
    provisioned: bool
    connected_end: bool
    availability: float | None
    unknown_s: float
    maintenance_s: float
    outages: int
    outage_s: float
    reboots: int = 0
    short_reboots: int = 0


@dataclass(frozen=True)
class ReportModel:
    """Everything a report shows; renderers only format it."""

    period: Period
    province_code: str
    province_name: str
    edition: str
    generated_at: float
    data: DataCoverage
    availability_target: float
    coverage_target: float
    province: UnitRow
    districts: list[UnitRow]
    communes: list[CommuneRow]
    worst: list[CommuneRow]
    #: The communes whose devices rebooted most (as many as ``worst``), most first.
    rebooted: list[CommuneRow] = field(default_factory=list)
    coverage_series: list[tuple[float, float]] = field(default_factory=list)
    distribution: list[tuple[str, int]] = field(default_factory=list)
    #: The period spans a change of structure (a migrated inventory): both structures' figures.
    structures: StructureSplit | None = None

    @property
    def period_open(self) -> bool:
        """True when the period had not ended when the report was made."""
        return self.period.end > self.generated_at


def disconnections(access_outages: Sequence[Sequence[Outage]], start: float, end: float) -> list[tuple[float, float]]:
    """Intervals within [start, end) when every access device was out at once.

    ``access_outages`` holds, per access device, its outages; an open outage lasts to ``end``.
    """
    if not access_outages:
        return []
    result: list[tuple[float, float]] | None = None
    for outs in access_outages:
        spans = sorted((max(o.start, start), min(o.end if o.end is not None else end, end)) for o in outs)
        merged: list[tuple[float, float]] = []
        for a, b in spans:
            if b <= a:
                continue
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        if result is None:
            result = merged
            continue
        inter: list[tuple[float, float]] = []
        i = j = 0
        while i < len(result) and j < len(merged):
            a, b = max(result[i][0], merged[j][0]), min(result[i][1], merged[j][1])
            if a < b:
                inter.append((a, b))
            if result[i][1] < merged[j][1]:
                i += 1
            else:
                j += 1
        result = inter
    return result or []


def _unit_row(
    code: str, name: str, rows: Sequence[CommuneRow], *, a: Availability, twc: float, target: float
) -> UnitRow:
    return UnitRow(
        code=code,
        name=name,
        communes=len(rows),
        provisioned=sum(r.provisioned for r in rows),
        connected_end=sum(r.connected_end for r in rows),
        time_weighted_coverage=twc if rows else None,
        availability=a.ratio,
        up_s=a.up_s,
        down_s=a.down_s,
        unreachable_s=a.unreachable_s,
        unknown_s=a.unknown_s,
        maintenance_s=a.maintenance_s,
        meeting_objective=sum(1 for r in rows if r.availability is not None and r.availability >= target),
        outages=sum(r.outages for r in rows),
        outage_s=sum(r.outage_s for r in rows),
        reboots=sum(r.reboots for r in rows),
        short_reboots=sum(r.short_reboots for r in rows),
    )


def build_report(
    reader: Reader,
    period: Period,
    *,
    poll_interval_s: float,
    availability_target: float = 0.99,
    coverage_target: float = 1.0,
    worst: int = 10,
    series_points: int = 200,
    progress: Progress | None = None,
) -> ReportModel:
    """Compute a report from Reader queries (no I/O of its own).

    Every figure covers the part of the period the store has data for (:func:`data_coverage`).

    Args:
        reader: The collector's read API.
        period: The period asked for.
        poll_interval_s: The collector's default poll interval (how long a state holds after
            the last sample before the collector would call it stale).
        availability_target: A commune meets the objective at this availability.
        coverage_target: Share of communes the province aims to connect (the charts' line).
        worst: How many communes the "lowest availability" and "rebooted most" tables list.
        series_points: About how many points the coverage-over-time chart has.
        progress: Called with (done, total) as units are computed.

    Raises:
        NoData: when the store has no monitoring data for the period.
    """
    snap: Snapshot = reader.snapshot()
    data = data_coverage(reader, snap, period, poll_interval_s=poll_interval_s)
    start, end = data.start, data.end
    outs = reader.outages(start, end)
    by_device: dict[str, list[Outage]] = {}
    for o in outs:
        by_device.setdefault(o.device, []).append(o)
    reboots: dict[str, list[Reboot]] = {}
    for r in reader.reboots(start, end):
        reboots.setdefault(r.device, []).append(r)

    codes = sorted(snap.communes)
    total = len(codes) + len(snap.districts) + 1
    done = 0
    rows: list[CommuneRow] = []
    for code in codes:
        c = snap.communes[code]
        access = [d for d in c.devices if d in snap.devices and snap.devices[d].is_access]
        a = reader.availability("commune", code, start, end)
        last = reader.availability("commune", code, end - 1.0, end)
        gaps = disconnections([by_device.get(d, []) for d in access], start, end) if access else []
        dist = snap.districts.get(c.district) if c.district else None
        restarts = [r for d in c.devices for r in reboots.get(d, ())]
        rows.append(
            CommuneRow(
                code=code,
                name=c.name,
                district=c.district,
                district_name=dist.name if dist else None,
                provisioned=bool(access),
                connected_end=last.up_s > 0,
                availability=a.ratio,
                unknown_s=a.unknown_s,
                maintenance_s=a.maintenance_s,
                outages=len(gaps),
                outage_s=sum(b - a_ for a_, b in gaps),
                reboots=len(restarts),
                short_reboots=sum(1 for r in restarts if r.counted_as is State.UP),
            )
        )
        done += 1
        if progress:
            progress(done, total)

    districts: list[UnitRow] = []
    for dcode in sorted(snap.districts):
        d = snap.districts[dcode]
        members = [r for r in rows if r.district == dcode]
        districts.append(
            _unit_row(
                dcode,
                d.name,
                members,
                a=reader.availability("district", dcode, start, end),
                twc=reader.time_weighted_coverage("district", dcode, start, end),
                target=availability_target,
            )
        )
        done += 1
        if progress:
            progress(done, total)
    province = _unit_row(
        snap.province_code,
        snap.province_name,
        rows,
        a=reader.availability("province", snap.province_code, start, end),
        twc=reader.time_weighted_coverage("province", snap.province_code, start, end),
        target=availability_target,
    )
    done += 1
    if progress:
        progress(done, total)

    step = max(60.0, (end - start) / max(1, series_points))
    series = [(p.ts, p.connected / p.communes if p.communes else 0.0) for p in reader.coverage_series(start, end, step)]
    observed = [r for r in rows if r.availability is not None]
    distribution: list[tuple[str, int]] = []
    upper = 1.01
    for lower, label in DISTRIBUTION:
        distribution.append((label, sum(1 for r in observed if lower <= (r.availability or 0.0) < upper)))
        upper = lower
    worst_rows = sorted(
        (r for r in rows if r.provisioned and (r.availability is None or r.availability < 1.0 or r.outages)),
        key=lambda r: (r.availability if r.availability is not None else -1.0, -r.outage_s, r.code),
    )[:worst]
    rebooted = sorted((r for r in rows if r.reboots), key=lambda r: (-r.reboots, -r.short_reboots, r.code))[:worst]
    return ReportModel(
        period=period,
        province_code=snap.province_code,
        province_name=snap.province_name,
        edition=snap.edition,
        generated_at=snap.taken_at,
        data=data,
        availability_target=availability_target,
        coverage_target=coverage_target,
        province=province,
        districts=districts,
        communes=rows,
        worst=worst_rows,
        rebooted=rebooted,
        coverage_series=series,
        distribution=distribution,
    )
