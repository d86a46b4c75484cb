"""Grafana dashboards for netmon, in Vietnamese and English, generated from one source.

Four dashboards per language: province overview, district drill-down, site detail, agent
and collector health. Every query reads only metrics of :mod:`exporters.prometheus`; the
tests run each one against a real Prometheus scraping a collector fed by a scenario.

Regenerate the JSON files after editing this module (a test fails when they differ)::

    python -m netmon.exporters.grafana.dashboards --write
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from netmon.collector.glossary import interface_state, term
from netmon.collector.model import STATE_CODE, State

__all__ = ["DATASOURCE_UID", "LANGUAGES", "build", "main", "write"]

LANGUAGES = ("vi", "en")
DATASOURCE_UID = "netmon-prometheus"
HERE = Path(__file__).resolve().parent

#: Titles of Grafana's own panels: key -> (Vietnamese, English). The domain's words (states,
#: measures, units) come from :mod:`collector.glossary`, like the page's and the alerts'.
TEXT: dict[str, tuple[str, str]] = {
    "province": ("Tổng quan tỉnh", "Province overview"),
    "district": ("Chi tiết huyện", "District drill-down"),
    "site": ("Chi tiết điểm", "Site detail"),
    "health": ("Trạm giám sát và bộ thu thập", "Agent and collector health"),
    "coverage_vs_target": ("Tỷ lệ xã kết nối so với mục tiêu", "Coverage vs target"),
    "communes_total": ("Số xã", "Communes"),
    "coverage_over_time": ("Tỷ lệ xã kết nối theo thời gian", "Commune coverage over time"),
    "by_state": ("Số xã theo trạng thái", "Communes by state"),
    "down_communes": ("Xã mất kết nối và thời điểm bắt đầu", "Disconnected communes, since"),
    "down_devices": ("Thiết bị đang mất kết nối và thời điểm bắt đầu", "Devices down now, since"),
    "worst_districts": ("Huyện có tỷ lệ xã kết nối thấp nhất", "Worst districts by coverage"),
    "district_var": ("Huyện", "District"),
    "commune_var": ("Xã", "Commune"),
    "device_var": ("Thiết bị", "Device"),
    "communes_table": ("Trạng thái các xã", "Communes"),
    "commune_availability": ("Độ khả dụng theo xã (1 ngày)", "Commune availability (1 day)"),
    "interface_status": ("Trạng thái cổng mạng", "Interface status"),
    "outages_range": ("Số lần mất kết nối trong khoảng thời gian", "Outages in the time range"),
    "state_history": ("Lịch sử trạng thái", "State history"),
    "agents_up": ("Trạm giám sát trực tuyến", "Agents online"),
    "agent_age": ("Thời gian từ lần gửi cuối", "Time since last message"),
    "agent_devices": ("Số thiết bị mỗi trạm giám sát", "Devices per agent"),
    "ingest": ("Tốc độ nhận dữ liệu", "Ingest rate"),
    "batches": ("lô", "batches"),
    "samples": ("mẫu", "samples"),
    "invalid": ("Bản tin không hợp lệ theo lý do", "Invalid payloads by reason"),
    "duplicates": ("Lô trùng lặp", "Duplicate batches"),
    "late": ("Mẫu đến muộn", "Late samples"),
    "unknown_devices": ("Mẫu của thiết bị lạ", "Unknown-device samples"),
    "dead_letters": ("Bản tin bị loại (dead letters)", "Dead letters"),
    "snapshot_age": ("Độ trễ trạng thái của bộ thu thập", "Collector state age"),
    "commune_code": ("Mã xã", "Commune code"),
    "district_code": ("Mã huyện", "District code"),
    "open_district": ("Mở chi tiết huyện", "Open the district"),
    "open_site": ("Mở chi tiết điểm", "Open the site"),
    "window.1h": ("1 giờ", "1 hour"),
    "window.1d": ("1 ngày", "1 day"),
    "window.7d": ("7 ngày", "7 days"),
    "window.30d": ("30 ngày", "30 days"),
}


def _t(key: str, lang: str) -> str:
    """A panel's title or legend: Grafana's own words, else the glossary's."""
    if key in TEXT:
        vi, en = TEXT[key]
        return vi if lang == "vi" else en
    return term(key, lang)


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
                elif k == "overrides":
                    p["fieldConfig"]["overrides"] = v
                elif k == "transformations":
                    p.setdefault("transformations", []).extend(v)
                else:
                    p[k] = v
        self.panels.append(p)
        self._x += w
        self._row_h = max(self._row_h, h)

    def variable(
        self, name: str, label_key: str, metric: str, label: str, *, hidden: bool = False, all_: bool = False
    ) -> None:
        """A template variable: the values of ``label`` on ``metric`` (which may select by
        other variables: a name picker drives a hidden code variable)."""
        query = f"label_values({metric}, {label})"
        var: dict[str, Any] = {
            "name": name,
            "label": _t(label_key, self.lang),
            "type": "query",
            "datasource": _DS,
            "query": {"query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
            "definition": query,
            "refresh": 2,
            "sort": 1,
            "includeAll": all_,
            "multi": False,
        }
        if all_:
            var["allValue"] = ".*"
        if hidden:
            var["hide"] = 2
        self.variables.append(var)

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
                    str(code): {
                        "text": term(f"state.{state.value}", lang),
                        "color": colours[state.value],
                        "index": code,
                    }
                    for state, code in STATE_CODE.items()
                },
            }
        ]
    }


