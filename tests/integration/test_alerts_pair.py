"""Alert and recording rules with several collectors: one fault is one alert, and partitions add up.

The pair case is generated from ``netmon-rules.test.yml``: every input series is given
twice, as scraped from two collectors (``instance`` a and b of one job), and each alert
must fire exactly as with one collector — once, without an ``instance`` label. Alerts
about a collector's own health (its snapshot's age) stay per collector: there, two
collectors are two facts. ``netmon-combine.test.yml`` tests the recording rules that add
partitions up.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import yaml

from tests.integration.test_alerts import ALERTS, RULE_TESTS, RULES, rules, run
from tests.services import require
from tests.services_exporters import promql_metric_names

COMBINE = ALERTS / "netmon-combine.yml"
COMBINE_TESTS = ALERTS / "netmon-combine.test.yml"
JOB = "netmon"
REPLICAS = ("collector-a:8080", "collector-b:8080")


def per_collector_alerts() -> set[str]:
    """Alerts on a collector's own health (their series are about the collector, not the network)."""
    return {
        r["alert"]
        for r in rules()
        if all(n in {"netmon_snapshot_timestamp_seconds", "up"} or n.startswith("netmon_collector_")
               for n in promql_metric_names(r["expr"]))
    }  # fmt: skip


def _other_job(series: str) -> bool:
    """A series of another scrape job (a node exporter): not one the collectors export."""
    m = re.search(r'job="([^"]*)"', series)
    return m is not None and m.group(1) != JOB


def _replica(series: str, instance: str) -> str:
    labels = f'instance="{instance}",job="{JOB}"'
    # A series of the collector itself (``up``) already names its target: it is replaced.
    series = re.sub(r'(instance|job)="[^"]*",?', "", series).replace(",}", "}").replace("{}", "")
    if "{" not in series:
        return f"{series}{{{labels}}}"
    return re.sub(r"\{", "{" + labels + ",", series, count=1)


def _as_replica(alert: dict[str, Any], inst: str) -> dict[str, Any]:
    """An expected alert of one collector as that replica raises it (its texts name it)."""
    labels = alert.get("exp_labels", {})
    old = labels.get("instance")
    notes = {k: v.replace(old, inst) if old else v for k, v in alert.get("exp_annotations", {}).items()}
    out = {**alert, "exp_labels": {**labels, "instance": inst, "job": JOB}}
    if notes:
        out["exp_annotations"] = notes
    return out


def absent_alerts() -> set[str]:
    """Alerts on the absence of every collector: one alert, whatever the number of replicas."""
    return {r["alert"] for r in rules() if r["expr"].strip().startswith("absent(")}


def pair_tests(doc: dict[str, Any], per_collector: set[str]) -> dict[str, Any]:
    """``doc`` (a promtool test file) with every series scraped from two collectors."""
    out = copy.deepcopy(doc)
    out["rule_files"] = [str(RULES)]
    for case in out["tests"]:
        case["input_series"] = [
            {**s, "series": _replica(s["series"], inst)}
            for s in case["input_series"]
            for inst in REPLICAS
            if not _other_job(s["series"])
        ] + [s for s in case["input_series"] if _other_job(s["series"])]
        for t in case.get("alert_rule_test", []):
            if t["alertname"] in absent_alerts():
                continue
            if t["alertname"] in per_collector:
                t["exp_alerts"] = [_as_replica(a, inst) for a in t["exp_alerts"] for inst in REPLICAS]
            else:
                t["exp_alerts"] = [
                    {**a, "exp_labels": {**a.get("exp_labels", {}), "job": JOB}} for a in t["exp_alerts"]
                ]
    return out


def test_every_alert_fires_once_when_two_collectors_export_it(tmp_path: Path) -> None:
    per_collector = per_collector_alerts()
    assert "NetmonCollectorStale" in per_collector
    doc = yaml.safe_load(RULE_TESTS.read_text(encoding="utf-8"))
    generated = tmp_path / "netmon-rules-pair.test.yml"
    generated.write_text(yaml.safe_dump(pair_tests(doc, per_collector), allow_unicode=True), encoding="utf-8")
    out = run(require("promtool"), "test", "rules", str(generated))
    assert "SUCCESS" in out


def test_network_alerts_combine_collectors() -> None:
    """Every alert about the network reads its series through an aggregation over ``instance``."""
    for r in rules():
        if r["alert"] in per_collector_alerts():
            continue
        assert "without (instance" in r["expr"], r["alert"]


def test_recording_rules_combine_partitions_and_replicas() -> None:
    assert "SUCCESS" in run(require("promtool"), "check", "rules", str(COMBINE))
    assert "SUCCESS" in run(require("promtool"), "test", "rules", COMBINE_TESTS.name, cwd=ALERTS)


def test_shipped_prometheus_configuration_loads_both_rule_files(tmp_path: Path) -> None:
    shipped = ALERTS.parents[1] / "config" / "deploy" / "prometheus" / "prometheus.yml"
    text = shipped.read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    assert doc["rule_files"] == ["netmon-rules.yml", "netmon-combine.yml"]
    for rules_file in doc["rule_files"]:  # copied beside it, as the guide says
        (tmp_path / rules_file).write_text((ALERTS / rules_file).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "netmon-token").write_text("token\n")
    config = tmp_path / "prometheus.yml"
    config.write_text(text.replace("/etc/prometheus/netmon-token", str(tmp_path / "netmon-token")), encoding="utf-8")
    out = run(require("promtool"), "check", "config", str(config))
    assert "SUCCESS: 2 rule files found" in out
