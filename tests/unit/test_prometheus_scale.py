"""Exposition at scale: complete and well-formed. Its cost is measured by
``bench/bench_exposition.py`` (figures in BENCHMARKS.md), not timed here: a timing on a
shared CI machine fails on noise, not on a regression."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from netmon.exporters.prometheus import SnapshotCollector, render
from tests.services_exporters import national_inventory, scenario_snapshot


def test_3000_devices_render_every_device_in_the_text_format() -> None:
    inv = national_inventory(3000)
    snap = scenario_snapshot(inv, time.time())
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(lambda: snap))
    families = {f.name: f for f in text_string_to_metric_families(render(reg).decode())}
    up = families["netmon_device_up"].samples
    assert len(up) == len(snap.devices) >= 3000
    assert {s.labels["device"] for s in up} == set(snap.devices)
    states = {s.labels["device"]: s.value for s in families["netmon_device_state"].samples}
    assert len(states) == len(snap.devices)