#: IF-MIB ifOperStatus codes shown in colour: up green, down and lowerLayerDown red.
_IF_COLOURS = {1: "green", 2: "red", 3: "blue", 4: "gray", 5: "gray", 6: "gray", 7: "red"}


def _interface_mappings(lang: str) -> dict[str, Any]:
    """Value mappings from ifOperStatus codes to the interface state in words."""
    return {
        "mappings": [
            {
                "type": "value",
                "options": {
                    str(code): {"text": interface_state(code, lang), "color": colour, "index": code - 1}
                    for code, colour in _IF_COLOURS.items()
                },
            }
        ],
        "custom": {"cellOptions": {"type": "color-text"}},
    }


def _below_target(ref: str) -> dict[str, Any]:
    """Red below the coverage target, green at or above it: the target comes from query
    ``ref`` (``netmon_coverage_target_ratio``) by Grafana's "config from query results";
    the static step (1 = every commune, the default target) holds until it has answered."""
    return {
        "defaults": {
            "color": {"mode": "thresholds"},
            "thresholds": {
                "mode": "absolute",
                "steps": [{"color": "red", "value": None}, {"color": "green", "value": 1}],
            },
        },
        "transformations": [
            {
                "id": "configFromData",
                "options": {"configRefId": ref, "mappings": [{"fieldName": "Value", "handlerKey": "threshold1"}]},
            }
        ],
    }


def _merge(*extras: dict[str, Any]) -> dict[str, Any]:
    """Panel extras combined: field defaults merged, transformations in order."""
    out: dict[str, Any] = {"defaults": {}, "transformations": []}
    for e in extras:
        out["defaults"].update(e.get("defaults", {}))
        out["transformations"] += e.get("transformations", [])
    return out


def _columns(lang: str, rename: dict[str, str], keep: tuple[str, ...]) -> list[dict[str, Any]]:
    """A table's columns in the language: only ``keep``, in that order, renamed by ``rename``
    (label name -> glossary or panel key)."""
    return [
        {"id": "merge", "options": {}},
        {
            "id": "organize",
            "options": {
                "excludeByName": {},
                "indexByName": {name: i for i, name in enumerate(keep)},
                "renameByName": {name: _t(key, lang) for name, key in rename.items()},
            },
        },
        {
            "id": "filterFieldsByName",
            "options": {"include": {"names": [_t(rename.get(n, n), lang) if n in rename else n for n in keep]}},
        },
    ]


def _rows_to_site(lang: str, rename: dict[str, str], keep: tuple[str, ...], var: str) -> dict[str, Any]:
    """A table's columns in the language (see :func:`_columns`), each row linking to the
    site dashboard by its ``var`` column."""
    return {
        "transformations": _columns(lang, rename, keep),
        "defaults": {"links": [_link(lang, "open_site", "site", var, f"${{__data.fields.{var}}}")]},
    }


def _link(lang: str, key: str, board: str, var: str, value: str) -> dict[str, Any]:
    """A drill-down link to another netmon dashboard of the same language."""
    return {
        "title": _t(key, lang),
        "url": f"/d/netmon-{board}-{lang}?var-{var}={value}&${{__url_time_range}}",
    }


#: Devices not up or in maintenance: down (2) or unreachable (3).
_OUT = "(netmon_device_state == 2 or netmon_device_state == 3)"
#: The per-state and per-window series, one query each so that each legend is a word of the language.
_STATES = tuple(State)
_WINDOWS = ("1h", "1d", "7d", "30d")
_REFS = "ABCDEFGH"


def _by_state(metric: str, lang: str, sel: str = "") -> list[dict[str, Any]]:
    return [
        _target(f'{metric}{{{sel}state="{s.value}"}}', term(f"state.{s.value}", lang), instant=True, ref=_REFS[i])
        for i, s in enumerate(_STATES)
    ]


