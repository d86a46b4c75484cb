"""The report's workbook as a planner opens it (read back with openpyxl): sheets named in the
report's language, number formats, real date-times, fitted widths, filters, frozen headers."""

from __future__ import annotations

import io
from datetime import datetime

import pytest
from openpyxl import load_workbook
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from netmon.exporters.report import Period, ReportModel, build_report
from netmon.exporters.report_xlsx import render_xlsx
from tests.people_scenario import INTERVAL_S, NOW, T0, TINH_KHE, engine_at

N = 170


@pytest.fixture(scope="module")
def model() -> ReportModel:
    return build_report(engine_at(NOW), Period(T0, NOW, "2026-10-01"), poll_interval_s=INTERVAL_S)


def _open(m: ReportModel, lang: str) -> Workbook:
    return load_workbook(io.BytesIO(render_xlsx(m, lang)))


def _column(ws: Worksheet, title: str) -> int:
    return next(c.column for c in ws[1] if c.value == title)


def test_sheets_are_named_in_the_reports_language(model: ReportModel) -> None:
    assert _open(model, "vi").sheetnames == ["Thông tin", "Đơn vị", "Xã", "Xã có độ khả dụng thấp nhất", "Diễn biến kết nối"]
    assert _open(model, "en").sheetnames == ["Info", "Units", "Communes", "Lowest availability", "Coverage over time"]


def test_ratios_hours_and_times_have_formats_and_types(model: ReportModel) -> None:
    wb = _open(model, "vi")
    units = wb["Đơn vị"]
    for title, fmt in [
        ("Độ khả dụng", "0.00%"),
        ("Tỷ lệ xã kết nối bình quân theo thời gian", "0.00%"),
        ("Tổng thời gian mất kết nối (giờ)", "0.00"),
        ("Không có dữ liệu giám sát (giờ)", "0.00"),
        ("Bảo trì (giờ)", "0.00"),
    ]:
        col = _column(units, title)
        cells = [row[0] for row in units.iter_rows(min_row=2, min_col=col, max_col=col) if row[0].value is not None]
        assert cells, title
        assert {c.number_format for c in cells} == {fmt}, title
        assert all(isinstance(c.value, int | float) for c in cells), title
    communes = wb["Xã"]
    tk = next(r for r in communes.iter_rows(min_row=2) if r[0].value == TINH_KHE)
    assert tk[_column(communes, "Tổng thời gian mất kết nối (giờ)") - 1].value == pytest.approx(2.0)
    series = wb["Diễn biến kết nối"]
    first = series.cell(row=2, column=1)
    assert isinstance(first.value, datetime)
    assert first.value == datetime(2026, 10, 1, 0, 0)  # local wall time of the period's zone
    assert first.number_format == "dd/mm/yyyy hh:mm"
    assert series.cell(row=2, column=2).number_format == "0.00%"
    info = {r[0].value: r[1] for r in wb["Thông tin"].iter_rows(min_row=4) if r[0].value and len(r) > 1}
    assert info["Đầu kỳ"].value == datetime(2026, 10, 1, 0, 0)
    assert info["Múi giờ"].value == "Asia/Ho_Chi_Minh"
    assert info["Mức phủ dữ liệu giám sát của kỳ"].value == pytest.approx(1.0)
    assert info["Mức phủ dữ liệu giám sát của kỳ"].number_format == "0.00%"


def test_every_table_can_be_sorted_and_filtered(model: ReportModel) -> None:
    wb = _open(model, "vi")
    for name, rows in [("Đơn vị", 1 + len(model.districts)), ("Xã", 1 + N), ("Diễn biến kết nối", None)]:
        ws = wb[name]
        assert ws.auto_filter.ref is not None, name
        first, last = ws.auto_filter.ref.split(":")
        assert first == "A1"
        assert last == f"{ws.cell(row=1, column=ws.max_column).column_letter}{rows or ws.max_row}", name
        assert ws.freeze_panes in ("A2", "C2"), name
        assert all(c.font.bold for c in ws[1]), name
    # The province's total row stays below the filtered districts, so sorting them leaves it last.
    units = wb["Đơn vị"]
    assert units.cell(row=units.max_row, column=1).value == "51"
    assert units.cell(row=units.max_row - 1, column=1).value is None
    assert wb["Xã"].freeze_panes == "C2"  # code and name stay in view


def test_widths_fit_the_names(model: ReportModel) -> None:
    ws = _open(model, "vi")["Xã"]
    for title in ("Tên", "Huyện"):
        col = _column(ws, title)
        longest = max(len(str(r[0].value)) for r in ws.iter_rows(min_row=2, min_col=col, max_col=col))
        width = ws.column_dimensions[ws.cell(row=1, column=col).column_letter].width
        assert longest < width <= longest + 4, title
