"""Words of the status page and API texts, in Vietnamese (default) and English; pure."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LANGUAGES = ("vi", "en")
#: Times are shown in the province's time zone whatever the server's.
TZ = ZoneInfo("Asia/Ho_Chi_Minh")

_WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Giám sát mạng truyền số liệu chuyên dùng",
        "overview": "Tổng quan",
        "coverage": "Tỷ lệ xã kết nối",
        "target": "mục tiêu",
        "district": "Huyện",
        "districts": "Huyện",
        "commune": "Xã",
        "communes": "Xã",
        "connected": "Kết nối",
        "provisioned": "Đã lắp đặt",
        "down_now": "Đang mất kết nối",
        "nothing_down": "Tất cả xã đang kết nối.",
        "by_state": "Xã theo trạng thái",
        "search": "Tìm xã, huyện hoặc mã",
        "search_button": "Tìm",
        "results": "Kết quả tìm kiếm",
        "no_results": "Không tìm thấy.",
        "device": "Thiết bị",
        "devices": "Thiết bị",
        "state": "Trạng thái",
        "since": "Từ",
        "last_seen": "Lần cuối thấy",
        "rtt": "Độ trễ",
        "loss": "Mất gói",
        "jitter": "Jitter",
        "uptime": "Thời gian chạy (SNMP)",
        "interfaces": "Cổng",
        "interfaces_unread": "không đọc được bảng cổng",
        "outages": "Sự cố gần đây",
        "no_outages": "Không có sự cố trong 7 ngày qua.",
        "start": "Bắt đầu",
        "end": "Kết thúc",
        "duration": "Thời lượng",
        "ongoing": "đang diễn ra",
        "availability": "Khả dụng",
        "updated": "Cập nhật",
        "not_found": "Không tìm thấy",
        "language": "English",
        "cause": "Nguyên nhân",
        "history": "Độ trễ 6 giờ qua",
        "no_data": "chưa có dữ liệu",
        "state.up": "hoạt động",
        "state.down": "mất kết nối",
        "state.unreachable": "không liên lạc được",
        "state.unknown": "không rõ",
        "state.maintenance": "bảo trì",
        "if.up": "lên",
        "if.down": "xuống",
        "if.other": "khác",
        "uplink_district": "đường truyền {name} mất từ {time}",
        "uplink_core": "đường truyền trục tỉnh ({device}) mất từ {time}",
        "uplink_device": "thiết bị {device} mất từ {time}",
        "down_since": "mất kết nối từ {time}",
        "unknown_since": "không có dữ liệu giám sát từ {time}",
        "maintenance_since": "đang bảo trì từ {time}",
        "up_since": "hoạt động từ {time}",
        "unauthorized": "cần mã truy cập",
    },
    "en": {
        "title": "Dedicated data network monitoring",
        "overview": "Overview",
        "coverage": "Communes connected",
        "target": "target",
        "district": "District",
        "districts": "Districts",
        "commune": "Commune",
        "communes": "Communes",
        "connected": "Connected",
        "provisioned": "Provisioned",
        "down_now": "Down now",
        "nothing_down": "Every commune is connected.",
        "by_state": "Communes by state",
        "search": "Find a commune, district or code",
        "search_button": "Search",
        "results": "Search results",
        "no_results": "Nothing found.",
        "device": "Device",
        "devices": "Devices",
        "state": "State",
        "since": "Since",
        "last_seen": "Last seen",
        "rtt": "RTT",
        "loss": "Loss",
        "jitter": "Jitter",
        "uptime": "Uptime (SNMP)",
        "interfaces": "Interfaces",
        "interfaces_unread": "interfaces not read",
        "outages": "Recent outages",
        "no_outages": "No outages in the last 7 days.",
        "start": "Start",
        "end": "End",
        "duration": "Duration",
        "ongoing": "ongoing",
        "availability": "Availability",
        "updated": "Updated",
        "not_found": "Not found",
        "language": "Tiếng Việt",
        "cause": "Cause",
        "history": "Latency, last 6 hours",
        "no_data": "no data yet",
        "state.up": "up",
        "state.down": "down",
        "state.unreachable": "unreachable",
        "state.unknown": "unknown",
        "state.maintenance": "maintenance",
        "if.up": "up",
        "if.down": "down",
        "if.other": "other",
        "uplink_district": "uplink of {name} down since {time}",
        "uplink_core": "provincial core ({device}) down since {time}",
        "uplink_device": "device {device} down since {time}",
        "down_since": "down since {time}",
        "unknown_since": "no monitoring data since {time}",
        "maintenance_since": "in maintenance since {time}",
        "up_since": "up since {time}",
        "unauthorized": "a token is required",
    },
}


def words(lang: str) -> dict[str, str]:
    """The vocabulary of a language (Vietnamese for anything unknown)."""
    return _WORDS.get(lang, _WORDS["vi"])


def pick_language(query: str | None, cookie: str | None, accept_language: str | None, default: str = "vi") -> str:
    """The page language: ``?lang=`` first, then the cookie, then Accept-Language, then the default."""
    for choice in (query, cookie):
        if choice in LANGUAGES:
            return choice
    if accept_language:
        best: tuple[float, str] | None = None
        for part in accept_language.split(","):
            tag, _, params = part.strip().partition(";")
            q = 1.0
            if params.strip().startswith("q="):
                try:
                    q = float(params.strip()[2:])
                except ValueError:
                    q = 0.0
            primary = tag.strip().lower().split("-")[0]
            if primary in LANGUAGES and (best is None or q > best[0]):
                best = (q, primary)
        if best is not None and best[0] > 0:
            return best[1]
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


def duration(seconds: float | None) -> str:
    """A duration in compact form: ``45 s``, ``12 min``, ``2 h 05``, ``3 d 4 h``."""
    if seconds is None:
        return "–"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d}"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def unit_phrase(name: str, lang: str) -> str:
    """A district's name inside a sentence: "huyện Ba Tơ" / "Ba Tơ district"."""
    prefixes = ("Thành phố ", "Thị xã ", "Huyện ", "Quận ")
    if lang == "vi":
        for p in prefixes:
            if name.startswith(p):
                return p.lower() + name[len(p) :]
        return name
    for p in prefixes:
        if name.startswith(p):
            return f"{name[len(p) :]} district"
    return name
