"""The coverage and availability report for planners: a model computed from Reader queries,
and pure renderers from that model to HTML (self-contained, printable), CSV and XLSX.

What the numbers mean (per district and for the province, over the period [start, end)):

* communes: communes in the inventory; provisioned: those with at least one access device;
* connected at end: communes whose access devices were UP in the last second of the period;
* time-weighted coverage: the Reader's average share of communes connected over the period;
* availability: up / (up + down + unreachable) summed over the unit's communes; unknown
  (no monitoring data) and maintenance time are shown apart, never counted as down;
* communes meeting the objective: availability >= ``availability_target``;
* outages: periods a commune was disconnected (all its access devices out at once), from
  the devices' outages; their number and total duration (clipped to the period).
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from netmon.collector.model import Availability, Outage, Reader, Snapshot
from netmon.collector.web import svg
from netmon.exporters.structures import StructureSplit, structures_html, structures_table

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


@dataclass(frozen=True, slots=True)
class UnitRow:
    """The figures of a district or of the province."""

    code: str
    name: str
    communes: int
    provisioned: int
    connected_end: int
    time_weighted_coverage: float
    availability: float | None
    up_s: float
    down_s: float
    unreachable_s: float
    unknown_s: float
    maintenance_s: float
    meeting_objective: int
    outages: int
    outage_s: float

    @property
    def coverage_end(self) -> float:
        """Connected at end / communes in the inventory."""
        return self.connected_end / self.communes if self.communes else 0.0


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


@dataclass(frozen=True)
class ReportModel:
    """Everything a report shows; renderers only format it."""

    period: Period
    province_code: str
    province_name: str
    edition: str
    generated_at: float
    effective_end: float
    availability_target: float
    coverage_target: float
    province: UnitRow
    districts: list[UnitRow]
    communes: list[CommuneRow]
    worst: list[CommuneRow]
    coverage_series: list[tuple[float, float]] = field(default_factory=list)
    distribution: list[tuple[str, int]] = field(default_factory=list)
    #: The period spans a change of structure (a migrated inventory): both structures' figures.
    structures: StructureSplit | None = None


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
        time_weighted_coverage=twc,
        availability=a.ratio,
        up_s=a.up_s,
        down_s=a.down_s,
        unreachable_s=a.unreachable_s,
        unknown_s=a.unknown_s,
        maintenance_s=a.maintenance_s,
        meeting_objective=sum(1 for r in rows if r.availability is not None and r.availability >= target),
        outages=sum(r.outages for r in rows),
        outage_s=sum(r.outage_s for r in rows),
    )


def build_report(
    reader: Reader,
    period: Period,
    *,
    availability_target: float = 0.99,
    coverage_target: float = 1.0,
    worst: int = 10,
    series_points: int = 200,
    progress: Progress | None = None,
) -> ReportModel:
    """Compute a report from Reader queries (no I/O of its own).

    A period reaching past the reader's present is cut at the present (``effective_end``).
    """
    snap: Snapshot = reader.snapshot()
    start = period.start
    end = min(period.end, snap.taken_at)
    if end <= start:
        end = start + 1.0  # a period entirely in the future: nothing observed, an empty window
    outs = reader.outages(start, end)
    by_device: dict[str, list[Outage]] = {}
    for o in outs:
        by_device.setdefault(o.device, []).append(o)

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
    return ReportModel(
        period=period,
        province_code=snap.province_code,
        province_name=snap.province_name,
        edition=snap.edition,
        generated_at=snap.taken_at,
        effective_end=end,
        availability_target=availability_target,
        coverage_target=coverage_target,
        province=province,
        districts=districts,
        communes=rows,
        worst=worst_rows,
        coverage_series=series,
        distribution=distribution,
    )


# --------------------------------------------------------------------------- words

_WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Báo cáo kết nối và khả dụng mạng truyền số liệu chuyên dùng",
        "period": "Kỳ báo cáo",
        "generated": "Lập lúc",
        "cut": "Số liệu tính đến",
        "summary": "Tổng hợp toàn tỉnh",
        "progress": "Tiến độ kết nối 100% xã",
        "by_district": "Theo huyện",
        "unit": "Đơn vị",
        "code": "Mã",
        "name": "Tên",
        "district": "Huyện",
        "communes": "Số xã",
        "provisioned": "Đã lắp đặt",
        "connected_end": "Kết nối cuối kỳ",
        "coverage_end": "Tỷ lệ kết nối cuối kỳ",
        "twc": "Tỷ lệ kết nối bình quân theo thời gian",
        "availability": "Khả dụng",
        "meeting": "Xã đạt mục tiêu khả dụng",
        "outages": "Số lần mất kết nối",
        "outage_h": "Tổng thời gian mất kết nối (giờ)",
        "unknown_h": "Không có dữ liệu giám sát (giờ)",
        "maintenance_h": "Bảo trì (giờ)",
        "worst": "Các xã có khả dụng thấp nhất",
        "chart_coverage": "Tỷ lệ kết nối theo huyện so với mục tiêu",
        "chart_series": "Tỷ lệ xã kết nối theo thời gian",
        "chart_distribution": "Phân bố khả dụng của các xã",
        "target": "Mục tiêu",
        "yes": "có",
        "no": "không",
        "connected": "Kết nối",
        "notes": "Thời gian không có dữ liệu giám sát và thời gian bảo trì không tính là mất kết nối.",
        "ts": "Thời điểm",
        "ratio": "Tỷ lệ",
        "none": "Không có",
    },
    "en": {
        "title": "Dedicated data network: coverage and availability report",
        "period": "Period",
        "generated": "Generated",
        "cut": "Figures up to",
        "summary": "Province summary",
        "progress": "Progress towards 100% of communes",
        "by_district": "By district",
        "unit": "Unit",
        "code": "Code",
        "name": "Name",
        "district": "District",
        "communes": "Communes",
        "provisioned": "Provisioned",
        "connected_end": "Connected at end",
        "coverage_end": "Coverage at end",
        "twc": "Time-weighted coverage",
        "availability": "Availability",
        "meeting": "Communes meeting the objective",
        "outages": "Outages",
        "outage_h": "Outage time (h)",
        "unknown_h": "No monitoring data (h)",
        "maintenance_h": "Maintenance (h)",
        "worst": "Communes with the lowest availability",
        "chart_coverage": "Coverage by district against the target",
        "chart_series": "Communes connected over time",
        "chart_distribution": "Availability of communes",
        "target": "Target",
        "yes": "yes",
        "no": "no",
        "connected": "Connected",
        "notes": "Time without monitoring data and maintenance time are not counted as outages.",
        "ts": "Time",
        "ratio": "Ratio",
        "none": "None",
    },
}


def report_words(lang: str) -> dict[str, str]:
    """Vocabulary of the report (Vietnamese for anything unknown)."""
    return _WORDS.get(lang, _WORDS["vi"])


def _pct(r: float | None) -> str:
    return "–" if r is None else f"{r * 100:.2f}%"


def _hours(s: float) -> str:
    return f"{s / 3600:.2f}"


def _fmt_time(ts: float, tz: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- tables


def _unit_table(m: ReportModel, w: dict[str, str]) -> tuple[list[str], list[list[object]]]:
    header = [
        w["code"],
        w["name"],
        w["communes"],
        w["provisioned"],
        w["connected_end"],
        w["coverage_end"],
        w["twc"],
        w["availability"],
        w["meeting"],
        w["outages"],
        w["outage_h"],
        w["unknown_h"],
        w["maintenance_h"],
    ]
    rows: list[list[object]] = []
    for u in [*m.districts, m.province]:
        rows.append(
            [
                u.code,
                u.name,
                u.communes,
                u.provisioned,
                u.connected_end,
                u.coverage_end,
                u.time_weighted_coverage,
                u.availability,
                u.meeting_objective,
                u.outages,
                u.outage_s / 3600,
                u.unknown_s / 3600,
                u.maintenance_s / 3600,
            ]
        )
    return header, rows


def _commune_table(rows: Sequence[CommuneRow], w: dict[str, str]) -> tuple[list[str], list[list[object]]]:
    header = [
        w["code"],
        w["name"],
        w["district"],
        w["provisioned"],
        w["connected_end"],
        w["availability"],
        w["outages"],
        w["outage_h"],
        w["unknown_h"],
        w["maintenance_h"],
    ]
    out: list[list[object]] = [
        [
            r.code,
            r.name,
            r.district_name or "",
            r.provisioned,
            r.connected_end,
            r.availability,
            r.outages,
            r.outage_s / 3600,
            r.unknown_s / 3600,
            r.maintenance_s / 3600,
        ]
        for r in rows
    ]
    return header, out


def _series_table(m: ReportModel, w: dict[str, str]) -> tuple[list[str], list[list[object]]]:
    return [w["ts"], w["ratio"]], [[_fmt_time(ts, m.period.tz), r] for ts, r in m.coverage_series]


def _tables(m: ReportModel, lang: str) -> dict[str, tuple[list[str], list[list[object]]]]:
    w = report_words(lang)
    tables = {
        "units": _unit_table(m, w),
        "communes": _commune_table(m.communes, w),
        "worst": _commune_table(m.worst, w),
        "coverage_series": _series_table(m, w),
    }
    if m.structures is not None:
        tables["structures"] = structures_table(m.structures, lang, m.period.tz)
    return tables


def _csv_cell(v: object, w: dict[str, str]) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return w["yes"] if v else w["no"]
    if isinstance(v, float):
        return f"{v:.6f}".rstrip("0").rstrip(".") if math.isfinite(v) else ""
    return str(v)


def render_csv(m: ReportModel, lang: str = "vi") -> dict[str, str]:
    """One CSV per table: ``units`` (districts and the province), ``communes``, ``worst``,
    ``coverage_series``. Ratios are 0..1, durations in hours."""
    w = report_words(lang)
    out: dict[str, str] = {}
    for name, (header, rows) in _tables(m, lang).items():
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([_csv_cell(v, w) for v in row])
        out[f"{name}.csv"] = buf.getvalue()
    return out


def render_xlsx(m: ReportModel, lang: str = "vi") -> bytes:
    """An XLSX workbook with one sheet per table; ratios formatted as percentages."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    w = report_words(lang)
    wb = Workbook()
    wb.remove(wb.active)
    ratio_cols = {w["coverage_end"], w["twc"], w["availability"], w["ratio"]}
    for name, (header, rows) in _tables(m, lang).items():
        ws = wb.create_sheet(title=name[:31])
        ws.append(header)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in rows:
            ws.append([(w["yes"] if v else w["no"]) if isinstance(v, bool) else v for v in row])
        for idx, title in enumerate(header, start=1):
            letter = ws.cell(row=1, column=idx).column_letter
            ws.column_dimensions[letter].width = max(10, min(40, len(title) + 2))
            if title in ratio_cols:
                for (cell,) in ws.iter_rows(min_row=2, min_col=idx, max_col=idx):
                    cell.number_format = "0.00%"
        ws.freeze_panes = "A2"
    meta = wb.create_sheet(title="info", index=0)
    meta.append([w["title"]])
    meta.append([w["period"], m.period.label])
    meta.append([w["cut"], _fmt_time(m.effective_end, m.period.tz)])
    meta.append([w["target"] + " " + w["availability"], m.availability_target])
    meta.append([w["notes"]])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pct"] = _pct
    env.filters["hours"] = _hours
    return env


