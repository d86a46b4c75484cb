"""Neighbours a device reports: LLDP-MIB (IEEE 802.1AB) and Cisco's CDP cache.

The tables arrive as walked columns (column OID -> {row index: value}); this module turns
them into :class:`Neighbour` records. Pure: no I/O (the walk is in
:mod:`netmon.agent.discovery`). Quirks seen in real recordings:

* lldpRemTable rows are indexed by (timeMark, localPortNum, remIndex); the time mark is
  not zero on some devices (an H3C switch reports 1169175), so rows are matched to their
  management addresses by (localPortNum, remIndex), not by the whole index;
* a management address is not a column but part of lldpRemManAddrTable's index
  (subtype, length, octets), so that table is walked for one column and its indexes read;
* chassis ids are MAC addresses (subtype 4) on most devices, a network address (subtype
  5: an IANA address family octet, then the address) or a local text on others;
* the CDP cache gives the neighbour's address as raw octets under cdpCacheAddressType 1
  (IPv4), and its device id often carries a domain or a serial number in parentheses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Oid = tuple[int, ...]
#: Walked columns: column OID -> row index (the OID's tail under the column) -> value.
Columns = Mapping[Oid, Mapping[Oid, object]]

LLDP = (1, 0, 8802, 1, 1, 2, 1)
LLDP_LOC_CHASSIS_ID_SUBTYPE: Oid = (*LLDP, 3, 1, 0)
LLDP_LOC_CHASSIS_ID: Oid = (*LLDP, 3, 2, 0)
LLDP_LOC_SYS_NAME: Oid = (*LLDP, 3, 3, 0)
LLDP_LOCAL_SCALARS = (LLDP_LOC_CHASSIS_ID_SUBTYPE, LLDP_LOC_CHASSIS_ID, LLDP_LOC_SYS_NAME)

_LOC_PORT = (*LLDP, 3, 7, 1)
LLDP_LOC_PORT_ID: Oid = (*_LOC_PORT, 3)
LLDP_LOC_PORT_DESC: Oid = (*_LOC_PORT, 4)

_REM = (*LLDP, 4, 1, 1)
LLDP_REM_CHASSIS_ID_SUBTYPE: Oid = (*_REM, 4)
LLDP_REM_CHASSIS_ID: Oid = (*_REM, 5)
LLDP_REM_PORT_ID_SUBTYPE: Oid = (*_REM, 6)
LLDP_REM_PORT_ID: Oid = (*_REM, 7)
LLDP_REM_PORT_DESC: Oid = (*_REM, 8)
LLDP_REM_SYS_NAME: Oid = (*_REM, 9)
LLDP_REM_SYS_DESC: Oid = (*_REM, 10)
LLDP_REM_MAN_ADDR_IF_SUBTYPE: Oid = (*LLDP, 4, 2, 1, 3)

#: The LLDP columns walked for neighbours.
LLDP_COLUMNS: tuple[Oid, ...] = (
    LLDP_LOC_PORT_ID,
    LLDP_LOC_PORT_DESC,
    LLDP_REM_CHASSIS_ID_SUBTYPE,
    LLDP_REM_CHASSIS_ID,
    LLDP_REM_PORT_ID_SUBTYPE,
    LLDP_REM_PORT_ID,
    LLDP_REM_PORT_DESC,
    LLDP_REM_SYS_NAME,
    LLDP_REM_SYS_DESC,
    LLDP_REM_MAN_ADDR_IF_SUBTYPE,
)

_CDP = (1, 3, 6, 1, 4, 1, 9, 9, 23, 1, 2, 1, 1)
CDP_ADDRESS_TYPE: Oid = (*_CDP, 3)
CDP_ADDRESS: Oid = (*_CDP, 4)
CDP_DEVICE_ID: Oid = (*_CDP, 6)
CDP_DEVICE_PORT: Oid = (*_CDP, 7)
CDP_PLATFORM: Oid = (*_CDP, 8)
CDP_COLUMNS: tuple[Oid, ...] = (CDP_ADDRESS_TYPE, CDP_ADDRESS, CDP_DEVICE_ID, CDP_DEVICE_PORT, CDP_PLATFORM)

IF_NAME: Oid = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1, 1)
IF_DESCR: Oid = (1, 3, 6, 1, 2, 1, 2, 2, 1, 2)


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A device seen on one of this device's ports.

    Attributes:
        protocol: ``lldp`` or ``cdp``.
        local_port: This device's port it is seen on (name when known, else its number).
        chassis_id: Its chassis id as text (MAC ``aa:bb:..``, an address, or a name).
        port: Its port facing us.
        sys_name: Its system name (LLDP) or device id (CDP).
        sys_descr: Its description (LLDP) or platform (CDP).
        addresses: Its management addresses.
    """

    protocol: Literal["lldp", "cdp"]
    local_port: str
    chassis_id: str = ""
    port: str = ""
    sys_name: str = ""
    sys_descr: str = ""
    addresses: tuple[str, ...] = field(default=())


def text(value: object) -> str:
    """An octet string as text (UTF-8, invalid bytes replaced), trailing NULs dropped
    (some devices pad names)."""
    if isinstance(value, bytes):
        return value.rstrip(b"\x00").decode("utf-8", errors="replace").strip()
    if isinstance(value, int):
        return str(value)
    return ""


