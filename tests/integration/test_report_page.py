"""The collector's report page over the known-outage scenario (a real aiohttp server): the
period picker, the HTML view, the XLSX and CSV downloads, and clear refusals."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from openpyxl import load_workbook

from netmon.collector.web import build_app
from netmon.collector.web.reports import REPORT_CSP, PeriodChoice, choice_from_query
from netmon.exporters.report_service import ReportService, ReportSettings
from tests.people_scenario import INTERVAL_S, NOW, ba_to_communes, engine_at, inventory


def _service() -> ReportService:
    return ReportService(
        engine_at(NOW), ReportSettings(poll_interval_s=INTERVAL_S, availability_target=0.99, coverage_target=1.0)
    )


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    c = TestClient(TestServer(build_app(engine_at(NOW), report_maker=_service())))
    await c.start_server()
    yield c
    await c.close()


async def test_every_page_links_to_the_reports(client: TestClient) -> None:
    html = await (await client.get("/")).text()
    assert '<a class="reports" href="/report">Báo cáo</a>' in html
    html = await (await client.get("/district/535?lang=en")).text()
    assert '<a class="reports" href="/report">Reports</a>' in html


async def test_without_a_report_maker_there_is_no_link_and_no_page() -> None:
    c = TestClient(TestServer(build_app(engine_at(NOW))))
    await c.start_server()
    try:
        assert 'href="/report"' not in await (await c.get("/")).text()
        assert (await c.get("/report")).status == 404
    finally:
        await c.close()


async def test_the_picker_proposes_the_month_under_way_and_does_not_refresh(client: TestClient) -> None:
    resp = await client.get("/report")
    assert resp.status == 200
    html = await resp.text()
    assert '<body data-refresh="0" ' in html  # what the planner types is not swapped away
    assert 'name="month" value="2026-10"' in html
    assert '<option value="4" selected>Quý 4</option>' in html
    assert 'name="from" value="2026-10-01"' in html
    assert html.count('<form action="/report/view" method="get"') == 3


async def test_the_html_view_carries_its_downloads_and_its_own_policy(client: TestClient) -> None:
    resp = await client.get("/report/view", params={"month": "2026-10"})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "text/html; charset=utf-8"
    assert resp.headers["Content-Security-Policy"] == REPORT_CSP
    assert resp.headers["Content-Disposition"].startswith("inline;")
    html = await resp.text()
    assert "Báo cáo tỷ lệ xã kết nối và độ khả dụng mạng truyền số liệu chuyên dùng" in html
    assert "Kỳ báo cáo chưa kết thúc." in html
    assert 'href="/report/view?month=2026-10&amp;lang=vi&amp;format=xlsx"' in html
    assert 'href="/report/view?month=2026-10&amp;lang=vi&amp;format=csv"' in html


async def test_xlsx_and_csv_downloads(client: TestClient) -> None:
    resp = await client.get("/report/view", params={"quarter": "2026Q4", "format": "xlsx", "lang": "en"})
    assert resp.status == 200
    assert resp.headers["Content-Disposition"] == "attachment; filename*=UTF-8''netmon-report-51-2026Q4-en.xlsx"
    wb = load_workbook(io.BytesIO(await resp.read()))
    assert wb.sheetnames[:2] == ["Info", "Units"]
    resp = await client.get("/report/view", params={"year": "2026", "q": "4", "format": "csv"})
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/zip"
    z = zipfile.ZipFile(io.BytesIO(await resp.read()))
    names = sorted(z.namelist())
    assert names == sorted(
        f"netmon-report-51-2026Q4-vi-{t}.csv" for t in ("units", "communes", "worst", "coverage_series", "info")
    )
    units = z.read("netmon-report-51-2026Q4-vi-units.csv").decode("utf-8")
    assert units.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(units.lstrip("\ufeff"))))
    assert rows[-1][0] == "51"
    assert int(rows[-1][9]) == 2 + ba_to_communes(inventory())  # outages of the scenario's day


async def test_a_range_of_days_includes_its_last_day(client: TestClient) -> None:
    resp = await client.get("/report/view", params={"from": "2026-10-01", "until": "2026-10-01"})
    assert resp.status == 200
    html = await resp.text()
    assert "(01/10/2026 00:00 – 02/10/2026 00:00, Asia/Ho_Chi_Minh)" in html
    assert "Dữ liệu giám sát phủ toàn bộ kỳ báo cáo." in html


@pytest.mark.parametrize(
    ("params", "status", "message"),
    [
        (
            {"month": "2025-01"},
            404,
            "Không có dữ liệu giám sát trong kỳ 2025-01 (01/01/2025 00:00 – 01/02/2025 00:00). "
            "Dữ liệu đầu tiên sau kỳ này: 01/10/2026 00:00.",
        ),
        ({"from": "2026-10-05", "until": "2026-10-01"}, 400, "Ngày kết thúc phải từ ngày bắt đầu trở đi."),
        ({"month": "2026-13"}, 400, "Kỳ báo cáo không hợp lệ"),
        ({}, 400, "Chưa chọn kỳ báo cáo."),
        ({"month": "2026-10", "format": "pdf"}, 400, "format=pdf"),
    ],
)
async def test_refusals_come_back_to_the_picker_with_the_reason(
    client: TestClient, params: dict[str, str], status: int, message: str
) -> None:
    resp = await client.get("/report/view", params=params)
    assert resp.status == status
    html = await resp.text()
    assert '<p class="report-error" role="alert">' in html
    assert message in html
    assert 'name="month"' in html  # the picker, to try another period


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"month": "2026-10"}, PeriodChoice(month="2026-10")),
        ({"quarter": "2026Q3"}, PeriodChoice(quarter="2026Q3")),
        ({"year": "2026", "q": "3"}, PeriodChoice(quarter="2026Q3")),
        ({"from": "2026-01-01", "to": "2026-07-01"}, PeriodChoice(start="2026-01-01", end="2026-07-01")),
        ({"from": "2026-01-01", "until": "2026-06-30"}, PeriodChoice(start="2026-01-01", end="2026-07-01")),
        ({"from": "2026-12-31", "until": "2026-12-31"}, PeriodChoice(start="2026-12-31", end="2027-01-01")),
        ({"from": "2026-01-02", "until": "2026-01-01"}, "bad_range"),
        ({"from": "x", "until": "y"}, PeriodChoice(start="x", end="y")),
        ({}, "missing"),
        ({"year": "2026"}, "missing"),
    ],
)
def test_choice_from_query(query: dict[str, str], expected: PeriodChoice | str) -> None:
    assert choice_from_query(query) == expected


async def test_the_collectors_reports_are_made_in_the_archive_worker_and_agree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The collector makes reports in its archive's worker process, over the store (a
    # national quarter must not hold up ingest): the same report as one made in-process.
    from netmon.collector.archive import ArchiveReader
    from netmon.exporters.report_service import ArchivedReportService
    from tests.people_scenario import engine_settings, scenario_engine

    path = str(tmp_path / "store.sqlite")
    engine = scenario_engine(path)
    settings = ReportSettings(poll_interval_s=INTERVAL_S, availability_target=0.99, coverage_target=1.0)
    archive = ArchiveReader(inventory(), engine_settings(path), path)
    choice = PeriodChoice(month="2026-10")
    try:
        here = await ReportService(engine, settings)(choice, "csv", "vi", [])
        there = await ArchivedReportService(archive, settings)(choice, "csv", "vi", [])
    finally:
        archive.close()
        engine.close()

    def tables(body: bytes) -> dict[str, str]:
        with zipfile.ZipFile(io.BytesIO(body)) as z:
            return {
                n.rsplit("-", 1)[-1]: z.read(n).decode("utf-8-sig") for n in z.namelist() if not n.endswith("info.csv")
            }

    assert there.filename == here.filename
    assert tables(there.body) == tables(here.body)
    assert "units.csv" in tables(there.body)
