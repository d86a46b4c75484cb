"""The report in a real headless Chromium: printed to PDF on A4 (no page wasted, names on one
line, tables within the page), read on a phone (nothing wider than the screen), and a
planner's way from the status page to a report and its workbook without a shell.
Screenshots and PDFs go to test-artifacts/."""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Browser, Page, sync_playwright

from netmon.exporters.report import Period, ReportModel, build_report
from netmon.exporters.report_render import render_html
from netmon.exporters.report_service import ReportService, ReportSettings
from tests.integration.test_browser import ARTIFACTS
from tests.people_scenario import INTERVAL_S, NOW, T0, engine_at
from tests.services_web import CHROMIUM, CHROMIUM_ARGS, PHONE, serve_app

#: A4 less the report's 12 mm page margins, in CSS pixels (96 per inch).
A4_CONTENT_W = (210 - 24) / 25.4 * 96
A4_CONTENT_H = (297 - 24) / 25.4 * 96


@pytest.fixture(scope="module")
def model() -> ReportModel:
    return build_report(engine_at(NOW), Period(T0, NOW, "2026-10-01"), poll_interval_s=INTERVAL_S)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _page(browser: Browser, viewport: dict[str, int], errors: list[str]) -> Page:
    ctx = browser.new_context(viewport=viewport, locale="vi-VN")  # type: ignore[arg-type]
    pg = ctx.new_page()
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return pg


def _pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?!s)", pdf))


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_report_prints_on_a4_without_a_wasted_page(browser: Browser, model: ReportModel, lang: str) -> None:
    errors: list[str] = []
    pg = _page(browser, {"width": 1000, "height": 1400}, errors)
    try:
        pg.set_content(render_html(model, lang))
        pdf = pg.pdf(path=str(ARTIFACTS / f"report-{lang}.pdf"), format="A4", print_background=True)
        pages = _pdf_pages(pdf)
        # The same layout as printed: print media at the width of the page's content.
        pg.emulate_media(media="print")
        pg.set_viewport_size({"width": math.floor(A4_CONTENT_W), "height": math.floor(A4_CONTENT_H)})
        height = pg.evaluate("document.documentElement.scrollHeight")
        assert pages == math.ceil(height / A4_CONTENT_H), (pages, height)
        assert pages <= 2
        # Names on one line, tables within the page's width.
        lines = pg.evaluate(
            """[...document.querySelectorAll('td.name, td.nw')].map(td => {
                const r = document.createRange(); r.selectNodeContents(td); return r.getClientRects().length; })"""
        )
        assert lines
        assert max(lines) == 1, lines
        right = pg.evaluate(
            "Math.max(...[...document.querySelectorAll('table, svg')].map(t => t.getBoundingClientRect().right))"
        )
        assert right <= A4_CONTENT_W
    finally:
        pg.context.close()
    assert errors == []


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_nothing_is_wider_than_a_phone(browser: Browser, model: ReportModel, lang: str) -> None:
    errors: list[str] = []
    pg = _page(browser, PHONE, errors)
    try:
        pg.set_content(render_html(model, lang))
        assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        rights = pg.evaluate("[...document.querySelectorAll('table, svg')].map(t => t.getBoundingClientRect().right)")
        assert rights
        assert max(rights) <= PHONE["width"]
        # Each row reads as a card: the name first, every figure beside its label.
        card = pg.locator("table.units tbody tr").first
        assert card.locator("td.name").bounding_box()["y"] < card.locator("td").first.bounding_box()["y"]  # type: ignore[index]
        label = pg.evaluate(
            "getComputedStyle(document.querySelector('table.units td[data-label]:not(.name)'), '::before').content"
        )
        assert label.strip('"') == ("Mã" if lang == "vi" else "Code")
        pg.screenshot(path=str(ARTIFACTS / f"report-phone-{lang}.png"), full_page=True)
    finally:
        pg.context.close()
    assert errors == []


def test_a_planner_goes_from_the_page_to_a_report_and_its_workbook(browser: Browser) -> None:
    service = ReportService(
        engine_at(NOW), ReportSettings(poll_interval_s=INTERVAL_S, availability_target=0.99, coverage_target=1.0)
    )
    errors: list[str] = []
    with serve_app(engine_at(NOW), report_maker=service, refresh_s=0) as url:
        pg = _page(browser, PHONE, errors)
        try:
            pg.goto(url + "/")
            pg.click("header a.reports")
            pg.wait_for_url("**/report")
            assert pg.locator("form.by-month input[name=month]").input_value() == "2026-10"
            assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            pg.screenshot(path=str(ARTIFACTS / "report-picker-phone.png"), full_page=True)
            pg.locator("form.by-quarter input[name=year]").fill("2026")
            pg.locator("form.by-quarter select[name=q]").select_option("4")
            pg.click("form.by-quarter button.primary")
            pg.wait_for_url("**/report/view?**")
            assert pg.locator("h1").inner_text() == "Báo cáo tỷ lệ xã kết nối và độ khả dụng mạng truyền số liệu chuyên dùng"
            assert "2026Q4" in pg.locator("p.meta").inner_text()
            # The report's own styles apply (its policy allows them): cards on a phone.
            assert pg.evaluate("getComputedStyle(document.querySelector('table.units tr')).display") == "flex"
            assert pg.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            with pg.expect_download() as download:
                pg.click("nav.links a:has-text('XLSX')")
            path = download.value.path()
            assert download.value.suggested_filename == "netmon-report-51-2026Q4-vi.xlsx"
            wb = load_workbook(io.BytesIO(Path(path).read_bytes()))
            assert wb.sheetnames[1] == "Đơn vị"
            assert errors == []
            # A period without data brings the planner back to the picker with the reason.
            pg.goto(url + "/report/view?month=2025-01")
            assert "Không có dữ liệu giám sát trong kỳ 2025-01" in pg.locator("p.report-error").inner_text()
        finally:
            pg.context.close()
    # The refused period's 404 is the one error the browser reports.
    assert len(errors) == 1
    assert "404" in errors[0]
