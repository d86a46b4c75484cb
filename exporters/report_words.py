"""Words of the coverage report, in Vietnamese (default) and English, and the formats of
its times, durations and ratios per language; pure."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

_WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Báo cáo kết nối và khả dụng mạng truyền số liệu chuyên dùng",
        "period": "Kỳ báo cáo",
        "generated": "Lập lúc",
        "summary": "Tổng hợp toàn tỉnh",
        "progress": "Tiến độ kết nối 100% xã (cuối kỳ)",
        "by_district": "Theo huyện",
        "unit": "Đơn vị",
        "code": "Mã",
        "name": "Tên",
        "district": "Huyện",
        "communes": "Số xã",
        "provisioned": "Đã lắp đặt",
        "connected_end": "Kết nối cuối kỳ",
        "coverage_end": "Tỷ lệ kết nối cuối kỳ",
        "twc": "Tỷ lệ kết nối bình quân theo thời gian",
        "twc_short": "Kết nối bình quân",
        "availability": "Khả dụng",
        "meeting": "Xã đạt mục tiêu khả dụng",
        "meeting_short": "Xã đạt mục tiêu",
        "outages": "Số lần mất kết nối",
        "outage_h": "Tổng thời gian mất kết nối (giờ)",
        "outage_h_short": "Mất kết nối (giờ)",
        "unknown_h": "Không có dữ liệu giám sát (giờ)",
        "unknown_h_short": "Không có dữ liệu (giờ)",
        "maintenance_h": "Bảo trì (giờ)",
        "worst": "Các xã có khả dụng thấp nhất",
        "chart_coverage": "Tỷ lệ kết nối bình quân theo thời gian của từng huyện so với mục tiêu",
        "chart_series": "Tỷ lệ xã kết nối theo thời gian",
        "chart_distribution": "Phân bố khả dụng của các xã",
        "target": "Mục tiêu",
        "yes": "có",
        "no": "không",
        "connected": "Kết nối",
        "notes": "Thời gian không có dữ liệu giám sát và thời gian bảo trì không tính là mất kết nối. "
        "Khả dụng = thời gian kết nối / (thời gian kết nối + thời gian mất kết nối).",
        "ts": "Thời điểm",
        "ratio": "Tỷ lệ",
        "none": "Không có",
        "item": "Mục",
        "value": "Giá trị",
        "period_start": "Đầu kỳ",
        "period_end": "Cuối kỳ",
        "tz": "Múi giờ",
        "data_start": "Số liệu từ",
        "data_end": "Số liệu đến",
        "data_ratio": "Mức phủ số liệu của kỳ",
        "data_complete": "Số liệu giám sát phủ toàn bộ kỳ báo cáo.",
        "data_partial": "Số liệu giám sát chỉ phủ {ratio} kỳ báo cáo: từ {start} đến {end} ({span}). "
        "Các số liệu dưới đây chỉ tính trong khoảng thời gian này.",
        "data_partial_short": "Cảnh báo: số liệu giám sát chỉ phủ {ratio} kỳ {label} (từ {start} đến {end}).",
        "period_open": "Kỳ báo cáo chưa kết thúc.",
        "no_data": "Không có số liệu giám sát trong kỳ {label} ({start} – {end}).",
        "no_data_store": "Kho số liệu chưa có số liệu giám sát nào.",
        "no_data_last": "Số liệu gần nhất: {time}.",
        "no_data_next": "Số liệu đầu tiên sau kỳ này: {time}.",
        "no_data_unprovisioned": "Chưa xã nào có thiết bị truy nhập.",
        "sheet.info": "Thông tin",
        "sheet.units": "Đơn vị",
        "sheet.communes": "Xã",
        "sheet.worst": "Xã khả dụng thấp nhất",
        "sheet.coverage_series": "Diễn biến kết nối",
        "sheet.structures": "Hai cơ cấu hành chính",
        "day": "ngày",
        "hour": "giờ",
        "minute": "phút",
        "second": "giây",
    },
    "en": {
        "title": "Dedicated data network: coverage and availability report",
        "period": "Period",
        "generated": "Generated",
        "summary": "Province summary",
        "progress": "Progress towards 100% of communes (end of period)",
        "by_district": "By district",
        "unit": "Unit",
        "code": "Code",
        "name": "Name",
        "district": "District",
        "communes": "Communes",
        "provisioned": "Provisioned",
        "connected_end": "Connected at end",
        "coverage_end": "Coverage at end",
        "twc": "Time-weighted coverage",
        "twc_short": "Time-weighted coverage",
        "availability": "Availability",
        "meeting": "Communes meeting the objective",
        "meeting_short": "Meeting the objective",
        "outages": "Outages",
        "outage_h": "Outage time (h)",
        "outage_h_short": "Outage time (h)",
        "unknown_h": "No monitoring data (h)",
        "unknown_h_short": "No data (h)",
        "maintenance_h": "Maintenance (h)",
        "worst": "Communes with the lowest availability",
        "chart_coverage": "Time-weighted coverage by district against the target",
        "chart_series": "Communes connected over time",
        "chart_distribution": "Availability of communes",
        "target": "Target",
        "yes": "yes",
        "no": "no",
        "connected": "Connected",
        "notes": "Time without monitoring data and maintenance time are not counted as outages. "
        "Availability = connected time / (connected time + outage time).",
        "ts": "Time",
        "ratio": "Ratio",
        "none": "None",
        "item": "Item",
        "value": "Value",
        "period_start": "Period start",
        "period_end": "Period end",
        "tz": "Time zone",
        "data_start": "Data from",
        "data_end": "Data until",
        "data_ratio": "Share of the period with data",
        "data_complete": "Monitoring data covers the whole period.",
        "data_partial": "Monitoring data covers only {ratio} of the period: from {start} to {end} ({span}). "
        "The figures below are computed over that time only.",
        "data_partial_short": "warning: monitoring data covers only {ratio} of {label} (from {start} to {end}).",
        "period_open": "The period has not ended yet.",
        "no_data": "No monitoring data in {label} ({start} – {end}).",
        "no_data_store": "The store holds no monitoring data yet.",
        "no_data_last": "Latest data: {time}.",
        "no_data_next": "First data after this period: {time}.",
        "no_data_unprovisioned": "No commune has an access device yet.",
        "sheet.info": "Info",
        "sheet.units": "Units",
        "sheet.communes": "Communes",
        "sheet.worst": "Lowest availability",
        "sheet.coverage_series": "Coverage over time",
        "sheet.structures": "Both structures",
        "day": "d",
        "hour": "h",
        "minute": "min",
        "second": "s",
    },
}

#: Time formats per language (Vietnamese writes day/month/year).
_TIME_FORMAT = {"vi": "%d/%m/%Y %H:%M", "en": "%Y-%m-%d %H:%M"}
#: The same formats for spreadsheet cells.
XLSX_TIME_FORMAT = {"vi": "dd/mm/yyyy hh:mm", "en": "yyyy-mm-dd hh:mm"}


#: Where long English words of the table headers may break (soft hyphens), so that a printed
#: table of twelve columns fits the width of an A4 page (Chromium hyphenates nothing by itself
#: without its downloaded dictionaries).
_BREAKS = {
    word.replace("\u00ad", ""): word
    for word in (
        "Com\u00admunes",
        "Pro\u00advi\u00adsioned",
        "Con\u00adnected",
        "Avail\u00adabil\u00adity",
        "Main\u00adte\u00adnance",
        "ob\u00adjec\u00adtive",
        "Dis\u00adtrict",
        "cov\u00ader\u00adage",
    )
}


def breakable(text: str) -> str:
    """A table header with soft hyphens in its long words."""
    return " ".join(_BREAKS.get(word, word) for word in text.split(" "))


def report_words(lang: str) -> dict[str, str]:
    """Vocabulary of the report (Vietnamese for anything unknown)."""
    return _WORDS.get(lang, _WORDS["vi"])


def fmt_time(ts: float, tz: str, lang: str) -> str:
    """A moment as the report's readers write it, in the period's time zone."""
    return datetime.fromtimestamp(ts, ZoneInfo(tz)).strftime(_TIME_FORMAT.get(lang, _TIME_FORMAT["vi"]))


def fmt_span(seconds: float, lang: str) -> str:
    """A duration in words: ``15 phút``, ``2 ngày 3 giờ`` / ``15 min``, ``2 d 3 h`` (two largest units)."""
    w = report_words(lang)
    s = max(0, round(seconds))
    parts = [
        (s // 86400, w["day"]),
        (s % 86400 // 3600, w["hour"]),
        (s % 3600 // 60, w["minute"]),
        (s % 60, w["second"]),
    ]
    first = next((i for i, (n, _u) in enumerate(parts) if n), len(parts) - 1)
    shown = [f"{n} {u}" for n, u in parts[first : first + 2] if n] or [f"0 {w['second']}"]
    return " ".join(shown)


def fmt_pct(r: float | None, digits: int = 2) -> str:
    """A ratio as a percentage (``–`` for none). A decimal point in both languages, as on the
    status page and in the charts, so that one document never mixes two notations."""
    return "–" if r is None else f"{r * 100:.{digits}f}%"
