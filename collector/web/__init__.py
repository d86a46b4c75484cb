"""The collector's status page and JSON API (aiohttp): read-only, small, mobile-first.

Pages (Vietnamese by default, English by the switch: ``?lang=en``, kept in a cookie):
``/`` the province, ``/district/{code}`` and ``/commune/{code}`` (the site page), both over
a time range (``?range=24h|7d|30d``, or ``from``/``to``), ``/search?q=``. Behind every page, a JSON API under ``/api/v1/`` described by
``/api/v1/openapi.json``. Every value goes through jinja2's autoescape. With a token, every
request needs ``Authorization: Bearer <token>`` (or the ``netmon_token`` cookie, so a
reverse proxy or a bookmarklet can set it once for a phone's browser).

This module is the edge: what the pages say is computed in :mod:`collector.web.views`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from aiohttp import web
from markupsafe import Markup

from netmon.collector import glossary
from netmon.collector.archive import ArchiveReader
from netmon.collector.model import CoveragePoint, Reader, Scope, Snapshot, WindowFigures
from netmon.collector.search import SearchIndex
from netmon.collector.web import openapi, reports, svg, views
from netmon.collector.web.i18n import LANGUAGES, TZ, clock, duration, pick_language, words
from netmon.config.secrets import Secret

T = TypeVar("T")

__all__ = ["build_app"]

_HERE = Path(__file__).parent
#: Longest window an API query may ask for (the store keeps 800 days by default).
MAX_WINDOW_S = 1000 * 86400.0
#: Most points a coverage series may return.
MAX_POINTS = 5000
_SCOPES = ("device", "commune", "district", "province")

READER_KEY = web.AppKey("reader", Reader)
#: Reads of windows older than the collector's memory, in a worker process (None: on a thread).
ARCHIVE_KEY: web.AppKey[ArchiveReader | None] = web.AppKey("archive")
_STATE_KEY: web.AppKey[dict[str, Any]] = web.AppKey("web_state")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class BadRequest(ValueError):
    """A query parameter that cannot be used; answered with 400 and a JSON body."""

    def __init__(self, param: str, detail: str) -> None:
        self.param = param
        self.detail = detail
        super().__init__(f"{param}: {detail}")


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        text=json.dumps(data, ensure_ascii=False, allow_nan=False),
        status=status,
        content_type="application/json",
    )


def _error(status: int, error: str, detail: str) -> web.Response:
    return _json({"error": error, "detail": detail}, status=status)


def parse_time(param: str, raw: str | None, default: float | None = None) -> float:
    """A time parameter: Unix seconds or ISO 8601 (naive means Asia/Ho_Chi_Minh)."""
    if raw is None or raw == "":
        if default is None:
            raise BadRequest(param, "required")
        return default
    try:
        value = float(raw)
    except ValueError:
        try:
            dt = datetime.fromisoformat(raw)
        except ValueError:
            raise BadRequest(param, "not a Unix time or an ISO 8601 date/time") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=TZ)
        try:
            value = dt.timestamp()
        except (OverflowError, OSError, ValueError):
            raise BadRequest(param, "out of range") from None
    if not math.isfinite(value) or not 0 <= value < 1e11:
        raise BadRequest(param, "out of range")
    return value


def _window(request: web.Request, default_span: float) -> tuple[float, float]:
    now = request.app[READER_KEY].snapshot().taken_at
    end = parse_time("to", request.query.get("to"), now)
    start = parse_time("from", request.query.get("from"), end - default_span)
    if start >= end:
        raise BadRequest("from", "must be before 'to'")
    if end - start > MAX_WINDOW_S:
        raise BadRequest("from", f"window longer than {int(MAX_WINDOW_S // 86400)} days")
    return start, end


def _now(request: web.Request) -> float:
    return request.app[READER_KEY].snapshot().taken_at


def _int_param(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(name, "not an integer") from None
    if not lo <= value <= hi:
        raise BadRequest(name, f"must be between {lo} and {hi}")
    return value


def _lang(request: web.Request) -> str:
    return pick_language(request.query.get("lang"), request.cookies.get("lang"), request.app[_STATE_KEY]["language"])


def _range(request: web.Request) -> views.Window:
    """The time range of a district or site page (and its API): ``range=24h|7d|30d``, or
    ``from``/``to`` (a date alone means that whole day); the default is 7 days."""
    now = request.app[READER_KEY].snapshot().taken_at
    q = request.query
    key = q.get("range") or ""
    if key in views.RANGES:
        return views.Window.last(key, now)
    if key not in ("", "custom"):
        raise BadRequest("range", f"one of {', '.join(views.RANGES)}, custom")
    if not q.get("from") and not q.get("to"):
        return views.Window.last(views.DEFAULT_RANGE, now)
    raw_to = q.get("to")
    end = parse_time("to", raw_to, now)
    if raw_to and len(raw_to) == 10:  # YYYY-MM-DD: up to the end of that day
        end += 86400.0
    end = min(end, now)
    start = parse_time("from", q.get("from"), end - views.RANGES[views.DEFAULT_RANGE])
    if start >= end:
        raise BadRequest("from", "must be before 'to'")
    if end - start > MAX_WINDOW_S:
        raise BadRequest("from", f"window longer than {int(MAX_WINDOW_S // 86400)} days")
    return views.Window(start, end, "custom")


def _index(request: web.Request, snap: Snapshot) -> SearchIndex:
    state = request.app[_STATE_KEY]
    # Names and codes only change on an inventory reload; hashing them is cheap next to re-folding.
    key = hash(
        (
            tuple((c.code, c.name, c.district) for c in snap.communes.values()),
            tuple((d.code, d.name) for d in snap.districts.values()),
        )
    )
    if state.get("index_key") != key:
        state["index"] = SearchIndex.from_snapshot(snap)
        state["index_key"] = key
    index: SearchIndex = state["index"]
    return index


# --------------------------------------------------------------------------- middleware


def _token_ok(request: web.Request, token: Secret) -> bool:
    expected = token.reveal().encode()
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), expected):
        return True
    cookie = request.cookies.get("netmon_token")
    return cookie is not None and hmac.compare_digest(cookie.encode(), expected)


def _middlewares(token: Secret | None) -> list[Any]:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        is_api = request.path.startswith("/api/")
        if token is not None and not _token_ok(request, token):
            resp: web.StreamResponse = (
                _error(401, "unauthorized", "Authorization: Bearer <token> required")
                if is_api
                else web.Response(status=401, text=words(_lang(request))["unauthorized"])
            )
            resp.headers["WWW-Authenticate"] = 'Bearer realm="netmon"'
            return resp
        try:
            resp = await handler(request)
        except BadRequest as exc:
            resp = _error(400, "bad_request", str(exc)) if is_api else _page_bad_request(request, str(exc))
        except views.NotFound as exc:
            resp = _error(404, "not_found", str(exc)) if is_api else _page_not_found(request, str(exc))
        except web.HTTPException as exc:
            if not is_api or exc.status < 400:
                raise
            resp = _error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        )
        if not request.path.startswith("/static/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        if (
            isinstance(resp, web.Response)
            and "Content-Encoding" not in resp.headers  # e.g. /metrics compressing on its own
            and resp.body is not None
            and len(resp.body) > 1024  # type: ignore[arg-type]
        ):
            resp.enable_compression()
        return resp

    return [guard]


# --------------------------------------------------------------------------- pages


def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_HERE / "templates")),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["pct"] = lambda r: "–" if r is None else f"{r * 100:.1f}%"
    env.filters["ms"] = lambda s: "–" if s is None else f"{s * 1000:.1f} ms"
    env.globals["reason"] = glossary.reason  # a probe's failure code in words: reason(code, lang)
    return env


def _page(
    request: web.Request, template: str, data: dict[str, Any], status: int = 200, *, refresh: bool = True
) -> web.Response:
    state = request.app[_STATE_KEY]
    lang = _lang(request)
    w = words(lang)
    snap = request.app[READER_KEY].snapshot()
    now = data.get("taken_at", snap.taken_at)
    other = "en" if lang == "vi" else "vi"

    def when(ts: float | None) -> str:
        return "–" if ts is None else clock(ts, now)

    def dur(seconds: float | None) -> str:
        return duration(seconds, lang)

    def ifstate(code: int) -> str:
        return glossary.interface_state(code, lang)

    def day(ts: float) -> str:
        return datetime.fromtimestamp(ts, TZ).strftime("%Y-%m-%d")

    def spark(history: list[dict[str, Any]], label: str) -> Markup:
        # svg.sparkline escapes its labels and formats every number itself.
        return Markup(
            svg.sparkline([(p["ts"], p["rtt_avg_s"], p["ok"]) for p in history], label=label, empty=w["no_data"])
        )

    def bars(rows: list[tuple[str, float]], target: float) -> Markup:
        return Markup(svg.hbars(rows, target=target, title=w["coverage"]))

    html = (
        state["env"]
        .get_template(template)
        .render(
            d=data,
            w=w,
            lang=lang,
            other_lang=other,
            when=when,
            dur=dur,
            ifstate=ifstate,
            day=day,
            spark=spark,
            ranges=list(views.RANGES),
            bars=bars,
            path=request.path,
            q=request.query.get("q", ""),
            refresh_s=state["refresh_s"] if refresh else 0,
            store=snap.store,
        )
    )
    resp = web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
    if request.query.get("lang") in LANGUAGES:
        resp.set_cookie("lang", request.query["lang"], max_age=365 * 86400, samesite="Lax", httponly=True)
    return resp


def _page_not_found(request: web.Request, what: str) -> web.Response:
    return _page(request, "notfound.html.j2", {"what": what, "heading": words(_lang(request))["not_found"]}, 404)


def _page_bad_request(request: web.Request, what: str) -> web.Response:
    return _page(request, "notfound.html.j2", {"what": what, "heading": words(_lang(request))["bad_request"]}, 400)


async def overview_page(request: web.Request) -> web.StreamResponse:
    """The province overview."""
    reader = request.app[READER_KEY]
    data = views.overview(reader, reader.snapshot(), _lang(request), request.app[_STATE_KEY]["target"])
    return _page(request, "overview.html.j2", data)


async def district_page(request: web.Request) -> web.StreamResponse:
    """A district and its communes."""
    reader = request.app[READER_KEY]
    return _page(
        request,
        "district.html.j2",
        views.district(reader, reader.snapshot(), request.match_info["code"], _lang(request), _range(request)),
    )


async def commune_page(request: web.Request) -> web.StreamResponse:
    """The site page of a commune."""
    reader = request.app[READER_KEY]
    data = views.commune(reader, reader.snapshot(), request.match_info["code"], _lang(request), _range(request))
    return _page(request, "commune.html.j2", data)


async def search_page(request: web.Request) -> web.StreamResponse:
    """Search results; a single best match goes straight to its page."""
    reader = request.app[READER_KEY]
    snap = reader.snapshot()
    q = request.query.get("q", "")[:200]
    data = views.search(snap, _index(request, snap), q)
    best = [r for r in data["results"] if r["rank"] == 0]
    if len(best) == 1 or len(data["results"]) == 1:
        hit = best[0] if len(best) == 1 else data["results"][0]
        suffix = f"?lang={request.query['lang']}" if request.query.get("lang") in LANGUAGES else ""
        raise web.HTTPFound(f"/{hit['kind']}/{hit['code']}{suffix}")
    return _page(request, "search.html.j2", data)


# --------------------------------------------------------------------------- API


async def api_overview(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/overview."""
    reader = request.app[READER_KEY]
    return _json(views.overview(reader, reader.snapshot(), _lang(request), request.app[_STATE_KEY]["target"]))


