"""What each page and API answer says, as plain JSON-able dicts built from a Reader.

The HTML pages render exactly these dicts, so the page and the API cannot disagree. No
I/O here beyond the Reader's own queries; ``now`` is passed in.
"""

from __future__ import annotations

from typing import Any

from netmon.collector.model import (
    STANDARD_WINDOWS_S,
    Availability,
    CommuneView,
    Counts,
    DeviceView,
    InterfaceView,
    Outage,
    Reader,
    Snapshot,
    State,
)
from netmon.collector.search import SearchIndex
from netmon.collector.web.i18n import clock, unit_phrase, words

Json = dict[str, Any]

#: How far back the site page lists outages and draws latency.
OUTAGE_LOOKBACK_S = 7 * 86400
HISTORY_LOOKBACK_S = 6 * 3600
#: Outages listed on a page at most.
OUTAGE_LIMIT = 50


class NotFound(LookupError):
    """No unit or device with that code or id."""


def counts_json(c: Counts) -> Json:
    """Counts of a unit."""
    return {
        "communes": c.communes,
        "provisioned": c.provisioned,
        "connected": c.connected,
        "coverage_ratio": c.coverage_ratio,
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


def outage_json(o: Outage, now: float) -> Json:
    """An outage with its duration so far."""
    return {
        "device": o.device,
        "commune": o.commune,
        "district": o.district,
        "state": o.state.value,
        "start": o.start,
        "end": o.end,
        "duration_s": o.duration(now),
        "cause": o.cause,
        "root_cause": o.root_cause,
    }


def interface_json(i: InterfaceView) -> Json:
    """An interface as last polled."""
    return {
        "index": i.index,
        "name": i.name,
        "alias": i.alias,
        "oper_status": i.oper_status,
        "admin_status": i.admin_status,
        "speed_bps": i.speed_bps,
        "in_bps": i.in_bps,
        "out_bps": i.out_bps,
        "in_errors": i.in_errors,
        "out_errors": i.out_errors,
    }


def cause_text(snap: Snapshot, state: State, since: float, root_cause: str | None, *, cause: str, lang: str) -> str:
    """Why a commune or device is in its state, in words, e.g.
    "không liên lạc được — đường truyền huyện Ba Tơ mất từ 14:02"."""
    w = words(lang)
    now = snap.taken_at
    head = w[f"state.{state.value}"]
    if state is State.UP:
        return w["up_since"].format(time=clock(since, now))
    if state is State.UNREACHABLE and root_cause:
        root = snap.devices.get(root_cause)
        t = clock(root.since if root else since, now)
        if root is not None and root.role == "district_router" and root.district in snap.districts:
            text = w["uplink_district"].format(name=unit_phrase(snap.districts[root.district].name, lang), time=t)
        elif root is not None and root.role == "core_router":
            text = w["uplink_core"].format(device=root.name or root.id, time=t)
        else:
            text = w["uplink_device"].format(device=(root.name or root.id) if root else root_cause, time=t)
        return f"{head} — {text}"
    key = {
        State.DOWN: "down_since",
        State.UNREACHABLE: "down_since",
        State.UNKNOWN: "unknown_since",
        State.MAINTENANCE: "maintenance_since",
    }[state]
    text = w[key].format(time=clock(since, now))
    return f"{head} — {text}" + (f" ({cause})" if cause else "")


def _commune_brief(snap: Snapshot, c: CommuneView, lang: str) -> Json:
    dist = snap.districts.get(c.district) if c.district else None
    cause = ""
    if c.root_cause is None and c.state is State.DOWN:
        for dev_id in c.devices:
            dev = snap.devices.get(dev_id)
            if dev is not None and dev.is_access and dev.cause:
                cause = dev.cause
                break
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
        "cause_text": cause_text(snap, c.state, c.since, c.root_cause, cause=cause, lang=lang),
    }


def _availability_24h(snap: Snapshot, scope: str, ident: str) -> float | None:
    a = snap.availability.get((scope, ident, 86400))
    return a.ratio if a is not None else None


