"""The words of the domain, once, in Vietnamese and English: what every surface calls things.

The status page, ``netmon site``, the Grafana dashboards, the alert texts and the reports
name the same states, units, measures and causes. Each term lives here, under one key, and
every surface asks for it::

    term("state.unreachable", "vi")   # "không liên lạc được"
    duration(7500, "vi")              # "2 giờ 5 phút"
    cause("3 failed rounds: timeout", "vi")

Keys by family: ``state.<State>`` (device and commune states), ``if.<ifOperStatus code>``
(IF-MIB interface states), ``role.<role>`` (device roles), ``unit.<s|min|h|d>``, ``reason.<code>``
(the agents' failure codes), and the measures and units of the inventory (``coverage``,
``availability``, ``commune``, ...). :data:`AVOID` lists the variants that must not appear
beside them (a test reads every surface for them). Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["AVOID", "LANGUAGES", "TERMS", "cause", "duration", "interface_state", "reason", "term"]

LANGUAGES = ("vi", "en")

#: key -> (Vietnamese, English).
TERMS: Mapping[str, tuple[str, str]] = {
    # --- states of a device or a commune (collector.model.State)
    "state.up": ("hoạt động", "up"),
    "state.down": ("mất kết nối", "down"),
    "state.unreachable": ("không liên lạc được", "unreachable"),
    "state.unknown": ("không rõ", "unknown"),
    "state.maintenance": ("bảo trì", "maintenance"),
    # --- IF-MIB ifOperStatus
    "if.1": ("đang hoạt động", "up"),
    "if.2": ("không hoạt động", "down"),
    "if.3": ("đang kiểm tra", "testing"),
    "if.4": ("không rõ", "unknown"),
    "if.5": ("chờ kích hoạt", "dormant"),
    "if.6": ("không có phần cứng", "not present"),
    "if.7": ("lớp dưới mất kết nối", "lower layer down"),
    # --- device roles (config.inventory.Role)
    "role.core_router": ("router trục tỉnh", "provincial core router"),
    "role.district_router": ("router huyện", "district router"),
    "role.commune_router": ("router xã", "commune router"),
    "role.cpe": ("thiết bị đầu cuối (CPE)", "CPE"),
    "role.switch": ("switch", "switch"),
    "role.server": ("máy chủ", "server"),
    "role.other": ("thiết bị khác", "other device"),
    # --- units of time
    "unit.s": ("giây", "s"),
    "unit.min": ("phút", "min"),
    "unit.h": ("giờ", "h"),
    "unit.d": ("ngày", "d"),
    # --- units of the administration
    "province": ("Tỉnh", "Province"),
    "district": ("Huyện", "District"),
    "districts": ("Huyện", "Districts"),
    "commune": ("Xã", "Commune"),
    "communes": ("Xã", "Communes"),
    "device": ("Thiết bị", "Device"),
    "devices": ("Thiết bị", "Devices"),
    "agent": ("trạm giám sát", "monitoring agent"),
    # --- measures
    "coverage": ("Tỷ lệ xã kết nối", "Commune coverage"),
    "availability": ("Độ khả dụng", "Availability"),
    "connected": ("Đã kết nối", "Connected"),
    "provisioned": ("Đã lắp đặt", "Provisioned"),
    "target": ("Mục tiêu", "Target"),
    "outages": ("Số lần mất kết nối", "Outages"),
    "reboot": ("khởi động lại", "reboot"),
    "reboots": ("Khởi động lại", "Reboots"),
    "state": ("Trạng thái", "State"),
    "since": ("Từ lúc", "Since"),
    "rtt": ("Độ trễ", "Round-trip time"),
    "loss": ("Tỷ lệ mất gói", "Packet loss"),
    "jitter": ("Độ biến thiên trễ (jitter)", "Jitter"),
    "snmp_response": ("Thời gian phản hồi SNMP", "SNMP response time"),
    "uptime": ("Thời gian chạy liên tục (SNMP)", "Uptime (SNMP)"),
    "interfaces": ("Cổng mạng", "Interfaces"),
    "traffic": ("Lưu lượng", "Traffic"),
    "rx": ("nhận", "in"),
    "tx": ("gửi", "out"),
    "no_data": ("không có dữ liệu", "no data"),
    "monitoring_gap": ("không có dữ liệu giám sát", "no monitoring data"),
    # --- failure codes of the agents' probes (agent.snmp.classify, agent.icmp)
    "reason.timeout": ("hết thời gian chờ", "timeout"),
    "reason.no answer": ("không trả lời", "no answer"),
    "reason.refused": ("bị từ chối kết nối", "connection refused"),
    "reason.unreachable": ("không có đường tới thiết bị", "no route to the device"),
    "reason.resolve": ("không phân giải được địa chỉ", "address does not resolve"),
    "reason.socket": ("lỗi socket", "socket error"),
    "reason.error": ("lỗi mạng", "network error"),
    "reason.auth": ("sai khóa xác thực SNMP", "SNMP authentication failed"),
    "reason.unknown_user": ("sai tên người dùng SNMP", "unknown SNMP user"),
    "reason.decrypt": ("không giải mã được SNMP", "SNMP decryption failed"),
    "reason.crypto": ("lỗi mã hóa SNMP", "SNMP encryption error"),
    "reason.not_in_time_window": ("lệch đồng hồ SNMPv3", "SNMPv3 not in time window"),
    "reason.unknown_engine": ("không nhận ra engine SNMPv3", "unknown SNMPv3 engine"),
    "reason.security_level": ("mức bảo mật SNMP không được hỗ trợ", "unsupported SNMP security level"),
    "reason.report": ("thiết bị từ chối yêu cầu SNMP", "the device refused the SNMP request"),
    "reason.security_model": ("mô hình bảo mật SNMP không đúng", "wrong SNMP security model"),
    "reason.malformed": ("phản hồi sai định dạng", "malformed response"),
    "reason.empty": ("phản hồi rỗng", "empty response"),
    "reason.bad_response": ("phản hồi không khớp yêu cầu", "mismatched response"),
    "reason.snmp_error": ("lỗi SNMP", "SNMP error"),
}

#: Variants that name a concept differently from :data:`TERMS` (regular expressions,
#: case-insensitive), by language: no surface may use them.
AVOID: Mapping[str, tuple[str, ...]] = {
    "vi": (
        r"không tới được",  # state.unreachable
        r"chưa rõ",  # state.unknown
        r"sẵn sàng",  # availability ("Tỷ lệ sẵn sàng")
        r"(?<!độ )khả dụng",  # availability without its noun
        r"\blên\b",  # an interface that is up
        r"\bxuống\b",  # ... or down
        r"chưa có dữ liệu",  # no_data
        r"không có số liệu|số liệu giám sát",  # ... the data are "dữ liệu" ("số liệu" is in the network's name)
        r"tỷ lệ kết nối",  # coverage is of communes: "Tỷ lệ xã kết nối"
        r"\d (s|min|h|d)\b",  # English units
        r"failed rounds?|timeout|offline|no data|answering",  # English causes
        r"\breboot|\brestart|bật lại",  # reboot
        r"mất điện",  # a reboot is not known to be a power cut: say what was seen
        r"\bXã (Xã|Phường|Thị trấn)\b",  # a prefix doubled on a unit's full name
        r"\bHuyện (Huyện|Thị xã|Thành phố)\b",
    ),
    "en": (
        r"\bCommune (Xã|Phường|Thị trấn)\b",
        r"\bnot reachable\b",
        r"\brestart|power cut",  # reboot; a reboot is not known to be a power cut
    ),
}


def _lang(lang: str) -> int:
    return 1 if lang == "en" else 0


def term(key: str, lang: str) -> str:
    """The word for ``key`` in ``lang`` (Vietnamese for any other language).

    Raises:
        KeyError: ``key`` is not in the glossary (a programming error, caught by the tests).
    """
    return TERMS[key][_lang(lang)]


def interface_state(oper_status: int, lang: str) -> str:
    """An IF-MIB ifOperStatus code in words; an unknown code as "không rõ (9)"."""
    key = f"if.{oper_status}"
    if key in TERMS:
        return term(key, lang)
    return f"{term('if.4', lang)} ({oper_status})"


def reason(code: str, lang: str) -> str:
    """A probe failure code (``timeout``, ``auth``, ...) in words; an unknown code as it is."""
    key = f"reason.{code}"
    return term(key, lang) if key in TERMS else code


def duration(seconds: float | None, lang: str) -> str:
    """A duration as a person reads it: "45 giây", "12 phút", "2 giờ 5 phút", "3 ngày 4 giờ";
    in English "45 s", "12 min", "2 h 05", "3 d 4 h". None is "–"."""
    if seconds is None:
        return "–"
    s = max(0, round(seconds))
    u = {k: term(f"unit.{k}", lang) for k in ("s", "min", "h", "d")}
    if s < 60:
        return f"{s} {u['s']}"
    if s < 3600:
        return f"{s // 60} {u['min']}"
    if s < 86400:
        h, m = s // 3600, s % 3600 // 60
        if lang == "en":
            return f"{h} {u['h']} {m:02d}"
        # "2 giờ 05" would read as the time of day 2:05: say the minutes.
        return f"{h} {u['h']}" + (f" {m} {u['min']}" if m else "")
    d, h = s // 86400, s % 86400 // 3600
    return f"{d} {u['d']} {h} {u['h']}" if h or lang == "en" else f"{d} {u['d']}"


# The causes the collector's core writes (collector.state, collector.engine), matched in order.
_CAUSES: tuple[tuple[re.Pattern[str], tuple[str, str]], ...] = (
    (
        re.compile(r"1 failed rounds?: (?P<reason>.*)"),
        ("1 lượt thăm dò không có trả lời ({reason})", "1 failed round ({reason})"),
    ),
    (
        re.compile(r"(?P<n>\d+) failed rounds?: (?P<reason>.*)"),
        ("{n} lượt thăm dò liên tiếp không có trả lời ({reason})", "{n} failed rounds in a row ({reason})"),
    ),
    (
        re.compile(r"(?P<trap>\w+) trap, probe failed: (?P<reason>.*)"),
        (
            "thiết bị báo {trap} (bẫy SNMP), thăm dò ngay không có trả lời ({reason})",
            "{trap} trap, the probe that followed it failed ({reason})",
        ),
    ),
    (re.compile(r"unreachable: (?P<device>\S+) is down"), ("{device} mất kết nối", "{device} is down")),
    (
        re.compile(r"agent (?P<agent>\S+) offline"),
        ("trạm giám sát {agent} ngắt kết nối", "monitoring agent {agent} went offline"),
    ),
    (re.compile(r"no data yet"), ("chưa nhận được dữ liệu nào", "nothing received yet")),
    (re.compile(r"no data"), ("không nhận được dữ liệu", "nothing received")),
    (re.compile(r"answering again"), ("trả lời trở lại", "answering again")),
    (re.compile(r"answering"), ("có trả lời", "answering")),
    (re.compile(r"maintenance ended"), ("hết thời gian bảo trì", "maintenance ended")),
    (re.compile(r"maintenance"), ("bảo trì theo lịch", "scheduled maintenance")),
)


def cause(text: str, lang: str) -> str:
    """A cause recorded by the collector's core ("3 failed rounds: timeout", "agent X
    offline", ...) in words of ``lang``. Free text (a maintenance window's reason, written
    by an operator) is returned as it is."""
    for pattern, phrases in _CAUSES:
        m = pattern.fullmatch(text)
        if m is not None:
            fields = m.groupdict()
            if "reason" in fields:
                fields["reason"] = reason(fields["reason"], lang)
            return phrases[_lang(lang)].format(**fields)
    return text
