"""The metric specifications are what the code emits, and the README's tables are them.

Every family of the collector's /metrics (snapshot and InfluxDB writer) and of the agent's
is declared once as a MetricSpec; these tests scrape each real collector and compare what
it emits (names, types, HELP, label names) with the specs, and compare the README's
generated tables with the specs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse_openmetrics

from netmon import metrics_doc
from netmon.agent import selfmetrics
from netmon.agent.outbox import Outbox
from netmon.agent.publisher import Batcher, PublisherStats
from netmon.collector.model import IngestCounters, State
from netmon.config.loader import load_inventory
from netmon.config.metricspec import MetricSpec, MetricTable
from netmon.config.settings import InfluxSettings, OutboxSettings, PollSettings
from netmon.exporters import influx, prometheus
from netmon.exporters.prometheus import SnapshotCollector, render
from tests.services_exporters import scenario_snapshot

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_790_000_000.0


def emitted(collectors: Iterable[object]) -> dict[str, tuple[str, str, set[frozenset[str]]]]:
    """Scrape the collectors (OpenMetrics, parsed back): family → (type, help, label-name sets)."""
    reg = CollectorRegistry(auto_describe=False)
    for c in collectors:
        reg.register(c)  # type: ignore[arg-type]
    out: dict[str, tuple[str, str, set[frozenset[str]]]] = {}
    for fam in parse_openmetrics(render(reg, openmetrics=True).decode()):
        names = {frozenset(k for k in s.labels if k != "le") for s in fam.samples if not s.name.endswith("_created")}
        out[fam.name] = (fam.type, fam.documentation, names)
    return out


def assert_specs_emitted(specs: Sequence[MetricSpec], got: dict[str, tuple[str, str, set[frozenset[str]]]]) -> None:
    assert [s.name for s in specs] == list(got), "the families emitted, in order, are the specs"
    for spec in specs:
        typ, help_text, label_sets = got[spec.name]
        assert (typ, help_text) == (spec.type, spec.help), spec.name
        assert label_sets == {frozenset(spec.labels)}, (spec.name, label_sets, spec.labels)


def test_the_collector_emits_exactly_its_specs() -> None:
    inv = load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")
    snap = scenario_snapshot(
        inv,
        NOW,
        states={"c21010-cpe1": State.DOWN},
        agents={"agent-1": True},
        agent_last_seen=NOW - 3,
        ingest=IngestCounters(
            batches=5,
            samples=50,
            duplicates=1,
            invalid={"schema": 2},
            dead_letters=2,
            rejected_samples={"foreign_device": 1},
            ledger_gaps=1,
            missing_batches={"agent-1": 3},
        ),
        outage_counts={"c21010-cpe1": 1},
    )
    writer = influx.InfluxWriter(InfluxSettings(url="http://127.0.0.1:9"), inv, None)
    got = emitted([SnapshotCollector(lambda: snap), influx.WriterCollector(writer)])
    assert_specs_emitted([*prometheus.FAMILIES, *influx.TABLE.families], got)
    # the positional label values of the hot loop land under the right names
    reg = CollectorRegistry(auto_describe=False)
    reg.register(SnapshotCollector(lambda: snap))
    for fam in parse_openmetrics(render(reg, openmetrics=True).decode()):
        if fam.name == "netmon_device":
            by_device = {s.labels["device"]: s.labels for s in fam.samples}
            assert by_device["c21010-cpe1"]["province"] == inv.province.code
            assert by_device["c21010-cpe1"]["commune"] == "21010"
            assert by_device["c21010-cpe1"]["role"] == "cpe"


def test_the_agent_emits_exactly_its_specs(tmp_path: Path) -> None:
    stats = selfmetrics.PollStats()
    stats.record("snmp", ok=False, reason="timeout")
    stats.duration.observe(0.2)
    stats.unread[("ifTable", "timeout")] += 1
    stats.rejected_values["in_octets"] += 1
    stats.usm_errors[("usmStatsWrongDigests", "local")] += 1
    stats.uptime_anomalies["frozen"] += 1
    stats.traps[("2c", "accepted")] += 1
    stats.trap_polls["linkDown"] += 1
    outbox = Outbox(tmp_path / "outbox.sqlite", OutboxSettings(), "a1")
    try:
        batcher = Batcher(outbox, PollSettings())

        class Transport:
            def collect(self) -> Iterable[Metric]:
                sources = {"outbox": outbox.stats(), "publisher": PublisherStats(), "batcher": batcher}
                return selfmetrics.TABLE.stat_families(sources, "a1")

        got = emitted([selfmetrics.PollStatsCollector(stats, "a1"), Transport()])
    finally:
        outbox.close()
    assert_specs_emitted(selfmetrics.FAMILIES, got)


def test_the_readme_tables_are_the_specs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert metrics_doc.update(readme) == readme, "run: python -m netmon.metrics_doc --write README.md"
    for specs in metrics_doc.SECTIONS.values():
        for spec in specs:
            assert f"| `{spec.sample_name}` | {spec.type} |" in readme


def test_check_fails_when_the_readme_differs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    stale = tmp_path / "README.md"
    stale.write_text(readme.replace("| `netmon_device_up` | gauge |", "| `netmon_device_up` | counter |"), "utf-8")
    assert metrics_doc.main(["--check", str(stale)]) == 1
    assert metrics_doc.main(["--write", str(stale)]) == 0
    assert stale.read_text(encoding="utf-8") == readme
    assert metrics_doc.main(["--check", str(stale)]) == 0
    (tmp_path / "bare.md").write_text("no markers\n", encoding="utf-8")
    assert metrics_doc.main(["--check", str(tmp_path / "bare.md")]) == 2


def test_a_family_is_declared_once() -> None:
    table = MetricTable()
    table.family("netmon_x", "gauge", "x")
    with pytest.raises(ValueError, match="declared twice"):
        table.stat("netmon_x", "counter", "x", (), "src", "field")
    with pytest.raises(ValueError, match="got 2 values"):
        table.families[0].block("a", "b")
    collector = [s.name for s in metrics_doc.SECTIONS["collector"]]  # one /metrics: no name twice
    assert len(set(collector)) == len(collector)
