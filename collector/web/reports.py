"""The planners' report page: pick a period (a month, a quarter or a range of days), view the
report, download it as XLSX or CSV, without a shell.

``/report`` is the picker; ``/report/view?month=2026-10`` (or ``quarter=2026Q3``, or
``from=2026-01-01&to=2026-07-01``, ``to`` exclusive as for ``netmon report``) answers the
report, in HTML by default or as ``format=xlsx`` / ``format=csv`` (a zip of the CSV tables).
The report itself is made by a :class:`ReportMaker` the collector passes in (the exporters
layer computes and renders it; this module only speaks HTTP); the collector's makes it in
the archive's worker process, so a national quarter never holds up ingest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal, Protocol
from urllib.parse import quote, urlencode

from aiohttp import web

from netmon.collector.glossary import LANGUAGES, term
from netmon.collector.web.i18n import TZ

ReportFormat = Literal["html", "xlsx", "csv"]
FORMATS: tuple[ReportFormat, ...] = ("html", "xlsx", "csv")

#: The link in the page's header, per language.
NAV = {"vi": "Báo cáo", "en": "Reports"}
#: The glossary's terms the picker names, inside a sentence (lower case).
_T = {
    lang: {k: term(k, lang).lower() for k in ("coverage", "availability", "outages", "reboots")} for lang in LANGUAGES
}

_WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "title": f"Báo cáo {_T['vi']['coverage']} và {_T['vi']['availability']}",
        "intro": f"Chọn kỳ báo cáo. Báo cáo gồm {_T['vi']['coverage']}, {_T['vi']['availability']}, "
        f"{_T['vi']['outages']} và {_T['vi']['reboots']} theo huyện và toàn tỉnh; xem trên màn hình, "
        "in ra giấy A4 hoặc tải về dạng XLSX, CSV.",
        "by_month": "Theo tháng",
        "by_quarter": "Theo quý",
        "by_range": "Theo khoảng ngày",
        "month": "Tháng",
        "year": "Năm",
        "quarter": "Quý",
        "from": "Từ ngày",
        "until": "Đến hết ngày",
        "view": "Xem báo cáo",
        "xlsx": "Tải XLSX",
        "csv": "Tải CSV (zip)",
        "other": "Chọn kỳ khác",
        "bad_range": "Ngày kết thúc phải từ ngày bắt đầu trở đi.",
        "missing": "Chưa chọn kỳ báo cáo.",
        "bad_period": "Kỳ báo cáo không hợp lệ",
    },
    "en": {
        "title": f"{_T['en']['coverage'].capitalize()} and {_T['en']['availability']} report",
        "intro": f"Pick a period. The report gives the {_T['en']['coverage']}, {_T['en']['availability']}, "
        f"{_T['en']['outages']} and {_T['en']['reboots']} per district and for the province; view it on "
        "screen, print it on A4 or download it as XLSX or CSV.",
        "by_month": "By month",
        "by_quarter": "By quarter",
        "by_range": "By range of days",
        "month": "Month",
        "year": "Year",
        "quarter": "Quarter",
        "from": "From",
        "until": "Until (inclusive)",
        "view": "View the report",
        "xlsx": "Download XLSX",
        "csv": "Download CSV (zip)",
        "other": "Another period",
        "bad_range": "The last day must not be before the first.",
        "missing": "No period chosen.",
        "bad_period": "Period not understood",
    },
}


def page_words(lang: str) -> dict[str, str]:
    """The picker's vocabulary (Vietnamese for anything unknown)."""
    return _WORDS.get(lang, _WORDS["vi"])


@dataclass(frozen=True, slots=True)
class PeriodChoice:
    """A period as ``netmon report`` names it: a month, a quarter, or ``start``/``end``
    (ISO dates, ``end`` exclusive)."""

    month: str | None = None
    quarter: str | None = None
    start: str | None = None
    end: str | None = None

    def query(self) -> dict[str, str]:
        """The query parameters naming this period in a ``/report/view`` URL."""
        if self.month:
            return {"month": self.month}
        if self.quarter:
            return {"quarter": self.quarter}
        return {"from": self.start or "", "to": self.end or ""}


@dataclass(frozen=True, slots=True)
class ReportFile:
    """A rendered report: its bytes, media type and file name."""

    body: bytes
    content_type: str
    filename: str


class ReportRefused(Exception):
    """The report cannot be made for this period: ``message`` says why, for the planner.

    Attributes:
        message: In the planner's language.
        status: The HTTP status to answer with (400 a period not understood, 404 no data).
    """

    def __init__(self, message: str, status: int) -> None:
        self.message = message
        self.status = status
        super().__init__(message)


