"""Trap -> confirmed failure on the broker: how long a real link-down takes to be known.

A district router (net-snmp snmpd) and a CPE behind it whose link is cut (nothing
answers its address and port). net-snmp's ``snmptrap`` sends the router's linkDown (v2c,
or v3 authPriv with ``--version 3``) to a real ``netmon agent`` process, which checks it,
probes the router and the CPE at once (``traps.probe_timeout_s``, no retry) and publishes
the samples through a real Mosquitto. Measured per trap, on one clock: ``snmptrap``
started -> the CPE's failed sample, carrying the trigger, received by a subscriber; and
the part of it spent in the agent (trap received -> sample received). Polling alone
would take ``down_after`` failed rounds: 3 x 60 s with the defaults.

Run from the repository root::

    .venv/bin/python -m bench.bench_traps [--traps 20] [--probe-timeout 1.5] [--version 2c|3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import msgspec

from netmon.agent import wire
from tests import services

ROOT = Path(__file__).resolve().parents[1]

INVENTORY = """
province: {{code: "51", name: "Quảng Ngãi"}}
districts:
  - code: "522"
    name: "Bình Sơn"
    devices:
      - {{id: d522-r1, role: district_router, address: 127.0.0.1, snmp: router, probes: [snmp]}}
    communes:
      - code: "20101"
        name: "Bình Thạnh"
        devices:
          - {{id: c20101-cpe1, role: cpe, address: 127.0.0.1, snmp: cut, probes: [snmp], parent: d522-r1}}
"""
CREDENTIALS = """
snmp:
  router: {router}
  cut: {{version: 2c, community: {{value: behind-the-cut}}, port: {dead_port}}}
"""
AGENT = """
agent_id: {agent_id}
inventory: inventory.yaml
credentials: credentials.yaml
broker: {{url: "mqtt://127.0.0.1:{mqtt_port}"}}
poll: {{interval_s: 3600, icmp_mode: "off"}}
outbox: {{path: outbox.sqlite}}
traps: {{listen: "127.0.0.1:{trap_port}", probe_timeout_s: {probe_timeout}}}
"""
V3_ENGINE = "0x80001f88046e65746d6f6e2d6265636e"


def router_profile(version: str, port: int) -> str:
    """The router's credentials (as the agent polls it, and as it sends traps)."""
    if version == "3":
        return (
            f"{{version: 3, user: {services.SNMP_V3_USER}, auth_protocol: SHA, auth_key: {{value: {services.SNMP_V3_AUTH}}},"
            f" priv_protocol: AES-128, priv_key: {{value: {services.SNMP_V3_PRIV}}}, port: {port}}}"
        )
    return f"{{version: 2c, community: {{value: {services.SNMP_COMMUNITY}}}, port: {port}}}"


def snmptrap(version: str, target: str) -> list[str]:
    """The router's linkDown for ifIndex 2."""
    exe = services.require("snmptrap")
    trap = ["", "1.3.6.1.6.3.1.1.5.3", "1.3.6.1.2.1.2.2.1.1.2", "i", "2"]
    if version == "3":
        creds = ["-u", services.SNMP_V3_USER, "-l", "authPriv", "-a", "SHA", "-A", services.SNMP_V3_AUTH]
        return [exe, "-v3", *creds, "-x", "AES", "-X", services.SNMP_V3_PRIV, "-e", V3_ENGINE, target, *trap]
    return [exe, "-v2c", "-c", services.SNMP_COMMUNITY, target, *trap]


async def run(args: argparse.Namespace, work: Path) -> tuple[list[float], list[float]]:
    """(trap sent -> failure received, trap received by the agent -> failure received), seconds."""
    snmpd = services.start_snmpd(work / "snmpd", services.free_port(socket.SOCK_DGRAM))
    mq = services.start_mosquitto(work / "mq")
    agent_id = f"bench-{uuid.uuid4().hex[:6]}"
    trap_port = services.free_port(socket.SOCK_DGRAM)
    (work / "inventory.yaml").write_text(INVENTORY.format())
    (work / "credentials.yaml").write_text(
        CREDENTIALS.format(
            router=router_profile(args.version, snmpd.port), dead_port=services.free_port(socket.SOCK_DGRAM)
        )
    )
    (work / "agent.yaml").write_text(
        AGENT.format(agent_id=agent_id, mqtt_port=mq.port, trap_port=trap_port, probe_timeout=args.probe_timeout)
    )
    (work / "snmp").mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    tool_env = {**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent", "SNMP_PERSISTENT_DIR": str(work / "snmp")}
    agent = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "netmon", "agent", "-c", str(work / "agent.yaml"),
        cwd=work, env=env, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert agent.stderr is not None
    sent_to_seen: list[float] = []
    received_to_seen: list[float] = []
    decoder = msgspec.json.Decoder(wire.SampleBatch)
    try:
        async with asyncio.timeout(30):
            while b"listening for traps" not in (line := await agent.stderr.readline()):
                assert line, "the agent exited"
        drain = asyncio.create_task(agent.stderr.read())
        async with aiomqtt.Client("127.0.0.1", mq.port) as client:
            await client.subscribe(wire.samples_topic(agent_id), qos=1)
            messages = aiomqtt_messages(client)
            for _ in range(args.traps):
                t0 = time.time()
                proc = await asyncio.create_subprocess_exec(
                    *snmptrap(args.version, f"127.0.0.1:{trap_port}"), env=tool_env
                )
                async with asyncio.timeout(30):
                    seen = None
                    while seen is None:
                        batch = decoder.decode(await anext(messages))
                        seen = next(
                            (s for s in batch.samples if s.device == "c20101-cpe1" and s.trigger and not s.ok), None
                        )
                    t1 = time.time()
                await proc.wait()
                assert seen.trigger is not None
                sent_to_seen.append(t1 - t0)
                received_to_seen.append(t1 - seen.trigger.received_at)
                await asyncio.sleep(args.gap)  # traps spaced out: each one is a fresh event
        drain.cancel()
    finally:
        if agent.returncode is None:
            agent.terminate()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(20):
                    await agent.wait()
        mq.stop()
        snmpd.stop()
    return sent_to_seen, received_to_seen


async def aiomqtt_messages(client: aiomqtt.Client) -> AsyncIterator[bytes]:
    """Payloads of the subscribed topic, as they come."""
    async for msg in client.messages:
        assert isinstance(msg.payload, bytes | bytearray)
        yield bytes(msg.payload)


def quantile(xs: list[float], q: float) -> float:
    """A nearest-rank quantile."""
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def main() -> None:
    """Run and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--traps", type=int, default=20)
    ap.add_argument("--probe-timeout", type=float, default=1.5)
    ap.add_argument("--version", choices=["2c", "3"], default="2c")
    ap.add_argument("--gap", type=float, default=1.5, help="seconds between traps")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="netmon-bench-traps-") as tmp:
        total, agent = asyncio.run(run(args, Path(tmp)))
    print(
        f"linkDown trap (SNMP {args.version}) -> the CPE behind it confirmed failed, on the broker; {args.traps} traps"
    )
    print(f"  probe timeout {args.probe_timeout} s, no retry (traps.probe_timeout_s)")
    for name, xs in (("snmptrap started -> failure received", total), ("trap received -> failure received", agent)):
        print(f"  {name:38s}: median {statistics.median(xs):.2f} s  p90 {quantile(xs, 0.9):.2f} s  max {max(xs):.2f} s")
    print("  polling alone: down_after x interval = 3 x 60 s = 180 s (defaults)")


if __name__ == "__main__":
    main()
