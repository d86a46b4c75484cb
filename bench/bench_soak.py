"""Soak: the demo at national scale for a long time, with memory and file descriptors flat.

Starts ``netmon demo --scale national`` (every commune of the country: simulated devices,
the agents, the collector; with a Mosquitto broker started here by default) as a process
tree, and every ``--every`` seconds
sums the resident memory (RSS) and counts the open file descriptors of every process in
the tree, read from ``/proc``. After a warm-up, a least-squares line through the samples
gives the growth per hour; memory is "flat" when it grows less than ``--max-rss-growth``
(a fraction of the mean per hour) and descriptors when they grow less than
``--max-fd-growth`` per hour.

    python bench/bench_soak.py                               # 30 minutes, national
    python bench/bench_soak.py --duration 300 --warmup 120   # a quick check
    python bench/bench_soak.py --json soak.json -- netmon demo --scale province ...

Exit status 0 when both are flat, 1 when either grows, 2 when the demo died.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Point:
    """One measurement of the process tree."""

    t: float
    rss_bytes: int
    fds: int
    procs: int
    threads: int


def children(pid: int) -> list[int]:
    """Direct children of a process (Linux /proc/<pid>/task/*/children)."""
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(x) for x in fh.read().split()]
    except OSError:
        pass
    return out


def tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    seen, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.append(pid)
        todo += children(pid)
    return seen


def measure(root: int, t0: float) -> Point:
    """RSS, open descriptors, processes and threads of the tree right now."""
    rss = fds = threads = procs = 0
    for pid in tree(root):
        try:
            with open(f"/proc/{pid}/statm") as fh:
                rss += int(fh.read().split()[1]) * PAGE
            fds += len(os.listdir(f"/proc/{pid}/fd"))
            threads += len(os.listdir(f"/proc/{pid}/task"))
            procs += 1
        except OSError:  # the process ended between listing and reading
            continue
    return Point(time.monotonic() - t0, rss, fds, procs, threads)


def slope(xs: list[float], ys: list[float]) -> float:
    """Least-squares slope of ys over xs (0 for fewer than two points)."""
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_mosquitto(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Mosquitto broker on a free loopback port for the demo; (process, url)."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = workdir / "mosquitto.conf"
    # `user`: started as root, Mosquitto would otherwise switch to the `mosquitto` user
    conf.write_text(
        f"user {getpass.getuser()}\nlistener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 100000\n"
    )
    with (workdir / "mosquitto.log").open("wb") as log:
        proc = subprocess.Popen([exe, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc, f"mqtt://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)  # polling a process we do not control
    proc.kill()
    raise SystemExit(f"mosquitto did not start on port {port}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=1800.0, help="seconds to run (default: 30 minutes)")
    p.add_argument("--warmup", type=float, default=300.0, help="seconds ignored at the start (loading, first rounds)")
    p.add_argument("--every", type=float, default=10.0, help="seconds between measurements")
    p.add_argument("--scale", choices=["province", "national"], default="national")
    p.add_argument("--interval", type=float, default=60.0, help="the demo's poll interval in seconds")
    p.add_argument("--max-rss-growth", type=float, default=0.05, help="flat: RSS grows less than this fraction/hour")
    p.add_argument("--max-fd-growth", type=float, default=10.0, help="flat: descriptors grow less than this/hour")
    p.add_argument(
        "--broker",
        choices=["mosquitto", "embedded"],
        default="mosquitto",
        help="MQTT broker of the demo: a Mosquitto started here (measured too), or the demo's embedded one",
    )
    p.add_argument("--json", help="also write every measurement and the verdict to this file")
    p.add_argument("command", nargs="*", help="run this instead of the demo (after --)")
    args = p.parse_args()

    workdir = tempfile.mkdtemp(prefix="netmon-soak-")
    broker: subprocess.Popen[bytes] | None = None
    broker_url = "embedded"
    if args.broker == "mosquitto" and not args.command:
        broker, broker_url = start_mosquitto(Path(workdir))
    cmd = args.command or [
        sys.executable,
        "-m",
        "netmon",
        "demo",
        "--scale",
        args.scale,
        "--interval",
        str(args.interval),
        "--duration",
        str(args.duration + 30),
        "--http",
        f"127.0.0.1:{free_port()}",
        "--workdir",
        workdir,
        "--snmp-port",
        str(free_port(socket.SOCK_DGRAM)),  # beside any other demo on this machine
        "--broker",
        broker_url,  # self-contained: never another test's broker on localhost:1883
    ]
    log = Path(workdir) / "soak.log"
    print(f"soak: {' '.join(cmd)}\nsoak: log {log}", flush=True)
    t0 = time.monotonic()
    with log.open("wb") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    points: list[Point] = []
    died = False
    try:
        while time.monotonic() - t0 < args.duration:
            if proc.poll() is not None:
                died = True
                break
            pt = measure(proc.pid, t0)
            if broker is not None:
                bp = measure(broker.pid, t0)
                pt = Point(
                    pt.t, pt.rss_bytes + bp.rss_bytes, pt.fds + bp.fds, pt.procs + bp.procs, pt.threads + bp.threads
                )
            points.append(pt)
            print(
                f"{pt.t:7.0f}s rss={pt.rss_bytes / 2**20:8.1f} MiB fds={pt.fds:5d} procs={pt.procs} threads={pt.threads}",
                flush=True,
            )
            time.sleep(args.every)  # a sampling period, not a synchronisation
    finally:
        for p_ in (proc, broker):
            if p_ is not None and p_.poll() is None:
                os.killpg(p_.pid, signal.SIGTERM)
                try:
                    p_.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(p_.pid, signal.SIGKILL)
                    p_.wait()

    steady = [pt for pt in points if pt.t >= args.warmup]
    hours = [pt.t / 3600 for pt in steady]
    rss_mean = sum(pt.rss_bytes for pt in steady) / len(steady) if steady else 0.0
    rss_slope = slope(hours, [float(pt.rss_bytes) for pt in steady])  # bytes per hour
    fd_slope = slope(hours, [float(pt.fds) for pt in steady])  # descriptors per hour
    rss_flat = rss_mean > 0 and rss_slope / rss_mean < args.max_rss_growth
    fd_flat = fd_slope < args.max_fd_growth
    verdict = {
        "command": cmd,
        "duration_s": points[-1].t if points else 0.0,
        "samples_after_warmup": len(steady),
        "rss_mean_mib": rss_mean / 2**20,
        "rss_min_mib": min((pt.rss_bytes for pt in steady), default=0) / 2**20,
        "rss_max_mib": max((pt.rss_bytes for pt in steady), default=0) / 2**20,
        "rss_growth_mib_per_hour": rss_slope / 2**20,
        "rss_growth_fraction_per_hour": rss_slope / rss_mean if rss_mean else None,
        "fds_min": min((pt.fds for pt in steady), default=0),
        "fds_max": max((pt.fds for pt in steady), default=0),
        "fd_growth_per_hour": fd_slope,
        "rss_flat": rss_flat,
        "fds_flat": fd_flat,
        "demo_died": died,
    }
    print(json.dumps(verdict, indent=2))
    if died:
        print(f"soak: the demo exited with {proc.returncode}; see {log}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps({"verdict": verdict, "points": [asdict(pt) for pt in points]}, indent=1))
    if died:
        return 2
    if not steady:
        print("soak: no measurement after the warm-up; run longer", file=sys.stderr)
        return 2
    return 0 if rss_flat and fd_flat else 1


if __name__ == "__main__":
    sys.exit(main())
