"""Grafana dashboards for netmon, in Vietnamese and English, generated from one source.

Four dashboards per language: province overview, district drill-down, site detail, agent
and collector health. Every query reads only metrics of :mod:`exporters.prometheus`; the
tests run each one against a real Prometheus scraping a collector fed by a scenario.

Regenerate the JSON files after editing this module (a test fails when they differ)::

    python -m exporters.grafana.dashboards --write
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from netmon.collector.model import STATE_CODE

__all__ = ["DATASOURCE_UID", "LANGUAGES", "build", "main", "write"]

LANGUAGES = ("vi", "en")
DATASOURCE_UID = "netmon-prometheus"
HERE = Path(__file__).resolve().parent

#: Titles and legends: key -> (Vietnamese, English).
TEXT: dict[str, tuple[str, str]] = {
    "province": ("Tổng quan tỉnh", "Province overview"),
    "district": ("Chi tiết huyện", "District drill-down"),
    "site": ("Chi tiết điểm", "Site detail"),
    "health": ("Sức khỏe agent và collector", "Agent and collector health"),
    "coverage": ("Tỷ lệ xã kết nối", "Commune coverage"),
    "coverage_vs_target": ("Tỷ lệ xã kết nối so với mục tiêu", "Coverage vs target"),
    "target": ("Mục tiêu", "Target"),
    "connected": ("Đã kết nối", "Connected"),
    "communes": ("Tổng số xã", "Communes"),
    "provisioned": ("Đã lắp đặt", "Provisioned"),
    "by_state": ("Số xã theo trạng thái", "Communes by state"),
    "down_communes": ("Xã mất kết nối và thời điểm bắt đầu", "Disconnected communes, since"),
    "down_devices": ("Thiết bị đang lỗi và thời điểm bắt đầu", "Devices down now, since"),
    "worst_districts": ("Huyện có tỷ lệ kết nối thấp nhất", "Worst districts by coverage"),
    "availability": ("Tỷ lệ sẵn sàng", "Availability"),
    "district_var": ("Huyện", "District"),
    "device_var": ("Thiết bị", "Device"),
    "communes_table": ("Trạng thái các xã", "Communes"),
    "commune_availability": ("Tỷ lệ sẵn sàng theo xã (1 ngày)", "Commune availability (1 day)"),
    "state": ("Trạng thái", "State"),
    "since": ("Từ lúc", "Since"),
    "rtt": ("Độ trễ (RTT)", "Round-trip time"),
    "jitter": ("Độ biến thiên trễ (jitter)", "Jitter"),
    "loss": ("Tỷ lệ mất gói", "Packet loss"),
    "snmp_response": ("Thời gian phản hồi SNMP", "SNMP response time"),
    "interfaces": ("Trạng thái cổng", "Interface status"),
    "traffic": ("Lưu lượng", "Traffic"),
    "rx": ("nhận", "in"),
    "tx": ("gửi", "out"),
    "outages": ("Số lần mất kết nối trong khoảng thời gian", "Outages in the time range"),
    "state_history": ("Lịch sử trạng thái", "State history"),
    "agents_up": ("Agent trực tuyến", "Agents online"),
    "agent_age": ("Thời gian từ lần gửi cuối", "Time since last message"),
    "agent_devices": ("Số thiết bị mỗi agent", "Devices per agent"),
    "ingest": ("Tốc độ nhận dữ liệu", "Ingest rate"),
    "batches": ("lô", "batches"),
    "samples": ("mẫu", "samples"),
    "invalid": ("Bản tin không hợp lệ theo lý do", "Invalid payloads by reason"),
    "duplicates": ("Lô trùng lặp", "Duplicate batches"),
    "late": ("Mẫu đến muộn", "Late samples"),
    "unknown_devices": ("Mẫu của thiết bị lạ", "Unknown-device samples"),
    "dead_letters": ("Thư chết (dead letters)", "Dead letters"),
    "snapshot_age": ("Độ trễ trạng thái collector", "Collector state age"),
    "up": ("hoạt động", "up"),
    "down": ("mất kết nối", "down"),
    "unreachable": ("không tới được", "unreachable"),
    "unknown": ("chưa rõ", "unknown"),
    "maintenance": ("bảo trì", "maintenance"),
}


def _t(key: str, lang: str) -> str:
    vi, en = TEXT[key]
    return vi if lang == "vi" else en


_DS = {"type": "prometheus", "uid": DATASOURCE_UID}


def _target(
    expr: str, legend: str = "", *, instant: bool = False, table: bool = False, ref: str = "A"
) -> dict[str, Any]:
    t: dict[str, Any] = {"datasource": _DS, "expr": expr, "refId": ref, "legendFormat": legend or "__auto"}
    if instant:
        t["instant"] = True
        t["range"] = False
    if table:
        t["format"] = "table"
    return t


_SELECTOR = re.compile(r"\bnetmon_[a-z0-9_]+(\{[^}]*\})?")
_RANGE = re.compile(r"\]\s*\)|\[[^\]]*\]")
#: Several collectors (a hot-hot pair; partitions) export the same series with different
#: ``instance`` (and ``partition``) labels; the network's boards read one copy of each.
ONE_COPY = "max without (instance, partition)"


def one_copy(expr: str) -> str:
    """``expr`` reading one copy of each series however many collectors export it.

    Each instant selector is wrapped in :data:`ONE_COPY` (so that a one-to-one join never
    meets two copies of a device); an expression over range vectors (``rate``,
    ``increase``, ``*_over_time``) is wrapped whole.
    """
    if _RANGE.search(expr):
        return f"{ONE_COPY} ({expr})"
    return _SELECTOR.sub(lambda m: f"{ONE_COPY} ({m.group(0)})", expr)


class _Board:
    """Panels laid out left to right, 24 grid units wide.

    ``per_collector``: the board is about each collector (its health), so its queries keep
    every collector's series apart; the others read :func:`one_copy`.
    """

    def __init__(self, uid: str, lang: str, title_key: str, *, per_collector: bool = False) -> None:
        self.per_collector = per_collector
        self.lang = lang
        self.uid = f"netmon-{uid}-{lang}"
        self.title = f"netmon · {_t(title_key, lang)}"
        self.panels: list[dict[str, Any]] = []
        self.variables: list[dict[str, Any]] = []
        self._x = 0
        self._y = 0
        self._row_h = 0

    def panel(
        self,
        kind: str,
        title_key: str,
        targets: list[dict[str, Any]],
        *,
        w: int = 8,
        h: int = 8,
        unit: str = "",
        extra: dict[str, Any] | None = None,
    ) -> None:
        if self._x + w > 24:
            self._x, self._y, self._row_h = 0, self._y + self._row_h, 0
        defaults: dict[str, Any] = {}
        if unit:
            defaults["unit"] = unit
        p: dict[str, Any] = {
            "id": len(self.panels) + 1,
            "type": kind,
            "title": _t(title_key, self.lang),
            "datasource": _DS,
            "gridPos": {"x": self._x, "y": self._y, "w": w, "h": h},
            "targets": targets if self.per_collector else [{**t, "expr": one_copy(t["expr"])} for t in targets],
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": {},
        }
        if extra:
            for k, v in extra.items():
                if k == "defaults":
                    defaults.update(v)
                else:
                    p[k] = v
        self.panels.append(p)
        self._x += w
        self._row_h = max(self._row_h, h)

    def variable(self, name: str, label_key: str, metric: str, label: str) -> None:
        query = f"label_values({metric}, {label})"
        self.variables.append(
            {
                "name": name,
                "label": _t(label_key, self.lang),
                "type": "query",
                "datasource": _DS,
                "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
                "definition": query,
                "refresh": 2,
                "sort": 1,
                "includeAll": False,
                "multi": False,
            }
        )

    def json(self) -> dict[str, Any]:
        return {
            "uid": self.uid,
            "title": self.title,
            "tags": ["netmon", self.lang],
            "timezone": "browser",
            "schemaVersion": 39,
            "version": 1,
            "editable": True,
            "refresh": "30s",
            "time": {"from": "now-6h", "to": "now"},
            "templating": {"list": self.variables},
            "annotations": {"list": []},
            "links": [{"type": "dashboards", "tags": ["netmon", self.lang], "asDropdown": True, "title": "netmon"}],
            "panels": self.panels,
        }


def _state_mappings(lang: str) -> dict[str, Any]:
    """Value mappings from state codes to the state's name in the language, with colours."""
    colours = {"up": "green", "down": "red", "unreachable": "orange", "unknown": "gray", "maintenance": "blue"}
    return {
        "mappings": [
            {
                "type": "value",
                "options": {
                    str(code): {"text": _t(state.value, lang), "color": colours[state.value], "index": code}
                    for state, code in STATE_CODE.items()
                },
            }
        ]
    }


