"""Issue 14 item 7 in the report: a unit without communes (Lý Sơn) has no coverage, in
the CSV as in the HTML (empty / "–", never 0 %), and never heads a ranking."""

from __future__ import annotations

import csv
import io

from netmon.exporters.report import Period, build_report
from netmon.exporters.report_render import render_csv, render_html
from netmon.exporters.report_xlsx import render_xlsx
from tests.people_scenario import INTERVAL_S, LY_SON, NOW, T0, engine_at


def test_a_unit_without_communes_has_no_coverage_in_csv_xlsx_and_html() -> None:
    model = build_report(engine_at(NOW), Period(T0, NOW, "2026-10-01"), poll_interval_s=INTERVAL_S)
    rows = list(csv.reader(io.StringIO(render_csv(model, "vi")["units.csv"])))
    header, ly_son = rows[0], next(r for r in rows if r[0] == LY_SON)
    for column in ("Tỷ lệ xã kết nối cuối kỳ", "Tỷ lệ xã kết nối bình quân theo thời gian"):
        assert ly_son[header.index(column)] == "", column
    others = [r for r in rows[1:] if r[0] != LY_SON]
    assert all(r[header.index("Tỷ lệ xã kết nối cuối kỳ")] for r in others)
    page = render_html(model, "vi")
    row = page[page.index(f'data-code="{LY_SON}"') :].split("</tr>", 1)[0]
    assert "0.00%" not in row
    assert "–" in row
    assert render_xlsx(model, "vi")  # renders with the empty cells
