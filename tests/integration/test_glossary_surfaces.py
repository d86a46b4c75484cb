"""One glossary for every surface: the status page, its API, ``netmon site``, the Grafana
dashboards, the alert texts, the planners' report (HTML, CSV headers, XLSX sheet names and
headers, its refusals) and the report page name states, units and measures with the words
of :mod:`collector.glossary`, never with a variant it lists in ``AVOID`` ("không tới được",
"chưa rõ", "Tỷ lệ sẵn sàng", "Khả dụng" without its noun, "Tỷ lệ kết nối" without the
communes, an interface "lên", English units or causes in Vietnamese text, a doubled "Xã Xã")."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook
from rich.console import Console

from netmon.collector.glossary import AVOID, LANGUAGES, term
from netmon.collector.model import Reader, State
from netmon.collector.web import build_app
from netmon.exporters.grafana.dashboards import build
from netmon.exporters.report import NoData, Period, ReportModel, build_report
from netmon.exporters.report_render import data_statement, partial_warning, render_csv, render_html
from netmon.exporters.report_service import ReportService, ReportSettings
from netmon.exporters.report_xlsx import render_xlsx
from netmon.exporters.structures import Denominator, Part, StructureSplit
from netmon.site import render_commune, render_district
from tests.people_scenario import (
    BA_TO,
    DAY,
    HOUR,
    INTERVAL_S,
    LE_HONG_PHONG,
    MO_DUC,
    NOW,
    T0,
    TINH_KHE,
    engine_at,
    silent_agent_engine,
)

RULES = Path(__file__).resolve().parents[2] / "exporters" / "alerts" / "netmon-rules.yml"
#: What the page and the API show, over situations that use every state and every cause.
SITUATIONS: list[tuple[str, Any, list[str]]] = [
    (
        "tinh-khe-down",
        lambda: engine_at(T0 + 11 * HOUR),
        ["/", f"/commune/{TINH_KHE}", "/district/522", f"/commune/{LE_HONG_PHONG}"],  # a short reboot
    ),
    (
        "ba-to-cut",
        lambda: engine_at(T0 + 14.5 * HOUR),
        ["/", f"/district/{BA_TO}", "/commune/21484", "/district/536", f"/commune/{TINH_KHE}"],  # a reboot, counted
    ),
    ("silent-agent", silent_agent_engine, ["/", f"/district/{MO_DUC}", "/commune/21400", f"/commune/{TINH_KHE}"]),
]


def _visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL)
    attrs = " ".join(re.findall(r'(?:aria-label|placeholder|title)="([^"]*)"', page))
    return html.unescape(re.sub(r"<[^>]+>", " ", page) + " " + attrs)


def _strings(doc: Any) -> Iterator[str]:
    if isinstance(doc, str):
        yield doc
    elif isinstance(doc, dict):
        for v in doc.values():
            yield from _strings(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _strings(v)


def _check(lang: str, where: str, text: str) -> None:
    for pattern in AVOID[lang]:
        found = re.search(pattern, text, re.IGNORECASE)
        assert found is None, (
            f"{where}: {found.group(0)!r} (not the glossary's word) in …{text[max(0, found.start() - 60) : found.end() + 60]}…"
        )


async def _page_and_api(reader: Reader, paths: list[str], lang: str) -> list[tuple[str, str, Any]]:
    """(path, visible text of the page, the API's JSON) for each path."""
    client = TestClient(TestServer(build_app(reader)))
    await client.start_server()
    try:
        out = []
        for path in paths:
            page = await (await client.get(path, params={"lang": lang})).text()
            api_path = (
                "/api/v1/overview"
                if path == "/"
                else path.replace("/district/", "/api/v1/districts/").replace("/commune/", "/api/v1/communes/")
            )
            api = await (await client.get(api_path, params={"lang": lang})).json()
            out.append((path, _visible_text(page), api))
        return out
    finally:
        await client.close()


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize(("name", "reader", "paths"), SITUATIONS, ids=[s[0] for s in SITUATIONS])
async def test_page_api_and_site_use_only_glossary_words(name: str, reader: Any, paths: list[str], lang: str) -> None:
    seen_states: set[str] = set()
    pages = []
    for path, text, api in await _page_and_api(reader(), paths, lang):
        pages.append(text)
        _check(lang, f"page {path}", text)
        _check(lang, f"API {path}", " | ".join(_strings(api)))
        console = Console(record=True, width=200, color_system=None)
        console.print(
            render_commune(api, lang)
            if path.startswith("/commune/")
            else render_district(api, lang)
            if path.startswith("/district/")
            else ""
        )
        _check(lang, f"netmon site {path}", console.export_text())
        seen_states |= {s.value for s in State if f"{term(f'state.{s.value}', lang)}" in text}
    assert "up" in seen_states
    if name != "silent-agent":  # the reboots' lines were read too
        assert term("reboot", lang) in " ".join(pages)


async def test_the_page_s_state_badges_are_the_glossary_s_words() -> None:
    badges: set[str] = set()
    for _name, reader, paths in SITUATIONS:
        badges |= await _badges(reader(), paths)
    words = {term(f"state.{s.value}", "vi") for s in State}
    assert badges <= words
    assert badges >= words - {term("state.maintenance", "vi")}  # no maintenance in these situations


async def _badges(reader: Reader, paths: list[str]) -> set[str]:
    client = TestClient(TestServer(build_app(reader)))
    await client.start_server()
    try:
        found: set[str] = set()
        for path in paths:
            page = await (await client.get(path)).text()
            found |= set(re.findall(r'<span class="st st-\w+">([^<]+)</span>', page))
        return found
    finally:
        await client.close()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_grafana_uses_only_glossary_words(lang: str) -> None:
    for name, board in build(lang).items():
        texts = [board["title"]]
        for p in board["panels"]:
            texts.append(p["title"])
            texts += [t["legendFormat"] for t in p["targets"]]
            for m in p["fieldConfig"]["defaults"].get("mappings", []):
                texts += [o["text"] for o in m["options"].values()]
            texts += [link["title"] for link in p["fieldConfig"]["defaults"].get("links", [])]
            for t in p.get("transformations", []):
                texts += list(t["options"].get("renameByName", {}).values())
        texts += [v["label"] for v in board["templating"]["list"]]
        _check(lang, f"Grafana {name}", " | ".join(texts))
    # The state and measure words are the glossary's own.
    titles = {p["title"] for b in build(lang).values() for p in b["panels"]}
    assert term("availability", lang) in titles
    assert term("coverage", lang) in titles


def test_alert_texts_use_only_glossary_words() -> None:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    rules = {r["alert"]: r for g in doc["groups"] for r in g["rules"]}
    for name, r in rules.items():
        vi = r["annotations"]["summary_vi"]
        en = r["annotations"]["summary"]
        _check("vi", f"alert {name}", re.sub(r"\{\{.*?\}\}", "X", vi))
        _check("en", f"alert {name}", re.sub(r"\{\{.*?\}\}", "X", en))
    commune = rules["NetmonCommuneDown"]["annotations"]["summary_vi"]
    assert term("state.down", "vi") in commune
    assert term("state.unreachable", "vi") in commune
    assert term("coverage", "vi") in rules["NetmonCoverageBelowTarget"]["annotations"]["summary_vi"]
    assert term("agent", "vi").capitalize() in rules["NetmonAgentSilent"]["annotations"]["summary_vi"]
    assert term("monitoring_gap", "vi") in rules["NetmonAgentSilent"]["annotations"]["summary_vi"]
    assert term("loss", "vi").lower() in rules["NetmonSustainedPacketLoss"]["annotations"]["summary_vi"]
    assert term("rtt", "vi").lower() in rules["NetmonSustainedHighLatency"]["annotations"]["summary_vi"]


def _report(lang: str) -> ReportModel:
    """The scenario's day, from a day earlier: the data covers half of the period (the
    partial statement), and a section across a change of structure (its words)."""
    m = build_report(engine_at(NOW), Period(T0 - DAY, NOW, "2 days"), poll_interval_s=INTERVAL_S)
    split = StructureSplit(
        T0 + 12 * HOUR,
        (Part(T0, T0 + 12 * HOUR, "2021"), Part(T0 + 12 * HOUR, NOW, "2025")),
        (Denominator("2021", "Tỉnh Quảng Ngãi (51)", 13, 170, 170, 169, 0.99, (0.99, 0.98)),),
    )
    return replace(m, structures=split)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_report_uses_only_glossary_words(lang: str) -> None:
    m = _report(lang)
    page = _visible_text(render_html(m, lang))
    _check(lang, "report HTML", page)
    for word in ("availability", "coverage", "outages", "reboots"):
        assert term(word, lang) in page, word
    for name, text in render_csv(m, lang).items():
        rows = list(csv.reader(io.StringIO(text)))
        # the headers, and the information table's items (its values are numbers and times)
        cells = rows[0] + ([r[0] for r in rows] if name == "info.csv" else [])
        _check(lang, f"report CSV {name}", " | ".join(cells))
    wb = load_workbook(io.BytesIO(render_xlsx(m, lang)))
    _check(lang, "report XLSX sheet names", " | ".join(wb.sheetnames))
    for ws in wb.worksheets:
        rows = list(ws.iter_rows(values_only=True))
        cells = rows if ws is wb.worksheets[0] else rows[:1]  # the information sheet: all its words
        _check(lang, f"report XLSX {ws.title}", " | ".join(str(c) for r in cells for c in r if isinstance(c, str)))
    for text in (data_statement(m, lang), partial_warning(m, lang) or ""):
        _check(lang, "report data coverage", text)
    period = Period(T0 - 40 * DAY, T0 - 10 * DAY, "2026-09")
    for refusal in (
        NoData(period, last_data=None),
        NoData(period, last_data=NOW, next_data=T0),
        NoData(period, last_data=T0 - 50 * DAY),
        NoData(period, last_data=None, provisioned=0),
    ):
        _check(lang, "report refusal", refusal.message(lang))


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_the_report_page_uses_only_glossary_words(lang: str) -> None:
    settings = ReportSettings(poll_interval_s=INTERVAL_S, availability_target=0.99, coverage_target=1.0)
    app = build_app(engine_at(NOW), report_maker=ReportService(engine_at(NOW), settings))
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        for path, query in (
            ("/report", {}),
            ("/report/view", {"month": "2026-10"}),
            ("/report/view", {"month": "2025-01"}),  # refused: no data, with the reason
            ("/report/view", {"month": "2026-13"}),  # refused: not a month
        ):
            page = await (await client.get(path, params={**query, "lang": lang})).text()
            _check(lang, f"report page {path} {query}", _visible_text(page))
        picker = _visible_text(await (await client.get("/report", params={"lang": lang})).text())
        assert term("availability", lang).lower() in picker.lower()
    finally:
        await client.close()