def render_html(m: ReportModel, lang: str = "vi") -> str:
    """A self-contained HTML page (inline CSS and SVG charts, no external resources) that prints well."""
    w = report_words(lang)
    tz = m.period.tz
    charts = {
        "coverage": Markup(
            svg.hbars(  # svg escapes labels and formats numbers itself
                [(d.name, d.coverage_end) for d in m.districts if d.communes]
                or [(m.province.name, m.province.coverage_end)],
                target=m.coverage_target,
                title=w["chart_coverage"],
                width=700,
                label_w=200,
            )
        ),
        "series": Markup(
            svg.line(
                m.coverage_series,
                title=w["chart_series"],
                width=700,
                start_label=_fmt_time(m.period.start, tz),
                end_label=_fmt_time(m.effective_end, tz),
            )
        ),
        "distribution": Markup(svg.histogram(m.distribution, title=w["chart_distribution"], width=700)),
    }
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            m=m,
            w=w,
            lang=lang,
            charts=charts,
            period_start=_fmt_time(m.period.start, tz),
            period_end=_fmt_time(m.period.end, tz),
            effective_end=_fmt_time(m.effective_end, tz),
            generated=_fmt_time(m.generated_at, tz),
            cut=m.effective_end < m.period.end,
            structures=structures_html(m.structures, lang, tz) if m.structures is not None else "",
        )
    )


def write_report(m: ReportModel, out_dir: Path, *, formats: Sequence[str], lang: str) -> list[Path]:
    """Write the chosen formats into ``out_dir``; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"netmon-report-{m.province_code}-{re.sub(r'[^0-9A-Za-z_-]+', '_', m.period.label)}-{lang}"
    written: list[Path] = []
    if "html" in formats:
        p = out_dir / f"{stem}.html"
        p.write_text(render_html(m, lang), encoding="utf-8")
        written.append(p)
    if "csv" in formats:
        for name, text in render_csv(m, lang).items():
            p = out_dir / f"{stem}-{name}"
            p.write_text(text, encoding="utf-8-sig")  # the BOM lets Excel read Vietnamese correctly
            written.append(p)
    if "xlsx" in formats:
        p = out_dir / f"{stem}.xlsx"
        p.write_bytes(render_xlsx(m, lang))
        written.append(p)
    return written
