"""The collector's report page's :class:`~netmon.collector.web.reports.ReportMaker`: the
report of a period, rendered as HTML, XLSX or a zip of CSVs — made in the archive's worker
process over the store (the collector), or over a Reader in this process (tests)."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from netmon.collector.archive import ArchiveReader, worker_history, worker_settings
from netmon.collector.model import Reader
from netmon.collector.readmodel import StoredModel
from netmon.collector.web.reports import PeriodChoice, ReportFile, ReportFormat, ReportRefused, page_words
from netmon.exporters.report import NoData, Period, PeriodError, ReportModel, build_report, period_from
from netmon.exporters.report_render import render_csv, render_html, report_stem
from netmon.exporters.structures import StructureSplit, split_for_report

_XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class ReportSettings:
    """What a report takes from the collector's settings."""

    poll_interval_s: float
    availability_target: float
    coverage_target: float
    tz: str = "Asia/Ho_Chi_Minh"


@dataclass(frozen=True)
class ReportRequest:
    """What a planner asked for: a period, a format, a language, and the links the HTML view
    shows above the report."""

    choice: PeriodChoice
    fmt: ReportFormat
    lang: str
    links: tuple[tuple[str, str], ...]

    def period(self, tz: str) -> Period:
        """The period asked for (raises :class:`PeriodError`)."""
        c = self.choice
        return period_from(month=c.month, quarter=c.quarter, start=c.start, end=c.end, tz=tz)


def make_report(
    reader: Reader,
    settings: ReportSettings,
    request: ReportRequest,
    structures: Callable[[ReportModel], StructureSplit | None] | None = None,
) -> ReportFile:
    """The report asked for, over ``reader``; ``structures`` adds both structures' figures
    to a report across a change of structure.

    Raises:
        ReportRefused: 400 for a period not understood, 404 for a period without data.
    """
    lang, fmt, links = request.lang, request.fmt, request.links
    try:
        period = request.period(settings.tz)
    except PeriodError as exc:
        raise ReportRefused(f"{page_words(lang)['bad_period']}: {exc}", 400) from None
    try:
        m = build_report(
            reader,
            period,
            poll_interval_s=settings.poll_interval_s,
            availability_target=settings.availability_target,
            coverage_target=settings.coverage_target,
        )
    except NoData as exc:
        raise ReportRefused(exc.message(lang), 404) from None
    if structures is not None:
        m = replace(m, structures=structures(m))
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


class ReportService:
    """Makes reports over a Reader in this process (tests, and stores without a file)."""

    def __init__(self, reader: Reader, settings: ReportSettings) -> None:
        self._reader = reader
        self._settings = settings

    async def __call__(
        self, choice: PeriodChoice, fmt: ReportFormat, lang: str, links: Sequence[tuple[str, str]]
    ) -> ReportFile:
        """The report of ``choice`` in ``fmt`` (see :func:`make_report`)."""
        return make_report(self._reader, self._settings, ReportRequest(choice, fmt, lang, tuple(links)))


def _make_in_worker(settings: ReportSettings, request: ReportRequest) -> ReportFile:
    """In the archive's worker: the report over the store, read from the period's start."""
    history = worker_history()
    start = request.period(settings.tz).start
    reader = StoredModel(history.topology, history.store, start, time.time())

    def structures(m: ReportModel) -> StructureSplit | None:
        return split_for_report(history.topology.inventory, worker_settings(), history.store, reader, m)

    return make_report(reader, settings, request, structures)


class ArchivedReportService:
    """Makes reports in the archive's worker process, over the store: a national quarter
    is seconds of work that the collector's event loop (ingest) never waits for."""

    def __init__(self, archive: ArchiveReader, settings: ReportSettings) -> None:
        self._archive = archive
        self._settings = settings

    async def __call__(
        self, choice: PeriodChoice, fmt: ReportFormat, lang: str, links: Sequence[tuple[str, str]]
    ) -> ReportFile:
        """The report of ``choice`` in ``fmt`` (see :func:`make_report`)."""
        request = ReportRequest(choice, fmt, lang, tuple(links))
        try:
            request.period(self._settings.tz)
        except PeriodError as exc:
            raise ReportRefused(f"{page_words(lang)['bad_period']}: {exc}", 400) from None
        return await self._archive.run(_make_in_worker, self._settings, request)
