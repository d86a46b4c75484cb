"""ICMP reachability of 1,000 loopback hosts x 3 packets: the agent vs fping, one run.

Runs itself inside a fresh network namespace (``unshare -n``, root) where loopback is
up and ``net.ipv4.ping_group_range`` allows unprivileged (datagram) ICMP sockets, so
both the unprivileged and the privileged (raw socket) modes are measured; the agent's
figures are the CPU of this process and the wall time of a whole round through the
Poller (bounded by its concurrency), fping's are its process's CPU and wall time.

Run from the repository root::

    .venv/bin/python -m bench.bench_icmp [--hosts 1000] [--count 3] [--concurrency 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import time

from netmon.agent.poller import Poller
from netmon.agent.sink import MemorySink
from netmon.config.inventory import Device, Probe, Role
from netmon.config.settings import PollSettings


def hosts(n: int) -> list[str]:
    """``n`` distinct loopback addresses from 127.0.1.1 on."""
    out = []
    for i in range(n):
        k = i + 257
        out.append(f"127.0.{k // 254}.{k % 254 + 1}")
    return out


async def agent_round(addrs: list[str], mode: str, count: int, concurrency: int) -> tuple[float, float, float]:
    """(CPU s, wall s, mean loss) of one ICMP round over ``addrs``."""
    devices = [Device(id=f"h{i}", role=Role.CPE, address=a, probes=(Probe.ICMP,)) for i, a in enumerate(addrs)]
    settings = PollSettings(
        icmp_mode=mode,  # type: ignore[arg-type]  # one of the literal modes, from the command line
        icmp_count=count,
        icmp_interval_s=0.02,
        timeout_s=1.0,
        concurrency=concurrency,
    )
    sink = MemorySink()
    poller = Poller(devices, {}, settings, sink)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    samples = await poller.poll_all_once()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    poller.close()
    loss = sum(s.loss or 0.0 for s in samples) / len(samples)
    return cpu, wall, loss


def fping_round(addrs: list[str], count: int) -> tuple[float, float, str]:
    """(CPU s, wall s, summary) of fping pinging ``addrs`` ``count`` times each."""
    exe = shutil.which("fping") or "/usr/bin/fping"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(
        [exe, "-q", "-C", str(count), "-i", "0", "-p", "20", "-t", "1000", *addrs],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    lost = sum(line.split(":", 1)[1].split().count("-") for line in out.stderr.splitlines() if ":" in line)
    return cpu, wall, f"{lost} of {len(addrs) * count} lost"


def inside(args: argparse.Namespace) -> None:
    """The measurement, in the namespace."""
    addrs = hosts(args.hosts)
    print(f"ICMP: {args.hosts} loopback hosts x {args.count} packets (network namespace)")
    for mode in ("unprivileged", "privileged"):
        cpu, wall, loss = asyncio.run(agent_round(addrs, mode, args.count, args.concurrency))
        print(f"  agent {mode:<12}: CPU {cpu:5.2f} s  wall {wall:5.2f} s  mean loss {loss:.3f}")
    cpu, wall, summary = fping_round(addrs, args.count)
    print(f"  fping -i 0         : CPU {cpu:5.2f} s  wall {wall:5.2f} s  {summary}")


def main() -> None:
    """Re-run inside a new network namespace, then measure."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--count", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=1000)
    ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.inside:
        inside(args)
        return
    setup = "ip link set lo up && sysctl -qw net.ipv4.ping_group_range='0 2147483647'"
    cmd = f"{setup} && exec {sys.executable} -m bench.bench_icmp --inside " + " ".join(
        f"--{k} {v}" for k, v in (("hosts", args.hosts), ("count", args.count), ("concurrency", args.concurrency))
    )
    sys.exit(subprocess.run(["unshare", "-n", "sh", "-c", cmd], env=os.environ, check=False).returncode)


if __name__ == "__main__":
    main()
