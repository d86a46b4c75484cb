"""What each page and API answer says, as plain JSON-able dicts built from a Reader.

The HTML pages render exactly these dicts, so the page and the API cannot disagree. No
I/O here beyond the Reader's own queries; ``now`` is passed in. Words come from
:mod:`collector.web.i18n` and the domain's terms from :mod:`collector.glossary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netmon.collector import glossary
from netmon.collector.model import (
    STANDARD_WINDOWS_S,
    Availability,
    CommuneView,
    Counts,
    DeviceView,
    InterfaceView,
    Outage,
    Reader,
    Reboot,
    Snapshot,
    State,
)
from netmon.collector.search import SearchIndex
from netmon.collector.web.i18n import clock, unit_phrase, words

Json = dict[str, Any]

#: The time ranges a district or site page offers, by key; "custom" takes from/to.
RANGES: dict[str, float] = {"24h": 86400.0, "7d": 7 * 86400.0, "30d": 30 * 86400.0}
DEFAULT_RANGE = "7d"
#: The collector keeps latency points for a day: a chart never spans more.
HISTORY_MAX_S = 86400.0
#: Outages listed on a page at most.
OUTAGE_LIMIT = 50
#: Reboots listed on a page at most (the count covers them all).
REBOOT_LIMIT = 50
#: States in which a commune counts as cut off (a monitoring gap and maintenance are apart).
_OUT = (State.DOWN, State.UNREACHABLE)


class NotFound(LookupError):
    """No unit or device with that code or id."""


@dataclass(frozen=True, slots=True)
class Window:
    """The time range a page shows: ``key`` is one of :data:`RANGES` or ``custom``."""

    start: float
    end: float
    key: str = DEFAULT_RANGE

    @classmethod
    def last(cls, key: str, now: float) -> Window:
        """The standard range ``key`` ending ``now``."""
        return cls(now - RANGES[key], now, key)

    @property
    def history_start(self) -> float:
        """Where the latency chart starts: the range, at most the day the collector keeps."""
        return max(self.start, self.end - HISTORY_MAX_S)

    def json(self, lang: str, now: float) -> Json:
        """The range with its label."""
        w = words(lang)
        label = (
            w[f"range.{self.key}"]
            if self.key in RANGES
            else w["range_span"].format(start=clock(self.start, now), end=clock(self.end, now))
        )
        return {"key": self.key, "from": self.start, "to": self.end, "label": label}


def counts_json(c: Counts) -> Json:
    """Counts of a unit; no coverage for a unit without communes (Lý Sơn: None, not 0)."""
    return {
        "communes": c.communes,
        "provisioned": c.provisioned,
        "connected": c.connected,
        "coverage_ratio": c.coverage_ratio if c.communes else None,
        "by_state": {s.value: c.by_state.get(s, 0) for s in State},
    }


def availability_json(a: Availability) -> Json:
    """Seconds in each state and the ratio (None when nothing was observed)."""
    return {
        "up_s": a.up_s,
        "down_s": a.down_s,
        "unreachable_s": a.unreachable_s,
        "unknown_s": a.unknown_s,
        "maintenance_s": a.maintenance_s,
        "ratio": a.ratio,
    }


def place(snap: Snapshot, device: str, commune: str | None, district: str | None, lang: str) -> str:
    """Where a device is, in words: its commune's name, or its role and district for the
    routers above the communes ("router huyện — Huyện Ba Tơ")."""
    c = snap.communes.get(commune) if commune else None
    if c is not None:
        return c.name
    dev = snap.devices.get(device)
    d = snap.districts.get(district) if district else None
    role = glossary.term(f"role.{dev.role}", lang) if dev is not None and f"role.{dev.role}" in glossary.TERMS else ""
    unit = d.name if d is not None else (snap.province_name if dev is not None and dev.district is None else "")
    return " — ".join(x for x in (role, unit) if x) or device


def outage_json(snap: Snapshot, o: Outage, lang: str) -> Json:
    """An outage with its duration so far, its cause in words and where it is by name."""
    c = snap.communes.get(o.commune) if o.commune else None
    d = snap.districts.get(o.district) if o.district else None
    root = snap.devices.get(o.root_cause) if o.root_cause else None
    if root is not None:  # unreachable: say which device by where it is
        cause = words(lang)["because_down"].format(device=place(snap, root.id, root.commune, root.district, lang))
    else:
        cause = glossary.cause(o.cause, lang)
    return {
        "device": o.device,
        "commune": o.commune,
        "commune_name": c.name if c else None,
        "district": o.district,
        "district_name": d.name if d else None,
        "where": place(snap, o.device, o.commune, o.district, lang),
        "state": o.state.value,
        "start": o.start,
        "end": o.end,
        "duration_s": o.duration(snap.taken_at),
        "cause": cause,
        "root_cause": o.root_cause,
    }


def reboot_json(snap: Snapshot, r: Reboot, lang: str) -> Json:
    """A reboot: when the device came back, where, and what its state made of it in words
    (``note``: "không đủ lâu để bị tính là mất kết nối" for one that left it UP)."""
    dev = snap.devices.get(r.device)
    counted = r.counted_as
    return {
        "device": r.device,
        "where": place(snap, r.device, dev.commune if dev else None, dev.district if dev else None, lang),
        "ts": r.ts,
        "reported_at": r.reported_at,
        "agent": r.agent,
        "uptime_s": r.uptime_s,
        "counted_as": counted.value if counted is not None else None,
        "outage": r.outage,
        "note": words(lang)[f"reboot.{counted.value}"] if counted is not None else "",
    }


def reboots_text(n: int, short: int, win: Window, lang: str, now: float) -> str:
    """How many reboots over a page's range, in a sentence: "khởi động lại 2 lần trong 30
    ngày qua (1 lần không đủ lâu để bị tính là mất kết nối)"."""
    w = words(lang)
    amount = "none" if n == 0 else "one" if n == 1 else "many"
    if win.key in RANGES:
        text = w[f"reboots.{amount}.last"].format(n=n, range=w[f"range.{win.key}"])
    else:
        text = w[f"reboots.{amount}.span"].format(n=n, start=clock(win.start, now), end=clock(win.end, now))
    if not short:
        return text
    return f"{text} ({w['reboot.up'] if n == 1 else w['reboots.short'].format(k=short)})"


