"""Device recordings: the OID trees the simulated devices answer with.

They are read from the ``.snmprec`` files of real devices shipped by the PyPI packages
``snmpsim-data`` and ``snmpsim`` (``oid|type|value`` lines, ``type`` the BER tag number,
an ``x`` suffix meaning a hex value). snmpsim-data keeps its vendor recordings
bz2-compressed (``.snmprec.bz2``); they are read with :mod:`bz2`. The demo's roles answer
as the vendors a provincial state data network buys:

- core, district and commune routers: ``huawei-s5720`` (a Huawei S5720-36C, VRP; 39
  interfaces with ifTable and ifXTable), filed by snmpsim-data under ``network/router``;
- commune CPE: ``zte-zxr10-5250`` (a ZTE ZXR10 5250-52TM-H) cut to the two ports a
  commune office uses, its gigabit uplink ``2/1`` and the office LAN port ``1/1``
  (ifNumber says 2): the recording's 52 ports would make every CPE poll 25 times the
  size of a real commune CPE's, and CPEs are nearly all of the devices;
- switch: ``cisco-c3560`` (a Cisco Catalyst 3560, IOS), for inventories with switches;
- servers: ``linux-full-walk`` (a net-snmp Linux host, full walk, from snmpsim).

The vendor recordings are full walks (the ZTE one has 390,000 lines); only the system
group, the interfaces group and ifXTable are kept, which is what the agent polls, so
startup stays fast (each recording is decompressed and parsed once per process) and
walks past ifXTable end in endOfMibView. ``linksys-system`` (a Linksys BEFSX41's system
group, with a two-port IF-MIB table wan0/lan0 synthesized in the same shape since the
recording has none) and ``tripplite-poweralert`` remain loadable by name.

A few objects are dynamic per device (sysName, sysUpTime, interface octet counters);
their positions are listed in :attr:`Recording.dynamic`. Everything else is encoded once
and shared by every device that uses the recording.
"""

from __future__ import annotations

import bisect
import bz2
import ipaddress
from dataclasses import dataclass, field
from enum import Enum
from functools import cache
from importlib import resources
from importlib.util import find_spec
from pathlib import Path

from netmon.demo import ber
from netmon.demo.ber import Oid, parse_oid

SYS_DESCR: Oid = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_OBJECT_ID: Oid = (1, 3, 6, 1, 2, 1, 1, 2, 0)
SYS_UPTIME: Oid = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SYS_NAME: Oid = (1, 3, 6, 1, 2, 1, 1, 5, 0)
IF_ENTRY: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX_ENTRY: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)
HR_SYSTEM_UPTIME: Oid = (1, 3, 6, 1, 2, 1, 25, 1, 1, 0)
IF_NUMBER: Oid = (1, 3, 6, 1, 2, 1, 2, 1, 0)


class Dyn(Enum):
    """What a dynamic object is computed from."""

    SYS_UPTIME = "sysUpTime"
    SYS_NAME = "sysName"
    IN_OCTETS = "ifInOctets"
    OUT_OCTETS = "ifOutOctets"
    HC_IN_OCTETS = "ifHCInOctets"
    HC_OUT_OCTETS = "ifHCOutOctets"


#: IF-MIB columns that advance with traffic: column OID -> kind.
_COUNTER_COLUMNS: dict[Oid, Dyn] = {
    (*IF_ENTRY, 10): Dyn.IN_OCTETS,
    (*IF_ENTRY, 16): Dyn.OUT_OCTETS,
    (*IFX_ENTRY, 6): Dyn.HC_IN_OCTETS,
    (*IFX_ENTRY, 10): Dyn.HC_OUT_OCTETS,
}


@dataclass(frozen=True)
class Recording:
    """A sorted OID tree with pre-encoded names and values.

    Attributes:
        name: Which recording (file stem), for the docs and logs.
        oids: Names in lexicographic order.
        enc_oids: Encoded OID TLV of each name.
        enc_values: Encoded value TLV of each name (the recorded value).
        dynamic: Position -> (kind, ifIndex) for objects computed per device.
        if_speeds: ifIndex -> speed in bit/s (bounds the simulated traffic).
    """

    name: str
    oids: list[Oid]
    enc_oids: list[bytes]
    enc_values: list[bytes]
    dynamic: dict[int, tuple[Dyn, int]] = field(default_factory=dict)
    if_speeds: dict[int, int] = field(default_factory=dict)

    def position(self, oid: Oid) -> int | None:
        """Index of an exact name, or None."""
        i = bisect.bisect_left(self.oids, oid)
        return i if i < len(self.oids) and self.oids[i] == oid else None

    def next_position(self, oid: Oid) -> int:
        """Index of the first name strictly after ``oid`` (``len`` at the end of the MIB)."""
        return bisect.bisect_right(self.oids, oid)

    def value(self, oid: Oid) -> bytes | None:
        """The recorded value TLV of a name."""
        i = self.position(oid)
        return None if i is None else self.enc_values[i]