def province(lang: str) -> dict[str, Any]:
    """The province overview."""
    b = _Board("province", lang, "province")
    pct = {"defaults": {"min": 0, "max": 1}}
    target_b = _target("netmon_coverage_target_ratio", _t("target", lang), instant=True, table=True, ref="B")
    b.panel(
        "stat",
        "coverage",
        [_target("netmon_province_coverage_ratio", "{{province_name}}", instant=True), target_b],
        w=6,
        unit="percentunit",
        extra=_merge(pct, _below_target("B")),
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
        "communes_total",
        [
            _target("netmon_province_communes_connected", _t("connected", lang), instant=True),
            _target("netmon_province_communes_provisioned", _t("provisioned", lang), instant=True, ref="B"),
            _target("netmon_province_communes", _t("communes_total", lang), instant=True, ref="C"),
        ],
        w=6,
        extra={"defaults": {"decimals": 0}},
    )
    b.panel(
        "bargauge",
        "by_state",
        _by_state("netmon_province_communes_by_state", lang),
        w=8,
        extra={"defaults": {"decimals": 0}},
    )
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
        extra=_rows_to_site(
            lang,
            {"commune_name": "commune", "commune": "commune_code", "Value": "since"},
            ("commune_name", "commune", "Value"),
            "commune_name",
        ),
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
        extra=_rows_to_site(
            lang,
            {"commune_name": "commune", "device": "device", "district": "district_code", "Value": "since"},
            ("commune_name", "device", "district", "Value"),
            "device",
        ),
    )
    b.panel(
        "bargauge",
        "worst_districts",
        # Units without communes (Lý Sơn) have no coverage series: they never rank here.
        [_target("bottomk(10, netmon_district_coverage_ratio)", "{{district_name}}", instant=True), target_b],
        w=8,
        unit="percentunit",
        extra=_merge(
            pct,
            _below_target("B"),
            {
                "defaults": {
                    "links": [
                        _link(lang, "open_district", "district", "district_name", "${__field.labels.district_name}")
                    ]
                }
            },
        ),
    )
    b.panel(
        "stat",
        "availability",
        [
            _target(
                f'netmon_province_availability_ratio{{window="{w}"}}',
                _t(f"window.{w}", lang),
                instant=True,
                ref=_REFS[i],
            )
            for i, w in enumerate(_WINDOWS)
        ],
        w=24,
        h=5,
        unit="percentunit",
    )
    return b.json()


def district(lang: str) -> dict[str, Any]:
    """The district drill-down: picked by name (``district_name``); the code follows."""
    b = _Board("district", lang, "district")
    b.variable("district_name", "district_var", "netmon_district_communes", "district_name")
    b.variable(
        "district", "district_code", 'netmon_district_communes{district_name="$district_name"}', "district", hidden=True
    )
    sel = 'district="$district"'
    target_b = _target("netmon_coverage_target_ratio", _t("target", lang), instant=True, table=True, ref="B")
    b.panel(
        "stat",
        "coverage",
        [_target(f"netmon_district_coverage_ratio{{{sel}}}", "{{district_name}}", instant=True), target_b],
        w=6,
        unit="percentunit",
        extra=_below_target("B"),
    )
    b.panel(
        "timeseries",
        "coverage_over_time",
        [_target(f"netmon_district_coverage_ratio{{{sel}}}", "{{district_name}}")],
        w=12,
        unit="percentunit",
    )
    b.panel(
        "bargauge",
        "by_state",
        _by_state("netmon_district_communes_by_state", lang, f"{sel},"),
        w=6,
        extra={"defaults": {"decimals": 0}},
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
        extra={
            **_merge(
                _rows_to_site(
                    lang,
                    {"commune_name": "commune", "commune": "commune_code", "Value #A": "state", "Value #B": "since"},
                    ("commune_name", "commune", "Value #A", "Value #B"),
                    "commune_name",
                ),
                {"defaults": _state_mappings(lang)},
            ),
            "overrides": [
                {
                    "matcher": {"id": "byName", "options": _t("since", lang)},
                    "properties": [{"id": "unit", "value": "dateTimeAsIso"}],
                }
            ],
        },
    )
    b.panel(
        "bargauge",
        "commune_availability",
        [_target(f'netmon_commune_availability_ratio{{{sel},window="1d"}}', "{{commune_name}}", instant=True)],
        w=12,
        h=10,
        unit="percentunit",
        extra={
            "defaults": {"links": [_link(lang, "open_site", "site", "commune_name", "${__field.labels.commune_name}")]}
        },
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
        extra=_rows_to_site(
            lang,
            {"commune_name": "commune", "device": "device", "Value": "since"},
            ("commune_name", "device", "Value"),
            "device",
        ),
    )
    return b.json()


def site(lang: str) -> dict[str, Any]:
    """The site detail: a commune picked by name, then one of its devices."""
    b = _Board("site", lang, "site")
    b.variable("commune_name", "commune_var", "netmon_device_info", "commune_name", all_=True)
    b.variable("device", "device_var", 'netmon_device_info{commune_name=~"$commune_name"}', "device")
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
        "outages_range",
        # A count: increase() extrapolates to the range's edges (1.0169 outages): rounded.
        [_target(f"round(increase(netmon_device_outages_total{{{sel}}}[$__range]))", "{{device}}", instant=True)],
        w=6,
        extra={"defaults": {"decimals": 0}},
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
        "interface_status",
        [_target(f"netmon_interface_oper_status{{{sel}}}", "{{interface}}", instant=True, table=True)],
        w=8,
        extra={
            "defaults": _interface_mappings(lang),
            "transformations": _columns(lang, {"interface": "interfaces", "Value": "state"}, ("interface", "Value")),
        },
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
    """``python -m netmon.exporters.grafana.dashboards --write``: regenerate the JSON files."""
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
