"""The collector's report page's :class:`~netmon.collector.web.reports.ReportMaker`: the
report of a period over the collector's own Reader, rendered as HTML, XLSX or a zip of CSVs."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

from netmon.collector.model import Reader
from netmon.collector.web.reports import PeriodChoice, ReportFile, ReportFormat, ReportRefused, page_words
from netmon.exporters.report import NoData, PeriodError, build_report, period_from
from netmon.exporters.report_render import render_csv, render_html, report_stem

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class ReportService:
    """Makes reports over a Reader with the collector's objectives and poll interval."""

    def __init__(
        self,
        reader: Reader,
        *,
        poll_interval_s: float,
        availability_target: float,
        coverage_target: float,
        tz: str = "Asia/Ho_Chi_Minh",
    ) -> None:
        self._reader = reader
        self._poll_interval_s = poll_interval_s
        self._availability_target = availability_target
        self._coverage_target = coverage_target
        self._tz = tz

    def __call__(
        self, choice: PeriodChoice, fmt: ReportFormat, lang: str, links: Sequence[tuple[str, str]]
    ) -> ReportFile:
        """The report of ``choice`` in ``fmt``.

        Raises:
            ReportRefused: 400 for a period not understood, 404 for a period without data.
        """
        try:
            period = period_from(
                month=choice.month, quarter=choice.quarter, start=choice.start, end=choice.end, tz=self._tz
            )
        except PeriodError as exc:
            raise ReportRefused(f"{page_words(lang)['bad_period']}: {exc}", 400) from None
        try:
            m = build_report(
                self._reader,
                period,
                poll_interval_s=self._poll_interval_s,
                availability_target=self._availability_target,
                coverage_target=self._coverage_target,
            )
        except NoData as exc:
            raise ReportRefused(exc.message(lang), 404) from None
        stem = report_stem(m, lang)
        if fmt == "html":
            return ReportFile(render_html(m, lang, links=links).encode(), "text/html; charset=utf-8", f"{stem}.html")
        if fmt == "xlsx":
            from netmon.exporters.report_xlsx import render_xlsx  # openpyxl loads on the first workbook

            return ReportFile(render_xlsx(m, lang), _XLSX, f"{stem}.xlsx")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in render_csv(m, lang).items():
                z.writestr(f"{stem}-{name}", "\ufeff" + text)  # the BOM lets Excel read Vietnamese correctly
        return ReportFile(buf.getvalue(), "application/zip", f"{stem}-csv.zip")