def _reboots(
    reader: Reader,
    snap: Snapshot,
    win: Window,
    lang: str,
    *,
    seen: bool,
    device: str | None = None,
    commune: str | None = None,
) -> Json:
    """Reboots over ``win``; ``seen``: whether any of the devices' uptime is read (without
    it no reboot can be seen, and "none" would be a claim: the text is then empty)."""
    found = reader.reboots(win.start, win.end, device=device, commune=commune)
    short = sum(1 for r in found if r.counted_as is State.UP)
    return {
        "count": len(found),
        "not_outages": short,
        "text": reboots_text(len(found), short, win, lang, snap.taken_at) if found or seen else "",
        "events": [reboot_json(snap, r, lang) for r in found[:REBOOT_LIMIT]],
    }


def interface_json(i: InterfaceView, lang: str) -> Json:
    """An interface as last polled, with its state in words."""
    return {
        "index": i.index,
        "name": i.name,
        "alias": i.alias,
        "oper_status": i.oper_status,
        "oper_status_text": glossary.interface_state(i.oper_status, lang),
        "admin_status": i.admin_status,
        "speed_bps": i.speed_bps,
        "in_bps": i.in_bps,
        "out_bps": i.out_bps,
        "in_errors": i.in_errors,
        "out_errors": i.out_errors,
    }


def _agent_phrase(snap: Snapshot, agent: str, lang: str) -> str:
    """An agent by what it watches: "trạm giám sát huyện Mộ Đức", else by its id."""
    w = words(lang)
    districts = {d.district for d in snap.devices.values() if d.agent == agent and d.district}
    if len(districts) == 1:
        (code,) = districts
        if code in snap.districts:
            return w["agent_of"].format(unit=unit_phrase(snap.districts[code].name, lang))
    return f"{glossary.term('agent', lang)} {agent}"


