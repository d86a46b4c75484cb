"""Words of the status page and API texts, in Vietnamese (default) and English; pure."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from netmon.collector import glossary
from netmon.collector.glossary import term
from netmon.collector.model import State

LANGUAGES = glossary.LANGUAGES
#: Times are shown in the province's time zone whatever the server's.
TZ = ZoneInfo("Asia/Ho_Chi_Minh")

#: Words of the page itself. The domain's terms (states, units, measures) come from
#: :mod:`collector.glossary`, so that the page, Grafana, the alerts and the reports agree.
_UI: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Giám sát mạng truyền số liệu chuyên dùng",
        "overview": "Tổng quan",
        "down_now": "Đang mất kết nối",
        "nothing_down": "Tất cả xã đang kết nối.",
        "none_known_down": "Không có xã nào được biết là đang mất kết nối; xem các xã không có dữ liệu giám sát bên dưới.",
        "in_maintenance": "Đang bảo trì",
        "no_data_now": "Không có dữ liệu giám sát",
        "no_data_note": "Mất giám sát, không phải mất kết nối: chưa biết các xã này có kết nối hay không, nên chưa được tính là đã kết nối.",
        "no_data_count": "{n} xã không có dữ liệu giám sát",
        "no_communes": "Đơn vị này không có cấp xã: không tính tỷ lệ xã kết nối.",
        "by_state": "Xã theo trạng thái",
        "search": "Tìm xã, huyện hoặc mã",
        "search_button": "Tìm",
        "results": "Kết quả tìm kiếm",
        "no_results": "Không tìm thấy.",
        "last_ok": "Trả lời lần cuối",
        "never": "chưa từng",
        "measured_at": "số liệu lúc {time}",
        "measured_at_old": "số liệu cũ lúc {time}",
        "rtt_snmp": "Độ trễ (phản hồi SNMP)",
        "no_icmp": "không đo ICMP",
        "outages_recent": "Sự cố",
        "no_outages": "Không có sự cố trong khoảng thời gian này.",
        "where": "Nơi",
        "interfaces_unread": "không đọc được bảng cổng",
        "start": "Bắt đầu",
        "end": "Kết thúc",
        "duration": "Thời lượng",
        "ongoing": "đang diễn ra",
        "updated": "Dữ liệu lúc",
        "offline": "Mất kết nối tới máy chủ, dữ liệu lúc {time}",
        "not_found": "Không tìm thấy",
        "bad_request": "Yêu cầu không hợp lệ",
        "language": "English",
        "cause": "Nguyên nhân",
        "history": "Độ trễ, {span} gần nhất",
        "history_snmp": "Thời gian phản hồi SNMP, {span} gần nhất",
        "range": "Khoảng thời gian",
        "range.24h": "24 giờ",
        "range.7d": "7 ngày",
        "range.30d": "30 ngày",
        "range.custom": "Tùy chọn",
        "range_from": "Từ ngày",
        "range_to": "Đến ngày",
        "range_show": "Xem",
        "range_span": "{start} – {end}",
        "uplink_district": "đường truyền {name} mất từ {time}",
        "uplink_core": "đường truyền trục tỉnh ({device}) mất từ {time}",
        "uplink_device": "{device} mất kết nối từ {time}",
        "since_time": "{state} từ {time}",
        "because_down": "do {device} mất kết nối",
        "agent_silent": "{agent} im lặng từ {time}",
        "agent_quiet": "{agent} không gửi dữ liệu về các thiết bị này từ {time}",
        "agent_none": "chưa trạm giám sát nào gửi dữ liệu",
        "agent_of": "trạm giám sát {unit}",
        "unauthorized": "cần mã truy cập",
        "store_failing": (
            "Máy thu thập không ghi được số liệu từ {time} ({error}): số liệu mới chưa được ghi nhận, "
            "không bị mất (broker giữ lại) và sẽ được ghi khi lưu trữ hoạt động trở lại."
        ),
    },
    "en": {
        "title": "Dedicated data network monitoring",
        "overview": "Overview",
        "down_now": "Down now",
        "nothing_down": "Every commune is connected.",
        "none_known_down": "No commune is known to be down; see those without monitoring data below.",
        "in_maintenance": "In maintenance",
        "no_data_now": "No monitoring data",
        "no_data_note": "A monitoring gap, not a network failure: whether these communes are connected is not known, so they are not counted as connected.",
        "no_data_count": "{n} communes without monitoring data",
        "no_communes": "This unit has no communes: it has no commune coverage.",
        "by_state": "Communes by state",
        "search": "Find a commune, district or code",
        "search_button": "Search",
        "results": "Search results",
        "no_results": "Nothing found.",
        "last_ok": "Last answered",
        "never": "never",
        "measured_at": "measured at {time}",
        "measured_at_old": "old value, measured at {time}",
        "rtt_snmp": "Latency (SNMP response)",
        "no_icmp": "no ICMP probe",
        "outages_recent": "Outages",
        "no_outages": "No outages in this time range.",
        "where": "Where",
        "interfaces_unread": "interfaces not read",
        "start": "Start",
        "end": "End",
        "duration": "Duration",
        "ongoing": "ongoing",
        "updated": "Data as of",
        "offline": "Lost connection to the server, data as of {time}",
        "not_found": "Not found",
        "bad_request": "Bad request",
        "language": "Tiếng Việt",
        "cause": "Cause",
        "history": "Round-trip time, last {span}",
        "history_snmp": "SNMP response time, last {span}",
        "range": "Time range",
        "range.24h": "24 hours",
        "range.7d": "7 days",
        "range.30d": "30 days",
        "range.custom": "Custom",
        "range_from": "From",
        "range_to": "To",
        "range_show": "Show",
        "range_span": "{start} – {end}",
        "uplink_district": "uplink of {name} down since {time}",
        "uplink_core": "provincial core ({device}) down since {time}",
        "uplink_device": "{device} down since {time}",
        "since_time": "{state} since {time}",
        "because_down": "because {device} is down",
        "agent_silent": "{agent} silent since {time}",
        "agent_quiet": "{agent} sends nothing about these devices since {time}",
        "agent_none": "no monitoring agent has sent data yet",
        "agent_of": "the monitoring agent of {unit}",
        "unauthorized": "a token is required",
        "store_failing": (
            "The collector cannot write to its store since {time} ({error}): new data is not recorded yet, "
            "nothing is lost (the broker keeps it) and it is recorded when the store works again."
        ),
    },
}


def _reboot_words(lang: str) -> dict[str, str]:
    """How a page tells reboots, made of the glossary's terms: the count over the range
    (``reboots.<none|one|many>.<last|span>``, ``{range}`` a standard range's label, or
    ``{start}``/``{end}``) and, per reboot, what the device's state made of it
    (``reboot.<state>``)."""
    t = {k: term(k, lang) for k in ("reboot", "state.down", "state.unreachable", "state.maintenance", "monitoring_gap")}
    if lang == "en":
        return {
            "reboots.none.last": "no reboot in the last {range}",
            "reboots.one.last": "1 reboot in the last {range}",
            "reboots.many.last": "{n} reboots in the last {range}",
            "reboots.none.span": "no reboot from {start} to {end}",
            "reboots.one.span": "1 reboot from {start} to {end}",
            "reboots.many.span": "{n} reboots from {start} to {end}",
            "reboots.short": f"{{k}} not long enough to be counted as {t['state.down']}",
            "reboot.up": f"not long enough to be counted as {t['state.down']}",
            "reboot.down": f"counted as {t['state.down']}",
            "reboot.unreachable": f"while {t['state.unreachable']}",
            "reboot.unknown": f"while there was {t['monitoring_gap']}",
            "reboot.maintenance": f"during {t['state.maintenance']}",
        }
    r = t["reboot"]
    return {
        "reboots.none.last": f"không {r} lần nào trong {{range}} qua",
        "reboots.one.last": f"{r} 1 lần trong {{range}} qua",
        "reboots.many.last": f"{r} {{n}} lần trong {{range}} qua",
        "reboots.none.span": f"không {r} lần nào từ {{start}} đến {{end}}",
        "reboots.one.span": f"{r} 1 lần từ {{start}} đến {{end}}",
        "reboots.many.span": f"{r} {{n}} lần từ {{start}} đến {{end}}",
        "reboots.short": f"{{k}} lần không đủ lâu để bị tính là {t['state.down']}",
        "reboot.up": f"không đủ lâu để bị tính là {t['state.down']}",
        "reboot.down": f"đã được tính là {t['state.down']}",
        "reboot.unreachable": f"trong lúc {t['state.unreachable']}",
        "reboot.unknown": f"trong lúc {t['monitoring_gap']}",
        "reboot.maintenance": f"trong lúc {t['state.maintenance']}",
    }


#: Glossary terms the page uses under the same keys.
_TERMS = (
    "coverage",
    "availability",
    "target",
    "district",
    "districts",
    "commune",
    "communes",
    "connected",
    "provisioned",
    "device",
    "devices",
    "state",
    "since",
    "rtt",
    "loss",
    "jitter",
    "uptime",
    "interfaces",
    "no_data",
    "monitoring_gap",
    "reboot",
    "reboots",
    "snmp_response",
    "rx",
    "tx",
    *(f"state.{s.value}" for s in State),
)


def _vocabulary(lang: str) -> dict[str, str]:
    return {**_UI[lang], **_reboot_words(lang), **{k: term(k, lang) for k in _TERMS}}


_WORDS: dict[str, dict[str, str]] = {lang: _vocabulary(lang) for lang in LANGUAGES}


def words(lang: str) -> dict[str, str]:
    """The vocabulary of a language (Vietnamese for anything unknown)."""
    return _WORDS.get(lang, _WORDS["vi"])


def pick_language(query: str | None, cookie: str | None, default: str = "vi") -> str:
    """The page language: ``?lang=`` first, then the cookie (the switch's choice), then the
    collector's ``http.language`` (Vietnamese unless configured otherwise).

    The browser's Accept-Language is not consulted: the product speaks Vietnamese to the
    province's staff, whose phones and browsers often ship set to English.
    """
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice
    return default if default in LANGUAGES else "vi"


def clock(ts: float, now: float) -> str:
    """A time as a technician reads it: ``14:02`` today, ``14:02 25/11`` another day."""
    t = datetime.fromtimestamp(ts, TZ)
    n = datetime.fromtimestamp(now, TZ)
    if t.date() == n.date():
        return t.strftime("%H:%M")
    if t.year == n.year:
        return t.strftime("%H:%M %d/%m")
    return t.strftime("%H:%M %d/%m/%Y")


def duration(seconds: float | None, lang: str) -> str:
    """A duration in the words of ``lang`` (see :func:`collector.glossary.duration`)."""
    return glossary.duration(seconds, lang)


def unit_phrase(name: str, lang: str) -> str:
    """A district-level unit's name inside a sentence: "huyện Ba Tơ", "thị xã Đức Phổ" /
    "Ba Tơ district", "Đức Phổ town", "Quảng Ngãi city"."""
    prefixes = {"Thành phố ": "city", "Thị xã ": "town", "Huyện ": "district", "Quận ": "district"}
    for p, kind in prefixes.items():
        if name.startswith(p):
            return p.lower() + name[len(p) :] if lang == "vi" else f"{name[len(p) :]} {kind}"
    return name
