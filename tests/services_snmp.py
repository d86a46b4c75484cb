"""SNMP responders for the agent's integration tests and benchmarks.

* :func:`start_snmpd_persistent`: net-snmp snmpd that keeps its engine ID and counts
  ``engineBoots`` across restarts, as a real router does (``tests.services.start_snmpd``
  passes ``-C``, which skips the persistent store, so each start is a new engine).
* :func:`start_snmpsim`: ``snmpsim-command-responder`` replaying recordings of real
  devices from the ``snmpsim-data`` package; the v2c community is the recording's name.
* :class:`HostileResponder`: a UDP "agent" on loopback that answers with garbage,
  truncated BER, wrong request ids or oversized datagrams.
* :class:`ScriptedAgent`: a v1/v2c agent answering from a table a test writes (and
  changes between polls): impossible values, a frozen or restarted uptime, a walk that
  is never answered.
* :class:`ScriptedV3Agent`: an SNMPv3 agent whose USM can be made to lie (forged
  unauthenticated reports, replayed responses, another security model).
"""

from __future__ import annotations

import asyncio
import bisect
import bz2
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from netmon.agent.ber import Oid, encode_integer, encode_oid, read_tlv, tlv
from netmon.agent.snmp import PDU_REPORT, LocalEngine, UserKeys, UsmError, encode_v3, open_v3, parse_v3, user_keys
from netmon.agent.snmp.codec import response_pdu
from netmon.agent.snmp.usm import Envelope, verify
from netmon.config.credentials import AuthProtocol, PrivProtocol
from netmon.demo import ber as demo_ber
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


# --- scripted agents: a device that misbehaves on purpose ---------------------------------


