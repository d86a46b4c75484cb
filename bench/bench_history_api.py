"""Benchmark: 90-day national queries on the collector's API while ingest runs.

A national inventory (30,000 devices) with 90 days of transitions in its store; the
collector's engine applies batches at a fixed rate on its event loop, and its web API
(same loop) answers province availability and coverage over the last 90 days, asked from
another thread in a loop. Measured: ingest latency (from when a batch is due to when it
is applied: p50, p99, max) and how long each query takes, in two modes side by side:

* ``process`` — windows older than the in-memory log are read by the archive's worker
  process on the store's file, read-only (what the collector does);
* ``thread`` — the same reads on a thread of the collector's process;
* ``loop`` — the same reads on the event loop (what it did before).

    python bench/bench_history_api.py [--devices 30000] [--days 90] [--rate 20000]
                                      [--duration 30] [--modes process,thread,loop] [--every 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiohttp import web
from bench_core import national

from netmon.agent import wire
from netmon.collector.archive import ArchiveReader
from netmon.collector.engine import Engine
from netmon.collector.model import State, Transition
from netmon.collector.store import Commit, SqliteStore
from netmon.collector.web import build_app
from netmon.config.settings import CollectorSettings


def seed(store: SqliteStore, ids: list[str], now: float, *, days: int, per_month: int, rng: random.Random) -> int:
    """``days`` of history before ``now``: ``per_month`` outages a month per device."""
    t0 = now - days * 86400
    trs: list[Transition] = []
    n = max(1, per_month * days // 30)
    for d in ids:
        trs.append(Transition(d, t0, State.UNKNOWN, State.UP, "seed"))
        for t in sorted(rng.uniform(t0 + 60, now - 7200) for _ in range(n)):
            trs.append(Transition(d, t, State.UP, State.DOWN, "seed"))
            trs.append(Transition(d, t + rng.uniform(60, 3600), State.DOWN, State.UP, "seed"))
    for i in range(0, len(trs), 50_000):
        store.commit(Commit(transitions=trs[i : i + 50_000]))
    return len(trs)


def ask(url: str, stop: threading.Event, took: list[float], every: float) -> None:
    """Ask ``url`` every ``every`` seconds (0: back to back) until ``stop``, timing each answer."""
    while not stop.is_set():
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=300) as resp:
            resp.read()
        took.append(time.perf_counter() - t)
        stop.wait(max(0.0, every - (time.perf_counter() - t)))


async def run_mode(
    mode: str, engine: Engine, ids: list[str], archive: ArchiveReader, args: argparse.Namespace
) -> dict[str, float]:
    if mode == "loop":
        engine.reads_store = lambda start: False  # type: ignore[method-assign]
    else:
        engine.__dict__.pop("reads_store", None)
    app = build_app(engine, archive=archive if mode == "process" else None)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    now = time.time()
    start = now - args.days * 86400
    urls = [
        f"http://127.0.0.1:{port}/api/v1/availability?scope=province&from={start}&to={now}",
        f"http://127.0.0.1:{port}/api/v1/coverage?from={start}&to={now}",
    ]
    stop = threading.Event()
    took: list[float] = []
    askers = [threading.Thread(target=ask, args=(u, stop, took, args.every), daemon=True) for u in urls]
    per_batch = max(1, int(args.rate * args.tick))
    lat: list[float] = []
    seq = 0
    i = 0
    t0 = time.perf_counter()
    for a in askers:
        a.start()
    loop = asyncio.get_running_loop()
    next_due = loop.time()
    end = next_due + args.duration
    ticked = 0.0
    while next_due < end:
        await asyncio.sleep(max(0.0, next_due - loop.time()))
        ts = time.time()
        samples = []
        for _ in range(per_batch):
            samples.append(wire.Sample(device=ids[i % len(ids)], probe="icmp", ts=ts, ok=True, loss=0.0))
            i += 1
        engine.apply_batch(wire.SampleBatch(v=1, agent="bench", seq=seq, sent_at=ts, samples=samples), ts)
        seq += 1
        if ts - ticked >= 1.0:  # the collector ticks once a second
            engine.tick(ts)
            ticked = ts
        lat.append(loop.time() - next_due)
        next_due += args.tick
    stop.set()
    await asyncio.to_thread(lambda: [a.join() for a in askers])
    await runner.cleanup()
    lat.sort()
    return {
        "wall_s": time.perf_counter() - t0,
        "batches": len(lat),
        "p50_ms": 1000 * lat[len(lat) // 2],
        "p99_ms": 1000 * lat[int(len(lat) * 0.99)],
        "max_ms": 1000 * lat[-1],
        "queries": len(took),
        "query_median_s": statistics.median(took) if took else float("nan"),
    }


async def main_async(args: argparse.Namespace) -> None:
    ids = list(national(args.devices).index.devices)
    inv = national(args.devices)
    tmp = tempfile.mkdtemp()
    path = os.path.join(tmp, "bench.sqlite")
    store = SqliteStore.open(path)
    t = time.perf_counter()
    rows = seed(store, ids, time.time(), days=args.days, per_month=args.per_month, rng=random.Random(1))
    print(f"{len(ids)} devices, {rows:,} transitions over {args.days} days seeded in {time.perf_counter() - t:.1f} s")
    settings = CollectorSettings(inventory="-")
    engine = Engine(inv, settings, store)
    engine.snapshot()  # the first snapshot computes the standard windows: not part of what is measured
    archive = ArchiveReader(inv, settings, path)
    archive.start()  # as the collector does at start-up
    await archive.figures("province", inv.province.code, time.time() - 60, time.time())
    for mode in args.modes.split(",") * args.repeat:
        r = await run_mode(mode, engine, ids, archive, args)
        print(
            f"{mode:>6}: ingest {args.rate:,.0f} samples/s in batches every {args.tick * 1000:.0f} ms: "
            f"latency p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms, max {r['max_ms']:.0f} ms "
            f"over {r['batches']} batches; {r['queries']} 90-day queries (one every {args.every:.0f} s per asker), median {r['query_median_s']:.2f} s"
        )
    archive.close()
    engine.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=30_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--per-month", type=int, default=4, help="outages per device per month")
    ap.add_argument("--rate", type=float, default=20_000.0, help="samples per second applied")
    ap.add_argument("--tick", type=float, default=0.05, help="seconds between batches")
    ap.add_argument("--duration", type=float, default=30.0)
    ap.add_argument("--modes", default="process,thread,loop")
    ap.add_argument("--repeat", type=int, default=1, help="run the modes this many times, in turn")
    ap.add_argument(
        "--every", type=float, default=10.0, help="seconds between two queries of one asker (0: back to back)"
    )
    asyncio.run(main_async(ap.parse_args()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
