"""The coverage report as an XLSX workbook a planner can sort and filter; pure (bytes out).

One sheet per table, named in the report's language, after an information sheet (period,
the part of it with data, objectives). Every table has a bold wrapped header frozen with
its code and name columns, an autofilter, widths fitted to its contents, percentages,
hours with two decimals and real date-times (local to the period's time zone, which the
information sheet names: spreadsheet cells carry no time zone).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from netmon.exporters.report import ReportModel
from netmon.exporters.report_render import Column, ColumnKind, Table, data_statement, report_info, report_tables
from netmon.exporters.report_words import XLSX_TIME_FORMAT, report_words

#: Number formats per kind of column (times: per language).
_FORMATS: dict[ColumnKind, str] = {"count": "0", "ratio": "0.00%", "hours": "0.00"}
#: Width (characters) of columns by kind; text columns are fitted to their longest value.
_WIDTHS: dict[ColumnKind, int] = {"count": 9, "ratio": 10, "hours": 10, "time": 17, "flag": 9}
#: A header wraps onto lines of about this many characters.
_HEADER_LINE = 16
_MAX_TEXT_WIDTH = 50


def _cell_value(v: object, kind: ColumnKind, w: dict[str, str]) -> object:
    if isinstance(v, bool):
        return w["yes"] if v else w["no"]
    if isinstance(v, datetime):
        return v.replace(tzinfo=None)  # local wall time; the information sheet names the zone
    return v


def _fit(ws: Worksheet, columns: Sequence[Column], rows: Sequence[Sequence[object]]) -> None:
    for idx, col in enumerate(columns, start=1):
        if col.kind == "text":
            longest = max((len(str(r[idx - 1])) for r in rows if r[idx - 1] is not None), default=0)
        else:
            longest = _WIDTHS[col.kind]
        # The header wraps: it needs its longest word, and no more than a few lines.
        header = max(min(len(col.title), _HEADER_LINE), *(len(word) for word in col.title.split()))
        ws.column_dimensions[get_column_letter(idx)].width = min(_MAX_TEXT_WIDTH, max(longest, header) + 2)


def _sheet(wb: Workbook, t: Table, lang: str) -> None:
    w = report_words(lang)
    ws = wb.create_sheet(title=t.sheet[:31])
    ws.append([c.title for c in t.columns])
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    # The province's total row stays out of the filtered and sorted range, below a blank row.
    body = t.rows[:-1] if t.key == "units" else t.rows
    for row in body:
        ws.append([_cell_value(v, c.kind, w) for v, c in zip(row, t.columns, strict=True)])
    last_filtered = ws.max_row
    if t.key == "units" and t.rows:
        ws.append([])
        ws.append([_cell_value(v, c.kind, w) for v, c in zip(t.rows[-1], t.columns, strict=True)])
        for cell in ws[ws.max_row]:
            cell.font = Font(bold=True)
    for idx, col in enumerate(t.columns, start=1):
        fmt = XLSX_TIME_FORMAT.get(lang, XLSX_TIME_FORMAT["vi"]) if col.kind == "time" else _FORMATS.get(col.kind)
        if fmt:
            for (cell,) in ws.iter_rows(min_row=2, min_col=idx, max_col=idx):
                cell.number_format = fmt
    _fit(ws, t.columns, t.rows)
    ws.freeze_panes = ws.cell(row=2, column=t.frozen_columns + 1)
    ws.auto_filter.ref = f"A1:{get_column_letter(len(t.columns))}{max(last_filtered, 1)}"


def render_xlsx(m: ReportModel, lang: str = "vi") -> bytes:
    """The report as an XLSX workbook: an information sheet, then one sheet per table."""
    w = report_words(lang)
    wb = Workbook()
    if wb.active is not None:
        wb.remove(wb.active)
    info = wb.create_sheet(title=w["sheet.info"])
    info.append([w["title"]])
    info["A1"].font = Font(bold=True, size=13)
    info.append([m.province_name])
    info.append([w["item"], w["value"]])
    for cell in info[3]:
        cell.font = Font(bold=True)
    for r in report_info(m, lang):
        info.append([r.item, _cell_value(r.value, r.kind, w)])
        cell = info.cell(row=info.max_row, column=2)
        cell.alignment = Alignment(horizontal="left")
        if r.kind == "time":
            cell.number_format = XLSX_TIME_FORMAT.get(lang, XLSX_TIME_FORMAT["vi"])
        elif r.kind in _FORMATS:
            cell.number_format = _FORMATS[r.kind]
    info.append([])
    info.append([data_statement(m, lang)])
    info.append([w["notes"]])
    info.column_dimensions["A"].width = max(len(r.item) for r in report_info(m, lang)) + 2
    info.column_dimensions["B"].width = 20
    for t in report_tables(m, lang):
        _sheet(wb, t, lang)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