#: Devices not up or in maintenance: down (2) or unreachable (3).
_OUT = "(netmon_device_state == 2 or netmon_device_state == 3)"


def province(lang: str) -> dict[str, Any]:
    """The province overview."""
    b = _Board("province", lang, "province")
    pct = {"defaults": {"min": 0, "max": 1}}
    b.panel(
        "stat",
        "coverage",
        [_target("netmon_province_coverage_ratio", "{{province_name}}", instant=True)],
        w=6,
        unit="percentunit",
        extra=pct,
    )
    b.panel(
        "timeseries",
        "coverage_vs_target",
        [
            _target("netmon_province_coverage_ratio", _t("coverage", lang)),
            _target("netmon_coverage_target_ratio", _t("target", lang), ref="B"),
        ],
        w=12,
        unit="percentunit",
        extra=pct,
    )
    b.panel(
        "stat",
        "communes",
        [
            _target("netmon_province_communes_connected", _t("connected", lang), instant=True),
            _target("netmon_province_communes_provisioned", _t("provisioned", lang), instant=True, ref="B"),
            _target("netmon_province_communes", _t("communes", lang), instant=True, ref="C"),
        ],
        w=6,
    )
    b.panel("bargauge", "by_state", [_target("netmon_province_communes_by_state", "{{state}}", instant=True)], w=8)
    b.panel(
        "table",
        "down_communes",
        [
            _target(
                "1000 * (netmon_commune_state_since_timestamp_seconds"
                " and on (province, commune) netmon_commune_connected == 0"
                " and on (province, commune) netmon_commune_provisioned == 1)",
                instant=True,
                table=True,
            )
        ],
        w=16,
        unit="dateTimeAsIso",
    )
    b.panel(
        "table",
        "down_devices",
        [
            _target(
                f"1000 * (netmon_device_state_since_timestamp_seconds and on (device) {_OUT})"
                " * on (device) group_left (role, district, commune, commune_name) netmon_device_info",
                instant=True,
                table=True,
            )
        ],
        w=16,
        unit="dateTimeAsIso",
    )
    b.panel(
        "bargauge",
        "worst_districts",
        [_target("bottomk(10, netmon_district_coverage_ratio)", "{{district_name}}", instant=True)],
        w=8,
        unit="percentunit",
        extra=pct,
    )
    b.panel(
        "stat",
        "availability",
        [_target("netmon_province_availability_ratio", "{{window}}", instant=True)],
        w=24,
        h=5,
        unit="percentunit",
    )
    return b.json()


