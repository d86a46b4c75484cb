"""Benchmark of the collector core at national scale.

The real national inventory (2021 structure: 1 core, ~700 district routers, 10,051
communes) is padded with commune switches to 30,000 devices; one round every 30 s of an
ICMP and an SNMP sample per device. Measured: samples applied per second (engine + SQLite
store, one process), the 30-day coverage and per-district availability, resident memory.

    python bench/bench_core.py [--devices 30000] [--rounds 20] [--store PATH]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.store import SqliteStore
from netmon.config.geography import generate
from netmon.config.inventory import Inventory
from netmon.config.settings import CollectorSettings


def national(devices: int) -> Inventory:
    """The national 2021 inventory, padded with switches at communes up to ``devices``."""
    raw = generate("00", "2021")
    n = 1 + sum(1 + len(d["communes"]) for d in raw["districts"])
    extra = max(0, devices - n)
    communes = [c for d in raw["districts"] for c in d["communes"]]
    i = 0
    while extra > 0:
        c = communes[i % len(communes)]
        c["devices"].append(
            {
                "id": f"c{c['code']}-sw{i // len(communes) + 1}",
                "role": "switch",
                "address": "sw.placeholder.invalid",
                "parent": c["devices"][0]["id"],
                "probes": ["icmp"],
            }
        )
        i += 1
        extra -= 1
    return Inventory.model_validate(raw)


def rss_mb() -> float:
    """Peak resident memory of this process in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """Resident memory of this process now, in MB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=30_000)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--interval", type=float, default=30.0)
    ap.add_argument("--batch", type=int, default=500, help="samples per batch")
    ap.add_argument("--store", default=None, help="SQLite file (default: a temporary one)")
    ap.add_argument("--history-outages", type=int, default=4, help="outages per device in the 30 days before")
    ap.add_argument("--reorder-window", type=float, default=None, help="state.reorder_window_s (default: the setting's)")
    ap.add_argument("--trace-memory", type=int, default=0, metavar="N", help="print the N largest allocation sites at the end")
    ap.add_argument("--memory-breakdown", action="store_true", help="print the deep size of each part of the engine at the end")
    args = ap.parse_args()
    if args.trace_memory:
        import tracemalloc

        tracemalloc.start(4)

    t0 = time.perf_counter()
    inv = national(args.devices)
    ids = list(inv.index.devices)
    print(
        f"inventory: {len(ids)} devices, {len(inv.index.communes)} communes, {len(inv.index.districts)} districts "
        f"(built in {time.perf_counter() - t0:.1f} s)"
    )
    tmp = tempfile.mkdtemp()
    path = args.store or os.path.join(tmp, "bench.sqlite")
    store = SqliteStore.open(path)
    start = 1_780_000_000.0
    rng = random.Random(1)
    if args.history_outages:
        seed_history(store, ids, start, args.history_outages, rng)
    now = [start]
    t = time.perf_counter()
    state = {} if args.reorder_window is None else {"reorder_window_s": args.reorder_window}
    settings = CollectorSettings.model_validate({"inventory": "-", "state": state})
    engine = Engine(inv, settings, store, clock=lambda: now[0])
    print(f"RSS with the engine loaded: {current_rss_mb():.0f} MB")
    print(f"engine start (load {args.history_outages} outages/device of history): {time.perf_counter() - t:.2f} s")
    offsets = [rng.uniform(0, args.interval * 0.5) for _ in ids]
    seq = 0
    applied = 0
    apply_s = tick_s = scrape_s = 0.0
    ticks = scrapes = 0
    for r in range(args.rounds):
        base = start + r * args.interval
        # 1% of the devices fail for a while, so transitions and outages are written too.
        down = set(rng.sample(ids, len(ids) // 100)) if r % 5 == 2 else set()
        samples = []
        for d, off in zip(ids, offsets, strict=True):
            ok = d not in down
            samples.append(
                wire.Sample(
                    device=d,
                    probe="icmp",
                    ts=base + off,
                    ok=ok,
                    loss=0.0 if ok else 1.0,
                    rtt=wire.Rtt(0.004, 0.005, 0.006, 0.001) if ok else None,
                )
            )
            if "-sw" not in d:
                samples.append(wire.Sample(device=d, probe="snmp", ts=base + off + 0.2, ok=ok, response_s=0.01))
        samples.sort(key=lambda s: s.ts)
        batches = [
            wire.SampleBatch(
                v=1, agent=f"agent-{i % 50}", seq=seq + i, sent_at=base, samples=samples[j : j + args.batch]
            )
            for i, j in enumerate(range(0, len(samples), args.batch))
        ]
        seq += len(batches)
        now[0] = base + args.interval
        t = time.perf_counter()
        for b in batches:
            engine.apply_batch(b, now[0])
        apply_s += time.perf_counter() - t
        if r == 0:
            first = time.perf_counter() - t
            print(f"first round (every device UNKNOWN -> UP: {len(ids)} transitions written): {first:.2f} s")
            apply_s -= first
        else:
            applied += len(samples)
        # The collector ticks every 5 s: six ticks per round; Prometheus scrapes every 15 s,
        # so the availability refresh (once a minute, when snapshots are read) runs too.
        for k in range(6):
            now[0] = base + args.interval + k * 5
            t = time.perf_counter()
            engine.tick(now[0])
            tick_s += time.perf_counter() - t
            ticks += 1
            if k % 3 == 0:
                t = time.perf_counter()
                engine.snapshot()
                scrape_s += time.perf_counter() - t
                scrapes += 1
    rate = applied / apply_s
    per_round = len(samples)
    print(
        f"apply: {applied} samples in {apply_s:.2f} s = {rate:,.0f} samples/s (apply_batch incl. SQLite commits; rounds 2..{args.rounds})"
    )
    print(
        f"tick: {tick_s / ticks * 1000:.1f} ms on average over {ticks} ticks (incl. the once-a-minute availability refresh)"
    )
    print(f"snapshot() at a scrape: {scrape_s / scrapes * 1000:.1f} ms on average over {scrapes} scrapes")
    load = (per_round / rate + 6 * tick_s / ticks + 2 * scrape_s / scrapes) / args.interval
    print(
        f"CPU share at national load ({per_round} samples every {args.interval:.0f} s, a tick every 5 s, a scrape every 15 s): {load:.0%} of one core"
    )

    end = now[0]
    t = time.perf_counter()
    cov = engine.time_weighted_coverage("province", inv.province.code, end - 30 * 86400, end)
    per_district = {d: engine.availability("district", d, end - 30 * 86400, end) for d in inv.index.districts}
    took = time.perf_counter() - t
    print(
        f"30-day time-weighted coverage ({cov:.4f}) + 30-day availability of all {len(per_district)} districts: {took:.3f} s"
    )
    t = time.perf_counter()
    engine.refresh_availability(end)
    print(f"availability refresh, 4 standard windows x all devices/communes/districts: {time.perf_counter() - t:.3f} s")
    t = time.perf_counter()
    engine.apply_batch(batches[0], end)  # a change, so that the snapshot is rebuilt
    snap = engine.snapshot()
    print(
        f"snapshot build: {time.perf_counter() - t:.3f} s; connected {snap.province.connected}/{snap.province.communes}"
    )
    print(f"RSS now {current_rss_mb():.0f} MB, peak {rss_mb():.0f} MB")
    if args.memory_breakdown:
        from memory_breakdown import breakdown

        for name, size in breakdown(engine):
            print(f"  {size / 2**20:7.1f} MB  {name}")
    if args.trace_memory:
        import tracemalloc

        snap_mem = tracemalloc.take_snapshot()
        print(f"traced: {sum(s.size for s in snap_mem.statistics('filename')) / 2**20:.0f} MB; largest sites:")
        for stat in snap_mem.statistics("lineno")[: args.trace_memory]:
            print(f"  {stat.size / 2**20:7.1f} MB  {stat.count:>9,}  {stat.traceback[0]}")
    engine.close()
    return 0


def seed_history(store: SqliteStore, ids: list[str], start: float, per_device: int, rng: random.Random) -> None:
    """Write 30 days of transitions before ``start``: ``per_device`` outages of every device."""
    from netmon.collector.model import State, Transition
    from netmon.collector.store import Commit

    t0 = start - 30 * 86400
    trs: list[Transition] = []
    for d in ids:
        trs.append(Transition(d, t0, State.UNKNOWN, State.UP, "seed"))
        times = sorted(rng.uniform(t0 + 60, start - 7200) for _ in range(per_device))
        for t in times:
            trs.append(Transition(d, t, State.UP, State.DOWN, "seed"))
            trs.append(Transition(d, t + rng.uniform(60, 3600), State.DOWN, State.UP, "seed"))
    for i in range(0, len(trs), 50_000):
        store.commit(Commit(transitions=trs[i : i + 50_000]))


if __name__ == "__main__":
    raise SystemExit(main())
