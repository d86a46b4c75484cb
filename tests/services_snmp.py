"""SNMP responders for the agent's integration tests and benchmarks.

* :func:`start_snmpd_persistent`: net-snmp snmpd that keeps its engine ID and counts
  ``engineBoots`` across restarts, as a real router does (``tests.services.start_snmpd``
  passes ``-C``, which skips the persistent store, so each start is a new engine).
* :func:`start_snmpsim`: ``snmpsim-command-responder`` replaying recordings of real
  devices from the ``snmpsim-data`` package; the v2c community is the recording's name.
* :class:`HostileResponder`: a UDP "agent" on loopback that answers with garbage,
  truncated BER, wrong request ids or oversized datagrams.
"""

from __future__ import annotations

import asyncio
import bz2
import os
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tests.services import (
    SNMP_COMMUNITY,
    SNMP_V3_AUTH,
    SNMP_V3_PRIV,
    SNMP_V3_USER,
    Service,
    free_port,
    require,
    snmp_answers,
)

#: Recordings of real routers and switches (vendors of the province's network) in
#: snmpsim-data 1.0.1, by community name -> path under the package's ``data`` dir.
RECORDINGS: dict[str, str] = {
    "cisco-c3560": "network/switch/cisco-c3560.snmprec.bz2",
    "juniper-mx960": "network/router/juniper-mx960-12-3r6-6.snmprec.bz2",
    "huawei-s5720": "network/router/huawei-s5720.snmprec.bz2",
    "zte-zxr10-5250": "network/switch/zte-zxr10-5250.snmprec.bz2",
    "h3c-e528": "network/switch/h3c-e528-1.snmprec.bz2",
}


#: The subtrees the agent polls (system, interfaces, ifMIB). Recordings are cut to these
#: (values untouched, order kept) because snmpsim indexes a 390,000-line recording for
#: a minute before it answers, and answers slowly from it.
KEEP = (b"1.3.6.1.2.1.1.", b"1.3.6.1.2.1.2.", b"1.3.6.1.2.1.31.")
#: A community ending in this replays its recording without IF-MIB's ifXTable (and with
#: nothing after ifTable, so walks end in endOfMibView): an old or minimal agent.
NO_IFMIB = "-no-ifmib"


def start_snmpd_persistent(workdir: Path, port: int | None = None) -> Service:
    """snmpd on 127.0.0.1 whose engine ID and engineBoots survive a restart.

    Call again with the same ``workdir`` and ``port`` after ``stop()`` to restart it:
    engineBoots goes up by one and engineTime starts again from zero.
    """
    exe = require("snmpd")
    port = port or free_port(socket.SOCK_DGRAM)
    conf_dir = workdir / "conf"
    persist = workdir / "persist"
    conf_dir.mkdir(parents=True, exist_ok=True)
    persist.mkdir(exist_ok=True)
    (conf_dir / "snmpd.conf").write_text(
        f"rocommunity {SNMP_COMMUNITY} 127.0.0.1\n"
        "sysName netmon-restart-snmpd\n"
        f'createUser {SNMP_V3_USER} SHA "{SNMP_V3_AUTH}" AES "{SNMP_V3_PRIV}"\n'
        f"rouser {SNMP_V3_USER} priv\n"
    )
    svc = Service(
        "snmpd-persistent",
        [exe, "-f", "-Lo", "-p", str(workdir / "snmpd.pid"), f"udp:127.0.0.1:{port}"],
        workdir,
        port,
        # Only our directories: the persistent store (engineBoots, oldEngineID) is read
        # because it is on the path; the machine's /etc/snmp is not.
        env={
            "SNMPCONFPATH": f"{conf_dir}:{persist}",
            "SNMP_PERSISTENT_DIR": str(persist),
            "MIBDIRS": "/nonexistent",
            "MIBS": "",
        },
    )
    return svc.start(lambda: snmp_answers(port))


def snmpsim_data_dir() -> Path:
    """The ``data`` directory of the installed snmpsim-data package."""
    import snmpsim_data  # type: ignore[import-untyped]

    return Path(snmpsim_data.__file__).parent / "data"


