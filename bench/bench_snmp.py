"""Agent CPU per 1,000 device polls vs Debian's prometheus-snmp-exporter, side by side.

Both poll the same net-snmp snmpd on loopback for the same OIDs: the system group
(sysDescr, sysObjectID, sysUpTime, sysName) by GET and 15 ifTable/ifXTable columns
(descr, speed, admin/oper status, 32- and 64-bit octets, errors, discards, name, high
speed, alias) by GETBULK walk with max-repetitions 25. The agent's CPU is this process's
CPU time around its polls (the samples are built, rates included, and dropped into a
memory sink); the exporter's is its process's CPU time around as many scrapes of a
module with the same OIDs (its HTTP handling and exposition included, which is its
normal cost per poll).

Run from the repository root::

    .venv/bin/python -m bench.bench_snmp [--polls 1000] [--concurrency 32] [--version 2c|3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from netmon.agent.poller import Poller
from netmon.agent.sink import MemorySink
from netmon.agent.snmp import SnmpClient
from netmon.config.credentials import AuthProtocol, PrivProtocol, SnmpProfile
from netmon.config.inventory import Device, Probe, Role
from netmon.config.secrets import SecretRef
from netmon.config.settings import PollSettings
from tests import services

SYSTEM = ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.5.0"]
IF_COLUMNS = {
    "ifDescr": ("1.3.6.1.2.1.2.2.1.2", "DisplayString"),
    "ifSpeed": ("1.3.6.1.2.1.2.2.1.5", "gauge"),
    "ifAdminStatus": ("1.3.6.1.2.1.2.2.1.7", "gauge"),
    "ifOperStatus": ("1.3.6.1.2.1.2.2.1.8", "gauge"),
    "ifInOctets": ("1.3.6.1.2.1.2.2.1.10", "counter"),
    "ifInDiscards": ("1.3.6.1.2.1.2.2.1.13", "counter"),
    "ifInErrors": ("1.3.6.1.2.1.2.2.1.14", "counter"),
    "ifOutOctets": ("1.3.6.1.2.1.2.2.1.16", "counter"),
    "ifOutDiscards": ("1.3.6.1.2.1.2.2.1.19", "counter"),
    "ifOutErrors": ("1.3.6.1.2.1.2.2.1.20", "counter"),
    "ifName": ("1.3.6.1.2.1.31.1.1.1.1", "DisplayString"),
    "ifHCInOctets": ("1.3.6.1.2.1.31.1.1.1.6", "counter"),
    "ifHCOutOctets": ("1.3.6.1.2.1.31.1.1.1.10", "counter"),
    "ifHighSpeed": ("1.3.6.1.2.1.31.1.1.1.15", "gauge"),
    "ifAlias": ("1.3.6.1.2.1.31.1.1.1.18", "DisplayString"),
}


def exporter_yaml(version: str) -> str:
    """snmp_exporter 0.21 module ``netmon`` for the same OIDs as the agent."""
    if version == "3":
        auth = (
            "  version: 3\n  auth:\n"
            f"    username: {services.SNMP_V3_USER}\n    security_level: authPriv\n"
            f"    auth_protocol: SHA\n    password: {services.SNMP_V3_AUTH}\n"
            f"    priv_protocol: AES\n    priv_password: {services.SNMP_V3_PRIV}\n"
        )
    else:
        auth = f"  version: 2\n  auth:\n    community: {services.SNMP_COMMUNITY}\n"
    lines = ["netmon:", auth.rstrip("\n"), "  max_repetitions: 25", "  retries: 0", "  timeout: 5s", "  get:"]
    lines += [f"  - {o}" for o in SYSTEM]
    lines += ["  walk:"] + [f"  - {oid}" for oid, _ in IF_COLUMNS.values()]
    lines += ["  metrics:"]
    for name, oid in (("sysUpTime", SYSTEM[2]), ("sysName", SYSTEM[3]), ("sysDescr", SYSTEM[0])):
        typ = "gauge" if name == "sysUpTime" else "DisplayString"
        lines += [f"  - name: {name}", f"    oid: {oid[:-2]}", f"    type: {typ}", f"    help: {name}"]
    lines += ["  - name: sysObjectID", "    oid: 1.3.6.1.2.1.1.2", "    type: OctetString", "    help: sysObjectID"]
    for name, (oid, typ) in IF_COLUMNS.items():
        lines += [
            f"  - name: {name}",
            f"    oid: {oid}",
            f"    type: {typ}",
            f"    help: {name}",
            "    indexes:",
            "    - labelname: ifIndex",
            "      type: gauge",
        ]
    return "\n".join(lines) + "\n"


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def profile_for(version: str, port: int) -> SnmpProfile:
    """The agent's profile for the benchmark snmpd."""
    if version == "3":
        return SnmpProfile(
            version="3",
            user=services.SNMP_V3_USER,
            auth_protocol=AuthProtocol.SHA,
            auth_key=SecretRef(value=services.SNMP_V3_AUTH),
            priv_protocol=PrivProtocol.AES128,
            priv_key=SecretRef(value=services.SNMP_V3_PRIV),
            port=port,
            timeout_s=5,
            retries=0,
        )
    return SnmpProfile(
        version="2c", community=SecretRef(value=services.SNMP_COMMUNITY), port=port, timeout_s=5, retries=0
    )


