"""Reachability probes with real sockets: unprivileged ICMP inside a network namespace
(this host's ``net.ipv4.ping_group_range`` is ``1 0``), privileged ICMP, the TCP
fallback for an unprivileged user, and a dead host that delays no one."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import msgspec
import pytest

from netmon.agent import wire
from netmon.agent.icmp import Pinger, choose_mode, icmp_round, jitter, round_sample
from tests.services import require

ROOT = Path(__file__).resolve().parents[2]

#: Runs in a fresh network namespace: loopback up, datagram ICMP allowed to every group,
#: and 192.0.2.0/24 (TEST-NET-1) routed into loopback, where nothing answers it.
NETNS_SETUP = (
    "ip link set lo up && sysctl -qw net.ipv4.ping_group_range='0 2147483647' && ip route add 192.0.2.0/24 dev lo"
)


def in_netns(code: str, *, setup: str = NETNS_SETUP, user: int | None = None) -> dict[str, object]:
    """Run ``code`` (which prints one JSON object) in a new network namespace."""
    py = f"{sys.executable} -"  # the code comes on stdin: no shell quoting
    if user is not None:
        py = f"{require('setpriv')} --reuid={user} --regid={user} --clear-groups {py}"
    out = subprocess.run(
        [require("unshare"), "-n", "sh", "-c", f"{setup} && exec {py}"],
        input=textwrap.dedent(code),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    result["stderr"] = out.stderr
    return result


PROBE = """
import asyncio, json, logging, time, msgspec
from netmon.agent.icmp import Pinger, choose_mode, icmp_round, tcp_probe
logging.basicConfig(level=logging.INFO)

async def main():
    mode = choose_mode("auto")
    pinger = Pinger(privileged=False) if mode == "unprivileged" else None
    t0 = time.perf_counter()
    done = {}
    async def timed(name, coro):
        s = await coro
        done[name] = time.perf_counter() - t0
        return s
    if mode == "tcp":
        up, dead = await asyncio.gather(
            timed("up", tcp_probe("up", "127.0.0.1", 9, timeout_s=0.5, ts=1.8e9, refused_is_up=True)),
            timed("dead", tcp_probe("dead", "192.0.2.5", 22, timeout_s=0.5, ts=1.8e9, refused_is_up=True)),
        )
    else:
        up, dead = await asyncio.gather(
            timed("up", icmp_round("up", "127.0.0.1", mode=mode, count=4, interval_s=0.05, timeout_s=1.0, ts=1.8e9, pinger=pinger)),
            timed("dead", icmp_round("dead", "192.0.2.5", mode=mode, count=3, interval_s=0.05, timeout_s=1.0, ts=1.8e9, pinger=pinger)),
        )
    replies = pinger.replies if pinger else 0
    print(json.dumps({"mode": mode, "up": msgspec.to_builtins(up), "dead": msgspec.to_builtins(dead), "done": done, "replies": replies}))

asyncio.run(main())
"""


def test_unprivileged_icmp_in_a_namespace_and_a_dead_host_delays_no_one() -> None:
    r = in_netns(PROBE)
    assert r["mode"] == "unprivileged"
    assert r["replies"] == 4  # through the shared datagram socket
    assert "mode=unprivileged" in str(r["stderr"])  # the one line saying which mode
    up = msgspec.convert(r["up"], wire.Sample)
    dead = msgspec.convert(r["dead"], wire.Sample)
    assert up.ok
    assert (up.loss, up.sent) == (0.0, 4)
    assert up.rtt is not None
    assert 0 < up.rtt.min <= up.rtt.avg <= up.rtt.max < 0.5
    assert up.rtt.jitter <= up.rtt.max - up.rtt.min
    assert not dead.ok
    assert (dead.reason, dead.loss, dead.sent) == ("timeout", 1.0, 3)
    done = r["done"]
    assert isinstance(done, dict)
    assert done["up"] < 0.6 < done["dead"]  # the live host did not wait for the dead one


def test_without_icmp_rights_falls_back_to_tcp_connect() -> None:
    # An unprivileged user, ping_group_range excluding every group, no raw sockets.
    setup = "ip link set lo up && sysctl -qw net.ipv4.ping_group_range='1 0' && ip route add 192.0.2.0/24 dev lo"
    r = in_netns(PROBE, setup=setup, user=65534)
    assert r["mode"] == "tcp"
    assert "falls back to TCP connect" in str(r["stderr"])
    up = msgspec.convert(r["up"], wire.Sample)
    dead = msgspec.convert(r["dead"], wire.Sample)
    assert up.ok  # port 9 refused: the host answered
    assert up.probe == "tcp"
    assert not dead.ok


async def test_privileged_icmp_many_concurrent_rounds_lose_nothing() -> None:
    """Raw sockets see every reply; one shared socket demultiplexes 200 rounds in flight
    without loss (icmplib's socket per round lost most of them). Needs root, as the
    namespace tests do."""
    assert choose_mode("privileged") == "privileged"
    pinger = Pinger(privileged=True)
    hosts = [f"127.0.{i // 250}.{i % 250 + 1}" for i in range(200)]
    try:
        samples = await asyncio.gather(
            *(
                icmp_round(h, h, mode="privileged", count=3, interval_s=0.02, timeout_s=1.0, ts=1.8e9, pinger=pinger)
                for h in hosts
            )
        )
    finally:
        pinger.close()
    assert [s.loss for s in samples] == [0.0] * len(hosts)
    assert pinger.replies == 600


def test_round_sample_statistics() -> None:
    s = round_sample("d", 1.8e9, 5, [0.010, 0.014, 0.012])
    assert s.ok
    assert s.loss == pytest.approx(0.4)
    assert s.rtt is not None
    assert (s.rtt.min, s.rtt.max) == (0.010, 0.014)
    assert s.rtt.avg == pytest.approx(0.012)
    assert s.rtt.jitter == pytest.approx(0.003)
    assert jitter([0.01]) == 0.0
    lost = round_sample("d", 1.8e9, 3, [])
    assert (lost.ok, lost.loss, lost.reason) == (False, 1.0, "timeout")