def silence_text(snap: Snapshot, agent: str | None, since: float, lang: str) -> str:
    """Why nothing is heard of a group of devices: their agent is silent (since when), or it
    sends nothing about them, or no agent ever sent anything."""
    w = words(lang)
    now = snap.taken_at
    head = glossary.term("monitoring_gap", lang)
    if agent is None:
        return f"{head} — {w['agent_none']}"
    a = snap.agents.get(agent)
    who = _agent_phrase(snap, agent, lang)
    if a is not None and a.last_seen is not None and (not a.online or a.last_seen <= since):
        return f"{head} — " + w["agent_silent"].format(agent=who, time=clock(a.last_seen, now))
    return f"{head} — " + w["agent_quiet"].format(agent=who, time=clock(since, now))


def cause_text(
    snap: Snapshot,
    state: State,
    since: float,
    root_cause: str | None,
    *,
    cause: str,
    lang: str,
    agent: str | None = None,
) -> str:
    """Why a commune or device is in its state, in words, the state named once:
    "không liên lạc được — đường truyền huyện Ba Tơ mất từ 14:02",
    "mất kết nối từ 04:16 — 3 lượt thăm dò liên tiếp không có trả lời (hết thời gian chờ)"."""
    w = words(lang)
    now = snap.taken_at
    head = w[f"state.{state.value}"]
    if state is State.UNREACHABLE and root_cause:
        root = snap.devices.get(root_cause)
        t = clock(root.since if root else since, now)
        if root is not None and root.role == "district_router" and root.district in snap.districts:
            text = w["uplink_district"].format(name=unit_phrase(snap.districts[root.district].name, lang), time=t)
        elif root is not None and root.role == "core_router":
            text = w["uplink_core"].format(device=root.name or root.id, time=t)
        else:
            name = place(snap, root_cause, root.commune, root.district, lang) if root else root_cause
            text = w["uplink_device"].format(device=name, time=t)
        return f"{head} — {text}"
    if state is State.UNKNOWN:
        return silence_text(snap, agent, since, lang)
    text = w["since_time"].format(state=head, time=clock(since, now))
    # Up needs no reason; a maintenance window's reason is the operator's own text.
    why = "" if state is State.UP or cause in ("", "maintenance") else glossary.cause(cause, lang)
    return f"{text} — {why}" if why else text


def _commune_brief(snap: Snapshot, c: CommuneView, lang: str) -> Json:
    dist = snap.districts.get(c.district) if c.district else None
    cause = ""
    agent = None
    for dev_id in c.devices:
        dev = snap.devices.get(dev_id)
        if dev is None or not dev.is_access:
            continue
        agent = agent or dev.agent
        if not cause and c.root_cause is None and c.state is dev.state and dev.cause:
            cause = dev.cause
    return {
        "code": c.code,
        "name": c.name,
        "district": c.district,
        "district_name": dist.name if dist else None,
        "state": c.state.value,
        "since": c.since,
        "connected": c.connected,
        "provisioned": c.provisioned,
        "root_cause": c.root_cause,
        "agent": agent,
        "cause_text": cause_text(snap, c.state, c.since, c.root_cause, cause=cause, lang=lang, agent=agent),
    }


def _availability_24h(snap: Snapshot, scope: str, ident: str) -> float | None:
    a = snap.availability.get((scope, ident, 86400))
    return a.ratio if a is not None else None


def _groups(briefs: list[Json], key: str, text: Any) -> list[Json]:
    """Briefs grouped by ``key`` (communes cut off or unheard for the same reason are one
    fact for a technician), in the order of their first member."""
    groups: dict[str, Json] = {}
    for brief in briefs:
        k = str(brief[key]) if brief[key] is not None else f"commune:{brief['code']}"
        if k not in groups:
            groups[k] = {key: brief[key], "state": brief["state"], "cause_text": text(brief), "communes": []}
        groups[k]["communes"].append(brief)
    return list(groups.values())


