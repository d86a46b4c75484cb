"""A district's network as SNMP recordings that carry LLDP and CDP neighbour tables.

The devices answer with real recordings from ``snmpsim-data`` (system group, interfaces,
ifXTable: a Huawei S5720 as core and district router, a ZTE ZXR10 5250 as commune CPE, a
Cisco Catalyst 3560 as a commune office switch), their sysName set to the device's
name, plus the neighbour tables their links imply, in the shapes those vendors report:
LLDP-MIB local system data, local ports and remote table with management addresses
(one device with a non-zero time mark, as the H3C recording in snmpsim-data has), and on
the Cisco switch a CDP cache instead of LLDP. Each device is served by its own
``snmpsim-command-responder`` on its own loopback address (snmpsim picks a recording by
community, and every device here shares one).
"""

from __future__ import annotations

import bz2
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.services import SNMP_COMMUNITY, Service, snmp_answers, wait_until
from tests.services_snmp import KEEP, snmpsim_data_dir

BASE = {
    "huawei": "network/router/huawei-s5720.snmprec.bz2",
    "zte": "network/switch/zte-zxr10-5250.snmprec.bz2",
    "cisco": "network/switch/cisco-c3560.snmprec.bz2",
}
#: The port each vendor's uplink / downlinks are on (ifIndex, name in the recording).
PORTS = {
    "huawei": [
        (6, "GigabitEthernet0/0/1"),
        (7, "GigabitEthernet0/0/2"),
        (8, "GigabitEthernet0/0/3"),
        (9, "GigabitEthernet0/0/4"),
    ],
    "zte": [(49, "2/1"), (1, "1/1")],
    "cisco": [(10101, "Gi0/1"), (10102, "Gi0/2")],
}


@dataclass
class SimDevice:
    """A device of the simulated district."""

    name: str
    address: str
    vendor: str
    mac: str
    time_mark: int = 0
    links: list[tuple[int, SimDevice, int]] = field(default_factory=list)  # (my port#, peer, peer port#)
    cdp: bool = False


def link(a: SimDevice, a_port: int, b: SimDevice, b_port: int) -> None:
    """A cable between port ``a_port`` of ``a`` and ``b_port`` of ``b`` (ifIndexes)."""
    a.links.append((a_port, b, b_port))
    b.links.append((b_port, a, a_port))


def _port_name(dev: SimDevice, if_index: int) -> str:
    return dict(PORTS[dev.vendor])[if_index]


def _hex(text: str) -> str:
    return text.encode().hex()


def _oid_key(line: str) -> tuple[int, ...]:
    return tuple(int(x) for x in line.split("|", 1)[0].split("."))