class ReportMaker(Protocol):
    """Makes the report of a period in a format and a language.

    Raises:
        ReportRefused: for a period not understood or without data.
    """

    async def __call__(
        self, choice: PeriodChoice, fmt: ReportFormat, lang: str, links: Sequence[tuple[str, str]]
    ) -> ReportFile:
        """``links``: (label, href) pairs the HTML view shows above the report (never printed)."""
        ...


PageRenderer = Callable[..., web.Response]

#: The HTML report is self-contained (inline styles, inline SVG): its own policy allows
#: exactly that, and nothing else to load.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

_MONTH = re.compile(r"\d{4}-\d{2}")
_YEAR = re.compile(r"\d{4}")


def choice_from_query(q: Mapping[str, str]) -> PeriodChoice | str:
    """The period a picker form or a view URL names, or the key of a message saying why not.

    Accepts ``month``; ``quarter`` or ``year`` with ``q``; ``from`` with ``to`` (exclusive)
    or ``until`` (the last day, inclusive, as the form asks for it).
    """
    if q.get("month"):
        return PeriodChoice(month=q["month"])
    if q.get("quarter"):
        return PeriodChoice(quarter=q["quarter"])
    if q.get("year") and q.get("q"):
        return PeriodChoice(quarter=f"{q['year']}Q{q['q']}")
    start, end, until = q.get("from"), q.get("to"), q.get("until")
    if start and until and not end:
        try:
            first, last = date.fromisoformat(start), date.fromisoformat(until)
        except ValueError:
            return PeriodChoice(start=start, end=until)  # the maker says what is wrong
        if last < first:
            return "bad_range"
        return PeriodChoice(start=start, end=(last + timedelta(days=1)).isoformat())
    if start or end:
        return PeriodChoice(start=start, end=end)
    return "missing"


def _defaults(now: float, q: Mapping[str, str]) -> dict[str, str]:
    """The form's values: what was asked, else the month and quarter under way."""
    today = datetime.fromtimestamp(now, TZ).date()
    month, year, quarter = q.get("month", ""), q.get("year", ""), q.get("q", "")
    return {
        "month": month if _MONTH.fullmatch(month) else f"{today.year:04d}-{today.month:02d}",
        "year": year if _YEAR.fullmatch(year) else f"{today.year:04d}",
        "q": quarter if quarter in ("1", "2", "3", "4") else str((today.month - 1) // 3 + 1),
        "from": q.get("from") or today.replace(day=1).isoformat(),
        "until": q.get("until") or today.isoformat(),
    }


def routes(
    maker: ReportMaker,
    *,
    page: PageRenderer,
    lang_of: Callable[[web.Request], str],
    now_of: Callable[[web.Request], float],
) -> list[web.RouteDef]:
    """The report page's routes.

    Args:
        maker: Makes the report files.
        page: Renders a template of the site (``page(request, template, data, status=,
            refresh=)``), so the picker has the site's header and language.
        lang_of: The request's language.
        now_of: The collector's present (the picker proposes the month under way).
    """

    def picker(request: web.Request, *, error: str | None = None, status: int = 200) -> web.Response:
        lang = lang_of(request)
        data = {"t": page_words(lang), "form": _defaults(now_of(request), request.query), "error": error}
        return page(request, "reports.html.j2", data, status=status, refresh=False)

    async def report_page(request: web.Request) -> web.StreamResponse:
        return picker(request)

    async def report_view(request: web.Request) -> web.StreamResponse:
        lang = lang_of(request)
        t = page_words(lang)
        fmt = request.query.get("format", "html")
        if fmt not in FORMATS:
            return picker(request, error=f"{t['bad_period']}: format={fmt}", status=400)
        choice = choice_from_query(request.query)
        if isinstance(choice, str):
            return picker(request, error=t[choice], status=400)
        base = {**choice.query(), "lang": lang}
        links = [
            (t["xlsx"], "/report/view?" + urlencode({**base, "format": "xlsx"})),
            (t["csv"], "/report/view?" + urlencode({**base, "format": "csv"})),
            (t["other"], "/report?" + urlencode(base)),
        ]
        try:
            made = await maker(choice, fmt, lang, links)
        except ReportRefused as exc:
            return picker(request, error=exc.message, status=exc.status)
        resp = web.Response(body=made.body, headers={"Content-Type": made.content_type})
        disposition = "inline" if fmt == "html" else "attachment"
        resp.headers["Content-Disposition"] = f"{disposition}; filename*=UTF-8''{quote(made.filename)}"
        if fmt == "html":
            resp.headers["Content-Security-Policy"] = REPORT_CSP
        return resp

    return [web.get("/report", report_page), web.get("/report/view", report_view)]
