"""Exposition time of the collector's /metrics at national scale.

Builds a snapshot of a synthetic inventory (default 30,000 commune devices: a router, a CPE
and a switch per commune, 667 district routers, one core), every device up with RTT, loss,
jitter, SNMP response, availability over the four windows and two interfaces, then times
:func:`exporters.prometheus.render` in both formats (wall and CPU time: on a loaded machine
the wall time includes waiting for the CPU).

    python -m bench.bench_exposition [--devices 30000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from prometheus_client import CollectorRegistry

from netmon.exporters.prometheus import SnapshotCollector, render
from tests.services_exporters import national_inventory, scenario_snapshot


def main() -> None:
    """Run the benchmark and print one line per measurement."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-interfaces", action="store_true")
    args = ap.parse_args()

    inv = national_inventory(args.devices)
    snap = scenario_snapshot(inv, time.time(), interfaces=not args.no_interfaces)
    reg = CollectorRegistry(auto_describe=True)
    collector = SnapshotCollector(lambda: snap)
    reg.register(collector)
    samples = sum(len(m.samples) for m in reg.collect())
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs: wall time includes waiting for the CPU")
    print(
        f"devices={len(snap.devices)} communes={len(snap.communes)} districts={len(snap.districts)} samples={samples}"
    )
    runs = [("text", lambda: render(reg)), ("openmetrics", lambda: render(reg, openmetrics=True))]
    for name, fn in runs:
        times, cpu = [], []
        size = 0
        for _ in range(args.repeat):
            collector._last = None  # measure a new snapshot, not the cached families
            t0, c0 = time.perf_counter(), time.process_time()
            size = len(fn())
            times.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        print(
            f"{name:20s} wall median={statistics.median(times):.3f}s min={min(times):.3f}s"
            f"  cpu median={statistics.median(cpu):.3f}s min={min(cpu):.3f}s  bytes={size}"
        )


if __name__ == "__main__":
    main()
