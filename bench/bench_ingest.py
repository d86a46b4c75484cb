"""Benchmark of collector ingestion through a real Mosquitto.

Agents (separate processes, the real batcher → outbox → publisher path) publish samples of
a national-scale inventory at a fixed rate; one collector process (the real subscriber →
ingestor → engine → SQLite store) applies them. Measured in the collector process: device
samples applied per second, CPU seconds per sample, and end-to-end latency from the
sample's measurement time to the moment the engine has applied it (p50/p99), over the
whole run and in the steady state (samples measured ``--settle`` s after the first round,
whose 30,000 first transitions are a one-off start-up write that the next seconds queue
behind).

    python bench/bench_ingest.py [--rate 50000] [--duration 20] [--devices 30000]
                                 [--agents 2] [--batch 500] [--engine real|none]
                                 [--mode live|backlog] [--settle 5]

``--engine none`` replaces the engine and store with a no-op, isolating the transport
(MQTT + decode + de-duplication bookkeeping).
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netmon.agent import wire  # noqa: E402
from netmon.config.settings import BrokerSettings, OutboxSettings, PollSettings  # noqa: E402


def cpu_s() -> float:
    """User + system CPU seconds of this process so far."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def device_ids(n: int) -> list[str]:
    """Device ids of the national inventory padded to ``n`` (same as bench_core)."""
    sys.path.insert(0, str(ROOT / "bench"))
    from bench_core import national

    return list(national(n).index.devices)


async def run_agent_role(args: argparse.Namespace) -> None:
    """Publish ``rate`` samples/s for ``duration`` s of this agent's share of the devices."""
    from netmon.agent.outbox import Outbox
    from netmon.agent.publisher import Batcher, Publisher

    ids = device_ids(args.devices)[args.index :: args.agents]
    broker = BrokerSettings(url=f"mqtt://127.0.0.1:{args.port}")
    ob_settings = OutboxSettings(path=args.outbox, inflight=100, drain_rate_per_s=1000)
    outbox = Outbox(args.outbox, ob_settings, args.agent_id)
    pub = Publisher(broker, args.agent_id, outbox, ob_settings)
    batcher = Batcher(outbox, PollSettings(batch_max_samples=args.batch, batch_max_delay_s=0.5), on_batch=pub.wake)
    tasks = [asyncio.create_task(pub.run()), asyncio.create_task(batcher.run())]
    await pub.connected.wait()
    rate = args.rate / args.agents
    tick = 0.02
    per_tick = rate * tick
    sent, owed, i = 0, 0.0, 0
    start = time.monotonic()
    end = start + args.duration
    while (now := time.monotonic()) < end:
        owed = rate * (now - start) - sent
        for _ in range(int(owed)):
            dev = ids[i % len(ids)]
            i += 1
            # The RTT differs from one round to the next, as a real one does.
            rtt = wire.Rtt(0.01, 0.012 + (i % 997) * 1e-6, 0.02)
            batcher.submit(wire.Sample(device=dev, probe="icmp", ts=time.time(), ok=True, rtt=rtt))
            sent += 1
        await asyncio.sleep(max(0.0, tick - (time.monotonic() - now)) if per_tick else tick)
    batcher.flush()
    await pub.drain(60)
    print(json.dumps({"agent": args.agent_id, "sent": sent, "outbox_left": outbox.stats().depth}), flush=True)
    for t in tasks:
        t.cancel()


