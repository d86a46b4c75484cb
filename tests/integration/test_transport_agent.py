"""The real ``netmon agent`` process polling real devices, through a real Mosquitto, into the
real collector engine and store: states arrive, SIGHUP reloads, SIGTERM says offline and the
agent's devices become UNKNOWN (not DOWN)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.ingest import Ingestor
from netmon.collector.model import State
from netmon.collector.store import SqliteStore
from netmon.collector.subscriber import run_subscriber
from netmon.config.loader import load_collector_settings, load_inventory
from netmon.config.settings import BrokerSettings
from tests import services

ROOT = Path(__file__).resolve().parents[2]

INVENTORY = """
province: {{code: "51", name: "Quảng Ngãi"}}
districts:
  - code: "522"
    name: "Bình Sơn"
    devices:
      - {{id: d522-r1, role: district_router, address: 127.0.0.1, snmp: lab, probes: [snmp]}}
    communes:
      - code: "20101"
        name: "Bình Thạnh"
        devices:
          - {{id: c20101-cpe1, role: cpe, address: 127.0.0.1, probes: [tcp], tcp_port: {open_port}, parent: d522-r1}}
  - code: "523"
    name: "Trà Bồng"
    devices:
      - {{id: d523-r1, role: district_router, address: 127.0.0.1, probes: [tcp], tcp_port: {open_port}}}
"""

CREDENTIALS = """
snmp:
  lab: {{version: 2c, community: {{value: {community}}}, port: {snmp_port}, timeout_s: 1, retries: 0}}
