"""A regional Mosquitto bridged to a central one: the backbone is cut, nothing is lost.

Everything runs in a network namespace of the test's own: the central broker, the regional
broker bridged to it with the shipped ``config/deploy/mosquitto/bridge/regional.conf``
(TLS and login lines left out), a district agent (the real publisher and outbox) connected
to the regional broker, and a real ``netmon collector`` on the central one. The bridge's
link is cut the way a backbone fails — the central broker's backbone address routed into a black
hole: packets vanish, no RST — while the agent keeps publishing; then it comes back. The
collector reaches the central broker on another address, which stays up. Every batch must reach the collector's store exactly once.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from netmon.collector.ledger import SeenSequences
from tests import services

ROOT = Path(__file__).resolve().parents[2]
BRIDGE_CONF = ROOT / "config" / "deploy" / "mosquitto" / "bridge" / "regional.conf"
AGENT = "d535"
BATCHES = 300
RATE_PER_S = 12.0  # 25 s of publishing
CUT_AT_S, CUT_FOR_S = 3.0, 16.0
#: The central broker's address on the backbone (the namespace's loopback has all of 127/8).
BACKBONE = "127.0.0.2"
#: Shorter than shipped (15 s; Mosquitto's least is 5) so that the bridge notices the cut
#: (after about 2.5 keepalives of silence: ~12 s) within the test's 16 s.
KEEPALIVE_S = 5

_AGENT_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, time
    from netmon.agent import wire
    from netmon.agent.outbox import Outbox
    from netmon.agent.publisher import Batcher, Publisher
    from netmon.config.settings import BrokerSettings, OutboxSettings, PollSettings

    async def main():
        path, agent_id, port, n, rate = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
        broker = BrokerSettings(url=f"mqtt://127.0.0.1:{port}", reconnect_min_s=0.1, reconnect_max_s=0.5)
        settings = OutboxSettings(path=path)
        ob = Outbox(path, settings, agent_id)
        pub = Publisher(broker, agent_id, ob, settings)
        batcher = Batcher(ob, PollSettings(batch_max_samples=1), on_batch=pub.wake)
        tasks = [asyncio.create_task(pub.run()), asyncio.create_task(batcher.run())]
        print("started", flush=True)
        t0 = time.monotonic()
        for i in range(n):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.monotonic()))  # a steady stream, one batch a round
            batcher.submit(wire.Sample(device="c21601-cpe1", probe="snmp", ts=time.time(), ok=True))
        batcher.flush()
        drained = await pub.drain(60)
        print("published", n, "drained" if drained else "NOT drained", "depth", ob.stats().depth, flush=True)
        for t in tasks:
            t.cancel()

    asyncio.run(main())
    """
)


class Netns:
    """A network namespace of this test, with its loopback up."""

    def __init__(self) -> None:
        self.name = f"netmon-bridge-{uuid.uuid4().hex[:8]}"
        self.ip("netns", "add", self.name)
        self.run("ip", "link", "set", "lo", "up")

    @staticmethod
    def ip(*args: str) -> None:
        subprocess.run([services.require("ip"), *args], check=True, capture_output=True)

    def argv(self, *cmd: str) -> list[str]:
        """A command line run inside the namespace."""
        return [services.require("ip"), "netns", "exec", self.name, *cmd]

    def run(self, *cmd: str) -> None:
        subprocess.run(self.argv(*cmd), check=True, capture_output=True)

    def cut(self, address: str) -> None:
        """Route ``address`` into a black hole: its packets vanish (no RST, no ICMP), new
        connections to it fail. The broker behind it keeps running."""
        self.run("ip", "route", "add", "blackhole", f"{address}/32", "table", "local")

    def restore(self, address: str) -> None:
        self.run("ip", "route", "del", "blackhole", f"{address}/32", "table", "local")

    def delete(self) -> None:
        self.ip("netns", "del", self.name)


@pytest.fixture
def netns() -> Iterator[Netns]:
    ns = Netns()
    yield ns
    ns.delete()


def _log_has(path: Path, needle: str, count: int = 1) -> bool:
    return path.exists() and path.read_text(errors="replace").count(needle) >= count


def _mosquitto(ns: Netns, workdir: Path, name: str, conf: str) -> services.Service:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{name}.conf"
    # A log file (flushed per line), not stdout (block-buffered into the service's log).
    log = workdir / f"{name}-broker.log"
    path.write_text(
        "user root\npersistence true\n"
        f"persistence_location {workdir}/\npersistence_file {name}.db\nautosave_interval 1\n"
        f"log_dest file {log}\nlog_type all\nmax_queued_messages 100000\n" + conf
    )
    svc = services.Service(name, ns.argv(services.require("mosquitto"), "-c", str(path)), workdir, 0)
    svc.log = log
    return svc.start(lambda: _log_has(log, " running"))


def regional_conf(central: str) -> str:
    """The shipped bridge configuration pointed at the central broker, without TLS and login."""
    skip = ("bridge_cafile", "bridge_certfile", "bridge_keyfile", "remote_username", "remote_password")
    replace = {
        "address": f"address {central}",
        "keepalive_interval": f"keepalive_interval {KEEPALIVE_S}",
        "restart_timeout": "restart_timeout 1 2",
    }
    lines = [
        replace.get(line.split(" ", 1)[0], line)
        for line in BRIDGE_CONF.read_text().splitlines()
        if not line.startswith(skip)
    ]
    return "\n".join(lines) + "\n"


