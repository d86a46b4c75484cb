"""``netmon site QUERY``: a commune's equipment in the terminal, from the collector's API.

The same facts as the web site page: state and why, each device's state, since when, when
it last answered, latency/loss/jitter (the SNMP response time when ICMP is off) with a small
history line, SNMP uptime, reboots (with the times, and which were too short to be counted
as outages), interfaces, and recent outages by commune name; values older
than the device's last round are dimmed with their time. ``--watch`` refreshes; several
matches are listed with their codes. Vietnamese unless ``--lang en`` (or ``NETMON_LANG=en``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from netmon.collector import glossary
from netmon.collector.web.i18n import clock, duration, words
from netmon.config.addresses import parse_url, redact_userinfo

#: Seconds to wait for the collector before saying it cannot be reached.
TIMEOUT_S = 10.0
_STATE_STYLE = {
    "up": "bold green",
    "down": "bold red",
    "unreachable": "bold dark_orange",
    "unknown": "dim",
    "maintenance": "bold blue",
}
_BLOCKS = "▁▂▃▄▅▆▇█"

_EXTRA = {
    "vi": {
        "unreachable_collector": "Không kết nối được tới bộ thu thập tại {url}: {reason}. Bộ thu thập có đang chạy không? Kiểm tra --url.",
        "token": "Bộ thu thập yêu cầu mã truy cập: dùng --token hoặc biến NETMON_TOKEN.",
        "several": "“{query}” khớp với {n} đơn vị; hãy chọn bằng mã:",
        "none": "Không tìm thấy xã hoặc huyện nào khớp với “{query}”.",
        "error": "Bộ thu thập trả lời lỗi {status}: {detail}",
    },
    "en": {
        "unreachable_collector": "Cannot reach the collector at {url}: {reason}. Is it running? Check --url.",
        "token": "The collector requires a token: use --token or NETMON_TOKEN.",
        "several": "“{query}” matches {n} units; choose one by its code:",
        "none": "No commune or district matches “{query}”.",
        "error": "The collector answered {status}: {detail}",
    },
}


class SiteError(Exception):
    """Something to tell the user instead of a traceback; ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class Api:
    """A small client of the collector's JSON API."""

    def __init__(self, base_url: str, token: str | None, lang: str) -> None:
        """Talk to ``base_url`` (``http://host:port``)."""
        self.base = base_url.rstrip("/")
        self.token = token
        self.lang = lang

    def get(self, path: str, **params: str) -> Any:
        """GET a JSON document; raises SiteError with a useful message on failure."""
        query = urllib.parse.urlencode({**params, "lang": self.lang})
        req = urllib.request.Request(f"{self.base}{path}?{query}", headers={"Accept": "application/json"})
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        x = _EXTRA[self.lang]
        try:
            with urllib.request.urlopen(req, timeout=TIMEOUT_S) as resp:
                return json.loads(resp.read().decode("utf-8"))
        except urllib.error.HTTPError as exc:
            if exc.code == 401:
                raise SiteError(x["token"]) from None
            try:
                detail = json.loads(exc.read().decode("utf-8")).get("detail", exc.reason)
            except (ValueError, AttributeError):
                detail = exc.reason
            raise SiteError(x["error"].format(status=exc.code, detail=detail)) from None
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            reason = getattr(exc, "reason", exc)
            url = redact_userinfo(self.base)
            raise SiteError(x["unreachable_collector"].format(url=url, reason=redact_userinfo(str(reason)))) from None
        except ValueError as exc:
            raise SiteError(x["error"].format(status="?", detail=f"not JSON: {exc}")) from None


def resolve(api: Api, query: str) -> tuple[str, str]:
    """The (kind, code) the query names; SiteError listing the candidates when ambiguous."""
    x = _EXTRA[api.lang]
    found = api.get("/api/v1/search", q=query, limit="50")["results"]
    if not found:
        raise SiteError(x["none"].format(query=query), code=1)
    best = [r for r in found if r["rank"] == found[0]["rank"]]
    if len(best) == 1 or len(found) == 1:
        return best[0]["kind"], best[0]["code"]
    lines = [x["several"].format(query=query, n=len(found))]
    for r in found:
        where = f" — {r['district_name']}" if r.get("district_name") else ""
        lines.append(f"  {r['code']}  {r['name']}{where}")
    raise SiteError("\n".join(lines), code=3)


