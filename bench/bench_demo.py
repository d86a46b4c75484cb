"""Benchmarks of ``netmon demo``.

Three measurements, each printed as one JSON line:

``startup``   Time from the command to the first *complete* coverage figure: the
              collector's overview with every commune in a known state (none UNKNOWN),
              for the default Quảng Ngãi demo (target < 15 s). Median of ``--runs``.
``simulator`` The simulated devices alone: a UDP load generator asks ``--devices``
              responders (GET of the system group and a GETBULK of ifTable, as the
              poller does) and measures answers per second and CPU per request of the
              simulator; and, for comparison, the CPU pyasn1 spends decoding the same
              responses (what each agent pays per response).
``national``  ``netmon demo --scale national`` for ``--duration`` seconds: time to ready,
              time to the first complete coverage, samples per second achieved vs the
              schedule (devices / interval), age of the newest sample of 200 random
              devices at the end (every device polled on schedule means age < interval
              plus the poll time), CPU of the process. With ``--profile`` the run is
              under cProfile and CPU is split by component (simulator, agents incl.
              pysnmp, collector, broker, web/exporter).

    python bench/bench_demo.py startup [--runs 3]
    python bench/bench_demo.py simulator [--devices 10000] [--seconds 10]
    python bench/bench_demo.py national [--interval 300] [--duration 600] [--profile] [--quiet]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pstats
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from netmon.config import geography
from netmon.demo import ber, recording, simulator

ROOT = Path(__file__).resolve().parent.parent


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get_json(url: str, timeout: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def start_demo(extra: list[str], workdir: Path, *, profile: Path | None = None) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable]
    if profile is not None:
        cmd += ["-m", "cProfile", "-o", str(profile)]
    cmd += ["-m", "netmon", "demo", "--http", f"127.0.0.1:{port}", "--workdir", str(workdir), "--broker", "embedded"]
    cmd += ["--snmp-port", str(free_port(socket.SOCK_DGRAM)), *extra]
    log = (workdir.parent / f"{workdir.name}.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    return proc, f"http://127.0.0.1:{port}"


def complete_coverage(base: str) -> dict[str, Any] | None:
    """The province counts once no commune is UNKNOWN, else None."""
    try:
        counts = get_json(base + "/api/v1/overview", timeout=2)["province"]["counts"]
    except (OSError, ValueError, KeyError):
        return None
    if counts["by_state"].get("unknown", 0) == 0 and counts["communes"] > 0:
        return dict(counts)
    return None


def wait_complete(proc: subprocess.Popen[bytes], base: str, t0: float, limit: float) -> tuple[float, dict[str, Any]]:
    while time.monotonic() - t0 < limit:
        if proc.poll() is not None:
            raise RuntimeError(f"demo exited with {proc.returncode}")
        counts = complete_coverage(base)
        if counts is not None:
            return time.monotonic() - t0, counts
        time.sleep(0.1)  # polling another process's API: there is no event to await
    raise TimeoutError(f"no complete coverage within {limit} s")


def stop(proc: subprocess.Popen[bytes]) -> float:
    t = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=120)
    return time.monotonic() - t


def bench_startup(args: argparse.Namespace) -> dict[str, Any]:
    times, stops = [], []
    counts: dict[str, Any] = {}
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.monotonic()
            proc, base = start_demo(["--interval", str(args.interval)], Path(tmp) / f"run{i}")
            try:
                elapsed, counts = wait_complete(proc, base, t0, 120)
            finally:
                stops.append(stop(proc))
            times.append(elapsed)
    return {
        "bench": "demo_startup",
        "inventory": "quang-ngai-2021 (184 devices, 170 communes)",
        "interval_s": args.interval,
        "runs": args.runs,
        "first_complete_coverage_s": {"median": statistics.median(times), "max": max(times), "all": times},
        "coverage_then": counts,
        "sigterm_to_exit_s": statistics.median(stops),
    }


async def _load(sim: simulator.Simulator, seconds: float, window: int) -> tuple[int, int, float]:
    """Keep ``window`` requests in flight against random devices for ``seconds``."""
    loop = asyncio.get_running_loop()
    addrs = [(d.spec.address, sim.port) for d in sim.devices.values()]
    get_sys = [(1, 3, 6, 1, 2, 1, 1, 3, 0), (1, 3, 6, 1, 2, 1, 1, 5, 0)]
    bulk_if = [(1, 3, 6, 1, 2, 1, 2, 2, 1, c) for c in (2, 7, 8, 10, 16)]
    sent = received = 0
    done = asyncio.Event()
    sizes: list[int] = []

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            nonlocal received
            received += 1
            if len(sizes) < 2000:
                sizes.append(len(data))
            fire()

    transport, _ = await loop.create_datagram_endpoint(Client, local_addr=("127.0.0.1", 0))
    rid = 0

    def fire() -> None:
        nonlocal sent, rid
        if done.is_set():
            return
        rid += 1
        if rid % 2:
            msg = ber.encode_request(1, b"bench", ber.GET, rid, get_sys)
        else:
            msg = ber.encode_request(1, b"bench", ber.GETBULK, rid, bulk_if, max_repetitions=10)
        transport.sendto(msg, random.choice(addrs))
        sent += 1

    c0 = time.process_time()
    for _ in range(window):
        fire()
    await asyncio.sleep(seconds)
    done.set()
    cpu = time.process_time() - c0
    transport.close()
    return sent, received, cpu


def bench_simulator(args: argparse.Namespace) -> dict[str, Any]:
    specs = []
    for n in range(args.devices):
        role = "district_router" if n % 15 == 0 else "cpe"
        rec = recording.load(recording.ROLE_RECORDING[role])
        specs.append(simulator.DeviceSpec(f"dev{n}", geography.loopback_address(f"dev{n}", n), rec))
    sim = simulator.Simulator(specs, community="bench", port=free_port(socket.SOCK_DGRAM))

    async def run() -> dict[str, Any]:
        t = time.monotonic()
        await sim.start()
        bind_s = time.monotonic() - t
        try:
            sent, received, cpu = await _load(sim, args.seconds, 64)
        finally:
            sim.close()
        return {"bind_s": bind_s, "sent": sent, "received": received, "cpu": cpu}

    r = asyncio.run(run())
    # What a pysnmp agent pays per response: pyasn1 decoding of the same answers.
    from pyasn1.codec.ber import decoder
    from pysnmp.proto import api

    dev = sim.devices["dev0"]
    p = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    bulk = ber.encode_request(1, b"bench", ber.GETBULK, 1, [(1, 3, 6, 1, 2, 1, 2, 2, 1, 2)], max_repetitions=25)
    resp = simulator.answer(dev, ber.decode_request(bulk), time.time())
    c0 = time.process_time()
    for _ in range(200):
        decoder.decode(resp, asn1Spec=p.Message())
    pyasn1_us = (time.process_time() - c0) / 200 * 1e6
    c0 = time.process_time()
    for _ in range(2000):
        simulator.answer(dev, ber.decode_request(bulk), time.time())
    ours_us = (time.process_time() - c0) / 2000 * 1e6
    # The load generator runs in the same process: its share (encoding, sending) is in cpu.
    return {
        "bench": "demo_simulator",
        "devices": args.devices,
        "bind_s": r["bind_s"],
        "answers_per_s": r["received"] / args.seconds,
        "cpu_us_per_answer_incl_load_generator": r["cpu"] / max(r["received"], 1) * 1e6,
        "router_bulk_25_response_bytes": len(resp),
        "simulator_encode_us": ours_us,
        "pyasn1_decode_us_same_response": pyasn1_us,
    }


COMPONENTS = [
    ("simulator", ("netmon/demo/simulator", "netmon/demo/ber", "netmon/demo/recording")),
    ("agents (incl. pysnmp/pyasn1)", ("/agent/", "pysnmp", "pyasn1", "aiomqtt", "paho")),
    ("collector", ("/collector/", "netmon/collectord")),
    ("exporters/web", ("/exporters/", "aiohttp", "jinja2", "prometheus_client")),
    ("broker (amqtt)", ("amqtt", "transitions")),
    ("sqlite", ("sqlite3",)),
    ("yaml/pydantic (startup)", ("yaml", "pydantic", "config/")),
]


def split_cpu(profile: Path) -> dict[str, float]:
    stats = pstats.Stats(str(profile))
    out: dict[str, float] = {}
    for (filename, _line, func), row in stats.stats.items():  # type: ignore[attr-defined]
        tottime = row[2]
        where = f"{filename}:{func}"
        name = next((n for n, keys in COMPONENTS if any(k in where for k in keys)), "other (asyncio, stdlib)")
        out[name] = out.get(name, 0.0) + tottime
    total = sum(out.values()) or 1.0
    return {k: round(100 * v / total, 1) for k, v in sorted(out.items(), key=lambda kv: -kv[1])}


def bench_national(args: argparse.Namespace) -> dict[str, Any]:
    import psutil

    tmp = Path(tempfile.mkdtemp(prefix="bench-demo-national-"))
    print(f"work directory and demo log kept in {tmp}", file=sys.stderr)
    work = tmp / "national"
    prof = tmp / "demo.prof" if args.profile else None
    t0 = time.monotonic()
    extra = ["--scale", "national", "--edition", args.edition, "--interval", str(args.interval)]
    extra += ["--duration", str(args.duration)]
    if args.quiet:
        quiet = tmp / "quiet.yaml"
        quiet.write_text("name: quiet\nevents: []\n", encoding="utf-8")
        extra += ["--scenario", str(quiet)]
    proc, base = start_demo(extra, work, profile=prof)
    ps = psutil.Process(proc.pid)
    out: dict[str, Any] = {"bench": "demo_national", "edition": args.edition, "interval_s": args.interval}
    ready_s = None
    while ready_s is None and time.monotonic() - t0 < args.duration and proc.poll() is None:
        try:
            get_json(base + "/api/v1/overview", timeout=5)
            ready_s = time.monotonic() - t0
        except (OSError, ValueError):
            time.sleep(0.5)
    out["ready_s"] = ready_s
    print(f"ready after {ready_s} s", file=sys.stderr)
    # Leave 2.5 intervals of the run for the steady-state window.
    budget = max(10.0, args.duration - (time.monotonic() - t0) - 2.5 * args.interval)
    try:
        out["first_complete_coverage_s"], out["coverage_then"] = wait_complete(
            proc, base, t0, time.monotonic() - t0 + budget
        )
    except TimeoutError:
        out["first_complete_coverage_s"] = None
        out["coverage_then"] = get_json(base + "/api/v1/overview")["province"]["counts"]
    print(f"complete coverage: {out['first_complete_coverage_s']}", file=sys.stderr)
    ids = _device_ids(work)
    out["devices"] = len(ids)
    s0, w0, cpu0 = _samples(base), time.monotonic(), ps.cpu_times()
    time.sleep(max(5.0, min(1.5 * args.interval, args.duration - (time.monotonic() - t0) - 20)))
    s1, w1, cpu1 = _samples(base), time.monotonic(), ps.cpu_times()
    snap = get_json(base + "/api/v1/overview")
    ages = []
    now = time.time()
    for dev in random.Random(1).sample(ids, min(200, len(ids))):
        d = get_json(f"{base}/api/v1/devices/{dev}")
        if d.get("last_seen"):
            ages.append(now - d["last_seen"])
    out.update(
        {
            "communes": snap["province"]["counts"]["communes"],
            "samples_per_s": (s1 - s0) / (w1 - w0),
            "schedule_samples_per_s": len(ids) / args.interval,
            "sample_age_s": {
                "median": statistics.median(ages) if ages else None,
                "p95": sorted(ages)[int(0.95 * (len(ages) - 1))] if ages else None,
                "max": max(ages) if ages else None,
                "never_seen_of_200": 200 - len(ages),
            },
            "cpu_cores_busy": ((cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)) / (w1 - w0),
            "rss_mib": ps.memory_info().rss / 2**20,
            "by_state_at_end": snap["province"]["counts"]["by_state"],
        }
    )
    proc.wait(timeout=args.duration + 300)
    if prof is not None and prof.exists():
        out["cpu_share_pct_by_component"] = split_cpu(prof)
    return out


def _samples(base: str) -> float:
    with urllib.request.urlopen(base + "/metrics", timeout=30) as resp:
        for line in resp.read().decode().splitlines():
            if line.startswith("netmon_collector_samples_total"):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def _device_ids(work: Path) -> list[str]:
    import yaml

    doc = yaml.load(
        (work / "inventory.yaml").read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    )
    ids = [d["id"] for d in doc.get("devices", [])]
    for dist in doc.get("districts", []):
        ids += [d["id"] for d in dist.get("devices", [])]
        ids += [d["id"] for c in dist.get("communes", []) for d in c.get("devices", [])]
    ids += [d["id"] for c in doc.get("communes", []) for d in c.get("devices", [])]
    return ids


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="what", required=True)
    s = sub.add_parser("startup")
    s.add_argument("--runs", type=int, default=3)
    s.add_argument("--interval", type=float, default=5.0)
    m = sub.add_parser("simulator")
    m.add_argument("--devices", type=int, default=10_000)
    m.add_argument("--seconds", type=float, default=10.0)
    n = sub.add_parser("national")
    n.add_argument("--edition", choices=["2021", "2025"], default="2021")
    n.add_argument("--interval", type=float, default=300.0)
    n.add_argument("--duration", type=float, default=600.0)
    n.add_argument("--profile", action="store_true")
    n.add_argument("--quiet", action="store_true", help="an empty scenario: nothing fails, so coverage can complete")
    args = p.parse_args()
    fn = {"startup": bench_startup, "simulator": bench_simulator, "national": bench_national}[args.what]
    print(json.dumps(fn(args), ensure_ascii=False))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
