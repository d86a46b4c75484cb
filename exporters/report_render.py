"""The coverage report's renderers: pure functions from a :class:`ReportModel` to a
self-contained printable HTML page, CSV tables, and the files written for a period
(the XLSX workbook is :mod:`netmon.exporters.report_xlsx`)."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeVar
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from netmon.collector.glossary import duration
from netmon.collector.web import svg
from netmon.exporters.report import CommuneRow, ReportModel, UnitRow
from netmon.exporters.report_words import breakable, fmt_pct, fmt_time, report_words
from netmon.exporters.structures import structures_html, structures_table

# --------------------------------------------------------------------------- tables

ColumnKind = Literal["text", "count", "ratio", "hours", "time", "flag"]


@dataclass(frozen=True, slots=True)
class Column:
    """A column of a table: its title in the report's language and what its values are."""

    title: str
    kind: ColumnKind


@dataclass(frozen=True, slots=True)
class Table:
    """A table of the report as CSV and XLSX carry it.

    Values are in the column's unit: ratios 0..1, durations in hours, times as aware
    datetimes in the period's time zone, flags as booleans, None where there is no value.
    """

    key: str
    sheet: str
    columns: tuple[Column, ...]
    rows: list[list[object]]
    #: Columns that stay in view when scrolling right (code and name).
    frozen_columns: int = 0


@dataclass(frozen=True, slots=True)
class InfoRow:
    """A line of the report's information sheet (period, data coverage, targets)."""

    item: str
    value: object
    kind: ColumnKind


def _moment(ts: float, tz: str) -> datetime:
    return datetime.fromtimestamp(ts, ZoneInfo(tz))


T = TypeVar("T")
#: A column as (word of its title, kind, its value from a row of the model).
ColumnSpec = tuple[str, ColumnKind, Callable[[T], object]]

_UNIT_COLUMNS: tuple[ColumnSpec[UnitRow], ...] = (
    ("code", "text", lambda u: u.code),
    ("name", "text", lambda u: u.name),
    ("communes", "count", lambda u: u.communes),
    ("provisioned", "count", lambda u: u.provisioned),
    ("connected_end", "count", lambda u: u.connected_end),
    ("coverage_end", "ratio", lambda u: u.coverage_end),
    ("twc", "ratio", lambda u: u.time_weighted_coverage),
    ("availability", "ratio", lambda u: u.availability),
    ("meeting", "count", lambda u: u.meeting_objective),
    ("outages", "count", lambda u: u.outages),
    ("outage_h", "hours", lambda u: u.outage_s / 3600),
    ("unknown_h", "hours", lambda u: u.unknown_s / 3600),
    ("maintenance_h", "hours", lambda u: u.maintenance_s / 3600),
    ("reboots", "count", lambda u: u.reboots),
    ("reboots_short", "count", lambda u: u.short_reboots),
)
_COMMUNE_COLUMNS: tuple[ColumnSpec[CommuneRow], ...] = (
    ("code", "text", lambda r: r.code),
    ("name", "text", lambda r: r.name),
    ("district", "text", lambda r: r.district_name),
    ("provisioned", "flag", lambda r: r.provisioned),
    ("connected_end", "flag", lambda r: r.connected_end),
    ("availability", "ratio", lambda r: r.availability),
    ("outages", "count", lambda r: r.outages),
    ("outage_h", "hours", lambda r: r.outage_s / 3600),
    ("unknown_h", "hours", lambda r: r.unknown_s / 3600),
    ("maintenance_h", "hours", lambda r: r.maintenance_s / 3600),
    ("reboots", "count", lambda r: r.reboots),
    ("reboots_short", "count", lambda r: r.short_reboots),
)


def _table(key: str, w: dict[str, str], spec: Sequence[ColumnSpec[T]], items: Sequence[T]) -> Table:
    """A table of code-and-name rows (those columns stay in view when scrolling right)."""
    columns = tuple(Column(w[word], kind) for word, kind, _get in spec)
    rows = [[get(item) for _word, _kind, get in spec] for item in items]
    return Table(key, w[f"sheet.{key}"], columns, rows, frozen_columns=2)


def report_tables(m: ReportModel, lang: str) -> list[Table]:
    """The report's tables: units (districts, then the province), communes, the worst
    communes, coverage over time."""
    w = report_words(lang)
    tz = m.period.tz
    series = Table(
        "coverage_series",
        w["sheet.coverage_series"],
        (Column(w["ts"], "time"), Column(w["ratio"], "ratio")),
        [[_moment(ts, tz), r] for ts, r in m.coverage_series],
    )
    tables = [
        _table("units", w, _UNIT_COLUMNS, [*m.districts, m.province]),
        _table("communes", w, _COMMUNE_COLUMNS, m.communes),
        _table("worst", w, _COMMUNE_COLUMNS, m.worst),
        series,
    ]
    if m.structures is not None:
        # A period across a change of structure (the 2025 reform): both structures' figures.
        header, rows = structures_table(m.structures, lang, tz)
        kinds: list[ColumnKind] = ["text", "text", "count", "count", "count", "count", "ratio"]
        kinds += ["ratio"] * (len(header) - len(kinds))
        columns = tuple(Column(h, k) for h, k in zip(header, kinds, strict=True))
        tables.append(Table("structures", w["sheet.structures"], columns, rows, frozen_columns=1))
    return tables