def overview(reader: Reader, snap: Snapshot, lang: str, coverage_target: float = 1.0) -> Json:
    """The province page: coverage per district vs the target, communes by state, what is down."""
    down = [_commune_brief(snap, c, lang) for c in snap.communes.values() if c.provisioned and c.state is not State.UP]
    down.sort(key=lambda d: (d["since"], d["code"]))
    # Communes cut off by the same failure are one fact for a technician: group them.
    groups: dict[str, Json] = {}
    for brief in down:
        key = brief["root_cause"] or f"commune:{brief['code']}"
        if key not in groups:
            groups[key] = {
                "root_cause": brief["root_cause"],
                "state": brief["state"],
                "cause_text": brief["cause_text"],
                "communes": [],
            }
        groups[key]["communes"].append(brief)
    districts = [
        {
            "code": d.code,
            "name": d.name,
            "counts": counts_json(d.counts),
            "availability_24h": _availability_24h(snap, "district", d.code),
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
            "availability_24h": _availability_24h(snap, "province", snap.province_code),
        },
        "coverage_target": coverage_target,
        "districts": districts,
        "communes": [_commune_brief(snap, c, lang) for c in loose],
        "down": down,
        "down_groups": list(groups.values()),
    }


def district(reader: Reader, snap: Snapshot, code: str, lang: str) -> Json:
    """A district and its communes."""
    d = snap.districts.get(code)
    if d is None:
        raise NotFound(f"district {code}")
    now = snap.taken_at
    communes = [_commune_brief(snap, snap.communes[c], lang) for c in d.communes if c in snap.communes]
    return {
        "taken_at": now,
        "lang": lang,
        "code": d.code,
        "name": d.name,
        "counts": counts_json(d.counts),
        "availability_24h": _availability_24h(snap, "district", d.code),
        "devices": [device_brief(snap, snap.devices[i], lang) for i in d.devices if i in snap.devices],
        "communes": communes,
        "outages": [
            outage_json(o, now) for o in reader.outages(now - OUTAGE_LOOKBACK_S, now, district=code, limit=OUTAGE_LIMIT)
        ],
    }


def device_brief(snap: Snapshot, dev: DeviceView, lang: str) -> Json:
    """A device's state and latest measurements."""
    return {
        "id": dev.id,
        "role": dev.role,
        "name": dev.name,
        "address": dev.address,
        "commune": dev.commune,
        "district": dev.district,
        "parent": dev.parent,
        "state": dev.state.value,
        "since": dev.since,
        "cause": dev.cause,
        "root_cause": dev.root_cause,
        "cause_text": cause_text(snap, dev.state, dev.since, dev.root_cause, cause=dev.cause, lang=lang),
        "flapping": dev.flapping,
        "last_seen": dev.last_seen,
        "rtt_avg_s": dev.rtt_avg_s,
        "rtt_max_s": dev.rtt_max_s,
        "jitter_s": dev.jitter_s,
        "loss_ratio": dev.loss_ratio,
        "response_s": dev.response_s,
        "sys_uptime_s": dev.sys_uptime_s,
        "sys_name": dev.sys_name,
        "is_access": dev.is_access,
        "interfaces": [interface_json(i) for i in dev.interfaces],
        "interfaces_unread": dict(dev.unread),
        "availability_24h": _availability_24h(snap, "device", dev.id),
    }


def device(reader: Reader, snap: Snapshot, ident: str, lang: str) -> Json:
    """A device with its latency history and recent outages."""
    dev = snap.devices.get(ident)
    if dev is None:
        raise NotFound(f"device {ident}")
    now = snap.taken_at
    out = device_brief(snap, dev, lang)
    out["taken_at"] = now
    out["history"] = [
        {"ts": p.ts, "ok": p.ok, "rtt_avg_s": p.rtt_avg_s, "loss_ratio": p.loss_ratio, "jitter_s": p.jitter_s}
        for p in reader.history(ident, now - HISTORY_LOOKBACK_S)
    ]
    out["outages"] = [
        outage_json(o, now) for o in reader.outages(now - OUTAGE_LOOKBACK_S, now, device=ident, limit=OUTAGE_LIMIT)
    ]
    return out


def commune(reader: Reader, snap: Snapshot, code: str, lang: str) -> Json:
    """The site page: a commune, each of its devices with history, and its recent outages."""
    c = snap.communes.get(code)
    if c is None:
        raise NotFound(f"commune {code}")
    now = snap.taken_at
    out = _commune_brief(snap, c, lang)
    out["taken_at"] = now
    out["lang"] = lang
    out["availability_24h"] = _availability_24h(snap, "commune", code)
    out["devices"] = [device(reader, snap, i, lang) for i in c.devices if i in snap.devices]
    out["outages"] = [
        outage_json(o, now) for o in reader.outages(now - OUTAGE_LOOKBACK_S, now, commune=code, limit=OUTAGE_LIMIT)
    ]
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
