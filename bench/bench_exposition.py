"""Exposition time of the collector's /metrics at national scale.

Builds a snapshot of a synthetic inventory (default 30,000 commune devices: a router, a CPE
and a switch per commune, 667 district routers, one core), every device up with RTT, loss,
jitter, SNMP response, availability over the four windows and two interfaces, then times
:func:`exporters.prometheus.render` in both formats and, for comparison,
prometheus-client's own ``generate_latest`` on the same registry.

    python -m bench.bench_exposition [--devices 30000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporters.prometheus import SnapshotCollector, render
from tests.services_exporters import national_inventory, scenario_snapshot


def main() -> None:
    """Run the benchmark and print one line per measurement."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=30_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-interfaces", action="store_true")
    ap.add_argument("--compare", action="store_true", help="also time prometheus-client's generate_latest")
    args = ap.parse_args()

    inv = national_inventory(args.devices)
    snap = scenario_snapshot(inv, time.time(), interfaces=not args.no_interfaces)
    reg = CollectorRegistry(auto_describe=True)
    reg.register(SnapshotCollector(lambda: snap))
    samples = sum(len(m.samples) for m in reg.collect())
    print(
        f"devices={len(snap.devices)} communes={len(snap.communes)} districts={len(snap.districts)} samples={samples}"
    )
    runs = [("text", lambda: render(reg)), ("openmetrics", lambda: render(reg, openmetrics=True))]
    if args.compare:
        runs += [
            ("client-text", lambda: generate_latest(reg)),
            ("client-openmetrics", lambda: generate_openmetrics(reg)),
        ]
    for name, fn in runs:
        times = []
        size = 0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            size = len(fn())
            times.append(time.perf_counter() - t0)
        print(f"{name:20s} median={statistics.median(times):.3f}s min={min(times):.3f}s bytes={size}")


if __name__ == "__main__":
    main()
