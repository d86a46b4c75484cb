"""The poll schedule: deterministic phases spread evenly, bounded concurrency, overruns
counted and never two polls of one device at once; self-metrics exposed on an injected
registry."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter, defaultdict

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from netmon.agent.scheduler import Scheduler, next_due, phase
from netmon.agent.selfmetrics import PollStats, register


@given(dev=st.text(min_size=1, max_size=40), interval=st.floats(0.5, 86400), now=st.floats(1.6e9, 2e9))
def test_next_due_is_after_now_on_the_device_phase(dev: str, interval: float, now: float) -> None:
    off = phase(dev, interval)
    assert 0 <= off < interval
    due = next_due(now, interval, off)
    assert now < due <= now + interval + 1e-6 * interval
    assert phase(dev, interval) == off  # deterministic across calls (and restarts)


def test_phases_spread_evenly_over_the_interval() -> None:
    bins = Counter(int(phase(f"c{i:05d}-cpe1", 60.0) // 6) for i in range(10_000))
    assert sorted(bins) == list(range(10))
    assert all(850 < n < 1150 for n in bins.values()), bins  # no thundering herd


async def test_schedule_bounds_concurrency_and_counts_overruns() -> None:
    stats = PollStats()
    starts: dict[str, list[float]] = defaultdict(list)
    running: set[str] = set()
    peak = 0
    enough = asyncio.Event()

    async def poll(dev: str) -> None:
        nonlocal peak
        assert dev not in running  # never two polls of one device at once
        running.add(dev)
        peak = max(peak, len(running))
        starts[dev].append(time.monotonic())
        try:
            # "slow" takes 2.5 intervals: its next two due times are overruns.
            await asyncio.sleep(0.75 if dev == "slow" else 0.02)
        finally:
            running.discard(dev)
        if sum(len(v) for v in starts.values()) >= 60 and len(starts["slow"]) >= 2:
            enough.set()

    devices = {f"d{i}": 0.3 for i in range(20)} | {"slow": 0.3}
    sched = Scheduler(poll, devices, concurrency=4, stats=stats, clock=time.time)
    task = asyncio.create_task(sched.run(), name="scheduler")
    try:
        async with asyncio.timeout(10):
            await enough.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert peak <= 4
    assert stats.overruns >= 2
    assert stats.skipped == stats.overruns
    assert stats.lag.n >= 60
    # Within one interval the 20 fast devices start spread out, not in one burst.
    first = sorted(v[0] for k, v in starts.items() if k != "slow")
    assert first[-1] - first[0] > 0.15
    # Each fast device is polled about every 0.3 s.
    gaps = [b - a for v in starts.values() for a, b in itertools.pairwise(v) if len(v) > 1]
    assert 0.2 < sorted(gaps)[len(gaps) // 2] < 0.4


async def test_update_adds_and_removes_devices_while_running() -> None:
    seen: Counter[str] = Counter()
    got_new = asyncio.Event()

    async def poll(dev: str) -> None:
        seen[dev] += 1
        if dev == "new" and seen[dev] >= 2:
            got_new.set()

    stats = PollStats()
    sched = Scheduler(poll, {"old": 0.1}, concurrency=2, stats=stats, clock=time.time)
    task = asyncio.create_task(sched.run(), name="scheduler")
    try:
        sched.update({"new": 0.1})
        async with asyncio.timeout(5):
            await got_new.wait()
        old_before = seen["old"]
        await asyncio.sleep(0.25)  # long enough for "old" to have been due twice, were it still scheduled
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert seen["old"] == old_before
    assert stats.devices == 1


async def test_a_poll_that_raises_is_counted_and_scheduling_goes_on() -> None:
    calls = 0
    again = asyncio.Event()

    async def poll(dev: str) -> None:
        nonlocal calls
        calls += 1
        if calls >= 3:
            again.set()
        raise RuntimeError("bug")

    stats = PollStats()
    task = asyncio.create_task(Scheduler(poll, {"x": 0.05}, 1, stats, time.time).run(), name="scheduler")
    try:
        async with asyncio.timeout(5):
            await again.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert stats.internal_errors >= 2


def test_self_metrics_on_an_injected_registry() -> None:
    stats = PollStats(devices=3, queue_depth=2, overruns=1, skipped=1, icmp_mode="unprivileged")
    stats.record("snmp", True)
    stats.record("snmp", False, "timeout")
    stats.duration.observe(0.03)
    stats.lag.observe(0.2)
    reg = CollectorRegistry()
    register(stats, reg, agent="a1")
    text = generate_latest(reg).decode()
    assert 'netmon_agent_polls_total{agent="a1",probe="snmp",result="fail"} 1.0' in text
    assert 'netmon_agent_poll_errors_total{agent="a1",probe="snmp",reason="timeout"} 1.0' in text
    assert 'netmon_agent_poll_duration_seconds_bucket{agent="a1",le="0.05"} 1.0' in text
    assert 'netmon_agent_schedule_lag_seconds_count{agent="a1"} 1.0' in text
    assert 'netmon_agent_queue_depth{agent="a1"} 2.0' in text
    assert 'netmon_agent_skipped_polls_total{agent="a1"} 1.0' in text
    assert 'netmon_agent_icmp_info{agent="a1",mode="unprivileged"} 1.0' in text
    stats.record("snmp", False, "timeout")  # read at scrape time, not copied
    assert 'reason="timeout"} 2.0' in generate_latest(reg).decode()
