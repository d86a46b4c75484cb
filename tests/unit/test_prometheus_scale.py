"""Exposition cost at scale (CPU time: wall time on a shared CI machine includes waiting)."""

from __future__ import annotations

import time

import pytest
from prometheus_client import CollectorRegistry

from exporters.prometheus import SnapshotCollector, render
from tests.services_exporters import national_inventory, scenario_snapshot


def cpu_seconds_to_render(devices: int) -> tuple[float, int]:
    snap = scenario_snapshot(national_inventory(devices), time.time())
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(lambda: snap))
    t0 = time.process_time()
    body = render(reg)
    return time.process_time() - t0, body.count(b"\n")


def test_3000_devices_render_in_a_tenth_of_the_national_budget() -> None:
    cpu, lines = cpu_seconds_to_render(3000)
    assert lines > 3000 * 10
    assert cpu < 0.1, cpu


@pytest.mark.slow
def test_national_scale_renders_in_under_a_second() -> None:
    cpu, lines = cpu_seconds_to_render(30_000)
    assert lines > 30_000 * 10
    assert cpu < 1.0, cpu