def district(lang: str) -> dict[str, Any]:
    """The district drill-down (variable ``district``)."""
    b = _Board("district", lang, "district")
    b.variable("district", "district_var", "netmon_district_communes", "district")
    sel = 'district="$district"'
    b.panel(
        "stat",
        "coverage",
        [_target(f"netmon_district_coverage_ratio{{{sel}}}", "{{district_name}}", instant=True)],
        w=6,
        unit="percentunit",
    )
    b.panel(
        "timeseries",
        "coverage",
        [_target(f"netmon_district_coverage_ratio{{{sel}}}", "{{district_name}}")],
        w=12,
        unit="percentunit",
    )
    b.panel(
        "bargauge", "by_state", [_target(f"netmon_district_communes_by_state{{{sel}}}", "{{state}}", instant=True)], w=6
    )
    b.panel(
        "table",
        "communes_table",
        [
            _target(f"netmon_commune_state{{{sel}}}", instant=True, table=True),
            _target(f"1000 * netmon_commune_state_since_timestamp_seconds{{{sel}}}", instant=True, table=True, ref="B"),
        ],
        w=12,
        h=10,
        extra={"defaults": _state_mappings(lang), "transformations": [{"id": "merge", "options": {}}]},
    )
    b.panel(
        "bargauge",
        "commune_availability",
        [_target(f'netmon_commune_availability_ratio{{{sel},window="1d"}}', "{{commune_name}}", instant=True)],
        w=12,
        h=10,
        unit="percentunit",
    )
    b.panel(
        "table",
        "down_devices",
        [
            _target(
                f"1000 * (netmon_device_state_since_timestamp_seconds and on (device) {_OUT})"
                f" * on (device) group_left (role, commune, commune_name) netmon_device_info{{{sel}}}",
                instant=True,
                table=True,
            )
        ],
        w=24,
        unit="dateTimeAsIso",
    )
    return b.json()


