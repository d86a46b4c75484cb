"""Exposition time of the collector's /metrics at national scale, from a real engine.

The engine (bench_core's national inventory: default 30,000 devices) applies rounds of
samples: every device answers ICMP (its RTT different each round) and, switches aside,
SNMP with two interfaces whose counters move. After each further round (so every device's
figures changed) one scrape is made the way the collector's handler makes it: the engine's
snapshot on the event loop, the families prepared a thousand devices a step with the
previous scrape's cache, the text rendered. The CPU time of each part is printed (on a
loaded machine wall time includes waiting for the CPU), then a scrape from nothing (no
cache: what a first scrape, or one after a reload, costs) and the OpenMetrics format.

    python -m bench.bench_exposition [--devices 30000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from prometheus_client import CollectorRegistry

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_core import national

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.store import SqliteStore
from netmon.collectord import freeze_long_lived
from netmon.config.settings import CollectorSettings
from netmon.exporters.prometheus import SnapshotCollector, render

START = 1_780_000_000.0
INTERVAL_S = 30.0


def round_samples(ids: list[str], r: int) -> list[wire.Sample]:
    """Round ``r`` of every device: ICMP, and SNMP with two interfaces but for switches."""
    base = START + r * INTERVAL_S
    out: list[wire.Sample] = []
    for i, dev in enumerate(ids):
        ts = base + (i % 1000) * 0.01
        rtt = 0.005 + ((i + r) % 97) * 1e-5
        out.append(wire.Sample(device=dev, probe="icmp", ts=ts, ok=True, rtt=wire.Rtt(rtt, rtt, rtt, 0.0001), loss=0.0))
        if "-sw" not in dev:
            octets = 1_000_000 * (r + 1) + i
            itfs = [
                wire.Interface(index=k, name=f"ge-0/0/{k}", oper_status=1, in_octets=octets * k, out_octets=octets)
                for k in (1, 2)
            ]
            out.append(wire.Sample(device=dev, probe="snmp", ts=ts + 0.2, ok=True, response_s=0.01, interfaces=itfs))
    return out


def median_ms(values: list[float]) -> str:
    """``median (min)`` in milliseconds."""
    return f"{statistics.median(values) * 1000:.0f} ms (min {min(values) * 1000:.0f})"


def main() -> None:
    """Run the benchmark and print one line per measurement."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()

    inv = national(args.devices)
    ids = list(inv.index.devices)
    now = [START]
    store = SqliteStore.open(os.path.join(tempfile.mkdtemp(), "bench.sqlite"))
    engine = Engine(inv, CollectorSettings(inventory="-"), store, clock=lambda: now[0])
    seq = 0

    def apply_round(r: int) -> None:
        nonlocal seq
        samples = round_samples(ids, r)
        now[0] = START + r * INTERVAL_S + 20
        for j in range(0, len(samples), 500):
            seq += 1
            engine.apply_batch(
                wire.SampleBatch(v=1, agent="bench", seq=seq, sent_at=now[0], samples=samples[j : j + 500]), now[0]
            )
        engine.tick(now[0])

    for r in range(3):
        apply_round(r)
    freeze_long_lived()  # as the collector does after loading
    registry = CollectorRegistry(auto_describe=False)
    collector = SnapshotCollector(engine.snapshot)
    registry.register(collector)
    asyncio.run(collector.prepare())  # the first scrape: the cache is filled
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

    parts: dict[str, list[float]] = {"snapshot": [], "families": [], "text": [], "scrape": []}
    size = 0
    for k in range(args.repeat):
        apply_round(3 + k)
        c0 = time.process_time()
        engine.snapshot()
        c1 = time.process_time()
        asyncio.run(collector.prepare())
        c2 = time.process_time()
        size = len(render(registry))
        c3 = time.process_time()
        for name, took in zip(parts, (c1 - c0, c2 - c1, c3 - c2, c3 - c0), strict=True):
            parts[name].append(took)
    lines = sum(1 for _ in render(registry).splitlines() if not _.startswith(b"#"))
    snap = engine.snapshot()
    print(f"devices={len(snap.devices)} communes={len(snap.communes)} series={lines} bytes={size}")
    print("scrape after a round, CPU: " + ", ".join(f"{name} {median_ms(v)}" for name, v in parts.items()))

    def from_nothing(openmetrics: bool) -> str:
        """Families and text of a new snapshot by a collector without a cache, median CPU."""
        nonlocal rounds
        cpu = []
        for _ in range(args.repeat):
            apply_round(rounds)
            rounds += 1
            engine.snapshot()  # built here, untimed: the collector below reads this one
            fresh = CollectorRegistry(auto_describe=False)
            fresh.register(SnapshotCollector(engine.snapshot))
            c = time.process_time()
            render(fresh, openmetrics=openmetrics)
            cpu.append(time.process_time() - c)
        return median_ms(cpu)

    rounds = 3 + args.repeat
    print(f"families and text from nothing (no cache: a first scrape), CPU: {from_nothing(False)}")
    print(f"same, OpenMetrics, CPU: {from_nothing(True)}")
    engine.close()


if __name__ == "__main__":
    main()
