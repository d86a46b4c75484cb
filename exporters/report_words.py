"""Words of the coverage report, in Vietnamese (default) and English, and the formats of
its times, durations and ratios per language; pure.

The domain's terms — states, availability, coverage, outages, reboots, a monitoring gap,
maintenance, units of time — are :mod:`collector.glossary`'s, as on the status page, in
Grafana and in the alerts; only the report's own labels (its sections, the information
sheet, the data coverage sentences) are kept here.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from netmon.collector.glossary import TERMS, term

#: Labels only the report uses; the ones made of the domain's terms are in :func:`_composed`.
_OWN: dict[str, dict[str, str]] = {
    "vi": {
        "period": "Kỳ báo cáo",
        "generated": "Lập lúc",
        "summary": "Tổng hợp toàn tỉnh",
        "progress": "Tiến độ kết nối 100% xã (cuối kỳ)",
        "unit": "Đơn vị",
        "code": "Mã",
        "name": "Tên",
        "yes": "có",
        "no": "không",
        "ts": "Thời điểm",
        "ratio": "Tỷ lệ",
        "none": "Không có",
        "item": "Mục",
        "value": "Giá trị",
        "period_start": "Đầu kỳ",
        "period_end": "Cuối kỳ",
        "tz": "Múi giờ",
        "data_start": "Dữ liệu từ",
        "data_end": "Dữ liệu đến",
        "data_ratio": "Mức phủ dữ liệu giám sát của kỳ",
        "data_complete": "Dữ liệu giám sát phủ toàn bộ kỳ báo cáo.",
        "data_partial": "Dữ liệu giám sát chỉ phủ {ratio} kỳ báo cáo: từ {start} đến {end} ({span}). "
        "Các số liệu dưới đây chỉ tính trong khoảng thời gian này.",
        "data_partial_short": "Cảnh báo: dữ liệu giám sát chỉ phủ {ratio} kỳ {label} (từ {start} đến {end}).",
        "period_open": "Kỳ báo cáo chưa kết thúc.",
        "no_data_store": "Kho lưu trữ chưa ghi nhận dữ liệu giám sát nào.",
        "no_data_last": "Dữ liệu gần nhất: {time}.",
        "no_data_next": "Dữ liệu đầu tiên sau kỳ này: {time}.",
        "no_data_unprovisioned": "Chưa xã nào có thiết bị truy nhập.",
        "sheet.info": "Thông tin",
        "sheet.units": "Đơn vị",
        "sheet.coverage_series": "Diễn biến kết nối",
        "sheet.structures": "Hai cơ cấu hành chính",
    },
    "en": {
        "period": "Period",
        "generated": "Generated",
        "summary": "Province summary",
        "progress": "Progress towards 100% of communes (end of period)",
        "unit": "Unit",
        "code": "Code",
        "name": "Name",
        "yes": "yes",
        "no": "no",
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
        "no_data_store": "The store holds no monitoring data yet.",
        "no_data_last": "Latest data: {time}.",
        "no_data_next": "First data after this period: {time}.",
        "no_data_unprovisioned": "No commune has an access device yet.",
        "sheet.info": "Info",
        "sheet.units": "Units",
        "sheet.coverage_series": "Coverage over time",
        "sheet.structures": "Both structures",
    },
}


def _cap(text: str) -> str:
    """A term at the start of a label ("mất kết nối" -> "Mất kết nối")."""
    return text[:1].upper() + text[1:]


def _composed(lang: str) -> dict[str, str]:
    """The report's labels made of the glossary's terms (states, availability, coverage,
    outages, monitoring gaps, maintenance, units of time), so that the report names them as
    the page, Grafana and the alerts do."""
    t = {k: term(k, lang) for k in TERMS if "." not in k}
    for k in ("state.up", "state.down", "state.unreachable", "state.maintenance", "unit.h"):
        t[k.split(".", 1)[1]] = term(k, lang)
    lo = {k: v.lower() for k, v in t.items()}
    words = {k: t[k] for k in ("district", "provisioned", "availability", "outages", "target", "reboots")}
    words["communes"] = f"Số {lo['communes']}" if lang == "vi" else t["communes"]  # a count of them
    words["sheet.communes"] = t["communes"]
    words["hour"] = t["h"]
    words["maintenance_h"] = f"{_cap(t['maintenance'])} ({t['h']})"
    words["unknown_h"] = f"{_cap(t['monitoring_gap'])} ({t['h']})"
    words["unknown_h_short"] = f"{_cap(t['no_data'])} ({t['h']})"
    if lang == "en":
        return words | {
            "title": f"Dedicated data network: {lo['coverage']} and {lo['availability']} report",
            "no_data": f"{_cap(t['monitoring_gap'])} in {{label}} ({{start}} – {{end}}).",
            "by_district": f"By {lo['district']}",
            "connected_end": f"{t['connected']} at end",
            "coverage_end": f"{t['coverage']} at end",
            "twc": f"Time-weighted {lo['coverage']}",
            "twc_short": f"Time-weighted {lo['coverage']}",
            "meeting": f"{t['communes']} meeting the {lo['target']}",
            "meeting_short": f"Meeting the {lo['target']}",
            "outage_h": f"Outage time ({t['h']})",
            "outage_h_short": f"Outage time ({t['h']})",
            "reboots_short": f"{t['reboots']} not long enough to be counted as {t['down']}",
            "reboots_short_n": f"{{k}} not long enough to be counted as {t['down']}",
            "worst": f"{t['communes']} with the lowest {lo['availability']}",
            "rebooted": f"{t['communes']} whose equipment rebooted most",
            "chart_coverage": f"Time-weighted {lo['coverage']} by {lo['district']} against the {lo['target']}",
            "chart_series": f"{t['communes']} {lo['connected']} over time",
            "chart_distribution": f"{t['availability']} of {lo['communes']}",
            "notes": f"Time with {t['monitoring_gap']} and {t['maintenance']} time are not counted as "
            f"{t['down']}. {t['availability']} = time {t['up']} / (time {t['up']} + time {t['down']} "
            f"+ time {t['unreachable']}). {t['reboots']}: SNMP uptime starting again; one shorter than "
            f"a few polls is not counted as {t['down']} and lowers no {lo['availability']}.",
            "sheet.worst": f"Lowest {lo['availability']}",
        }
    return words | {
        "title": f"Báo cáo {lo['coverage']} và {lo['availability']} mạng truyền số liệu chuyên dùng",
        "no_data": f"{_cap(t['monitoring_gap'])} trong kỳ {{label}} ({{start}} – {{end}}).",
        "by_district": f"Theo {lo['district']}",
        "connected_end": f"{t['connected']} cuối kỳ",
        "coverage_end": f"{t['coverage']} cuối kỳ",
        "twc": f"{t['coverage']} bình quân theo thời gian",
        "twc_short": f"{t['coverage']} bình quân",
        "meeting": f"{t['communes']} đạt {lo['target']} {lo['availability']}",
        "meeting_short": f"{t['communes']} đạt {lo['target']}",
        "outage_h": f"Tổng thời gian {t['down']} ({t['h']})",
        "outage_h_short": f"{_cap(t['down'])} ({t['h']})",
        "reboots_short": f"{t['reboots']} không đủ lâu để bị tính là {t['down']}",
        "reboots_short_n": f"{{k}} lần không đủ lâu để bị tính là {t['down']}",
        "worst": f"Các {lo['communes']} có {lo['availability']} thấp nhất",
        "rebooted": f"Các {lo['communes']} có thiết bị {lo['reboot']} nhiều nhất",
        "chart_coverage": f"{t['coverage']} bình quân theo thời gian của từng {lo['district']} so với {lo['target']}",
        "chart_series": f"{t['coverage']} theo thời gian",
        "chart_distribution": f"Phân bố {lo['availability']} của các {lo['communes']}",
        "notes": f"Thời gian {t['monitoring_gap']} và thời gian {t['maintenance']} không tính là {t['down']}. "
        f"{t['availability']} = thời gian {t['up']} / (thời gian {t['up']} + thời gian {t['down']} "
        f"+ thời gian {t['unreachable']}). {t['reboots']}: thời gian chạy liên tục (SNMP) bắt đầu lại; "
        f"lần ngắn hơn vài lượt thăm dò không tính là {t['down']} và không làm giảm {lo['availability']}.",
        "sheet.worst": f"{t['communes']} có {lo['availability']} thấp nhất",
    }


_WORDS: dict[str, dict[str, str]] = {lang: _OWN[lang] | _composed(lang) for lang in _OWN}


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
        "com\u00admune",
        "Out\u00adages",
        "Re\u00adboots",
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


def fmt_pct(r: float | None, digits: int = 2) -> str:
    """A ratio as a percentage (``–`` for none). A decimal point in both languages, as on the
    status page and in the charts, so that one document never mixes two notations."""
    return "–" if r is None else f"{r * 100:.{digits}f}%"
