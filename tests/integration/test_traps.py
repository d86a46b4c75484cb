"""SNMP notifications sent by net-snmp's ``snmptrap`` and ``snmpinform`` (v2c and v3 USM)
to the real ``netmon agent`` process: a genuine linkDown makes it probe the sender and the
devices behind it at once, and the confirmed failure reaches the broker straight away (the
batch delay is ten minutes here); informs are acknowledged; forgeries are counted and
change nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.ingest import Ingestor
from netmon.collector.model import State
from netmon.collector.subscriber import run_subscriber
from netmon.config.inventory import Inventory
from netmon.config.settings import BrokerSettings, CollectorSettings, StateSettings
from tests import services
from tests.integration.test_transport_agent import Recording, fetch, wait_until

ROOT = Path(__file__).resolve().parents[2]
LINK_DOWN, LINK_UP, COLD_START, WARM_START = (f"1.3.6.1.6.3.1.1.5.{i}" for i in (3, 4, 1, 2))
IF_INDEX = "1.3.6.1.2.1.2.2.1.1"
TRAP_ENGINE = "0x80001f88046e65746d6f6e2d74726170"  # the sender's engine ID for v3 traps

INVENTORY = """
province: {{code: "51", name: "Quảng Ngãi"}}
districts:
  - code: "522"
    name: "Bình Sơn"
    devices:
      - {{id: d522-r1, role: district_router, address: 127.0.0.1, snmp: v2, probes: [snmp]}}
      - {{id: d522-r3, role: district_router, address: 127.0.0.1, snmp: v3, probes: [snmp]}}
    communes:
      - code: "20101"
        name: "Bình Thạnh"
        devices:
          - {{id: c20101-cpe1, role: cpe, address: 127.0.0.1, snmp: cut, probes: [snmp], parent: d522-r1}}
"""

CREDENTIALS = """
snmp:
  v2: {{version: 2c, community: {{value: {community}}}, port: {snmp_port}, timeout_s: 2, retries: 1}}
  v3:
    version: 3
    user: {user}
    auth_protocol: SHA
    auth_key: {{value: {auth}}}
    priv_protocol: AES-128
    priv_key: {{value: {priv}}}
    port: {snmp_port}
  cut: {{version: 2c, community: {{value: behind-the-cut}}, port: {dead_port}, timeout_s: 2, retries: 1}}
