"""Device recordings: the OID trees the simulated devices answer with.

They are read from the ``.snmprec`` files of real devices shipped by the PyPI packages
``snmpsim-data`` and ``snmpsim`` (``oid|type|value`` lines, ``type`` the BER tag number,
an ``x`` suffix meaning a hex value). snmpsim-data 1.0.1 ships no Cisco/Huawei/ZTE
router, so the demo uses the closest real recordings it has:

- district and core routers: ``linux-full-walk`` (a net-snmp Linux router, full walk
  with ifTable and ifXTable);
- commune CPE: ``linksys-system`` (a Linksys BEFSX41 access router's system group) with
  a two-port IF-MIB table (wan0, lan0) synthesized in the same shape, since that
  recording has no interface table;
- switch: ``tripplite-poweralert`` from snmpsim-data (a networked appliance with
  ifTable), for inventories that have switches.

A few objects are dynamic per device (sysName, sysUpTime, interface octet counters);
their positions are listed in :attr:`Recording.dynamic`. Everything else is encoded once
and shared by every device that uses the recording.
"""

from __future__ import annotations

import bisect
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
    rows: dict[Oid, bytes] = {(1, 3, 6, 1, 2, 1, 2, 1, 0): ber.encode_integer(2)}
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


def _data_file(package: str, *parts: str) -> str:
    if find_spec(package) is None:
        raise FileNotFoundError(f"the PyPI package {package.replace('_', '-')} is not installed")
    ref = resources.files(package).joinpath(*parts)
    return ref.read_bytes().decode("utf-8", errors="replace")


#: Recording names -> (package, path inside it).
SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "linux-full-walk": ("snmpsim", ("data", "recorded", "linux-full-walk.snmprec")),
    "linksys-system": ("snmpsim", ("data", "recorded", "linksys-system.snmprec")),
    "tripplite-poweralert": ("snmpsim_data", ("data", "network", "appliance", "tripplite-poweralert.snmprec")),
}

#: Which recording each role answers with.
ROLE_RECORDING: dict[str, str] = {
    "core_router": "linux-full-walk",
    "district_router": "linux-full-walk",
    "commune_router": "linux-full-walk",
    "cpe": "linksys-system",
    "switch": "tripplite-poweralert",
    "server": "linux-full-walk",
    "other": "linksys-system",
}


@cache
def load(name: str) -> Recording:
    """A named recording (see :data:`SOURCES`), or a path to any ``.snmprec`` file.

    Raises:
        FileNotFoundError: The package or file is missing.
    """
    if name in SOURCES:
        package, parts = SOURCES[name]
        values = parse_snmprec(_data_file(package, *parts))
    else:
        values = parse_snmprec(Path(name).read_text(encoding="utf-8", errors="replace"))
        name = Path(name).stem
    if not any(o[: len(IF_ENTRY)] == IF_ENTRY for o in values):
        values.update(_cpe_interfaces())
    values.setdefault(SYS_NAME, ber.tlv(ber.OCTET_STRING, b""))
    values.setdefault(SYS_UPTIME, ber.encode_integer(0, ber.TIMETICKS))
    return build(name, values)