def overview(reader: Reader, snap: Snapshot, lang: str, coverage_target: float = 1.0) -> Json:
    """The province page: coverage per district vs the target, what is down, what is not heard."""
    provisioned = [c for c in snap.communes.values() if c.provisioned]
    down = [_commune_brief(snap, c, lang) for c in provisioned if c.state in _OUT]
    down.sort(key=lambda d: (d["since"], d["code"]))
    unheard = [_commune_brief(snap, c, lang) for c in provisioned if c.state is State.UNKNOWN]
    unheard.sort(key=lambda d: (d["since"], d["code"]))
    maintenance = [_commune_brief(snap, c, lang) for c in provisioned if c.state is State.MAINTENANCE]
    no_data_groups = []
    for g in _groups(unheard, "agent", lambda b: b["cause_text"]):
        since = min(c["since"] for c in g["communes"])
        g["since"] = since
        g["cause_text"] = silence_text(snap, g["agent"], since, lang)
        no_data_groups.append(g)
    districts = [
        {
            "code": d.code,
            "name": d.name,
            "counts": counts_json(d.counts),
            "no_data": sum(1 for b in unheard if b["district"] == d.code),
            "availability_24h": _availability_24h(snap, "district", d.code) if d.counts.communes else None,
        }
        for d in sorted(snap.districts.values(), key=lambda d: d.code)
    ]
    loose = sorted((c for c in snap.communes.values() if c.district is None), key=lambda c: c.code)
    return {
        "taken_at": snap.taken_at,
        "lang": lang,
        "province": {
            "code": snap.province_code,
            "name": snap.province_name,
            "edition": snap.edition,
            "counts": counts_json(snap.province),
            "no_data": len(unheard),
            "availability_24h": _availability_24h(snap, "province", snap.province_code),
        },
        "coverage_target": coverage_target,
        "store": {"ok": snap.store.ok, "since": snap.store.since, "error": snap.store.error},
        "districts": districts,
        "communes": [_commune_brief(snap, c, lang) for c in loose],
        "down": down,
        "down_groups": _groups(down, "root_cause", lambda b: b["cause_text"]),
        "no_data": unheard,
        "no_data_groups": no_data_groups,
        "maintenance": maintenance,
    }


def _outages(
    reader: Reader,
    snap: Snapshot,
    win: Window,
    lang: str,
    *,
    device: str | None = None,
    commune: str | None = None,
    district: str | None = None,
) -> list[Json]:
    found = reader.outages(win.start, win.end, device=device, commune=commune, district=district, limit=OUTAGE_LIMIT)
    return [outage_json(snap, o, lang) for o in found]


def _availability(reader: Reader, scope: str, ident: str, win: Window) -> float | None:
    return reader.availability(scope, ident, win.start, win.end).ratio  # type: ignore[arg-type]


def district(reader: Reader, snap: Snapshot, code: str, lang: str, win: Window | None = None) -> Json:
    """A district, its communes, and its outages and availability over ``win``."""
    d = snap.districts.get(code)
    if d is None:
        raise NotFound(f"district {code}")
    now = snap.taken_at
    win = win or Window.last(DEFAULT_RANGE, now)
    communes = [_commune_brief(snap, snap.communes[c], lang) for c in d.communes if c in snap.communes]
    has_communes = d.counts.communes > 0
    return {
        "taken_at": now,
        "lang": lang,
        "code": d.code,
        "name": d.name,
        "counts": counts_json(d.counts),
        "no_data": sum(1 for c in communes if c["state"] == State.UNKNOWN.value and c["provisioned"]),
        "availability_24h": _availability_24h(snap, "district", d.code) if has_communes else None,
        "range": {
            **win.json(lang, now),
            "availability": _availability(reader, "district", d.code, win) if has_communes else None,
        },
        "devices": [device_brief(snap, snap.devices[i], lang) for i in d.devices if i in snap.devices],
        "communes": communes,
        "outages": _outages(reader, snap, win, lang, district=code),
    }


def _measured(dev: DeviceView, at: float | None) -> Json:
    return {"at": at, "current": dev.current(at)}