def test_backbone_cut_between_regional_and_central_broker_loses_no_batch(netns: Netns, tmp_path: Path) -> None:
    bridge_port, collector_port, regional_port = (services.free_port() for _ in range(3))
    central = _mosquitto(
        netns,
        tmp_path / "central",
        "central",
        f"listener {bridge_port} {BACKBONE}\nlistener {collector_port} 127.0.0.1\nallow_anonymous true\n",
    )
    regional = _mosquitto(
        netns,
        tmp_path / "regional",
        "regional",
        f"listener {regional_port} 127.0.0.1\nallow_anonymous true\n" + regional_conf(f"{BACKBONE}:{bridge_port}"),
    )
    procs: list[subprocess.Popen[bytes]] = []
    try:
        services.wait_until(lambda: _log_has(central.log, "netmon-bridge-region1"), 20, "the bridge", regional.proc)
        # The collector on the central broker (its session exists before the first batch).
        col_dir = tmp_path / "collector"
        col_dir.mkdir()
        (col_dir / "collector.yaml").write_text(
            yaml.safe_dump(
                {
                    "collector_id": "central-collector",
                    "inventory": str(ROOT / "config" / "quang-ngai-2021.yaml"),
                    "broker": {"url": f"mqtt://127.0.0.1:{collector_port}", "reconnect_min_s": 0.2},
                    "store": {"path": "store.sqlite"},
                    "http": {"listen": f"127.0.0.1:{services.free_port()}"},
                    "log": {"format": "json"},
                }
            )
        )
        col_log = col_dir / "collector.log"
        with col_log.open("wb") as fh:
            procs.append(
                subprocess.Popen(
                    netns.argv(sys.executable, "-m", "netmon", "collector", "-c", str(col_dir / "collector.yaml")),
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONUNBUFFERED": "1"},
                )
            )
        services.wait_until(lambda: _log_has(col_log, '"subscribed'), 60, "the collector", procs[0], col_log)

        agent_log = tmp_path / "agent.log"
        agent_argv = [sys.executable, "-c", _AGENT_SCRIPT, str(tmp_path / "outbox.sqlite"), AGENT]
        agent_argv += [str(regional_port), str(BATCHES), str(RATE_PER_S)]
        with agent_log.open("wb") as fh:
            procs.append(
                subprocess.Popen(
                    netns.argv(*agent_argv),
                    stdout=fh,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                    cwd=ROOT,
                )
            )
        services.wait_until(lambda: _log_has(agent_log, "started"), 30, "the agent", procs[1], agent_log)
        t0 = time.monotonic()
        # The scenario's clock: the cut starts a few seconds into the stream and lasts 8 s.
        time.sleep(CUT_AT_S)
        netns.cut(BACKBONE)
        cut_at, cut_wall = time.monotonic(), time.time()
        try:
            services.wait_until(
                lambda: _bridge_lost_after(regional.log, cut_wall) is not None,
                CUT_FOR_S,
                "the regional broker to notice the cut",
                regional.proc,
                regional.log,
            )
            time.sleep(max(0.0, cut_at + CUT_FOR_S - time.monotonic()))
        finally:
            netns.restore(BACKBONE)
        assert time.monotonic() - t0 < BATCHES / RATE_PER_S, "the agent was still publishing when the link returned"

        def delivered() -> SeenSequences:
            conn_rows = _ledger(col_dir / "store.sqlite")
            return SeenSequences.decode(conn_rows.get(AGENT, "[]"))

        services.wait_until(
            lambda: _log_has(agent_log, "published") and delivered().count() >= BATCHES,
            60,
            "every batch at the collector",
            procs[0],
            col_log,
        )
        assert f"published {BATCHES} drained depth 0" in agent_log.read_text()
        seen = delivered()
        assert seen.count() == BATCHES
        assert len(seen.ranges()) == 1, seen.ranges()  # one run of sequence numbers: no gap
        # Messages sent into the black hole were sent again after the reconnection.
        forwarded = regional.log.read_text(errors="replace").count("Sending PUBLISH to netmon-bridge-region1")
        assert forwarded > BATCHES
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
        regional.stop()
        central.stop()


def _bridge_lost_after(log: Path, since: float) -> float | None:
    """When the regional broker's log says the bridge lost its connection after ``since``."""
    for line in log.read_text(errors="replace").splitlines():
        stamp, _, text = line.partition(": ")
        # after a keepalive timeout, the bridge reconnects: attempts that fail while the link is down
        if re.match(r"Connecting bridge \(step 1\) netmon-central", text) and stamp.isdigit() and int(stamp) >= since:
            return float(stamp)
    return None


def _ledger(store: Path) -> dict[str, str]:
    import sqlite3

    if not store.exists():
        return {}
    conn = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=10)
    try:
        return {str(a): str(r) for a, r in conn.execute("SELECT agent, ranges FROM seen_batches")}
    finally:
        conn.close()