def mac(raw: bytes) -> str:
    """``aa:bb:cc:dd:ee:ff``."""
    return ":".join(f"{b:02x}" for b in raw)


def chassis_text(subtype: object, value: object) -> str:
    """A chassis (or port) id as a person reads it, by its LLDP subtype."""
    if not isinstance(value, bytes):
        return text(value)
    if subtype == 4 and len(value) == 6:  # macAddress
        return mac(value)
    if subtype == 5 and value:  # networkAddress: IANA family octet, then the address
        addr = _address(value[0], value[1:])
        if addr:
            return addr
    printable = all(32 <= b < 127 for b in value)
    if printable:
        return value.decode("ascii")
    return mac(value) if len(value) == 6 else value.hex()


def port_text(subtype: object, value: object) -> str:
    """A port id: MAC for subtype 3 (macAddress), an address for 4, else text."""
    if isinstance(value, bytes) and subtype == 3 and len(value) == 6:
        return mac(value)
    if isinstance(value, bytes) and subtype == 4 and value:
        return _address(value[0], value[1:]) or value.hex()
    return text(value)


def _address(family: int, raw: bytes) -> str:
    try:
        if family == 1 and len(raw) == 4:
            return str(ipaddress.IPv4Address(raw))
        if family == 2 and len(raw) == 16:
            return str(ipaddress.IPv6Address(raw))
    except ValueError:
        return ""
    return ""


def local_identity(scalars: Mapping[Oid, object]) -> tuple[str, str]:
    """This device's own (chassis id, system name) as LLDP advertises them."""
    return (
        chassis_text(scalars.get(LLDP_LOC_CHASSIS_ID_SUBTYPE), scalars.get(LLDP_LOC_CHASSIS_ID))
        if LLDP_LOC_CHASSIS_ID in scalars
        else "",
        text(scalars.get(LLDP_LOC_SYS_NAME)),
    )


def _port_names(cols: Columns, if_names: Mapping[int, str]) -> dict[int, str]:
    """lldpLocPortNum -> a name: the port's description or id, else the interface name
    of that number (lldpLocPortNum is the ifIndex on most devices)."""
    out: dict[int, str] = {}
    for col in (LLDP_LOC_PORT_ID, LLDP_LOC_PORT_DESC):
        for idx, value in cols.get(col, {}).items():
            if len(idx) == 1 and text(value):
                out[idx[0]] = text(value)
    for n, name in if_names.items():
        out.setdefault(n, name)
    return out


def lldp_neighbours(cols: Columns, if_names: Mapping[int, str] | None = None) -> list[Neighbour]:
    """The LLDP remote table's rows as neighbours, with their management addresses."""
    ports = _port_names(cols, if_names or {})
    addresses: dict[tuple[int, int], list[str]] = {}
    for idx in cols.get(LLDP_REM_MAN_ADDR_IF_SUBTYPE, {}):
        # (timeMark, localPortNum, remIndex, addrSubtype, addrLen, addr octets...)
        if len(idx) < 5 or len(idx) != 5 + idx[4]:
            continue
        addr = _address(idx[3], bytes(idx[5:]))
        if addr:
            addresses.setdefault((idx[1], idx[2]), []).append(addr)
    rows: dict[tuple[int, int, int], dict[Oid, object]] = {}
    for col in LLDP_COLUMNS[2:-1]:
        for idx, value in cols.get(col, {}).items():
            if len(idx) == 3:
                rows.setdefault((idx[0], idx[1], idx[2]), {})[col] = value
    out = []
    for (_, port, rem), row in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][2])):
        out.append(
            Neighbour(
                protocol="lldp",
                local_port=ports.get(port, str(port)),
                chassis_id=chassis_text(row.get(LLDP_REM_CHASSIS_ID_SUBTYPE), row.get(LLDP_REM_CHASSIS_ID)),
                port=port_text(row.get(LLDP_REM_PORT_ID_SUBTYPE), row.get(LLDP_REM_PORT_ID))
                or text(row.get(LLDP_REM_PORT_DESC)),
                sys_name=text(row.get(LLDP_REM_SYS_NAME)),
                sys_descr=text(row.get(LLDP_REM_SYS_DESC)),
                addresses=tuple(addresses.get((port, rem), ())),
            )
        )
    return out


def cdp_neighbours(cols: Columns, if_names: Mapping[int, str] | None = None) -> list[Neighbour]:
    """The CDP cache's rows (index: ifIndex, device index) as neighbours."""
    names = if_names or {}
    rows: dict[tuple[int, int], dict[Oid, object]] = {}
    for col in CDP_COLUMNS:
        for idx, value in cols.get(col, {}).items():
            if len(idx) == 2:
                rows.setdefault((idx[0], idx[1]), {})[col] = value
    out = []
    for (if_index, _), row in sorted(rows.items()):
        raw = row.get(CDP_ADDRESS)
        addr = _address(1, raw) if row.get(CDP_ADDRESS_TYPE) == 1 and isinstance(raw, bytes) else ""
        out.append(
            Neighbour(
                protocol="cdp",
                local_port=names.get(if_index, str(if_index)),
                port=text(row.get(CDP_DEVICE_PORT)),
                sys_name=text(row.get(CDP_DEVICE_ID)),
                sys_descr=text(row.get(CDP_PLATFORM)),
                addresses=(addr,) if addr else (),
            )
        )
    return out
