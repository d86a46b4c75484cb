"""How long a collector may be away without losing a batch, and how fast it catches up.

A collector that is down (a crash, an upgrade, the machine of one of a hot-hot pair) keeps
its persistent MQTT session: the broker queues every batch for it, up to
``max_queued_messages`` / ``max_queued_bytes`` per client, and drops the newest silently
beyond that — the agents have already deleted them from their outboxes. So the longest
lossless absence is the queue limit divided by the province's batch rate. Two parts:

1. **rate** — the real agent (Poller, Batcher, Outbox with no broker) polls D devices over
   SNMP at interval I against a canned SNMPv2c responder (bench_agent_scale's) for a few
   rounds: batches per hour per agent, samples and bytes per batch.
2. **queue and catch-up** — a Mosquitto of its own; a real ``netmon collector`` creates its
   session and stops; A agents' worth of those batches (re-addressed to the Quảng Ngãi
   inventory's devices, one agent per district) are published for H hours of absence; the
   broker's memory is read; the collector restarts with the same client id and the time
   until its store's ledger holds every batch is measured. With ``--limit`` below the
   backlog, the batches lost are counted too.

Run from the repository root::

    .venv/bin/python -m bench.bench_catchup [--devices 14] [--interval 60] [--rate-duration 180]
        [--agents 14] [--hours 1] [--limit 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import paho.mqtt.client as paho
import yaml
from paho.mqtt.enums import CallbackAPIVersion

from bench.bench_agent_scale import responder, responder_devices
from netmon.agent import wire
from netmon.agent.outbox import Outbox
from netmon.agent.poller import Poller
from netmon.agent.publisher import Batcher
from netmon.collector.ledger import SeenSequences
from netmon.config.loader import load_inventory
from netmon.config.settings import OutboxSettings, PollSettings
from tests import services

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT / "config" / "quang-ngai-2021.yaml"


@dataclass(frozen=True)
class Rate:
    """What one agent sends."""

    batches_per_hour: float
    samples_per_batch: float
    bytes_per_batch: float
    payloads: list[bytes]


async def _poll_into_outbox(n: int, interval: float, duration: float, base: int, outbox: Outbox) -> Batcher:
    devices, profiles = responder_devices(n, base)
    settings = PollSettings(interval_s=interval, icmp_mode="off")  # the batch defaults: 500 samples or 2 s
    batcher = Batcher(outbox, settings)
    poller = Poller(devices, profiles, settings, batcher)
    tasks = [asyncio.create_task(poller.run(), name="poller"), asyncio.create_task(batcher.run(), name="batcher")]
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(duration):  # the measurement window itself
            await asyncio.gather(*tasks)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    batcher.flush()
    poller.close()
    return batcher


def measure_rate(devices: int, interval: float, duration: float, workdir: Path) -> Rate:
    """Part 1: the real agent's batches for ``duration`` seconds, kept in its outbox."""
    with responder() as base:
        path = workdir / "outbox.sqlite"
        outbox = Outbox(path, OutboxSettings(path=str(path)), "bench-agent")
        batcher = asyncio.run(_poll_into_outbox(devices, interval, duration, base, outbox))
        stats = outbox.stats()
        outbox.close()
    db = sqlite3.connect(path)
    payloads = [bytes(p) for (p,) in db.execute("SELECT payload FROM batches ORDER BY seq")]
    db.close()
    return Rate(
        batches_per_hour=batcher.batches * 3600 / duration,
        samples_per_batch=batcher.samples / max(1, batcher.batches),
        bytes_per_batch=stats.bytes / max(1, stats.depth),
        payloads=payloads,
    )


def district_devices() -> dict[str, list[str]]:
    """Agent id (``d<district code>``) -> the devices of that district in the inventory."""
    inv = load_inventory(INVENTORY)
    out: dict[str, list[str]] = {}
    for d in inv.districts:
        out[f"d{d.code}"] = [x.id for x in d.devices] + [x.id for c in d.communes for x in c.devices]
    return out


def backlog(rate: Rate, agents: int, hours: float, start: float) -> Iterator[tuple[str, bytes]]:
    """(topic, payload) of ``agents`` agents' batches over ``hours``, in time order, their
    samples re-addressed to each district's devices and re-dated across the absence."""
    per_agent = int(rate.batches_per_hour * hours)
    owners = list(district_devices().items())[:agents]
    templates = [b for b in (wire.decode_batch(p) for p in rate.payloads) if b.samples]
    step = 3600.0 / rate.batches_per_hour
    for i in range(per_agent):
        tpl = templates[i % len(templates)]
        for agent, devs in owners:
            samples = [
                msgspec.structs.replace(s, device=devs[(i * len(tpl.samples) + k) % len(devs)], ts=start + i * step)
                for k, s in enumerate(tpl.samples)
            ]
            batch = wire.SampleBatch(v=1, agent=agent, seq=i + 1, sent_at=start + i * step, samples=samples)
            yield wire.samples_topic(agent), wire.encode(batch)


def rss_kb(pid: int) -> int:
    """Resident memory of a process, kB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def applied(store: Path) -> dict[str, SeenSequences]:
    """Per agent, the sequence numbers the collector's store has applied."""
    if not store.exists():
        return {}
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    try:
        return {a: SeenSequences.decode(r) for a, r in db.execute("SELECT agent, ranges FROM seen_batches")}
    finally:
        db.close()