def report_info(m: ReportModel, lang: str) -> list[InfoRow]:
    """The period, the part of it with data, the objectives and when the report was made."""
    w = report_words(lang)
    tz = m.period.tz
    return [
        InfoRow(w["period"], m.period.label, "text"),
        InfoRow(w["period_start"], _moment(m.period.start, tz), "time"),
        InfoRow(w["period_end"], _moment(m.period.end, tz), "time"),
        InfoRow(w["tz"], tz, "text"),
        InfoRow(w["data_start"], _moment(m.data.start, tz), "time"),
        InfoRow(w["data_end"], _moment(m.data.end, tz), "time"),
        InfoRow(w["data_ratio"], m.data.ratio, "ratio"),
        InfoRow(f"{w['target']}: {w['availability']}", m.availability_target, "ratio"),
        InfoRow(f"{w['target']}: {w['twc']}", m.coverage_target, "ratio"),
        InfoRow(w["generated"], _moment(m.generated_at, tz), "time"),
    ]


def _share(r: float) -> str:
    # A minute of data in a month is not "0.00%" of it.
    return "< 0.01%" if 0 < r < 0.00005 else fmt_pct(r)


def data_statement(m: ReportModel, lang: str) -> str:
    """What part of the period the figures cover, in a sentence."""
    w = report_words(lang)
    if m.data.complete:
        return w["data_complete"]
    tz = m.period.tz
    return w["data_partial"].format(
        ratio=_share(m.data.ratio),
        start=fmt_time(m.data.start, tz, lang),
        end=fmt_time(m.data.end, tz, lang),
        span=duration(m.data.end - m.data.start, lang),
    )


def partial_warning(m: ReportModel, lang: str) -> str | None:
    """A one-line warning for a period the data does not cover (None when it does)."""
    if m.data.complete:
        return None
    tz = m.period.tz
    return report_words(lang)["data_partial_short"].format(
        ratio=_share(m.data.ratio),
        label=m.period.label,
        start=fmt_time(m.data.start, tz, lang),
        end=fmt_time(m.data.end, tz, lang),
    )


# --------------------------------------------------------------------------- CSV


def _csv_cell(v: object, kind: ColumnKind, w: dict[str, str]) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return w["yes"] if v else w["no"]
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(v, float):
        return f"{v:.6f}".rstrip("0").rstrip(".") if math.isfinite(v) else ""
    return str(v)


def render_csv(m: ReportModel, lang: str = "vi") -> dict[str, str]:
    """One CSV per table (``units``, ``communes``, ``worst``, ``coverage_series``) and
    ``info`` (period and data coverage). Ratios are 0..1, durations in hours, times local
    to the period's time zone, empty where there is no value."""
    w = report_words(lang)
    out: dict[str, str] = {}
    for t in report_tables(m, lang):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([c.title for c in t.columns])
        for row in t.rows:
            writer.writerow([_csv_cell(v, c.kind, w) for v, c in zip(row, t.columns, strict=True)])
        out[f"{t.key}.csv"] = buf.getvalue()
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([w["item"], w["value"]])
    for r in report_info(m, lang):
        writer.writerow([r.item, _csv_cell(r.value, r.kind, w)])
    out["info.csv"] = buf.getvalue()
    return out


# --------------------------------------------------------------------------- HTML


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pct"] = fmt_pct
    env.filters["breakable"] = breakable
    env.filters["hours"] = lambda s: f"{s / 3600:.2f}"
    return env


def coverage_chart_rows(m: ReportModel) -> list[tuple[str, float]]:
    """What the district chart draws: each district's time-weighted coverage, the figure the
    headline and the table give (the province's when there are no districts)."""
    rows = [(d.name, d.time_weighted_coverage) for d in m.districts if d.time_weighted_coverage is not None]
    if not rows and m.province.time_weighted_coverage is not None:
        rows = [(m.province.name, m.province.time_weighted_coverage)]
    return rows


def render_html(m: ReportModel, lang: str = "vi", *, links: Sequence[tuple[str, str]] = ()) -> str:
    """A self-contained HTML page (inline CSS and SVG charts, no external resources) that
    prints on A4 and reads on a phone.

    Args:
        m: The report.
        lang: ``vi`` or ``en``.
        links: (label, href) pairs shown above the report on screen, never printed (the
            collector's report page adds its downloads).
    """
    w = report_words(lang)
    tz = m.period.tz
    charts = {
        "coverage": Markup(
            svg.hbars(  # svg escapes labels and formats numbers itself
                coverage_chart_rows(m),
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
                width=350,
                height=150,
                start_label=fmt_time(m.data.start, tz, lang),
                end_label=fmt_time(m.data.end, tz, lang),
            )
        ),
        "distribution": Markup(svg.histogram(m.distribution, title=w["chart_distribution"], width=350, height=150)),
    }
    return (
        _env()
        .get_template("report.html.j2")
        .render(
            m=m,
            w=w,
            lang=lang,
            charts=charts,
            links=links,
            period_start=fmt_time(m.period.start, tz, lang),
            period_end=fmt_time(m.period.end, tz, lang),
            generated=fmt_time(m.generated_at, tz, lang),
            data_statement=data_statement(m, lang),
            structures=structures_html(m.structures, lang, tz) if m.structures is not None else "",
        )
    )


def report_stem(m: ReportModel, lang: str) -> str:
    """The name its files share: ``netmon-report-51-2026-10-vi``."""
    return f"netmon-report-{m.province_code}-{re.sub(r'[^0-9A-Za-z_-]+', '_', m.period.label)}-{lang}"


def write_report(m: ReportModel, out_dir: Path, *, formats: Sequence[str], lang: str) -> list[Path]:
    """Write the chosen formats into ``out_dir``; returns the files written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = report_stem(m, lang)
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
        # openpyxl loads only when a workbook is asked for (and the module imports this one)
        from netmon.exporters.report_xlsx import render_xlsx

        p = out_dir / f"{stem}.xlsx"
        p.write_bytes(render_xlsx(m, lang))
        written.append(p)
    return written