"""

AGENT = """
agent_id: {agent_id}
inventory: inventory.yaml
credentials: credentials.yaml
scope: {{districts: ["522"]}}
broker: {{url: "mqtt://127.0.0.1:{mqtt_port}", reconnect_min_s: 0.1, reconnect_max_s: 1}}
poll: {{interval_s: 1, timeout_s: 1, batch_max_delay_s: 0.2, icmp_mode: "off"}}
outbox: {{path: outbox.sqlite}}
log: {{level: INFO}}
metrics_listen: "127.0.0.1:{metrics_port}"
"""

COLLECTOR = """
inventory: inventory.yaml
store: {{path: netmon.sqlite}}
broker: {{url: "mqtt://127.0.0.1:{mqtt_port}"}}
"""


def write_config(
    tmp_path: Path,
    *,
    open_port: int,
    snmp_port: int,
    agent_id: str,
    mqtt_port: int,
    metrics_port: int | None = None,
    replace: tuple[str, str] = ("", ""),
) -> None:
    """Inventory, credentials and agent settings of the tests (``replace``: one edit of the agent file)."""
    (tmp_path / "inventory.yaml").write_text(INVENTORY.format(open_port=open_port))
    (tmp_path / "credentials.yaml").write_text(
        CREDENTIALS.format(community=services.SNMP_COMMUNITY, snmp_port=snmp_port)
    )
    text = AGENT.format(agent_id=agent_id, mqtt_port=mqtt_port, metrics_port=metrics_port or services.free_port())
    if replace[0]:
        text = text.replace(*replace)
    (tmp_path / "agent.yaml").write_text(text)


class Recording:
    """Stand-in engine recording the batches (the real engine is used where states matter)."""

    def __init__(self) -> None:
        self.batches: list[wire.SampleBatch] = []
        self.got = asyncio.Event()

    def apply_batch(self, batch: wire.SampleBatch, received_at: float) -> None:
        self.batches.append(batch)
        self.got.set()

    def agent_status(self, status: wire.AgentStatus, received_at: float) -> None:
        pass

    def samples(self) -> int:
        return sum(len(b.samples) for b in self.batches)


@contextlib.asynccontextmanager
async def tcp_listener() -> AsyncIterator[int]:
    async def accept(_: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def wait_until(cond: Callable[[], bool], event: asyncio.Event, limit_s: float, what: str) -> None:
    try:
        async with asyncio.timeout(limit_s):
            while not cond():
                event.clear()
                await event.wait()
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


async def test_netmon_agent_process_to_engine_reload_and_offline(
    mosquitto: services.Service, snmpd: services.Service, tmp_path: Path
) -> None:
    agent_id, metrics_port = f"agent-{uuid.uuid4().hex[:8]}", services.free_port()
    async with tcp_listener() as open_port:
        write_config(
            tmp_path,
            open_port=open_port,
            snmp_port=snmpd.port,
            agent_id=agent_id,
            mqtt_port=mosquitto.port,
            metrics_port=metrics_port,
        )
        (tmp_path / "collector.yaml").write_text(COLLECTOR.format(mqtt_port=mosquitto.port))
        settings = load_collector_settings(tmp_path / "collector.yaml")
        store = SqliteStore.open(settings.store.path)
        engine = Engine(load_inventory(settings.inventory), settings, store)
        changed, ready = asyncio.Event(), asyncio.Event()
        statuses: list[str] = []

        class Watching:
            def apply_batch(self, batch: wire.SampleBatch, received_at: float) -> None:
                engine.apply_batch(batch, received_at)

            def agent_status(self, status: wire.AgentStatus, received_at: float) -> None:
                engine.agent_status(status, received_at)
                statuses.append(status.state)
                changed.set()

        ingestor = Ingestor(Watching(), store)
        ingestor.listeners.append(lambda _: changed.set())
        sub = asyncio.create_task(
            run_subscriber(
                BrokerSettings(url=f"mqtt://127.0.0.1:{mosquitto.port}"), ingestor, client_id="c1", ready=ready
            )
        )
        await ready.wait()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "netmon",
            "agent",
            "-c",
            str(tmp_path / "agent.yaml"),
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=asyncio.subprocess.PIPE,
        )
        try:

            def states() -> dict[str, State]:
                return {d: v.state for d, v in engine.snapshot().devices.items()}

            def both_up() -> bool:
                s = states()
                return s["d522-r1"] == State.UP and s["c20101-cpe1"] == State.UP

            await wait_until(both_up, changed, 20, "the agent's devices UP")
            assert "online" in statuses
            assert states()["d523-r1"] != State.UP  # outside the agent's scope: never polled
            metrics = await asyncio.to_thread(fetch, f"http://127.0.0.1:{metrics_port}/metrics")
            assert f'netmon_agent_broker_connected{{agent="{agent_id}"}} 1.0' in metrics
            assert "netmon_agent_outbox_dropped_batches_total" in metrics
            assert "netmon_agent_published_batches_total" in metrics

            # SIGHUP: the scope's inventory grows by one device, picked up without a restart
            text = (tmp_path / "inventory.yaml").read_text()
            (tmp_path / "inventory.yaml").write_text(
                text.replace(
                    "    communes:\n",
                    f"      - {{id: d522-sw1, role: switch, address: 127.0.0.1, probes: [tcp], tcp_port: {open_port}}}\n"
                    "    communes:\n",
                    1,
                )
            )
            proc.send_signal(signal.SIGHUP)
            seen: set[str] = set()

            def saw_new(batch: wire.SampleBatch) -> None:
                seen.update(s.device for s in batch.samples)

            ingestor.listeners.append(saw_new)
            await wait_until(lambda: "d522-sw1" in seen, changed, 20, "the reloaded device's samples")

            proc.send_signal(signal.SIGTERM)
            async with asyncio.timeout(20):
                rc = await proc.wait()
            assert rc == 0
            await wait_until(lambda: statuses[-1] == "offline", changed, 10, "offline status")
            for dev in ("d522-r1", "c20101-cpe1"):  # a silent agent's devices: unknown, not down
                last = engine.transitions(dev, 0, float("inf"))[-1]
                assert (last.old, last.new) == (State.UP, State.UNKNOWN)
                assert "offline" in last.cause
            assert ingestor.counters().invalid == {}
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
            sub.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sub
            engine.close()
            store.close()


async def test_netmon_agent_once_delivers_and_jsonl_prints(
    mosquitto: services.Service, snmpd: services.Service, tmp_path: Path
) -> None:
    agent_id = f"agent-{uuid.uuid4().hex[:8]}"
    async with tcp_listener() as open_port:
        write_config(tmp_path, open_port=open_port, snmp_port=snmpd.port, agent_id=agent_id, mqtt_port=mosquitto.port)
        rec, ready = Recording(), asyncio.Event()
        batches, got = rec.batches, rec.got
        ingestor = Ingestor(rec, None)
        broker = BrokerSettings(url=f"mqtt://127.0.0.1:{mosquitto.port}")
        sub = asyncio.create_task(run_subscriber(broker, ingestor, client_id=f"c-{agent_id}", ready=ready))
        await ready.wait()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        argv = [sys.executable, "-m", "netmon", "agent", "-c", str(tmp_path / "agent.yaml")]
        try:
            once = await asyncio.create_subprocess_exec(*argv, "--once", cwd=tmp_path, env=env)
            async with asyncio.timeout(30):
                assert await once.wait() == 0  # 0: the round was delivered (PUBACK) before exit
            await wait_until(lambda: bool(batches), got, 10, "the --once batch")
            assert {s.device for b in batches for s in b.samples} == {"d522-r1", "c20101-cpe1"}
            jl = await asyncio.create_subprocess_exec(
                *argv, "--once", "--jsonl", "-", cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE
            )
            out, _ = await jl.communicate()
            assert jl.returncode == 0
            lines = [wire_sample(line) for line in out.decode().splitlines() if line.strip()]
            assert {s.device for s in lines} == {"d522-r1", "c20101-cpe1"}
            assert all(s.ok for s in lines)
        finally:
            sub.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sub


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return str(resp.read().decode())


def wire_sample(line: str) -> wire.Sample:
    import msgspec

    return msgspec.json.decode(line, type=wire.Sample)


async def test_sigterm_without_broker_keeps_the_round_in_the_outbox_then_delivers(
    snmpd: services.Service, tmp_path: Path
) -> None:
    import sqlite3

    import netmon.agent.service

    agent_id, mqtt_port = f"agent-{uuid.uuid4().hex[:8]}", services.free_port()
    async with tcp_listener() as open_port:
        # a long batch delay: only the SIGTERM flush can cut the batch
        write_config(
            tmp_path,
            open_port=open_port,
            snmp_port=snmpd.port,
            agent_id=agent_id,
            mqtt_port=mqtt_port,
            replace=("batch_max_delay_s: 0.2", "batch_max_delay_s: 600"),
        )
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        argv = [sys.executable, "-m", "netmon", "agent", "-c", str(tmp_path / "agent.yaml")]
        proc = await asyncio.create_subprocess_exec(*argv, cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE)
        assert proc.stderr is not None
        async with asyncio.timeout(20):  # the agent logs its start; give it two poll rounds
            while b"starting" not in await proc.stderr.readline():
                pass
        await asyncio.sleep(2.5)  # two 1 s poll rounds happen (wall-clock pacing, not synchronisation)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(netmon.agent.service.SHUTDOWN_GRACE_S + 10):
            await proc.communicate()
        assert proc.returncode == 0
        assert loop.time() - t0 < netmon.agent.service.SHUTDOWN_GRACE_S + 5
        db = sqlite3.connect(tmp_path / "outbox.sqlite")
        (queued,) = db.execute("SELECT COALESCE(SUM(samples), 0) FROM batches").fetchone()
        db.close()
        assert queued >= 4  # >= 2 rounds x 2 devices, all in the outbox (flushed at SIGTERM)

        mq = await asyncio.to_thread(services.start_mosquitto, tmp_path / "mq", port=mqtt_port)
        rec, ready = Recording(), asyncio.Event()
        broker = BrokerSettings(url=f"mqtt://127.0.0.1:{mqtt_port}")
        sub = asyncio.create_task(run_subscriber(broker, Ingestor(rec, None), client_id="c", ready=ready))
        try:
            await ready.wait()
            once = await asyncio.create_subprocess_exec(*argv, "--once", cwd=tmp_path, env=env)
            async with asyncio.timeout(30):
                assert await once.wait() == 0
            await wait_until(lambda: rec.samples() >= queued + 2, rec.got, 10, "backlog + round")
            assert rec.samples() == queued + 2
        finally:
            sub.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sub
            mq.stop()
