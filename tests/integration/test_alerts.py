"""Alert rules and Alertmanager configuration: promtool and amtool accept them, the unit
tests cover every rule firing and not firing, the rules use only exported metrics, and a
real Alertmanager inhibits a district's commune alerts while its router is down."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from netmon.collector.model import State
from netmon.config.loader import load_inventory
from netmon.exporters.grafana.dashboards import LANGUAGES, build
from netmon.exporters.prometheus import METRIC_NAMES, SnapshotCollector, render
from tests.services import Service, require, wait_until
from tests.services_exporters import promql_metric_names, scenario_snapshot, start_alertmanager

ALERTS = Path(__file__).resolve().parents[2] / "exporters" / "alerts"
RULES = ALERTS / "netmon-rules.yml"
RULE_TESTS = ALERTS / "netmon-rules.test.yml"
ALERTMANAGER = ALERTS / "alertmanager.yml"


def run(*argv: str, cwd: Path | None = None) -> str:
    out = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=cwd)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout + out.stderr


def rules() -> list[dict[str, Any]]:
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [r for g in doc["groups"] for r in g["rules"]]


def test_promtool_check_rules_passes() -> None:
    out = run(require("promtool"), "check", "rules", str(RULES))
    assert f"SUCCESS: {len(rules())} rules found" in out


def test_promtool_unit_tests_pass() -> None:
    out = run(require("promtool"), "test", "rules", RULE_TESTS.name, cwd=ALERTS)
    assert "SUCCESS" in out


def test_unit_tests_cover_every_rule_firing_and_not_firing() -> None:
    doc = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    fired: set[str] = set()
    quiet: set[str] = set()
    for case in doc["tests"]:
        for t in case.get("alert_rule_test", []):
            (fired if t["exp_alerts"] else quiet).add(t["alertname"])
    names = {r["alert"] for r in rules()}
    assert fired == names
    assert quiet == names


def exposed_names() -> set[str]:
    """Sample names of a real exposition (the Quảng Ngãi inventory, a scenario snapshot)."""
    inv = load_inventory(ALERTS.parents[1] / "config" / "quang-ngai-2021.yaml")
    snap = scenario_snapshot(inv, 1_790_000_000.0, states={"c21010-cpe1": State.DOWN}, outage_counts={"c21010-cpe1": 1})
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(lambda: snap))
    names = {s.name for f in text_string_to_metric_families(render(reg).decode()) for s in f.samples}
    assert names <= METRIC_NAMES
    return names


def test_rules_reference_only_exported_metrics() -> None:
    exposed = exposed_names()
    used: set[str] = set()
    for r in rules():
        names = promql_metric_names(r["expr"])
        assert names, r["alert"]
        used |= names
    # Besides the collector's metrics: Prometheus's own `up` of the collector's scrape job.
    assert used - {"up"} <= exposed, used - exposed


def test_dashboards_reference_only_exported_metrics() -> None:
    exposed = exposed_names()
    for lang in LANGUAGES:
        for board in build(lang).values():
            for panel in board["panels"]:
                for target in panel["targets"]:
                    names = promql_metric_names(target["expr"])
                    assert names, target["expr"]
                    assert names <= exposed, (panel["title"], names - exposed)


def test_the_collector_itself_down_or_gone_pages() -> None:
    """Once Prometheus cannot scrape the collector, every netmon series goes stale and
    NetmonCollectorStale returns nothing: `up == 0` and `absent(up)` must page instead
    (promtool's unit tests show each firing and quiet)."""
    by_name = {r["alert"]: r for r in rules()}
    assert by_name["NetmonCollectorDown"]["expr"].strip() == 'up{job="netmon"} == 0'
    assert by_name["NetmonCollectorAbsent"]["expr"].strip() == 'absent(up{job="netmon"})'
    for name in ("NetmonCollectorDown", "NetmonCollectorAbsent"):
        assert by_name[name]["labels"]["severity"] == "page"
    am = yaml.safe_load(ALERTMANAGER.read_text(encoding="utf-8"))
    sources = [m for r in am["inhibit_rules"] for m in r["source_matchers"]]
    assert 'alertname=~"NetmonCollector(Stale|Down|Absent)"' in sources


#: Labels holding names (beside the codes: commune, district, province, device).
_NAMES = ("commune_name", "district_name", "province_name", "name")


def test_alert_texts_use_each_units_own_full_name_beside_its_code() -> None:
    """No prefix before a unit's full name ("Xã Xã Sơn Hải", "Xã Phường Trần Phú"), and
    a code is never alone: its name is in the same sentence."""
    import re

    for r in rules():
        for key, text in r["annotations"].items():
            if key == "description":
                continue
            assert not re.search(r"(Xã|Huyện|Phường|Tỉnh|Commune|District|Province)\s+\{\{ \$labels\.\w+_name", text), (
                r["alert"],
                text,
            )
            codes = set(re.findall(r"\$labels\.(commune|district|province|device)\b", text))
            if codes:
                assert any(f"$labels.{n}" in text for n in _NAMES), (r["alert"], key, text)


def test_flapping_devices_never_page() -> None:
    """Every rule about devices or communes excludes flapping devices."""
    for r in rules():
        names = promql_metric_names(r["expr"])
        if names & {
            "netmon_commune_state",
            "netmon_device_state",
            "netmon_device_loss_ratio",
            "netmon_device_rtt_seconds",
        }:
            assert "netmon_device_flapping" in names, r["alert"]


def test_amtool_check_config_passes() -> None:
    out = run(require("amtool"), "check-config", str(ALERTMANAGER))
    assert "SUCCESS" in out
    assert "3 inhibit rules" in out


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Service]:
    svc = start_alertmanager(tmp_path / "am", ALERTMANAGER)
    yield svc
    svc.stop()


def _post(url: str, body: object) -> None:
    req = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200


def _alerts(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + "/api/v2/alerts", timeout=10) as resp:
        data: list[dict[str, Any]] = json.load(resp)
        return data


def test_district_uplink_down_inhibits_its_communes(alertmanager: Service) -> None:
    labels = [
        {
            "alertname": "NetmonDistrictUplinkDown",
            "severity": "page",
            "province": "51",
            "district": "535",
            "device": "d535-r1",
        },
        {"alertname": "NetmonCommuneDown", "severity": "page", "province": "51", "district": "535", "commune": "21484"},
        {"alertname": "NetmonCommuneDown", "severity": "page", "province": "51", "district": "522", "commune": "21010"},
    ]
    _post(alertmanager.url + "/api/v2/alerts", [{"labels": lb} for lb in labels])

    def settled() -> bool:
        got = _alerts(alertmanager.url)
        return len(got) == 3 and any(a["status"]["inhibitedBy"] for a in got)

    wait_until(settled, 20, "alertmanager inhibition", alertmanager.proc, alertmanager.log)
    state = {(a["labels"]["alertname"], a["labels"].get("commune", "")): a["status"] for a in _alerts(alertmanager.url)}
    assert state[("NetmonCommuneDown", "21484")]["state"] == "suppressed"
    assert state[("NetmonCommuneDown", "21484")]["inhibitedBy"]
    assert state[("NetmonCommuneDown", "21010")]["state"] == "active"  # another district: still pages
    assert state[("NetmonDistrictUplinkDown", "")]["state"] == "active"
