"""A flood rig: the shipped Mosquitto, a `netmon collector` process, a real agent and a flooder.

Shared by ``tests/integration/test_flood.py`` (a short flood in the default suite) and
``bench/bench_flood.py`` (the full-size one). The broker runs the shipped configuration
(TLS with client certificates, passwords, the ACL, the shipped queue limits); the
collector is the ``netmon collector`` command in its own process (so its resident memory
is its own), with a declared agents map in which the flooding login is a legitimate agent
(the worst case: its garbage is decoded, not refused by name); the real agent is the
agent's outbox and publisher; the flooder is :mod:`tests.flood` in its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from netmon.agent import wire
from netmon.agent.outbox import Outbox
from netmon.agent.publisher import Publisher
from netmon.config.settings import BrokerSettings
from tests import services
from tests.services_security import Pki, client_broker_settings, make_pki, running_agent, start_secure_mosquitto

ROOT = Path(__file__).resolve().parent.parent
USERS = {"d522": "pw-agent-d522-x7", "d523": "pw-agent-d523-y8", "collector": "pw-collector-z9"}
AGENT = "d522"
FLOODER = "d523"
#: The line Mosquitto logs when it drops messages queued for a client.
DROPPING = "Outgoing messages are being dropped"


def metric(text: str, name: str, **labels: str) -> float:
    """A sample's value from an exposition (0 when absent)."""
    want = [f'{k}="{v}"' for k, v in labels.items()]
    for line in text.splitlines():
        if line.startswith(name) and line[len(name) : len(name) + 1] in ("{", " ") and all(w in line for w in want):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def rss_mib(pid: int) -> float:
    """Resident memory of a process, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class FloodRig:
    """The broker, the collector process and what the test needs to drive and watch them."""

    workdir: Path
    pki: Pki
    broker: services.Service
    http_port: int
    #: the collector's MQTT protocol version (``broker.protocol``)
    protocol: str = "5"
    collector: subprocess.Popen[bytes] | None = None
    log: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log = self.workdir / "collector.log"

    @property
    def base(self) -> str:
        """The collector's web address."""
        return f"http://127.0.0.1:{self.http_port}"

    def broker_settings(self, user: str) -> BrokerSettings:
        """TLS towards the shipped broker, with ``user``'s certificate."""
        return client_broker_settings(self.pki, self.broker.port, user)

    def start_collector(self) -> None:
        """`netmon collector` with the agents map, until its API answers."""
        inv = yaml.safe_load((ROOT / "config" / "quang-ngai-2021.yaml").read_text(encoding="utf-8"))
        (self.workdir / "inventory.yaml").write_text(yaml.safe_dump(inv, allow_unicode=True), encoding="utf-8")
        broker = self.broker_settings("collector").model_dump(mode="json", exclude_defaults=True)
        broker["password"] = {"value": USERS["collector"]}
        broker["protocol"] = self.protocol
        settings = self.workdir / "collector.yaml"
        settings.write_text(
            yaml.safe_dump(
                {
                    "collector_id": "collector-flood",
                    "inventory": "inventory.yaml",
                    "broker": broker,
                    "agents": {AGENT: {"districts": ["522"], "devices": ["p51-core"]}, FLOODER: {"districts": ["524"]}},
                    "store": {"path": "store.sqlite"},
                    "http": {"listen": f"127.0.0.1:{self.http_port}"},
                    "log": {"format": "json"},
                }
            )
        )
        with self.log.open("ab") as fh:
            self.collector = subprocess.Popen(
                [sys.executable, "-m", "netmon", "collector", "-c", str(settings)],
                stdout=fh,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        services.wait_until(
            lambda: services.http_ok(self.base + "/api/v1/overview"), 30, "collector", self.collector, self.log
        )

    def metrics(self) -> str:
        """The collector's /metrics."""
        with urllib.request.urlopen(self.base + "/metrics", timeout=10) as resp:
            return str(resp.read().decode())

    def applied(self) -> int:
        """Batches the collector applied."""
        return int(metric(self.metrics(), "netmon_collector_batches_total"))

    def rss_mib(self) -> float:
        """The collector's resident memory."""
        assert self.collector is not None
        return rss_mib(self.collector.pid)

    def flood_command(self, *, rate: float, duration: float, qos: int, size: int = 120) -> list[str]:
        """The flooder's command line: ``FLOODER``'s login on its own samples topic."""
        cert, key = self.pki.clients[FLOODER]
        return [
            sys.executable, "-m", "tests.flood", "--port", str(self.broker.port),
            "--user", FLOODER, "--password", USERS[FLOODER], "--ca", str(self.pki.ca),
            "--cert", str(cert), "--key", str(key), "--topic", wire.samples_topic(FLOODER),
            "--rate", str(rate), "--duration", str(duration), "--qos", str(qos), "--size", str(size),
        ]  # fmt: skip

    def broker_dropped(self) -> bool:
        """Whether Mosquitto said it dropped messages queued for a client."""
        return DROPPING in self.broker.log.read_text(errors="replace")

    def stop(self) -> None:
        """Stop the collector (SIGTERM) and the broker."""
        if self.collector is not None and self.collector.poll() is None:
            self.collector.send_signal(signal.SIGTERM)
            try:
                self.collector.wait(20)
            except subprocess.TimeoutExpired:
                self.collector.kill()
        self.broker.stop()


@contextlib.contextmanager
def flood_rig(workdir: Path, *, protocol: str = "5") -> Iterator[FloodRig]:
    """Broker and collector up; both stopped on exit."""
    pki = make_pki(workdir / "pki", tuple(USERS))
    broker = start_secure_mosquitto(workdir / "mosquitto", USERS, pki)
    rig = FloodRig(workdir, pki, broker, services.free_port(), protocol)
    try:
        rig.start_collector()
        yield rig
    finally:
        rig.stop()


@dataclass
class RealAgent:
    """The real agent's outbox and publisher; :meth:`send` queues one batch."""

    outbox: Outbox
    publisher: Publisher
    sent: list[int] = field(default_factory=list)

    def send(self) -> None:
        """One batch: the province's core router answered."""
        sample = wire.Sample(device="p51-core", probe="icmp", ts=time.time(), ok=True, loss=0.0)
        self.sent.append(self.outbox.append([sample]).seq)
        self.publisher.wake()


@contextlib.asynccontextmanager
async def real_agent(rig: FloodRig) -> AsyncIterator[RealAgent]:
    """The agent ``AGENT`` publishing through the broker; drained (every batch acknowledged) on exit."""
    settings = rig.broker_settings(AGENT)
    async with running_agent(settings, AGENT, USERS[AGENT], rig.workdir / "outbox.sqlite", drain_s=60) as (ob, pub):
        yield RealAgent(ob, pub)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def until(check: Callable[[], bool], limit_s: float, what: str) -> None:
    """Poll ``check`` until true, at most ``limit_s`` (the collector is another process:
    its API is polled, in a thread so that the real agent keeps publishing)."""
    await asyncio.to_thread(services.wait_until, check, limit_s, what)


@dataclass(frozen=True)
class FloodOutcome:
    """What a flood did.

    Attributes:
        offered: Garbage messages the flooder sent (and the broker took).
        flood_s: How long the flood lasted.
        real_sent: Real batches the agent published (every one acknowledged by the broker).
        real_applied: Real batches the collector applied.
        garbage_counted: Garbage messages the collector counted as invalid.
        broker_dropped: Whether Mosquitto dropped messages queued for a client.
        rss_before_mib: The collector's resident memory before the flood.
        rss_peak_mib: Its peak during the flood and until it caught up.
        caught_up_s: From the flood's end until the collector had applied every real batch
            and counted every garbage message.
        cpu_us_per_message: The collector's CPU per message, flood and catch-up together.
        broker_rss_peak_mib: Mosquitto's peak resident memory.
    """

    offered: int
    flood_s: float
    real_sent: int
    real_applied: int
    garbage_counted: int
    broker_dropped: bool
    rss_before_mib: float
    rss_peak_mib: float
    caught_up_s: float
    cpu_us_per_message: float
    broker_rss_peak_mib: float


async def run_flood(
    rig: FloodRig, *, rate: float, duration: float, qos: int = 1, real_every_s: float = 0.05, catch_up_s: float = 120
) -> FloodOutcome:
    """Flood from ``FLOODER`` while the real agent publishes a batch every ``real_every_s``."""
    assert rig.collector is not None
    assert rig.broker.proc is not None
    async with real_agent(rig) as agent:
        for _ in range(5):  # the collector has applied real batches before the flood
            agent.send()
        await until(lambda: rig.applied() >= 5, 30, "the first real batches")
        before = rig.rss_mib()
        counted_before = metric(rig.metrics(), "netmon_collector_invalid_batches_total", reason="json")
        cpu_before = cpu_s(rig.collector.pid)
        peak, broker_peak = before, rss_mib(rig.broker.proc.pid)
        argv = rig.flood_command(rate=rate, duration=duration, qos=qos)
        flooder = await asyncio.create_subprocess_exec(*argv, cwd=ROOT, stdout=asyncio.subprocess.PIPE)
        while flooder.returncode is None:
            agent.send()
            peak, broker_peak = max(peak, rig.rss_mib()), max(broker_peak, rss_mib(rig.broker.proc.pid))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(flooder.wait(), real_every_s)  # the real agent's pace
        out = (await flooder.communicate())[0].decode()
        if flooder.returncode != 0:
            raise RuntimeError(f"flooder exited with {flooder.returncode}: {out[-2000:]}")
        result = json.loads(out.strip().splitlines()[-1])
        real_sent = len(agent.sent)
    ended = time.monotonic()

    def caught_up() -> bool:
        nonlocal peak, broker_peak
        peak, broker_peak = max(peak, rig.rss_mib()), max(broker_peak, rss_mib(rig.broker.proc.pid))  # type: ignore[union-attr]
        text = rig.metrics()
        counted = metric(text, "netmon_collector_invalid_batches_total", reason="json") - counted_before
        return metric(text, "netmon_collector_batches_total") >= real_sent and counted >= result["sent"]

    with contextlib.suppress(TimeoutError):  # a flood that lost messages never catches up: measured below
        await until(caught_up, catch_up_s, "the collector to catch up")
    caught = time.monotonic() - ended
    text = rig.metrics()
    counted = int(metric(text, "netmon_collector_invalid_batches_total", reason="json") - counted_before)
    cpu = cpu_s(rig.collector.pid) - cpu_before
    return FloodOutcome(
        offered=int(result["sent"]),
        flood_s=float(result["seconds"]),
        real_sent=real_sent,
        real_applied=int(metric(text, "netmon_collector_batches_total")),
        garbage_counted=counted,
        broker_dropped=rig.broker_dropped(),
        rss_before_mib=round(before, 1),
        rss_peak_mib=round(max(peak, rig.rss_mib()), 1),
        caught_up_s=round(caught, 1),
        cpu_us_per_message=round(cpu / max(1, counted + real_sent) * 1e6, 1),
        broker_rss_peak_mib=round(broker_peak, 1),
    )