def encode_value(tag: int, text: str, hexed: bool) -> bytes:
    """The TLV of a ``.snmprec`` value.

    Raises:
        ValueError: A value that does not fit its type.
    """
    if tag in (ber.OCTET_STRING, ber.OPAQUE):
        return ber.tlv(tag, bytes.fromhex(text) if hexed else text.encode("utf-8"))
    if tag == ber.INTEGER:
        return ber.encode_integer(int(text))
    if tag in (ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS, ber.COUNTER64):
        return ber.encode_integer(int(text), tag)
    if tag == ber.OBJECT_IDENTIFIER:
        return ber.encode_oid(parse_oid(text))
    if tag == ber.IP_ADDRESS:
        raw = bytes.fromhex(text) if hexed else ipaddress.IPv4Address(text).packed
        return ber.tlv(tag, raw)
    if tag == ber.NULL:
        return ber.tlv(tag, b"")
    raise ValueError(f"unsupported type tag {tag}")


def parse_snmprec(text: str) -> dict[Oid, bytes]:
    """Parse ``.snmprec`` text into encoded values; variation-module lines are skipped
    (they need snmpsim's runtime), as are malformed ones."""
    out: dict[Oid, bytes] = {}
    for line in text.splitlines():
        parts = line.rstrip("\r\n").split("|", 2)
        if len(parts) != 3 or ":" in parts[1]:
            continue
        oid_s, tag_s, value = parts
        hexed = tag_s.endswith("x")
        try:
            out[parse_oid(oid_s)] = encode_value(int(tag_s.rstrip("x")), value, hexed)
        except ValueError:
            continue
    return out


def build(name: str, values: dict[Oid, bytes]) -> Recording:
    """Sort, encode names and find the dynamic objects of a recording."""
    oids = sorted(values)
    rec = Recording(
        name=name,
        oids=oids,
        enc_oids=[ber.encode_oid(o) for o in oids],
        enc_values=[values[o] for o in oids],
    )
    for i, oid in enumerate(oids):
        if oid in (SYS_UPTIME, HR_SYSTEM_UPTIME):
            rec.dynamic[i] = (Dyn.SYS_UPTIME, 0)
        elif oid == SYS_NAME:
            rec.dynamic[i] = (Dyn.SYS_NAME, 0)
        elif oid[:-1] in _COUNTER_COLUMNS:
            rec.dynamic[i] = (_COUNTER_COLUMNS[oid[:-1]], oid[-1])
        elif len(oid) == len(IF_ENTRY) + 2 and oid[:-1] == (*IF_ENTRY, 5):
            rec.if_speeds[oid[-1]] = _unsigned(values[oid])
    return rec


def _unsigned(tlv_bytes: bytes) -> int:
    # The recorded Gauge32 TLV: tag, one length octet (speeds are short), content.
    return int.from_bytes(tlv_bytes[2:], "big")


