"""Sustained load: 10,000 simulated devices at a 60 s interval from one agent process.

A lightweight SNMPv2c responder (a separate process, so its CPU is not the agent's)
answers on 100 UDP ports of 127.0.0.1 with canned responses: the system group and a
4-interface ifTable/ifXTable (15 columns), request ids copied from the requests. The
agent runs its real Poller (scheduler, counters, samples into a memory sink) for the
given duration and reports polls done vs due, failures, skipped polls, schedule lag
and its CPU use.

Run from the repository root::

    .venv/bin/python -m bench.bench_agent_scale [--devices 10000] [--interval 60] [--duration 180]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import socket
import time
from collections.abc import Iterator
from typing import Any

from netmon.agent.ber import Oid, encode_integer, encode_oid, read_tlv, tlv
from netmon.agent.poller import Poller
from netmon.agent.sink import MemorySink
from netmon.agent.snmp import IF_COLUMNS, PDU_BULK, PDU_GET, SYSTEM_OIDS
from netmon.config.credentials import SnmpProfile
from netmon.config.inventory import Device, Probe, Role
from netmon.config.secrets import SecretRef
from netmon.config.settings import PollSettings

PORTS = 100
COMMUNITY = b"bench"
IFACES = 4


def _value(v: Any) -> bytes:
    if isinstance(v, tuple):
        return encode_oid(v)
    if isinstance(v, bytes):
        return tlv(0x04, v)
    tag, n = v
    return tlv(tag, n.to_bytes(max(1, (n.bit_length() + 8) // 8), "big"))


def _vb(oid: Oid, v: Any) -> bytes:
    return tlv(0x30, encode_oid(oid) + _value(v))


def canned() -> tuple[bytes, bytes]:
    """Var-bind lists answering the system GET and the interface GETBULK."""
    sys_vals: list[Any] = [
        b"bench device",
        (1, 3, 6, 1, 4, 1, 8072, 3, 2, 10),
        (0x43, 123456),
        b"bench",
        (0x02, IFACES),
    ]
    get = b"".join(_vb(o, v) for o, v in zip(SYSTEM_OIDS, sys_vals, strict=True))
    cols = list(IF_COLUMNS.values())
    rows = []
    for i in range(1, IFACES + 2):  # one repetition past the table ends every column
        for c in cols:
            if i <= IFACES:
                rows.append(_vb((*c, i), (0x46, 10**9 * i) if c[-1] in (6, 10) else (0x02, 1)))
            else:
                rows.append(_vb((*c[:-1], c[-1] + 1, 1), (0x02, 0)))
    return tlv(0x30, get), tlv(0x30, b"".join(rows))


class Responder(asyncio.DatagramProtocol):
    """Answers GET and GETBULK with the canned var-binds."""

    def __init__(self, get: bytes, bulk: bytes) -> None:
        self.get, self.bulk = get, bulk
        self.transport: Any = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        _t, s, end = read_tlv(data, 0, len(data))
        _t, _s, pos = read_tlv(data, s, end)  # version
        _t, _s, pos = read_tlv(data, pos, end)  # community
        pdu, pos, pdu_end = read_tlv(data, pos, end)
        _t, rs, re_ = read_tlv(data, pos, pdu_end)
        rid = int.from_bytes(data[rs:re_], "big", signed=True)
        vbl = self.get if pdu == PDU_GET else self.bulk if pdu == PDU_BULK else b"\x30\x00"
        body = encode_integer(rid) + encode_integer(0) + encode_integer(0) + vbl
        self.transport.sendto(tlv(0x30, encode_integer(1) + tlv(0x04, COMMUNITY) + tlv(0xA2, body)), addr)


def serve(base_port: int, ready: Any) -> None:
    """The responder process: PORTS sockets from base_port."""

    async def main() -> None:
        get, bulk = canned()
        loop = asyncio.get_running_loop()
        for p in range(base_port, base_port + PORTS):
            await loop.create_datagram_endpoint(lambda: Responder(get, bulk), local_addr=("127.0.0.1", p))
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def free_base() -> int:
    """A base port with PORTS free UDP ports after it (best effort)."""
    for base in range(40000, 60000, PORTS):
        socks = []
        try:
            for p in range(base, base + PORTS):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


@contextlib.contextmanager
def responder() -> Iterator[int]:
    """The canned SNMPv2c responder in a process of its own; yields its base port."""
    base = free_base()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    proc = ctx.Process(target=serve, args=(base, ready), daemon=True, name="bench-responder")
    proc.start()
    try:
        if not ready.wait(30):
            raise RuntimeError("responder did not start")
        yield base
    finally:
        proc.terminate()
        proc.join(10)


def responder_devices(n: int, base: int) -> tuple[list[Device], dict[str, SnmpProfile]]:
    """``n`` SNMP-only CPEs spread over the responder's ports, and their credential profiles."""
    profiles = {
        f"p{p}": SnmpProfile(version="2c", community=SecretRef(value="bench"), port=base + p, timeout_s=2, retries=1)
        for p in range(PORTS)
    }
    devices = [
        Device(id=f"c{i:05d}-cpe1", role=Role.CPE, address="127.0.0.1", snmp=f"p{i % PORTS}", probes=(Probe.SNMP,))
        for i in range(n)
    ]
    return devices, profiles


async def run_agent(n: int, interval: float, duration: float, base: int, concurrency: int) -> None:
    """Run the poller for ``duration`` seconds and print the figures."""
    devices, profiles = responder_devices(n, base)
    sink = MemorySink(limit=50_000_000)
    settings = PollSettings(interval_s=interval, icmp_mode="off", concurrency=concurrency, timeout_s=2)
    poller = Poller(devices, profiles, settings, sink)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    task = asyncio.create_task(poller.run(), name="poller")
    try:
        await asyncio.sleep(duration)  # the measurement window itself
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    poller.close()
    st = poller.stats
    ok = sum(1 for s in sink.samples if s.ok and s.interfaces)
    failed = len(sink.samples) - ok
    due = n * wall / interval
    print(
        f"{n} devices, interval {interval:.0f} s, {wall:.0f} s, concurrency {concurrency}, SNMPv2c system + 4-interface walk"
    )
    print(
        f"  polls done {len(sink.samples)} (due ~{due:.0f}), ok {ok}, failed {failed}, skipped {st.skipped}, overruns {st.overruns}"
    )
    print(
        f"  schedule lag p50 <= {st.lag.quantile(0.5):.3f} s, p99 <= {st.lag.quantile(0.99):.3f} s, max {st.lag.max:.3f} s"
    )
    print(f"  poll duration p50 <= {st.duration.quantile(0.5):.3f} s, p99 <= {st.duration.quantile(0.99):.3f} s")
    print(f"  agent CPU {cpu:.1f} s in {wall:.0f} s = {100 * cpu / wall:.1f}% of one core")


def main() -> None:
    """Start the responder, run the agent, print."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--devices", type=int, default=10_000)
    ap.add_argument("--interval", type=float, default=60.0)
    ap.add_argument("--duration", type=float, default=180.0)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args()
    with responder() as base:
        asyncio.run(run_agent(args.devices, args.interval, args.duration, base, args.concurrency))


if __name__ == "__main__":
    main()