def collector_process(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """A real `netmon collector` with a fixed client id (its session survives its stops)."""
    conf = workdir / "collector.yaml"
    conf.write_text(
        yaml.safe_dump(
            {
                "collector_id": "bench-catchup",
                "inventory": str(INVENTORY),
                "broker": {"url": f"mqtt://127.0.0.1:{port}"},
                "store": {"path": str(workdir / "store.sqlite")},
                "http": {"listen": f"127.0.0.1:{services.free_port()}"},
                "log": {"format": "json"},
            }
        )
    )
    log = (workdir / "collector.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "netmon", "collector", "-c", str(conf)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def publish(port: int, messages: Iterator[tuple[str, bytes]]) -> int:
    """Publish QoS 1 as fast as the broker acknowledges; the count."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="bench-agents", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    n = 0
    last = None
    for topic, payload in messages:
        last = client.publish(topic, payload, qos=1)
        n += 1
        if n % 200 == 0:
            last.wait_for_publish(60)
    if last is not None:
        last.wait_for_publish(60)
    client.loop_stop()
    client.disconnect()
    return n


def queue_and_catch_up(rate: Rate, agents: int, hours: float, limit: int, workdir: Path) -> None:
    """Part 2: a backlog of ``hours`` queued for a stopped collector, then its catch-up."""
    port = services.free_port()
    mq = services.start_mosquitto(
        workdir / "mq", port=port, extra_conf=f"max_queued_messages {limit}\nmax_inflight_messages 100\n"
    )
    assert mq.proc is not None
    try:
        col = collector_process(workdir, port)
        services.wait_until(lambda: "subscribed" in (workdir / "collector.log").read_text(), 60, "collector")
        col.send_signal(signal.SIGTERM)
        col.wait(30)
        rss0 = rss_kb(mq.proc.pid)
        start = time.time() - hours * 3600
        t0 = time.perf_counter()
        sent = publish(port, backlog(rate, agents, hours, start))
        t_pub = time.perf_counter() - t0
        time.sleep(2)  # let the broker's one-second autosave write the queue (no event to wait for)
        rss1 = rss_kb(mq.proc.pid)
        db_size = sum(p.stat().st_size for p in (workdir / "mq").glob("*.db"))
        print(
            f"queued for the stopped collector: {sent} batches ({agents} agents x {hours:g} h) "
            f"published in {t_pub:.1f} s; broker RSS {rss0 / 1024:.0f} -> {rss1 / 1024:.0f} MB "
            f"({(rss1 - rss0) * 1024 / max(1, min(sent, limit)):.0f} bytes per queued batch), "
            f"persistence file {db_size / 1e6:.0f} MB"
        )
        t1 = time.perf_counter()
        col = collector_process(workdir, port)
        try:
            expected = min(sent, limit)
            done = 0
            deadline = time.monotonic() + 3600
            stable_since = time.monotonic()
            while time.monotonic() < deadline:
                now_done = sum(s.count() for s in applied(workdir / "store.sqlite").values())
                if now_done != done:
                    done, stable_since = now_done, time.monotonic()
                if done >= sent or (done >= expected and time.monotonic() - stable_since > 10):
                    break
                time.sleep(0.5)  # polling another process's store: there is no event to await
            t_catch = time.perf_counter() - t1
        finally:
            col.send_signal(signal.SIGTERM)
            col.wait(60)
        per_s = done / t_catch if t_catch else 0.0
        print(
            f"catch-up: {done} of {sent} batches applied in {t_catch:.1f} s from the collector's start "
            f"({per_s:,.0f} batches/s, {per_s * rate.samples_per_batch:,.0f} samples/s); lost {sent - done}"
        )
    finally:
        mq.stop()


def main() -> None:
    """Run both parts and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=14, help="devices per agent (a Quảng Ngãi district: ~14)")
    ap.add_argument("--interval", type=float, default=60.0)
    ap.add_argument("--rate-duration", type=float, default=180.0, help="seconds of real polling for part 1")
    ap.add_argument("--agents", type=int, default=13, help="agents whose batches queue (one per district)")
    ap.add_argument("--hours", type=float, default=1.0, help="hours of collector absence to queue")
    ap.add_argument("--limit", type=int, default=100_000, help="the broker's max_queued_messages")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-catchup-") as tmp:
        work = Path(tmp)
        rate = measure_rate(args.devices, args.interval, args.rate_duration, work)
        print(
            f"agent, {args.devices} devices at {args.interval:g} s (SNMP, 4 interfaces each; batch defaults): "
            f"{rate.batches_per_hour:,.0f} batches/hour, {rate.samples_per_batch:.2f} samples "
            f"and {rate.bytes_per_batch:,.0f} bytes per batch"
        )
        province = rate.batches_per_hour * args.agents
        print(
            f"{args.agents} agents: {province:,.0f} batches/hour; max_queued_messages {args.limit:,} "
            f"lasts {args.limit / province:.2f} h (Mosquitto's default, 1,000: {1000 / province * 60:.1f} min)"
        )
        queue_and_catch_up(rate, args.agents, args.hours, args.limit, work)


if __name__ == "__main__":
    main()