def _cpe_interfaces() -> dict[Oid, bytes]:
    """A two-port access router's IF-MIB rows (wan0 towards the district, lan0 to the
    commune office), in the shape net-snmp reports them."""
    rows: dict[Oid, bytes] = {IF_NUMBER: ber.encode_integer(2)}
    ports = [(1, "wan0", "uplink to district", 100_000_000), (2, "lan0", "commune office LAN", 100_000_000)]
    for idx, name, alias, speed in ports:
        col = {
            1: ber.encode_integer(idx),
            2: ber.tlv(ber.OCTET_STRING, name.encode()),
            3: ber.encode_integer(6),  # ethernetCsmacd
            4: ber.encode_integer(1500),
            5: ber.encode_integer(speed, ber.GAUGE32),
            6: ber.tlv(ber.OCTET_STRING, bytes((0x00, 0x1A, 0x70, 0x00, 0x00, idx))),
            7: ber.encode_integer(1),
            8: ber.encode_integer(1),
            9: ber.encode_integer(0, ber.TIMETICKS),
            10: ber.encode_integer(0, ber.COUNTER32),
            11: ber.encode_integer(0, ber.COUNTER32),
            13: ber.encode_integer(0, ber.COUNTER32),
            14: ber.encode_integer(0, ber.COUNTER32),
            16: ber.encode_integer(0, ber.COUNTER32),
            17: ber.encode_integer(0, ber.COUNTER32),
            19: ber.encode_integer(0, ber.COUNTER32),
            20: ber.encode_integer(0, ber.COUNTER32),
        }
        for c, v in col.items():
            rows[(*IF_ENTRY, c, idx)] = v
        xcol = {
            1: ber.tlv(ber.OCTET_STRING, name.encode()),
            6: ber.encode_integer(0, ber.COUNTER64),
            10: ber.encode_integer(0, ber.COUNTER64),
            15: ber.encode_integer(speed // 1_000_000, ber.GAUGE32),
            18: ber.tlv(ber.OCTET_STRING, alias.encode()),
        }
        for c, v in xcol.items():
            rows[(*IFX_ENTRY, c, idx)] = v
    return rows


def _data_file(package: str, *parts: str) -> bytes:
    if find_spec(package) is None:
        raise FileNotFoundError(f"the PyPI package {package.replace('_', '-')} is not installed")
    raw = resources.files(package).joinpath(*parts).read_bytes()
    return bz2.decompress(raw) if parts[-1].endswith(".bz2") else raw


@dataclass(frozen=True)
class Source:
    """Where a named recording comes from, and what of it the demo keeps.

    Attributes:
        package: The PyPI package (import name) that ships it.
        path: Its path inside the package; ``.bz2`` files are decompressed.
        subtrees: OID prefixes (dotted, with a trailing dot) of the lines kept; empty
            keeps every line. Full walks of vendor devices are cut to what the agent polls.
        interfaces: ifIndexes kept in ifTable/ifXTable (ifNumber set to match); empty
            keeps them all.
    """

    package: str
    path: tuple[str, ...]
    subtrees: tuple[str, ...] = ()
    interfaces: tuple[int, ...] = ()


#: system group, interfaces group (ifNumber, ifTable), ifXTable.
_POLLED = ("1.3.6.1.2.1.1.", "1.3.6.1.2.1.2.", "1.3.6.1.2.1.31.1.1.")

#: Recording names -> where they come from.
SOURCES: dict[str, Source] = {
    "huawei-s5720": Source("snmpsim_data", ("data", "network", "router", "huawei-s5720.snmprec.bz2"), _POLLED),
    "zte-zxr10-5250": Source(  # ifIndex 49 is port 2/1 (gigabit uplink), 1 is 1/1 (office LAN)
        "snmpsim_data", ("data", "network", "switch", "zte-zxr10-5250.snmprec.bz2"), _POLLED, interfaces=(49, 1)
    ),
    "cisco-c3560": Source("snmpsim_data", ("data", "network", "switch", "cisco-c3560.snmprec.bz2"), _POLLED),
    "linux-full-walk": Source("snmpsim", ("data", "recorded", "linux-full-walk.snmprec")),
    "linksys-system": Source("snmpsim", ("data", "recorded", "linksys-system.snmprec")),
    "tripplite-poweralert": Source("snmpsim_data", ("data", "network", "appliance", "tripplite-poweralert.snmprec")),
}

#: Which recording each role answers with.
ROLE_RECORDING: dict[str, str] = {
    "core_router": "huawei-s5720",
    "district_router": "huawei-s5720",
    "commune_router": "huawei-s5720",
    "cpe": "zte-zxr10-5250",
    "switch": "cisco-c3560",
    "server": "linux-full-walk",
    "other": "linksys-system",
}


def _keep_lines(raw: bytes, subtrees: tuple[str, ...]) -> str:
    """The lines under ``subtrees`` (all lines if none), as text.

    Filtered as bytes before decoding: a full walk is tens of MB, and decoding and
    parsing it whole would be most of the demo's startup.
    """
    if not subtrees:
        return raw.decode("utf-8", errors="replace")
    prefixes = tuple(p.encode() for p in subtrees)
    return b"\n".join(line for line in raw.splitlines() if line.startswith(prefixes)).decode("utf-8", errors="replace")


def _keep_interfaces(values: dict[Oid, bytes], keep: tuple[int, ...]) -> None:
    """Drop ifTable/ifXTable rows of other ifIndexes; ifNumber counts what is left."""
    wanted = set(keep)
    for table in (IF_ENTRY, IFX_ENTRY):
        for oid in [o for o in values if o[: len(table)] == table]:
            if len(oid) != len(table) + 2 or oid[-1] not in wanted:  # (column, ifIndex) rows only
                del values[oid]
    values[IF_NUMBER] = ber.encode_integer(len(wanted))


@cache
def load(name: str) -> Recording:
    """A named recording (see :data:`SOURCES`), or a path to any ``.snmprec`` file.

    Raises:
        FileNotFoundError: The package or file is missing.
    """
    if name in SOURCES:
        src = SOURCES[name]
        values = parse_snmprec(_keep_lines(_data_file(src.package, *src.path), src.subtrees))
        if src.interfaces:
            _keep_interfaces(values, src.interfaces)
    else:
        values = parse_snmprec(Path(name).read_text(encoding="utf-8", errors="replace"))
        name = Path(name).stem
    if not any(o[: len(IF_ENTRY)] == IF_ENTRY for o in values):
        values.update(_cpe_interfaces())
    values.setdefault(SYS_NAME, ber.tlv(ber.OCTET_STRING, b""))
    values.setdefault(SYS_UPTIME, ber.encode_integer(0, ber.TIMETICKS))
    return build(name, values)