def encoded(tag: int, value: int | bytes) -> bytes:
    """A value TLV of any tag, even one a correct agent would never send (a negative
    Counter, a 9-octet Counter64, an INTEGER where TimeTicks belongs)."""
    if isinstance(value, bytes):
        return tlv(tag, value)
    size = max(1, (value.bit_length() + 8) // 8)
    return tlv(tag, value.to_bytes(size, "big", signed=True))


@dataclass
class ScriptedAgent(asyncio.DatagramProtocol):
    """A v1/v2c agent on loopback answering from ``table`` (OID -> encoded value TLV).

    GET, GETNEXT and GETBULK as an agent does (v1: noSuchName for a missing OID, v2c:
    noSuchObject / endOfMibView). Knobs a test turns between polls: ``walk_silent``
    leaves GETNEXT/GETBULK unanswered (the slow v1 device whose walk times out), and
    ``table`` may be changed at any time (a frozen or restarted uptime).

    Attributes:
        received: Requests received, by PDU tag.
    """

    table: dict[Oid, bytes] = field(default_factory=dict)
    walk_silent: bool = False
    received: dict[int, int] = field(default_factory=dict)
    transport: asyncio.DatagramTransport | None = field(default=None, repr=False)
    port: int = 0

    async def start(self, host: str = "127.0.0.1") -> ScriptedAgent:
        """Bind on a free UDP port of ``host``."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=(host, 0))
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def _next(self, oid: Oid) -> Oid | None:
        keys = sorted(self.table)
        i = bisect.bisect_right(keys, oid)
        return keys[i] if i < len(keys) else None

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        """Answer one request from the table."""
        req = demo_ber.decode_request(data)
        self.received[req.pdu] = self.received.get(req.pdu, 0) + 1
        if req.pdu != demo_ber.GET and self.walk_silent:
            return
        v1 = req.version == 0
        vbs: list[bytes] = []
        status = index = 0
        if req.pdu == demo_ber.GET:
            for i, oid in enumerate(req.oids, 1):
                value = self.table.get(oid)
                if value is None and v1:
                    status, index = demo_ber.NO_SUCH_NAME, i
                    break
                vbs.append(demo_ber.varbind(encode_oid(oid), value or tlv(demo_ber.NO_SUCH_OBJECT, b"")))
        else:
            reps = req.max_repetitions if req.pdu == demo_ber.GETBULK else 1
            cursor = list(req.oids)
            for _ in range(max(1, reps)):
                for c, oid in enumerate(cursor):
                    nxt = self._next(oid)
                    if nxt is None:
                        if v1:
                            status, index = demo_ber.NO_SUCH_NAME, c + 1
                            break
                        vbs.append(demo_ber.varbind(encode_oid(oid), tlv(demo_ber.END_OF_MIB_VIEW, b"")))
                        continue
                    cursor[c] = nxt
                    vbs.append(demo_ber.varbind(encode_oid(nxt), self.table[nxt]))
                if status:
                    break
        if status:
            vbs = [demo_ber.varbind(encode_oid(o), tlv(demo_ber.NULL, b"")) for o in req.oids]
        assert self.transport is not None
        self.transport.sendto(
            demo_ber.encode_response(
                req.version, req.community, req.request_id, vbs, error_status=status, error_index=index
            ),
            addr,
        )

    def close(self) -> None:
        """Stop answering."""
        if self.transport is not None:
            self.transport.close()


def device_table(
    *, uptime_cs: int = 123_456, interfaces: int = 2, overrides: dict[Oid, bytes] | None = None
) -> dict[Oid, bytes]:
    """A small, correct device: the system group and ``interfaces`` ifTable/ifXTable rows."""
    sys_ = (1, 3, 6, 1, 2, 1, 1)
    table: dict[Oid, bytes] = {
        (*sys_, 1, 0): tlv(demo_ber.OCTET_STRING, b"scripted CPE"),
        (*sys_, 2, 0): encode_oid((1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)),
        (*sys_, 3, 0): encoded(demo_ber.TIMETICKS, uptime_cs),
        (*sys_, 5, 0): tlv(demo_ber.OCTET_STRING, b"scripted"),
        (1, 3, 6, 1, 2, 1, 2, 1, 0): encoded(demo_ber.INTEGER, interfaces),
    }
    if_ = (1, 3, 6, 1, 2, 1, 2, 2, 1)
    ifx = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
    for i in range(1, interfaces + 1):
        table |= {
            (*if_, 1, i): encoded(demo_ber.INTEGER, i),
            (*if_, 2, i): tlv(demo_ber.OCTET_STRING, f"port{i}".encode()),
            (*if_, 5, i): encoded(demo_ber.GAUGE32, 100_000_000),
            (*if_, 7, i): encoded(demo_ber.INTEGER, 1),
            (*if_, 8, i): encoded(demo_ber.INTEGER, 1),
            (*if_, 10, i): encoded(demo_ber.COUNTER32, 1000 * i),
            (*if_, 14, i): encoded(demo_ber.COUNTER32, 0),
            (*if_, 16, i): encoded(demo_ber.COUNTER32, 2000 * i),
            (*ifx, 1, i): tlv(demo_ber.OCTET_STRING, f"ge-0/0/{i}".encode()),
            (*ifx, 6, i): encoded(demo_ber.COUNTER64, 10_000 * i),
            (*ifx, 10, i): encoded(demo_ber.COUNTER64, 20_000 * i),
            (*ifx, 15, i): encoded(demo_ber.GAUGE32, 100),
        }
    return table | (overrides or {})


@dataclass
class ScriptedV3Agent(asyncio.DatagramProtocol):
    """An SNMPv3 agent (USM, authPriv SHA/AES-128) answering GETs from ``table``, with
    knobs that make it lie the ways a hostile or broken device does.

    Honest by default: discovery answered by an unauthenticated Report (usmStatsUnknown-
    EngineIDs) with its engine ID, a request outside the time window by an authenticated
    notInTimeWindow Report (RFC 3414 3.2 7a and 4), a GET by an encrypted Response.

    Knobs (``forge`` applies to the next ``forge_count`` authenticated requests):
        ``unauth_time``: an unauthenticated notInTimeWindow Report claiming boots/time 999;
        ``unauth_engine``: an unauthenticated unknownEngineID Report from another engine
        ID claiming boots/time 999; ``replay``: the Response, authenticated, but with an
        engine time 1,000 s old; ``model2``: the Response with msgSecurityModel 2;
        ``discovery_pdu``: the PDU type that answers discovery (a Response is wrong).

    Attributes:
        requests: ``(engine ID, boots)`` of every authenticated request received.
    """

    table: dict[Oid, bytes] = field(default_factory=dict)
    engine_id: bytes = b"\x80\x00\x1f\x88\x04scripted-v3"
    boots: int = 7
    user: bytes = b"netmon"
    auth_pass: bytes = b"auth-secret-1"
    priv_pass: bytes = b"priv-secret-1"
    forge: str = ""
    forge_count: int = 0
    discovery_pdu: int = PDU_REPORT
    requests: list[tuple[bytes, int]] = field(default_factory=list)
    transport: asyncio.DatagramTransport | None = field(default=None, repr=False)
    port: int = 0

    def __post_init__(self) -> None:
        self.engine = LocalEngine(self.engine_id, self.boots, time.monotonic() - 5000)
        self.keys = user_keys(AuthProtocol.SHA, PrivProtocol.AES128, self.auth_pass, self.priv_pass, self.engine_id)
        self._salt = 1

    async def start(self) -> ScriptedV3Agent:
        """Bind on a free loopback UDP port."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        self.transport = transport
        self.port = transport.get_extra_info("sockname")[1]
        return self

    def _send(self, addr: object, msg: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(msg, addr)

    def _message(
        self,
        env: Envelope,
        pdu: bytes,
        *,
        keys: UserKeys,
        engine_id: bytes | None = None,
        boots: int | None = None,
        etime: int | None = None,
    ) -> bytes:
        self._salt += 1
        return encode_v3(
            msg_id=env.msg_id,
            engine_id=self.engine_id if engine_id is None else engine_id,
            boots=self.engine.boots if boots is None else boots,
            engine_time=self.engine.time(time.monotonic()) if etime is None else etime,
            user=env.user,
            keys=keys,
            context=b"",
            pdu=pdu,
            salt=self._salt,
            reportable=False,
        )

    def _report(self, request_id: int, error: UsmError) -> bytes:
        vb = tlv(0x30, encode_oid(error.oid) + encoded(demo_ber.COUNTER32, 1))
        return tlv(PDU_REPORT, encode_integer(request_id) + encode_integer(0) + encode_integer(0) + tlv(0x30, vb))

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        """Answer one SNMPv3 request."""
        env = parse_v3(data)
        if not env.engine_id:  # discovery probe
            scoped = open_v3(data, env, UserKeys(), (demo_ber.GET,))
            pdu = self._report(scoped.pdu.request_id, UsmError.UNKNOWN_ENGINE_IDS)
            if self.discovery_pdu != PDU_REPORT:
                pdu = bytes((self.discovery_pdu,)) + pdu[1:]
            self._send(addr, self._message(env, pdu, keys=UserKeys()))
            return
        verify(data, env, self.keys)
        self.requests.append((env.engine_id, env.boots))
        if self.engine.check(env.boots, env.time, time.monotonic()) is not None:
            # Authenticated (authNoPriv), as RFC 3414 3.2 7a asks: it carries our clock.
            report = self._report(0, UsmError.NOT_IN_TIME_WINDOWS)
            auth_only = UserKeys(self.keys.auth, None, self.keys.auth_key)
            self._send(addr, self._message(env, report, keys=auth_only))
            return
        scoped = open_v3(data, env, self.keys, (demo_ber.GET,))
        rid = scoped.pdu.request_id
        forge = self.forge if self.forge_count > 0 else ""
        self.forge_count -= bool(forge)
        if forge == "unauth_time":
            pdu = self._report(rid, UsmError.NOT_IN_TIME_WINDOWS)
            self._send(addr, self._message(env, pdu, keys=UserKeys(), boots=999, etime=999))
            return
        if forge == "unauth_engine":
            pdu = self._report(rid, UsmError.UNKNOWN_ENGINE_IDS)
            msg = self._message(
                env, pdu, keys=UserKeys(), engine_id=b"\x80\x00\x1f\x88\x04impostor", boots=999, etime=999
            )
            self._send(addr, msg)
            return
        vbs = b"".join(
            demo_ber.varbind(encode_oid(o), self.table.get(o, tlv(demo_ber.NO_SUCH_OBJECT, b"")))
            for o, _v in scoped.pdu.varbinds
        )
        pdu = response_pdu(rid, vbs)
        etime = self.engine.time(time.monotonic()) - (1000 if forge == "replay" else 0)
        msg = self._message(env, pdu, keys=self.keys, etime=etime)
        if forge == "model2":  # the header's last INTEGER, msgSecurityModel: 3 -> 2
            _t, s, end = read_tlv(msg, 0, len(msg))
            _t, _s, pos = read_tlv(msg, s, end)
            _t, _hs, he = read_tlv(msg, pos, end)
            assert msg[he - 3 : he] == b"\x02\x01\x03"
            msg = msg[: he - 1] + b"\x02" + msg[he:]
        self._send(addr, msg)

    def close(self) -> None:
        """Stop answering."""
        if self.transport is not None:
            self.transport.close()