def sparkline(history: list[dict[str, Any]], width: int = 48) -> Text:
    """Latency as block characters (× for a failed round), newest on the right."""
    pts = history[-width:]
    values = [p["rtt_avg_s"] for p in pts if p.get("ok") and p.get("rtt_avg_s") is not None]
    top = max(values) if values else 1.0
    out = Text()
    for p in pts:
        if not p.get("ok") or p.get("rtt_avg_s") is None:
            out.append("×", style="red")
        else:
            out.append(
                _BLOCKS[min(len(_BLOCKS) - 1, int(p["rtt_avg_s"] / (top or 1.0) * (len(_BLOCKS) - 1)))], style="cyan"
            )
    return out


def _state(s: str | None, w: dict[str, str]) -> Text:
    if s is None:
        return Text("–")
    return Text(w.get(f"state.{s}", s), style=_STATE_STYLE.get(s, ""))


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v * 1000:.1f} ms"


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{v * 100:.1f}%"


def _measured(text: str, m: dict[str, Any] | None, w: dict[str, str], now: float) -> Text:
    """A value, dimmed with its time when it is older than the device's last round."""
    if m is None or m.get("current") or m.get("at") is None:
        return Text(text)
    return Text(f"{text} ({w['measured_at_old'].format(time=clock(m['at'], now))})", style="dim italic")


def _reboots(r: dict[str, Any], w: dict[str, str], now: float) -> Text:
    """A device's reboots: the sentence, then each time it came back and what its state made
    of it; one too short to be counted as an outage stands out."""
    out = Text(r["text"])
    for e in r["events"]:
        out.append("\n")
        out.append(f"{clock(e['ts'], now)} — {w['reboot']} ({e['note']})", style="" if e["outage"] else "bold yellow")
    return out


def render_commune(d: dict[str, Any], lang: str) -> RenderableType:
    """The site page of a commune as rich renderables (pure)."""
    w = words(lang)
    now = d["taken_at"]
    title = Text(f"{d['name']} ({d['code']})", style="bold")
    if d.get("district_name"):
        title.append(f" — {d['district_name']}")
    # The cause text names the state first ("mất kết nối từ 10:00 — ..."): coloured, not repeated.
    head = Text(d["cause_text"], style=_STATE_STYLE.get(d["state"], ""))
    rng = d.get("range") or {}
    parts: list[RenderableType] = [
        title,
        head,
        Text(f"{w['availability']} ({rng.get('label', '24h')}): {_pct(rng.get('availability'))}"),
    ]
    reboots = d.get("reboots") or {}
    if reboots.get("count"):
        parts.append(Text(reboots["text"], style="bold"))
    parts.append(Text(""))
    for dev in d["devices"]:
        t = Table(
            title=f"{dev['name'] or dev['id']} [{dev['id']}, {dev['role']}, {dev['address']}]",
            title_justify="left",
            show_header=False,
            box=None,
            pad_edge=False,
        )
        t.add_column(style="dim")
        t.add_column()
        t.add_row(w["state"], Text(dev["cause_text"], style=_STATE_STYLE.get(dev["state"], "")))
        last_ok = dev.get("last_ok")
        t.add_row(w["last_ok"], w["never"] if last_ok is None else clock(last_ok, now))
        if dev.get("latency_source") == "snmp":
            rtt = _measured(_ms(dev["response_s"]), dev.get("snmp"), w, now)
            t.add_row(w["rtt_snmp"], Text.assemble(rtt, f"  ({w['no_icmp']})"))
        else:
            probe = dev.get("probe")
            t.add_row(
                w["rtt"],
                Text.assemble(
                    _measured(_ms(dev["rtt_avg_s"]), probe, w, now),
                    f"   {w['loss']}: ",
                    _measured(_pct(dev["loss_ratio"]), probe, w, now),
                    f"   {w['jitter']}: ",
                    _measured(_ms(dev["jitter_s"]), probe, w, now),
                ),
            )
        t.add_row(w["uptime"], _measured(duration(dev["sys_uptime_s"], lang), dev.get("snmp"), w, now))
        if (dev.get("reboots") or {}).get("text"):
            t.add_row(w["reboots"], _reboots(dev["reboots"], w, now))
        if dev.get("history"):
            label = w["history_snmp" if dev.get("latency_source") == "snmp" else "history"]
            t.add_row(label.format(span=w["range.24h"]), sparkline(dev["history"]))
        if dev["interfaces"]:
            im = dev.get("interfaces_measured")
            stale = im is not None and not im.get("current") and im.get("at") is not None
            ifs = Text(style="dim italic" if stale else "")
            for i in dev["interfaces"]:
                up = i["oper_status"] == 1
                ifs.append(f"{i['name']}", style="" if stale else "green" if up else "red")
                ifs.append(f" {i.get('oper_status_text', i['oper_status'])}")
                if i.get("alias"):
                    ifs.append(f" ({i['alias']})", style="dim")
                ifs.append("  ")
            if stale:
                ifs.append(f"({w['measured_at_old'].format(time=clock(im['at'], now))})")
            t.add_row(w["interfaces"], ifs)
        if dev.get("interfaces_unread"):
            why = ", ".join(f"{t} ({glossary.reason(r, lang)})" for t, r in sorted(dev["interfaces_unread"].items()))
            t.add_row(w["interfaces"], Text(f"{w['interfaces_unread']}: {why}", style="yellow"))
        parts += [t, Text("")]
    parts.append(Text(f"{w['outages_recent']} ({rng.get('label', '')})", style="bold"))
    if d["outages"]:
        ot = Table(show_header=True, header_style="bold")
        for col in (w["where"], w["state"], w["start"], w["duration"], w["cause"]):
            ot.add_column(col)
        for o in d["outages"]:
            dur = duration(o["duration_s"], lang) + (f" ({w['ongoing']})" if o["end"] is None else "")
            where = Text.assemble(o.get("where") or o["device"], (f" {o['device']}", "dim"))
            ot.add_row(where, _state(o["state"], w), clock(o["start"], now), dur, o.get("cause", ""))
        parts.append(ot)
    else:
        parts.append(Text(w["no_outages"], style="dim"))
    parts.append(Text(f"{w['updated']}: {clock(now, now)}", style="dim"))
    return Group(*parts)