"""

AGENT = """
agent_id: {agent_id}
inventory: inventory.yaml
credentials: credentials.yaml
broker: {{url: "mqtt://127.0.0.1:{mqtt_port}", reconnect_min_s: 0.1, reconnect_max_s: 1}}
poll: {{interval_s: 3600, batch_max_delay_s: 600, icmp_mode: "off"}}
outbox: {{path: outbox.sqlite}}
metrics_listen: "127.0.0.1:{metrics_port}"
traps: {{listen: "127.0.0.1:{trap_port}", probe_timeout_s: 1.0, min_repoll_interval_s: 0}}
"""


@dataclass
class Lab:
    trap_port: int
    metrics_port: int
    rec: Recording
    workdir: Path

    def triggered(self, device: str, trap: str) -> list[wire.Sample]:
        return [
            s
            for b in self.rec.batches
            for s in b.samples
            if s.device == device and s.trigger is not None and s.trigger.trap == trap
        ]

    async def send(self, *argv: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent", "SNMP_PERSISTENT_DIR": str(self.workdir / "snmp")}
        return await asyncio.to_thread(
            subprocess.run, list(argv), capture_output=True, text=True, timeout=30, env=env, check=False
        )


def v3_args(tool: str, auth: str = services.SNMP_V3_AUTH) -> list[str]:
    return [
        services.require(tool),
        "-v3",
        "-u",
        services.SNMP_V3_USER,
        "-l",
        "authPriv",
        "-a",
        "SHA",
        "-A",
        auth,
        "-x",
        "AES",
        "-X",
        services.SNMP_V3_PRIV,
    ]


class Tee:
    """The batches to the recording and to a real engine (where states matter)."""

    def __init__(self, rec: Recording, engine: Engine | None) -> None:
        self.rec, self.engine = rec, engine

    def apply_batch(self, batch: wire.SampleBatch, received_at: float) -> None:
        if self.engine is not None:
            self.engine.apply_batch(batch, received_at)
        self.rec.apply_batch(batch, received_at)

    def agent_status(self, status: wire.AgentStatus, received_at: float) -> None:
        if self.engine is not None:
            self.engine.agent_status(status, received_at)


@contextlib.asynccontextmanager
async def agent_with_traps(
    mosquitto: services.Service, snmpd: services.Service, tmp_path: Path, engine: Engine | None = None
) -> AsyncIterator[Lab]:
    agent_id = f"agent-{uuid.uuid4().hex[:8]}"
    trap_port, metrics_port = services.free_port(socket.SOCK_DGRAM), services.free_port()
    (tmp_path / "snmp").mkdir()
    (tmp_path / "inventory.yaml").write_text(INVENTORY.format())
    (tmp_path / "credentials.yaml").write_text(
        CREDENTIALS.format(
            community=services.SNMP_COMMUNITY,
            snmp_port=snmpd.port,
            user=services.SNMP_V3_USER,
            auth=services.SNMP_V3_AUTH,
            priv=services.SNMP_V3_PRIV,
            dead_port=services.free_port(socket.SOCK_DGRAM),
        )
    )
    (tmp_path / "agent.yaml").write_text(
        AGENT.format(
            agent_id=agent_id,
            mqtt_port=mosquitto.port,
            metrics_port=metrics_port,
            trap_port=trap_port,
        )
    )
    rec, ready = Recording(), asyncio.Event()
    broker = BrokerSettings(url=f"mqtt://127.0.0.1:{mosquitto.port}")
    ingestor = Ingestor(Tee(rec, engine), None)
    sub = asyncio.create_task(run_subscriber(broker, ingestor, client_id=f"c-{agent_id}", ready=ready))
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
    assert proc.stderr is not None
    try:
        async with asyncio.timeout(30):
            while b"listening for traps" not in (line := await proc.stderr.readline()):
                assert line, "the agent exited before listening for traps"
        drain = asyncio.create_task(proc.stderr.read())  # keep the pipe flowing
        yield Lab(trap_port, metrics_port, rec, tmp_path)
        drain.cancel()
    finally:
        if proc.returncode is None:
            proc.terminate()
            async with asyncio.timeout(20):
                await proc.wait()
        sub.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sub


async def test_link_down_probes_the_sender_and_the_devices_behind_it_at_once(
    mosquitto: services.Service, snmpd: services.Service, tmp_path: Path
) -> None:
    async with agent_with_traps(mosquitto, snmpd, tmp_path) as lab:
        target = f"127.0.0.1:{lab.trap_port}"
        forged = await lab.send(
            services.require("snmptrap"), "-v2c", "-c", "guessed", target, "", LINK_DOWN, f"{IF_INDEX}.2", "i", "2"
        )
        assert forged.returncode == 0, forged.stderr
        sent = await lab.send(
            services.require("snmptrap"),
            "-v2c",
            "-c",
            services.SNMP_COMMUNITY,
            target,
            "",
            LINK_DOWN,
            f"{IF_INDEX}.2",
            "i",
            "2",
        )
        assert sent.returncode == 0, sent.stderr
        await wait_until(
            lambda: bool(lab.triggered("c20101-cpe1", "linkDown")), lab.rec.got, 20, "the probe behind the link"
        )
        (cpe,) = lab.triggered("c20101-cpe1", "linkDown")
        (router,) = lab.triggered("d522-r1", "linkDown")
        # The device behind the cut does not answer: a confirmed failure, sent at once.
        assert (cpe.ok, cpe.reason) == (False, "timeout")
        assert cpe.trigger == wire.Trigger(
            trap="linkDown", sender="d522-r1", received_at=cpe.trigger.received_at, if_index=2
        )
        assert router.ok  # the sender itself answers, its interfaces read again
        assert router.interfaces
        assert router.trigger is not None
        assert router.trigger.if_index == 2
        assert not lab.triggered("d522-r3", "linkDown")  # same address, other credentials: not the sender
        metrics = await asyncio.to_thread(fetch, f"http://127.0.0.1:{lab.metrics_port}/metrics")
        assert 'result="bad_community",version="2c"' in metrics
        assert 'netmon_agent_trap_polls_total{agent="' in metrics


async def test_informs_are_acknowledged_v2c_and_v3_and_v3_traps_accepted(
    mosquitto: services.Service, snmpd: services.Service, tmp_path: Path
) -> None:
    async with agent_with_traps(mosquitto, snmpd, tmp_path) as lab:
        target = f"127.0.0.1:{lab.trap_port}"
        inform = await lab.send(
            services.require("snmpinform"), "-v2c", "-c", services.SNMP_COMMUNITY, "-t", "3", target, "", COLD_START
        )
        assert inform.returncode == 0, inform.stderr  # snmpinform exits 0 only once acknowledged
        trap3 = await lab.send(*v3_args("snmptrap"), "-e", TRAP_ENGINE, target, "", LINK_UP, f"{IF_INDEX}.1", "i", "1")
        assert trap3.returncode == 0, trap3.stderr
        inform3 = await lab.send(*v3_args("snmpinform"), "-t", "3", target, "", WARM_START)
        assert inform3.returncode == 0, inform3.stderr  # discovery, time sync, inform, acknowledgement
        wrong = await lab.send(*v3_args("snmpinform", auth="not-the-key"), "-t", "1", "-r", "0", target, "", WARM_START)
        assert wrong.returncode != 0  # a wrong key is not acknowledged
        await wait_until(
            lambda: (
                bool(lab.triggered("d522-r1", "coldStart"))
                and bool(lab.triggered("d522-r3", "linkUp"))
                and bool(lab.triggered("d522-r3", "warmStart"))
            ),
            lab.rec.got,
            20,
            "the probes of the three notifications",
        )
        assert all(s.ok for s in lab.triggered("d522-r3", "warmStart"))
        assert not lab.triggered("d522-r1", "warmStart")  # the v3 user is r3's, not r1's
        metrics = await asyncio.to_thread(fetch, f"http://127.0.0.1:{lab.metrics_port}/metrics")
        for labels in (
            'result="accepted",version="2c"',
            'result="accepted",version="3"',
            'result="discovery",version="3"',
            'result="usmStatsWrongDigests",version="3"',
        ):
            assert labels in metrics, labels


async def test_a_port_in_use_is_a_configuration_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("127.0.0.1", 0))
        port = busy.getsockname()[1]
        (tmp_path / "inventory.yaml").write_text(
            'province: {code: "51", name: "Quảng Ngãi"}\n'
            "devices: [{id: p51-core, role: core_router, address: 127.0.0.1, probes: [icmp]}]\n"
        )
        (tmp_path / "agent.yaml").write_text(
            "agent_id: a1\ninventory: inventory.yaml\noutbox: {path: o.sqlite}\n"
            f"broker: {{url: 'mqtt://127.0.0.1:{services.free_port()}'}}\n"
            f"poll: {{icmp_mode: 'off'}}\ntraps: {{listen: '127.0.0.1:{port}'}}\n"
        )
        r = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "netmon", "agent", "-c", str(tmp_path / "agent.yaml")],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=False,
        )
    assert r.returncode == 2, r.stderr
    assert "traps.listen" in r.stderr
    assert "Traceback" not in r.stderr


async def test_a_confirmed_link_down_is_down_in_the_collector_within_seconds(
    mosquitto: services.Service, snmpd: services.Service, tmp_path: Path
) -> None:
    # Rounds of an hour and three failed rounds to DOWN: three hours without the trap. With
    # it, the collector's real engine has the CPE behind the cut DOWN within seconds of the
    # linkDown, its cause saying so, and the router that sent it still up.
    inv = Inventory.model_validate(yaml.safe_load(INVENTORY.format()))
    settings = CollectorSettings(inventory="-", state=StateSettings(default_interval_s=3600, down_after=3))
    engine = Engine(inv, settings, None)
    async with agent_with_traps(mosquitto, snmpd, tmp_path, engine) as lab:
        assert engine.device_state("c20101-cpe1").state is not State.DOWN  # type: ignore[union-attr]
        target = f"127.0.0.1:{lab.trap_port}"
        sent = await lab.send(
            services.require("snmptrap"), "-v2c", "-c", services.SNMP_COMMUNITY, target, "", LINK_DOWN,
            f"{IF_INDEX}.2", "i", "2",
        )  # fmt: skip
        assert sent.returncode == 0, sent.stderr

        def down() -> bool:
            st = engine.device_state("c20101-cpe1")
            return st is not None and st.state is State.DOWN

        # Within the wait's 20 s (bench/bench_traps.py measures how long): not 3 hours.
        await wait_until(down, lab.rec.got, 20, "the CPE behind the cut DOWN")
        cpe = engine.device_state("c20101-cpe1")
        assert cpe is not None
        assert cpe.cause == "linkDown trap, probe failed: timeout"
        assert engine.device_state("d522-r1").state is State.UP  # type: ignore[union-attr]