async def run_collector_role(args: argparse.Namespace) -> None:
    """Subscribe, ingest, and report throughput, CPU and latency once ``expect`` samples arrived."""
    from netmon.collector.ingest import Ingestor
    from netmon.collector.subscriber import run_subscriber

    engine: object
    store: object
    if args.engine == "real":
        sys.path.insert(0, str(ROOT / "bench"))
        from bench_core import national

        from netmon.collector.engine import Engine
        from netmon.collector.store import SqliteStore
        from netmon.collectord import freeze_long_lived
        from netmon.config.settings import CollectorSettings

        inv = national(args.devices)
        store = SqliteStore.open(os.path.join(args.workdir, "netmon.sqlite"))
        engine = Engine(inv, CollectorSettings(inventory="-"), store)
        freeze_long_lived()  # as the collector does
    else:

        class Null:
            def apply_batch(self, batch: wire.SampleBatch, received_at: float) -> None:
                pass

            def agent_status(self, status: wire.AgentStatus, received_at: float) -> None:
                pass

        engine = Null()
        store = None
    apply_s: list[float] = []

    class Timed:
        """Times every engine call: tells engine stalls from transport delays."""

        def apply_batch(self, batch: wire.SampleBatch, received_at: float) -> None:
            t = time.perf_counter()
            engine.apply_batch(batch, received_at)  # type: ignore[attr-defined]
            apply_s.append(time.perf_counter() - t)

        def agent_status(self, status: wire.AgentStatus, received_at: float) -> None:
            engine.agent_status(status, received_at)  # type: ignore[attr-defined]

    ingestor = Ingestor(Timed(), store)  # type: ignore[arg-type]
    lat: list[float] = []
    done = asyncio.Event()
    state = {"first": 0.0, "first_wall": 0.0, "cpu0": 0.0, "n": 0, "last": 0.0, "cpu_last": 0.0, "base": 0}
    #: Latencies of the samples measured ``settle`` s after the first round, when the queue
    #: it left behind has drained.
    steady: list[float] = []

    def on_batch(batch: wire.SampleBatch) -> None:
        now = time.time()
        warm = state["n"] >= args.devices
        state["n"] += len(batch.samples)
        state["last"] = time.monotonic()
        if not warm:
            # The first round makes every device's first transition (UNKNOWN -> UP), a
            # one-off write burst: measure the steady state after it.
            if state["n"] >= args.devices:
                state["first"] = time.monotonic()
                state["first_wall"] = now
                state["cpu0"] = cpu_s()
                state["base"] = state["n"]
            return
        state["cpu_last"] = cpu_s()
        picked = [now - s.ts for s in batch.samples[:: max(1, len(batch.samples) // 20)]]
        lat.extend(picked)
        if batch.samples[0].ts >= state["first_wall"] + args.settle:
            steady.extend(picked)
        if state["n"] >= args.expect:
            done.set()

    ingestor.listeners.append(on_batch)
    stalls: dict[str, list[float]] = {"tick": [], "snapshot": []}

    async def housekeeping() -> None:
        """The collector's tick every ``--tick-s`` and a Prometheus scrape every ``--scrape-s``
        as in ``netmon collector``: the tick and the scrape's snapshot on the event loop (timed:
        the loop waits for them), the exposition rendered in a worker thread."""
        if args.engine != "real":
            return
        from prometheus_client import CollectorRegistry

        from netmon.exporters.prometheus import SnapshotCollector, render

        def snapshot() -> Any:
            t = time.perf_counter()
            snap = engine.snapshot()  # type: ignore[attr-defined]
            stalls["snapshot"].append(time.perf_counter() - t)
            return snap

        registry = CollectorRegistry(auto_describe=False)
        scrape = SnapshotCollector(snapshot)
        registry.register(scrape)
        start = time.monotonic()
        next_tick = start + args.tick_s if args.tick_s else math.inf
        next_scrape = start if args.scrape_s else math.inf  # Prometheus scrapes from the start
        if math.isinf(next_tick) and math.isinf(next_scrape):
            return
        while True:
            await asyncio.sleep(max(0.0, min(next_tick, next_scrape) - time.monotonic()))
            now = time.monotonic()
            if args.tick_s and now >= next_tick:
                t = time.perf_counter()
                engine.tick(time.time())  # type: ignore[attr-defined]
                stalls["tick"].append(time.perf_counter() - t)
                next_tick += args.tick_s
            if args.scrape_s and now >= next_scrape:
                prepared = scrape.prepare()  # as the /metrics handler does
                if inspect.isawaitable(prepared):  # (it is not in the code before #12's figures, for A/B runs)
                    await prepared
                await asyncio.to_thread(render, registry)
                next_scrape += args.scrape_s

    keeper = asyncio.create_task(housekeeping())
    ready = asyncio.Event()
    broker = BrokerSettings(url=f"mqtt://127.0.0.1:{args.port}")
    task = asyncio.create_task(run_subscriber(broker, ingestor, client_id="bench-collector", ready=ready))
    await ready.wait()
    print(json.dumps({"ready": True}), flush=True)
    if args.subscribe_only:  # leave a persistent session behind for the backlog mode
        task.cancel()
        return
    deadline = time.monotonic() + args.duration * 4 + 60
    while not done.is_set() and time.monotonic() < deadline:
        try:
            async with asyncio.timeout(3.0):
                await done.wait()
        except TimeoutError:
            if state["n"] and time.monotonic() - state["last"] > 3.0:
                break  # the agents are done (their totals may round below ``expect``)
    elapsed = state["last"] - state["first"]
    cpu = state["cpu_last"] - state["cpu0"]
    lat.sort()
    steady.sort()
    n = state["n"] - state["base"]
    c = ingestor.counters()
    print(
        json.dumps(
            {
                "samples": n,
                "warmup_samples": state["base"],
                "batches": c.batches,
                "duplicates": c.duplicates,
                "invalid": c.invalid,
                "elapsed_s": elapsed,
                "samples_per_s": n / elapsed if elapsed > 0 else 0.0,
                "cpu_s": cpu,
                "cpu_us_per_sample": cpu / n * 1e6 if n else 0.0,
                "cpu_util": cpu / elapsed if elapsed > 0 else 0.0,
                "latency_p50_s": lat[len(lat) // 2] if lat else None,
                "latency_p99_s": lat[int(len(lat) * 0.99)] if lat else None,
                "latency_max_s": lat[-1] if lat else None,
                "steady_samples": len(steady),
                "steady_p50_s": steady[len(steady) // 2] if steady else None,
                "steady_p99_s": steady[int(len(steady) * 0.99)] if steady else None,
                "steady_max_s": steady[-1] if steady else None,
                "apply_p50_ms": sorted(apply_s)[len(apply_s) // 2] * 1000 if apply_s else None,
                "apply_p99_ms": sorted(apply_s)[int(len(apply_s) * 0.99)] * 1000 if apply_s else None,
                "apply_max_ms": max(apply_s) * 1000 if apply_s else None,
                "ticks": len(stalls["tick"]),
                "tick_max_ms": max(stalls["tick"], default=0.0) * 1000,
                "snapshots": len(stalls["snapshot"]),
                "snapshot_max_ms": max(stalls["snapshot"], default=0.0) * 1000,
                "snapshot_ms": [round(s * 1000) for s in stalls["snapshot"]],
            }
        ),
        flush=True,
    )
    task.cancel()
    keeper.cancel()


def start_collector(argv: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """Start the collector process and wait until it has subscribed."""
    col = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    assert col.stdout is not None
    first = col.stdout.readline()
    if '"ready"' not in first:
        raise RuntimeError(f"collector did not start: {first}")
    return col


def orchestrate(args: argparse.Namespace) -> int:
    """Start Mosquitto, the collector process and the agent processes; print the results."""
    from tests.services import start_mosquitto

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    mq = start_mosquitto(work / "mq")
    me = [sys.executable, str(Path(__file__).resolve())]
    common = ["--port", str(mq.port), "--devices", str(args.devices), "--batch", str(args.batch)]
    common += ["--duration", str(args.duration), "--agents", str(args.agents), "--rate", str(args.rate)]
    common += ["--settle", str(args.settle), "--tick-s", str(args.tick_s), "--scrape-s", str(args.scrape_s)]
    expect = int(args.rate * args.duration)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    col_argv = [*me, "--role", "collector", "--engine", args.engine, "--expect", str(expect), "--workdir", str(work)]
    try:
        if args.mode == "backlog":  # the collector is away while the agents publish, then drains it all
            subprocess.run([*col_argv, "--subscribe-only", *common], check=True, env=env, stdout=subprocess.DEVNULL)
        else:
            col = start_collector([*col_argv, *common], env)
        agents = [
            subprocess.Popen(
                [
                    *me,
                    "--role",
                    "agent",
                    "--index",
                    str(k),
                    "--agent-id",
                    f"bench-agent-{k}",
                    "--outbox",
                    str(work / f"outbox-{k}.sqlite"),
                    *common,
                ],
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            for k in range(args.agents)
        ]
        for a in agents:
            out, _ = a.communicate(timeout=args.duration * 4 + 120)
            print("agent:", out.strip())
        if args.mode == "backlog":
            col = start_collector([*col_argv, *common], env)
        out, _ = col.communicate(timeout=args.duration * 4 + 120)
        result = json.loads(out.strip().splitlines()[-1])
    finally:
        mq.stop()
    print(
        f"{args.mode}: collector ({args.engine} engine): {result['samples']} samples in {result['batches']} batches, "
        f"{result['samples_per_s']:,.0f} samples/s, {result['cpu_us_per_sample']:.1f} µs CPU/sample "
        f"({result['cpu_util'] * 100:.0f}% of a core), latency p50 {result['latency_p50_s'] * 1000:.0f} ms "
        f"p99 {result['latency_p99_s'] * 1000:.0f} ms max {result['latency_max_s'] * 1000:.0f} ms "
        f"(from {args.settle:.0f} s after the first round: p50 {_ms(result['steady_p50_s'])} "
        f"p99 {_ms(result['steady_p99_s'])} max {_ms(result['steady_max_s'])}), "
        f"engine apply per batch p50 {result['apply_p50_ms']:.1f} ms p99 {result['apply_p99_ms']:.1f} ms "
        f"max {result['apply_max_ms']:.0f} ms, {result['ticks']} ticks (max {result['tick_max_ms']:.0f} ms), "
        f"{result['snapshots']} scrapes' snapshots (max {result['snapshot_max_ms']:.0f} ms), "
        f"duplicates {result['duplicates']}, invalid {result['invalid']}"
    )
    print(json.dumps({"mode": args.mode, "offered_rate": args.rate, **result}))
    return 0


def _ms(seconds: float | None) -> str:
    return "n/a" if seconds is None else f"{seconds * 1000:.0f} ms"


def main() -> int:
    """Entry point (orchestrator, or one of its child roles)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--role", choices=["bench", "agent", "collector"], default="bench")
    ap.add_argument("--rate", type=float, default=50_000, help="device samples per second offered, all agents")
    ap.add_argument("--duration", type=float, default=20.0, help="seconds of publishing")
    ap.add_argument("--devices", type=int, default=30_000)
    ap.add_argument("--agents", type=int, default=2, help="agent processes")
    ap.add_argument("--batch", type=int, default=500, help="samples per batch")
    ap.add_argument("--engine", choices=["real", "none"], default="real")
    ap.add_argument("--tick-s", type=float, default=1.0, help="the collector's tick period, as netmon collector's (0: none)")
    ap.add_argument("--scrape-s", type=float, default=15.0, help="a Prometheus scrape's period (0: none)")
    ap.add_argument(
        "--settle",
        type=float,
        default=5.0,
        help="the steady-state latency counts samples measured this long after the first round "
        "(every device's first transition, written at start-up) had arrived",
    )
    ap.add_argument(
        "--mode",
        choices=["live", "backlog"],
        default="live",
        help="live: agents and collector run together (latency); backlog: the collector drains what "
        "the broker queued while it was away (its capacity, without the agents competing for CPU)",
    )
    ap.add_argument("--subscribe-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int)
    ap.add_argument("--index", type=int, default=0)
    ap.add_argument("--agent-id", default="bench-agent")
    ap.add_argument("--outbox")
    ap.add_argument("--expect", type=int, default=0)
    ap.add_argument("--workdir")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.role == "agent":
        asyncio.run(run_agent_role(args))
        return 0
    if args.role == "collector":
        asyncio.run(run_collector_role(args))
        return 0
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