def render_district(d: dict[str, Any], lang: str) -> RenderableType:
    """A district: its coverage and each commune's state (pure)."""
    w = words(lang)
    c = d["counts"]
    title = Text(f"{d['name']} ({d['code']})", style="bold")
    if not c["communes"]:
        # Lý Sơn: no communes, so no coverage (not 0 %): its district centre is the site.
        return Group(title, Text(f"{w['coverage']}: – · {w['no_communes']}"))
    summary = Text(f"{w['coverage']}: {c['connected']}/{c['communes']} ({_pct(c['coverage_ratio'])})")
    if d.get("no_data"):
        summary.append(f" · {w['no_data_count'].format(n=d['no_data'])}", style="dim")
    t = Table(show_header=True, header_style="bold")
    t.add_column(w["commune"])
    t.add_column(w["state"])
    t.add_column(w["cause"])
    for cm in d["communes"]:
        t.add_row(f"{cm['code']} {cm['name']}", _state(cm["state"], w), cm["cause_text"])
    return Group(title, summary, t)


def _language(choice: str | None) -> str:
    """``--lang``, else ``NETMON_LANG``, else Vietnamese: the product's language does not
    follow a terminal's locale (servers are mostly set to en_US)."""
    for c in (choice, os.environ.get("NETMON_LANG")):
        if c in ("vi", "en"):
            return c
    return "vi"


def fetch(api: Api, query: str) -> tuple[str, dict[str, Any]]:
    """Resolve the query and fetch its page's JSON."""
    kind, code = resolve(api, query)
    path = "/api/v1/communes/" if kind == "commune" else "/api/v1/districts/"
    return kind, api.get(path + urllib.parse.quote(code, safe=""))


def cli_main(args: argparse.Namespace) -> int:
    """Print (or keep printing, with --watch) a commune's facts."""
    lang = _language(args.lang)
    try:
        parse_url(args.url, ("http", "https"), path=True)
    except ValueError as exc:  # the message shows the URL redacted
        print(f"netmon site: --url: {exc}", file=sys.stderr)
        return 2
    api = Api(args.url, args.token or os.environ.get("NETMON_TOKEN"), lang)
    console = Console()
    try:
        while True:
            try:
                kind, data = fetch(api, args.query)
            except SiteError as exc:
                print(str(exc), file=sys.stderr)
                if not args.watch or exc.code in (1, 3):
                    return exc.code
                time.sleep(args.watch)
                continue
            if args.json:
                print(json.dumps(data, ensure_ascii=False, indent=2))
            else:
                if args.watch:
                    console.clear()
                console.print(render_commune(data, lang) if kind == "commune" else render_district(data, lang))
            if not args.watch:
                return 0
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 0