def recording(dev: SimDevice) -> str:
    """The ``.snmprec`` text of a device: its vendor's real recording (the polled
    subtrees) with its own sysName, and its neighbour tables."""
    raw = bz2.decompress((snmpsim_data_dir() / BASE[dev.vendor]).read_bytes())
    lines = [
        ln.decode("utf-8", errors="replace")
        for ln in raw.splitlines()
        if ln.startswith(KEEP) and not ln.startswith(b"1.3.6.1.2.1.1.5.0|")
    ]
    lines.append(f"1.3.6.1.2.1.1.5.0|4|{dev.name}")
    lldp = "1.0.8802.1.1.2.1"
    macs = bytes.fromhex(dev.mac.replace(":", "")).hex()
    if not dev.cdp:
        lines += [f"{lldp}.3.1.0|2|4", f"{lldp}.3.2.0|4x|{macs}", f"{lldp}.3.3.0|4x|{_hex(dev.name)}"]
        for port, _, _ in dev.links:
            lines += [
                f"{lldp}.3.7.1.2.{port}|2|5",  # interfaceName
                f"{lldp}.3.7.1.3.{port}|4x|{_hex(_port_name(dev, port))}",
                f"{lldp}.3.7.1.4.{port}|4x|{_hex(_port_name(dev, port))}",
            ]
        for rem, (port, peer, peer_port) in enumerate(dev.links, start=1):
            if peer.cdp:
                continue  # a Cisco switch that speaks CDP only: not in this device's LLDP table
            idx = f"{dev.time_mark}.{port}.{rem}"
            a, b, c, d = (int(x) for x in peer.address.split("."))
            lines += [
                f"{lldp}.4.1.1.4.{idx}|2|4",
                f"{lldp}.4.1.1.5.{idx}|4x|{bytes.fromhex(peer.mac.replace(':', '')).hex()}",
                f"{lldp}.4.1.1.6.{idx}|2|5",
                f"{lldp}.4.1.1.7.{idx}|4x|{_hex(_port_name(peer, peer_port))}",
                f"{lldp}.4.1.1.8.{idx}|4x|{_hex(_port_name(peer, peer_port) + ' Interface')}",
                f"{lldp}.4.1.1.9.{idx}|4x|{_hex(peer.name)}",
                f"{lldp}.4.1.1.10.{idx}|4x|{_hex(peer.vendor + ' device')}",
                f"{lldp}.4.2.1.3.{idx}.1.4.{a}.{b}.{c}.{d}|2|2",
                f"{lldp}.4.2.1.4.{idx}.1.4.{a}.{b}.{c}.{d}|2|{peer_port}",
                f"{lldp}.4.2.1.5.{idx}.1.4.{a}.{b}.{c}.{d}|6|0.0",
            ]
    else:
        cdp = "1.3.6.1.4.1.9.9.23.1.2.1.1"
        for n, (port, peer, peer_port) in enumerate(dev.links, start=1):
            addr = bytes(int(x) for x in peer.address.split(".")).hex()
            lines += [
                f"{cdp}.3.{port}.{n}|2|1",
                f"{cdp}.4.{port}.{n}|4x|{addr}",
                f"{cdp}.5.{port}.{n}|4x|{_hex('software of ' + peer.name)}",
                f"{cdp}.6.{port}.{n}|4x|{_hex(peer.name + '.tslcd.qn')}",
                f"{cdp}.7.{port}.{n}|4x|{_hex(_port_name(peer, peer_port))}",
                f"{cdp}.8.{port}.{n}|4x|{_hex(peer.vendor)}",
            ]
    return "\n".join(sorted(set(lines), key=_oid_key)) + "\n"


def serve(devices: list[SimDevice], workdir: Path, port: int) -> list[Service]:
    """One snmpsim responder per device, on its address and the shared ``port``; all
    started before any is waited for."""
    exe = Path(sys.executable).parent / "snmpsim-command-responder"
    services: list[Service] = []
    for dev in devices:
        data = workdir / dev.name / "data"
        data.mkdir(parents=True)
        (data / f"{SNMP_COMMUNITY}.snmprec").write_text(recording(dev), encoding="utf-8")
        svc = Service(
            f"snmpsim-{dev.name}",
            [
                str(exe),
                f"--data-dir={data}",
                f"--cache-dir={workdir / dev.name / 'cache'}",
                f"--agent-udpv4-endpoint={dev.address}:{port}",
                "--log-level=error",
            ],
            workdir / dev.name,
            port,
            env={"SNMPSIM_ALLOW_ROOT": "true"},
        )
        services.append(svc.start(lambda: True))  # started now, waited for below
    try:
        for svc, dev in zip(services, devices, strict=True):
            wait_until(lambda dev=dev: snmp_answers(port, host=dev.address), 90, svc.name, svc.proc, svc.log)  # type: ignore[misc]
    except BaseException:
        for svc in services:
            svc.stop()
        raise
    return services


def free_udp_port(addresses: list[str]) -> int:
    """A UDP port free on every one of ``addresses``."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        try:
            for a in addresses:
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as t:
                    t.bind((a, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no common free UDP port")