def device_brief(snap: Snapshot, dev: DeviceView, lang: str) -> Json:
    """A device's state and latest measurements, each group with the time it was measured
    and whether it belongs to the last round (``current``: False marks a stale value)."""
    return {
        "id": dev.id,
        "role": dev.role,
        "role_text": glossary.term(f"role.{dev.role}", lang) if f"role.{dev.role}" in glossary.TERMS else dev.role,
        "name": dev.name,
        "address": dev.address,
        "commune": dev.commune,
        "district": dev.district,
        "parent": dev.parent,
        "agent": dev.agent,
        "state": dev.state.value,
        "since": dev.since,
        "cause": glossary.cause(dev.cause, lang),
        "root_cause": dev.root_cause,
        "cause_text": cause_text(
            snap, dev.state, dev.since, dev.root_cause, cause=dev.cause, lang=lang, agent=dev.agent
        ),
        "flapping": dev.flapping,
        "last_seen": dev.last_seen,
        "last_ok": dev.last_ok,
        "latency_source": "icmp" if dev.probe_at is not None else "snmp" if dev.snmp_at is not None else None,
        "probe": _measured(dev, dev.probe_at),
        "snmp": _measured(dev, dev.snmp_at),
        "interfaces_measured": _measured(dev, dev.interfaces_at),
        "rtt_avg_s": dev.rtt_avg_s,
        "rtt_max_s": dev.rtt_max_s,
        "jitter_s": dev.jitter_s,
        "loss_ratio": dev.loss_ratio,
        "response_s": dev.response_s,
        "sys_uptime_s": dev.sys_uptime_s,
        "reboots_total": dev.reboots,
        "last_reboot": dev.last_reboot,
        "sys_name": dev.sys_name,
        "is_access": dev.is_access,
        "interfaces": [interface_json(i, lang) for i in dev.interfaces],
        "interfaces_unread": dict(dev.unread),
        "availability_24h": _availability_24h(snap, "device", dev.id),
    }


def device(reader: Reader, snap: Snapshot, ident: str, lang: str, win: Window | None = None) -> Json:
    """A device with its latency history and its outages over ``win``."""
    dev = snap.devices.get(ident)
    if dev is None:
        raise NotFound(f"device {ident}")
    now = snap.taken_at
    win = win or Window.last(DEFAULT_RANGE, now)
    out = device_brief(snap, dev, lang)
    out["taken_at"] = now
    out["range"] = {**win.json(lang, now), "availability": _availability(reader, "device", ident, win)}
    out["history_from"] = win.history_start
    out["history"] = [
        {"ts": p.ts, "ok": p.ok, "rtt_avg_s": p.rtt_avg_s, "loss_ratio": p.loss_ratio, "jitter_s": p.jitter_s}
        for p in reader.history(ident, win.history_start)
        if p.ts <= win.end
    ]
    out["outages"] = _outages(reader, snap, win, lang, device=ident)
    out["reboots"] = _reboots(reader, snap, win, lang, seen=dev.sys_uptime_s is not None, device=ident)
    return out


def commune(reader: Reader, snap: Snapshot, code: str, lang: str, win: Window | None = None) -> Json:
    """The site page: a commune, each of its devices with history, and its outages over ``win``."""
    c = snap.communes.get(code)
    if c is None:
        raise NotFound(f"commune {code}")
    now = snap.taken_at
    win = win or Window.last(DEFAULT_RANGE, now)
    out = _commune_brief(snap, c, lang)
    out["taken_at"] = now
    out["lang"] = lang
    out["availability_24h"] = _availability_24h(snap, "commune", code)
    out["range"] = {**win.json(lang, now), "availability": _availability(reader, "commune", code, win)}
    out["devices"] = [device(reader, snap, i, lang, win) for i in c.devices if i in snap.devices]
    out["outages"] = _outages(reader, snap, win, lang, commune=code)
    seen = any(snap.devices[i].sys_uptime_s is not None for i in c.devices if i in snap.devices)
    out["reboots"] = _reboots(reader, snap, win, lang, seen=seen, commune=code)
    return out


def search(snap: Snapshot, index: SearchIndex, query: str, limit: int = 20) -> Json:
    """Communes and districts matching a query, each with its state."""
    hits = []
    for h in index.search(query, limit=limit):
        if h.kind == "commune" and h.code in snap.communes:
            c = snap.communes[h.code]
            state, connected = c.state.value, c.connected
        else:
            state, connected = None, None
        hits.append(
            {
                "kind": h.kind,
                "code": h.code,
                "name": h.name,
                "district": h.district,
                "district_name": h.district_name,
                "rank": h.rank,
                "state": state,
                "connected": connected,
            }
        )
    return {"query": query, "results": hits}


def windows() -> list[int]:
    """The standard availability windows, for the API's description."""
    return list(STANDARD_WINDOWS_S)
