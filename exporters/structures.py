"""Coverage of a period that spans a change of administrative structure.

After ``netmon inventory migrate`` the collector watches the 2025 structure (96 communes
in Quảng Ngãi) from the switch time on, with the same device ids; before it, the
network was watched, planned and targeted in the 2021 structure (13 districts, 170
communes). A 2021–2025 plan's "100% of communes" is judged honestly only if a report over
a period that spans the switch says which structure each part of it used and gives the
coverage against both denominators: the same device histories grouped into the 2021
communes (rebuilt from the inventory's ``formerly``) and into the 2025 ones. Each
structure's figures come from its own read model over the one store.

The section is computed by :func:`structure_split` and rendered here (a table for CSV
and XLSX, an HTML fragment), so the report itself only carries it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from netmon.collector.devices import Topology
from netmon.collector.glossary import term
from netmon.collector.readmodel import History, StoredModel
from netmon.collector.storeread import StoreReader
from netmon.config.inventory import Inventory
from netmon.config.reform import previous_structure
from netmon.config.settings import CollectorSettings
from netmon.exporters.report_words import report_words

if TYPE_CHECKING:
    from netmon.exporters.report import ReportModel


@dataclass(frozen=True, slots=True)
class Part:
    """A stretch of the period and the structure the collector used in it."""

    start: float
    end: float
    edition: str


@dataclass(frozen=True, slots=True)
class Denominator:
    """One structure's figures over the whole period and over each part.

    Attributes:
        edition: ``2021`` or ``2025``.
        province: The province (code and name) in that structure.
        districts: District-level units (none in 2025).
        communes: Communes: the denominator.
        provisioned: Communes with an access device.
        connected_end: Communes connected at the end of the period.
        coverage: Time-weighted coverage over the whole period.
        by_part: Time-weighted coverage over each part, in the order of the parts.
    """

    edition: str
    province: str
    districts: int
    communes: int
    provisioned: int
    connected_end: int
    coverage: float
    by_part: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class StructureSplit:
    """The parts of a period and the coverage in both structures."""

    switch_at: float
    parts: tuple[Part, ...]
    denominators: tuple[Denominator, ...]


def _figures(reader: History, edition: str, parts: Sequence[Part], start: float, end: float) -> Denominator:
    topo = reader.topology
    prov = topo.inventory.province
    connected = sum(1 for c in topo.communes if reader.availability("commune", c, end - 1.0, end).up_s > 0)
    return Denominator(
        edition=edition,
        province=f"{prov.name} ({prov.code})",
        districts=len(topo.district_communes),
        communes=len(topo.communes),
        provisioned=sum(1 for c in topo.communes if topo.access.get(c)),
        connected_end=connected,
        coverage=reader.time_weighted_coverage("province", prov.code, start, end),
        by_part=tuple(reader.time_weighted_coverage("province", prov.code, p.start, p.end) for p in parts),
    )


def structure_split(
    current: History, previous: Sequence[History], *, until: float, previous_edition: str, start: float, end: float
) -> StructureSplit | None:
    """The structures over ``[start, end)``, or None when the period is all after the switch.

    Args:
        current: The read model of the current (migrated) inventory.
        previous: One read model per former province, over its rebuilt structure.
        until: When the collector switched to the current inventory.
        previous_edition: The former structure's edition.
    """
    if start >= until or end <= start:
        return None
    current_edition = current.topology.inventory.edition or "current"
    parts = [Part(start, min(until, end), previous_edition)]
    if until < end:
        parts.append(Part(until, end, current_edition))
    dens = [_figures(r, previous_edition, parts, start, end) for r in previous]
    dens.append(_figures(current, current_edition, parts, start, end))
    return StructureSplit(until, tuple(parts), tuple(dens))


def _words(lang: str) -> dict[str, str]:
    """The section's labels; the domain's terms are the report's (the glossary's)."""
    r = report_words(lang)
    own = {
        "vi": {
            "title": "Cấu trúc hành chính trong kỳ",
            "intro": "Kỳ báo cáo trải qua việc sắp xếp đơn vị hành chính; cùng lịch sử thiết bị được tính theo cả hai cấu trúc.",
            "part": "Từ {a} đến {b}: giám sát theo cấu trúc {e}",
            "structure": "Cấu trúc",
            "districts": "Số huyện",
            "coverage": f"{r['twc']}, cả kỳ",
        },
        "en": {
            "title": "Administrative structure in the period",
            "intro": "The period spans the reorganisation of administrative units; the same device histories are counted in both structures.",
            "part": "From {a} to {b}: monitored in the {e} structure",
            "structure": "Structure",
            "districts": "Districts",
            "coverage": f"{r['twc']}, whole period",
        },
    }
    return own.get(lang, own["vi"]) | {
        "province": term("province", lang),
        "communes": r["communes"],
        "provisioned": r["provisioned"],
        "connected_end": r["connected_end"],
        "in_part": term("coverage", lang) + " {a}–{b}",
    }


def _when(ts: float, tz: str) -> str:
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def structures_table(split: StructureSplit, lang: str, tz: str) -> tuple[list[str], list[list[object]]]:
    """The section as a table (CSV, XLSX): one row per structure; ratios 0..1."""
    w = _words(lang)
    header = [
        w["structure"],
        w["province"],
        w["districts"],
        w["communes"],
        w["provisioned"],
        w["connected_end"],
        w["coverage"],
    ]
    header += [w["in_part"].format(a=_when(p.start, tz), b=_when(p.end, tz)) for p in split.parts]
    rows: list[list[object]] = [
        [d.edition, d.province, d.districts, d.communes, d.provisioned, d.connected_end, d.coverage, *d.by_part]
        for d in split.denominators
    ]
    return header, rows


def structures_html(split: StructureSplit, lang: str, tz: str) -> Markup:
    """The section as an HTML fragment (escaped), for the report page."""
    w = _words(lang)
    header, rows = structures_table(split, lang, tz)
    parts = "".join(
        f"<li>{escape(w['part'].format(a=_when(p.start, tz), b=_when(p.end, tz), e=p.edition))}</li>"
        for p in split.parts
    )
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{escape(f'{v * 100:.2f}%')}</td>"
            if isinstance(v, float)
            else f'<td class="l">{escape(v)}</td>'
            if isinstance(v, str)
            else f"<td>{escape(v)}</td>"
            for v in row
        )
        + "</tr>"
        for row in rows
    )
    return Markup(
        f'<section id="structures"><h2>{escape(w["title"])}</h2><p>{escape(w["intro"])}</p><ul>{parts}</ul>'
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>"
    )


def split_for_report(
    inventory: Inventory, settings: CollectorSettings, store: StoreReader, current: History, model: ReportModel
) -> StructureSplit | None:
    """Both structures' figures for a report when the inventory was migrated and the
    report's data began before the switch (the former structure rebuilt from the
    communes' ``formerly``); None otherwise."""
    prev = inventory.previous
    start, end = model.data.start, model.data.end
    if prev is None or start >= prev.until.timestamp():
        return None  # not migrated, or the whole period is in the current structure
    previous = [
        StoredModel(Topology.build(old, settings), store, start, time.time()) for old in previous_structure(inventory)
    ]
    return structure_split(
        current, previous, until=prev.until.timestamp(), previous_edition=prev.edition, start=start, end=end
    )