async def api_district(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/districts/{code}?range=|from=&to=."""
    reader = request.app[READER_KEY]
    return _json(views.district(reader, reader.snapshot(), request.match_info["code"], _lang(request), _range(request)))


async def api_commune(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/communes/{code}?range=|from=&to=."""
    reader = request.app[READER_KEY]
    return _json(views.commune(reader, reader.snapshot(), request.match_info["code"], _lang(request), _range(request)))


async def api_device(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/devices/{id}?range=|from=&to=."""
    reader = request.app[READER_KEY]
    return _json(views.device(reader, reader.snapshot(), request.match_info["id"], _lang(request), _range(request)))


async def api_search(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/search?q=."""
    reader = request.app[READER_KEY]
    snap = reader.snapshot()
    q = request.query.get("q")
    if q is None:
        raise BadRequest("q", "required")
    if len(q) > 200:
        raise BadRequest("q", "longer than 200 characters")
    limit = _int_param(request, "limit", 20, 1, 500)
    return _json(views.search(snap, _index(request, snap), q, limit))


async def _figures(request: web.Request, scope: Scope, ident: str, start: float, end: float) -> WindowFigures:
    """A unit's figures over a window: from memory here; from the store in the archive's
    worker process (a 90-day national window is seconds of work: ingest must not wait)."""
    reader = request.app[READER_KEY]
    if not reader.reads_store(start):
        return reader.figures(scope, ident, start, end)
    archive = request.app[ARCHIVE_KEY]
    if archive is not None:
        return await archive.figures(scope, ident, start, end)
    return await asyncio.to_thread(reader.figures, scope, ident, start, end)


async def _coverage(
    request: web.Request, start: float, end: float, step: float
) -> tuple[list[CoveragePoint], WindowFigures]:
    """Province coverage over a window and the province's figures, read as :func:`_figures` reads."""
    reader = request.app[READER_KEY]
    province = reader.snapshot().province_code

    def read() -> tuple[list[CoveragePoint], WindowFigures]:
        return reader.coverage_series(start, end, step), reader.figures("province", province, start, end)

    if not reader.reads_store(start):
        return read()
    archive = request.app[ARCHIVE_KEY]
    if archive is not None:
        return await archive.coverage(start, end, step)
    return await asyncio.to_thread(read)


async def api_outages(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/outages?from=&to=&device=&commune=&district=&limit=."""
    reader = request.app[READER_KEY]
    start, end = _window(request, 86400.0)
    limit = _int_param(request, "limit", 1000, 1, 10000)
    q = request.query
    # Always from the store, on its own read-only connection: off the event loop.
    found = await asyncio.to_thread(
        reader.outages,
        start,
        end,
        device=q.get("device") or None,
        commune=q.get("commune") or None,
        district=q.get("district") or None,
        limit=limit,
    )
    snap, lang = reader.snapshot(), _lang(request)
    return _json({"from": start, "to": end, "outages": [views.outage_json(snap, o, lang) for o in found]})


def _check_scope(snap: Snapshot, scope: str | None, ident: str | None) -> tuple[str, str]:
    if scope not in _SCOPES:
        raise BadRequest("scope", f"one of {', '.join(_SCOPES)}")
    if scope == "province":
        return scope, snap.province_code
    known: set[str] = {
        "device": set(snap.devices),
        "commune": set(snap.communes),
        "district": set(snap.districts),
    }[scope]
    if not ident:
        raise BadRequest("id", "required for this scope")
    if ident not in known:
        raise views.NotFound(f"{scope} {ident}")
    return scope, ident


async def api_availability(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/availability?scope=&id=&from=&to=."""
    reader = request.app[READER_KEY]
    scope, ident = _check_scope(reader.snapshot(), request.query.get("scope"), request.query.get("id"))
    start, end = _window(request, 86400.0)
    fig = await _figures(request, scope, ident, start, end)  # type: ignore[arg-type]
    return _json(
        {
            "scope": scope,
            "id": ident,
            "from": start,
            "to": end,
            "availability": views.availability_json(fig.availability),
            "time_weighted_coverage": fig.time_weighted_coverage,
        }
    )


async def api_coverage(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/coverage?from=&to=&step=."""
    start, end = _window(request, 86400.0)
    span = end - start
    raw_step = request.query.get("step")
    if raw_step:
        try:
            step = float(raw_step)
        except ValueError:
            raise BadRequest("step", "not a number") from None
        if not math.isfinite(step) or step <= 0:
            raise BadRequest("step", "must be a positive number of seconds")
        if span / step > MAX_POINTS:
            raise BadRequest("step", f"more than {MAX_POINTS} points; use a larger step")
    else:
        step = max(60.0, span / 288)
    series, fig = await _coverage(request, start, end, step)
    return _json(
        {
            "from": start,
            "to": end,
            "step": step,
            "time_weighted_coverage": fig.time_weighted_coverage,
            "points": [
                {
                    "ts": p.ts,
                    "connected": p.connected,
                    "communes": p.communes,
                    "ratio": p.connected / p.communes if p.communes else 0.0,
                }
                for p in series
            ],
        }
    )


async def api_openapi(request: web.Request) -> web.StreamResponse:
    """GET /api/v1/openapi.json."""
    return _json(openapi.document())


def build_app(
    reader: Reader,
    *,
    token: Secret | None = None,
    language: str = "vi",
    extra_routes: Sequence[web.RouteDef] = (),
    coverage_target: float = 1.0,
    refresh_s: int = 30,
    archive: ArchiveReader | None = None,
    report_maker: reports.ReportMaker | None = None,
) -> web.Application:
    """The status page and JSON API over a Reader.

    Args:
        reader: The collector's read API (the engine, or a stand-in).
        token: When set, every request must carry it as a bearer token.
        language: Language when neither ``?lang=`` nor the cookie (the switch) decide.
        extra_routes: More routes on the same app (the collector adds ``/metrics``).
        coverage_target: Share of communes the province aims to connect (the overview's line).
        refresh_s: Pages refresh their content in place this often (0: never).
        archive: Reads windows older than the reader's memory in a worker process (None:
            on a thread).
        report_maker: When set, ``/report`` serves the planners' reports (linked from every page).
    """
    app = web.Application(middlewares=_middlewares(token))
    app[READER_KEY] = reader
    app[ARCHIVE_KEY] = archive
    app[_STATE_KEY] = {
        "env": _env(),
        "language": language if language in LANGUAGES else "vi",
        "target": coverage_target,
        "refresh_s": refresh_s,
    }
    app.router.add_get("/", overview_page, name="overview")
    app.router.add_get("/district/{code}", district_page)
    app.router.add_get("/commune/{code}", commune_page)
    app.router.add_get("/search", search_page)
    app.router.add_static("/static/", _HERE / "static", append_version=True)
    app.router.add_get("/api/v1/overview", api_overview)
    app.router.add_get("/api/v1/districts/{code}", api_district)
    app.router.add_get("/api/v1/communes/{code}", api_commune)
    app.router.add_get("/api/v1/devices/{id}", api_device)
    app.router.add_get("/api/v1/search", api_search)
    app.router.add_get("/api/v1/outages", api_outages)
    app.router.add_get("/api/v1/availability", api_availability)
    app.router.add_get("/api/v1/coverage", api_coverage)
    app.router.add_get("/api/v1/openapi.json", api_openapi)
    app[_STATE_KEY]["env"].globals["reports_nav"] = reports.NAV if report_maker is not None else None
    if report_maker is not None:
        app.add_routes(reports.routes(report_maker, page=_page, lang_of=_lang, now_of=_now))
    app.add_routes(list(extra_routes))
    return app