def site(lang: str) -> dict[str, Any]:
    """The site detail (variable ``device``)."""
    b = _Board("site", lang, "site")
    b.variable("device", "device_var", "netmon_device_info", "device")
    sel = 'device="$device"'
    b.panel(
        "stat",
        "state",
        [_target(f"netmon_device_state{{{sel}}}", "{{device}}", instant=True)],
        w=6,
        extra={"defaults": _state_mappings(lang)},
    )
    b.panel(
        "stat",
        "since",
        [_target(f"1000 * netmon_device_state_since_timestamp_seconds{{{sel}}}", "{{device}}", instant=True)],
        w=6,
        unit="dateTimeAsIso",
    )
    b.panel(
        "stat",
        "outages",
        [_target(f"increase(netmon_device_outages_total{{{sel}}}[$__range])", "{{device}}", instant=True)],
        w=6,
    )
    b.panel(
        "stat",
        "availability",
        [_target(f"avg_over_time(netmon_device_up{{{sel}}}[$__range])", "{{device}}", instant=True)],
        w=6,
        unit="percentunit",
    )
    b.panel("timeseries", "rtt", [_target(f"netmon_device_rtt_seconds{{{sel}}}", _t("rtt", lang))], w=12, unit="s")
    b.panel(
        "timeseries", "jitter", [_target(f"netmon_device_jitter_seconds{{{sel}}}", _t("jitter", lang))], w=12, unit="s"
    )
    b.panel(
        "timeseries",
        "loss",
        [_target(f"netmon_device_loss_ratio{{{sel}}}", _t("loss", lang))],
        w=12,
        unit="percentunit",
    )
    b.panel(
        "timeseries",
        "snmp_response",
        [_target(f"netmon_device_snmp_response_seconds{{{sel}}}", _t("snmp_response", lang))],
        w=12,
        unit="s",
    )
    b.panel(
        "state-timeline",
        "state_history",
        [_target(f"netmon_device_state{{{sel}}}", "{{device}}")],
        w=24,
        h=5,
        extra={"defaults": _state_mappings(lang)},
    )
    b.panel(
        "table",
        "interfaces",
        [_target(f"netmon_interface_oper_status{{{sel}}}", "{{interface}}", instant=True, table=True)],
        w=8,
    )
    b.panel(
        "timeseries",
        "traffic",
        [
            _target(
                f"8 * rate(netmon_interface_receive_bytes_total{{{sel}}}[$__rate_interval])",
                "{{interface}} " + _t("rx", lang),
            ),
            _target(
                f"8 * rate(netmon_interface_transmit_bytes_total{{{sel}}}[$__rate_interval])",
                "{{interface}} " + _t("tx", lang),
                ref="B",
            ),
        ],
        w=16,
        unit="bps",
    )
    return b.json()


def health(lang: str) -> dict[str, Any]:
    """Agents and the collector."""
    b = _Board("health", lang, "health", per_collector=True)
    b.panel("stat", "agents_up", [_target("netmon_agent_up", "{{agent}}", instant=True)], w=8)
    b.panel(
        "timeseries",
        "agent_age",
        [_target("time() - netmon_agent_last_seen_timestamp_seconds", "{{agent}}")],
        w=8,
        unit="s",
    )
    b.panel("stat", "agent_devices", [_target("netmon_agent_devices", "{{agent}}", instant=True)], w=8)
    b.panel(
        "timeseries",
        "ingest",
        [
            _target("rate(netmon_collector_batches_total[$__rate_interval])", _t("batches", lang)),
            _target("rate(netmon_collector_samples_total[$__rate_interval])", _t("samples", lang), ref="B"),
        ],
        w=12,
        unit="ops",
    )
    b.panel(
        "timeseries",
        "invalid",
        [_target("increase(netmon_collector_invalid_batches_total[$__rate_interval])", "{{reason}}")],
        w=12,
    )
    b.panel(
        "stat",
        "duplicates",
        [_target("netmon_collector_duplicate_batches_total", _t("duplicates", lang), instant=True)],
        w=6,
    )
    b.panel("stat", "late", [_target("netmon_collector_late_samples_total", _t("late", lang), instant=True)], w=6)
    b.panel(
        "stat",
        "unknown_devices",
        [_target("netmon_collector_unknown_device_samples_total", _t("unknown_devices", lang), instant=True)],
        w=6,
    )
    b.panel(
        "stat",
        "dead_letters",
        [_target("netmon_collector_dead_letters_total", _t("dead_letters", lang), instant=True)],
        w=6,
    )
    b.panel(
        "timeseries",
        "snapshot_age",
        [_target("time() - netmon_snapshot_timestamp_seconds", _t("snapshot_age", lang))],
        w=24,
        h=6,
        unit="s",
    )
    return b.json()


def build(lang: str) -> dict[str, dict[str, Any]]:
    """The dashboards of a language, by file name."""
    return {
        f"netmon-{name}.json": fn(lang)
        for name, fn in (("province", province), ("district", district), ("site", site), ("health", health))
    }


def write(root: Path = HERE / "dashboards") -> list[Path]:
    """Write every dashboard under ``root/<lang>/``; returns the paths."""
    out = []
    for lang in LANGUAGES:
        for name, board in build(lang).items():
            path = root / lang / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(board, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
            out.append(path)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m exporters.grafana.dashboards --write``: regenerate the JSON files."""
    ap = argparse.ArgumentParser(description="Generate netmon's Grafana dashboards (vi and en).")
    ap.add_argument("--write", action="store_true", help="write exporters/grafana/dashboards/<lang>/*.json")
    args = ap.parse_args(argv)
    if args.write:
        for p in write():
            print(p.relative_to(HERE))
    else:
        print(json.dumps({lang: build(lang) for lang in LANGUAGES}, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