def start_snmpsim(workdir: Path, recordings: dict[str, str] | None = None, port: int | None = None) -> Service:
    """snmpsim-command-responder on 127.0.0.1 replaying ``recordings`` (community -> path)."""
    recordings = recordings if recordings is not None else RECORDINGS
    exe = Path(sys.executable).parent / "snmpsim-command-responder"
    if not exe.exists():
        exe = Path(require("snmpsim-command-responder"))
    port = port or free_port(socket.SOCK_DGRAM)
    data = workdir / "snmprec"
    data.mkdir(parents=True, exist_ok=True)
    src = snmpsim_data_dir()
    for community, rel in recordings.items():
        out = data / f"{community}.snmprec"
        if not out.exists():
            raw = (src / rel).read_bytes()
            text = bz2.decompress(raw) if rel.endswith(".bz2") else raw
            keep = KEEP[:2] if community.endswith(NO_IFMIB) else KEEP
            out.write_bytes(b"".join(line for line in text.splitlines(keepends=True) if line.startswith(keep)))
    svc = Service(
        "snmpsim",
        [
            str(exe),
            f"--data-dir={data}",
            f"--cache-dir={workdir / 'cache'}",
            f"--agent-udpv4-endpoint=127.0.0.1:{port}",
            "--log-level=error",
        ],
        workdir,
        port,
        # snmpsim refuses to run as root unless told to (CI containers run as root).
        env={"SNMPSIM_ALLOW_ROOT": "true"},
    )
    first = next(iter(recordings))
    # Indexing the recordings on the first start takes several seconds.
    return svc.start(lambda: snmp_answers(port, first), timeout=120)


def snmpbulkwalk(port: int, community: str, oid: str, version: str = "2c") -> dict[str, tuple[str, str]]:
    """net-snmp's view of a subtree: numeric OID -> (type, value) as ``snmpbulkwalk`` prints them."""
    out = subprocess.run(
        [
            require("snmpbulkwalk" if version == "2c" else "snmpwalk"),
            f"-v{version}",
            "-c",
            community,
            "-On",
            "-Oe",  # enums as numbers
            "-Ox",  # octet strings in hex, so binary and UTF-8 names compare exactly
            "-t",
            "3",
            "-r",
            "1",
            "-Cr25",
            f"udp:127.0.0.1:{port}",
            oid,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "MIBS": "", "MIBDIRS": "/nonexistent"},
    )
    values: dict[str, tuple[str, str]] = {}
    key = ""
    for line in out.stdout.splitlines():
        if " = " in line and line.startswith("."):
            key, _, rest = line.partition(" = ")
            typ, _, val = rest.partition(": ")
            values[key.lstrip(".")] = (typ, val.strip())
        elif key:  # a hex string continued on the next line
            typ, val = values[key.lstrip(".")]
            values[key.lstrip(".")] = (typ, (val + " " + line.strip()).strip())
    return values


@dataclass
class HostileResponder(asyncio.DatagramProtocol):
    """Answers every datagram with something a correct manager must survive.

    Modes (cycled per request unless ``mode`` is fixed): ``garbage`` random bytes,
    ``truncated`` a valid-looking BER header cut short, ``wrong_id`` a well-formed
    v2c response with another request id, ``oversized`` a 60 KB datagram of junk.

    Attributes:
        received: Datagrams received.
    """

    mode: str | None = None
    received: int = 0
    transport: asyncio.DatagramTransport | None = field(default=None, repr=False)
    port: int = 0

    MODES = ("garbage", "truncated", "wrong_id", "oversized")

    async def start(self) -> HostileResponder:
        """Bind on a free loopback UDP port."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        """Reply with the hostile payload of the current mode."""
        mode = self.mode or self.MODES[self.received % len(self.MODES)]
        self.received += 1
        assert self.transport is not None
        self.transport.sendto(hostile_payload(mode, data), addr)

    def close(self) -> None:
        """Stop answering."""
        if self.transport is not None:
            self.transport.close()


def hostile_payload(mode: str, request: bytes) -> bytes:
    """The reply of :class:`HostileResponder` in ``mode`` to ``request``."""
    if mode == "garbage":
        return os.urandom(64)
    if mode == "truncated":
        return b"\x30\x82\x01\x00\x02\x01\x01\x04\x09netmon-ro\xa2\x81"
    if mode == "oversized":
        return b"\x30\x83\x00\xea\x60" + os.urandom(60_000)
    # wrong_id: a well-formed v2c GetResponse whose request-id is not the request's.
    community = b"netmon-ro"
    vb = b"\x30\x0e\x06\x08\x2b\x06\x01\x02\x01\x01\x03\x00\x43\x02\x01\x00"
    vbl = b"\x30" + bytes([len(vb)]) + vb
    pdu_body = b"\x02\x04\x7f\xff\xff\xfe\x02\x01\x00\x02\x01\x00" + vbl
    pdu = b"\xa2" + bytes([len(pdu_body)]) + pdu_body
    body = b"\x02\x01\x01\x04" + bytes([len(community)]) + community + pdu
    return b"\x30" + bytes([len(body)]) + body