async def agent_polls(
    port: int, polls: int, concurrency: int, version: str, *, fast: bool = True
) -> tuple[float, float, int]:
    """(CPU s, wall s, failures) of ``polls`` device polls by the agent."""
    n_dev = concurrency
    devices = [
        Device(id=f"bench-{i}", role=Role.CPE, address="127.0.0.1", snmp="p", probes=(Probe.SNMP,))
        for i in range(n_dev)
    ]
    sink = MemorySink()
    settings = PollSettings(icmp_mode="off", concurrency=concurrency)
    poller = Poller(devices, {"p": profile_for(version, port)}, settings, sink, snmp=SnmpClient(fast=fast))
    await poller.poll_all_once()  # warm-up: engine discovery, caches
    sink.samples.clear()
    rounds = max(1, polls // n_dev)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(rounds):
        await poller.poll_all_once()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    poller.close()
    fails = sum(1 for s in sink.samples if not s.ok or not s.interfaces)
    done = len(sink.samples)
    return cpu * 1000 / done, wall, fails


def exporter_polls(
    workdir: Path, snmpd_port: int, polls: int, concurrency: int, version: str
) -> tuple[float, float, int]:
    """(CPU s per 1,000, wall s, failures) of ``polls`` scrapes of snmp_exporter."""
    exe = services.require("prometheus-snmp-exporter")
    conf = workdir / "snmp.yml"
    conf.write_text(exporter_yaml(version))
    port = services.free_port()
    svc = services.Service(
        "snmp-exporter",
        [exe, f"--config.file={conf}", f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"],
        workdir,
        port,
    ).start(lambda: services.tcp_open(port))
    url = f"http://127.0.0.1:{port}/snmp?module=netmon&target=127.0.0.1:{snmpd_port}"

    def scrape(_: int) -> bool:
        with urllib.request.urlopen(url, timeout=30) as resp:
            body = resp.read().decode()
        return 'ifHCInOctets{ifIndex="1"}' in body and "snmp_scrape_pdus_returned" in body

    try:
        assert scrape(0), "snmp_exporter did not return the interface metrics"
        assert svc.proc is not None
        cpu0, wall0 = proc_cpu(svc.proc.pid), time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            ok = list(pool.map(scrape, range(polls)))
        cpu, wall = proc_cpu(svc.proc.pid) - cpu0, time.perf_counter() - wall0
    finally:
        svc.stop()
    return cpu * 1000 / polls, wall, ok.count(False)


def main() -> None:
    """Run both side by side and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--polls", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--version", choices=["2c", "3"], default="2c")
    ap.add_argument("--pysnmp", action="store_true", help="also time the agent through pysnmp (the slow path)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="netmon-bench-") as tmp:
        work = Path(tmp)
        snmpd = services.start_snmpd(work / "snmpd", services.free_port(socket.SOCK_DGRAM))
        try:
            a_cpu, a_wall, a_fail = asyncio.run(agent_polls(snmpd.port, args.polls, args.concurrency, args.version))
            slow = None
            if args.pysnmp:
                slow = asyncio.run(agent_polls(snmpd.port, args.polls, args.concurrency, args.version, fast=False))
            e_cpu, e_wall, e_fail = exporter_polls(work, snmpd.port, args.polls, args.concurrency, args.version)
        finally:
            snmpd.stop()
    print(
        f"SNMP v{args.version}, {args.polls} device polls (system GET + 15 interface columns), concurrency {args.concurrency}"
    )
    print(f"  netmon agent        : {a_cpu:6.2f} CPU-s per 1,000 polls  (wall {a_wall:.1f} s, failed {a_fail})")
    if slow is not None:
        print(f"  agent via pysnmp    : {slow[0]:6.2f} CPU-s per 1,000 polls  (wall {slow[1]:.1f} s, failed {slow[2]})")
    print(f"  snmp_exporter 0.21  : {e_cpu:6.2f} CPU-s per 1,000 polls  (wall {e_wall:.1f} s, failed {e_fail})")
    print(f"  ratio agent/exporter: {a_cpu / e_cpu:.2f}x")


if __name__ == "__main__":
    main()
