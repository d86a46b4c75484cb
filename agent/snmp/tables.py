"""What the agent reads from a device, and how var-binds become checked values (pure).

The OIDs of the system group and of the interface columns, and the conversion of
decoded var-binds into :class:`SystemGroup` and :class:`~netmon.agent.counters.RawInterface`
rows. Values are checked against what their SMI type allows before they reach a sample:
a hostile or broken agent that answers ``ifOperStatus = 99``, a negative counter (an
INTEGER where a Counter belongs), a Counter32 wider than 32 bits, ``ifIndex = 0`` or a
60 KB ``ifDescr`` has that value dropped (or the row, for a bad index; the string cut to
255 octets) and the field named in :attr:`Checked.rejected`, so the poller can count it
and log it once per device. A value that is merely absent is not a rejection.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from netmon.agent.ber import Oid
from netmon.agent.counters import RawInterface
from netmon.agent.snmp.codec import Value

SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1, 0)
SYS_OBJECT_ID = (1, 3, 6, 1, 2, 1, 1, 2, 0)
SYS_UPTIME = (1, 3, 6, 1, 2, 1, 1, 3, 0)
SYS_NAME = (1, 3, 6, 1, 2, 1, 1, 5, 0)
#: ifNumber rides along with the system group: it sizes the interface walk.
IF_NUMBER = (1, 3, 6, 1, 2, 1, 2, 1, 0)
SYSTEM_OIDS = (SYS_DESCR, SYS_OBJECT_ID, SYS_UPTIME, SYS_NAME, IF_NUMBER)
#: HOST-RESOURCES-MIB hrSystemUptime: the host's uptime, where sysUpTime is the SNMP
#: agent's (which restarts without the device).
HR_SYSTEM_UPTIME = (1, 3, 6, 1, 2, 1, 25, 1, 1, 0)
#: SNMP-FRAMEWORK-MIB snmpEngineBoots/snmpEngineTime (an SNMPv3 reply carries them in
#: its header, so they are asked only over v1/v2c).
SNMP_ENGINE_BOOTS = (1, 3, 6, 1, 6, 3, 10, 2, 1, 2, 0)
SNMP_ENGINE_TIME = (1, 3, 6, 1, 6, 3, 10, 2, 1, 3, 0)
#: Asked with the system group when the device has them; a v1 device that answers
#: noSuchName for one is not asked for it again.
UPTIME_OIDS = (HR_SYSTEM_UPTIME, SNMP_ENGINE_BOOTS, SNMP_ENGINE_TIME)

_IF = (1, 3, 6, 1, 2, 1, 2, 2, 1)
_IFX = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)

#: The interface columns walked, by our field name.
IF_COLUMNS: dict[str, tuple[int, ...]] = {
    "descr": (*_IF, 2),
    "speed": (*_IF, 5),
    "admin_status": (*_IF, 7),
    "oper_status": (*_IF, 8),
    "in_octets32": (*_IF, 10),
    "in_discards": (*_IF, 13),
    "in_errors": (*_IF, 14),
    "out_octets32": (*_IF, 16),
    "out_discards": (*_IF, 19),
    "out_errors": (*_IF, 20),
    "name": (*_IFX, 1),
    "in_octets64": (*_IFX, 6),
    "out_octets64": (*_IFX, 10),
    "high_speed": (*_IFX, 15),
    "alias": (*_IFX, 18),
}
#: The MIB table each column belongs to (what a sample names when a walk fails).
IF_TABLE, IFX_TABLE = "ifTable", "ifXTable"
COLUMN_TABLE: Final = {name: IFX_TABLE if oid[: len(_IFX)] == _IFX else IF_TABLE for name, oid in IF_COLUMNS.items()}

U32 = (1 << 32) - 1
U64 = (1 << 64) - 1
I32 = (1 << 31) - 1
#: DisplayString is at most 255 octets (RFC 2579); longer is cut there.
MAX_TEXT = 255
#: Ranges of the integer columns (SMI type, or the enumeration IF-MIB defines).
_RANGES: Final[dict[str, tuple[int, int]]] = {
    "speed": (0, U32),
    "admin_status": (1, 3),
    "oper_status": (1, 7),
    "in_octets32": (0, U32),
    "out_octets32": (0, U32),
    "in_discards": (0, U32),
    "in_errors": (0, U32),
    "out_discards": (0, U32),
    "out_errors": (0, U32),
    "in_octets64": (0, U64),
    "out_octets64": (0, U64),
    "high_speed": (0, U32),
}


@dataclass(slots=True)
class Checked:
    """Fields whose value a device sent was impossible, in the order met (duplicates kept
    once)."""

    rejected: list[str] = field(default_factory=list)

    def reject(self, name: str) -> None:
        """Note a rejected field."""
        if name not in self.rejected:
            self.rejected.append(name)

    def integer(self, name: str, value: Value | None, lo: int, hi: int) -> int | None:
        """``value`` if it is an integer within ``lo..hi``; None (and a rejection unless
        absent or a "no such" marker) otherwise."""
        if isinstance(value, int):
            if lo <= value <= hi:
                return value
            self.reject(name)
        elif isinstance(value, bytes | tuple):
            self.reject(name)  # a string or an OID where a number belongs
        return None

    def text(self, name: str, value: Value | None) -> str | None:
        """``value`` decoded as UTF-8 (invalid octets replaced), cut to 255 octets."""
        if isinstance(value, bytes):
            if len(value) > MAX_TEXT:
                self.reject(name)
                value = value[:MAX_TEXT]
            return value.decode("utf-8", errors="replace")
        if isinstance(value, int | tuple):
            self.reject(name)
        return None


@dataclass(frozen=True, slots=True)
class SystemGroup:
    """The checked system group of one poll (None: absent or rejected)."""

    sys_name: str | None = None
    sys_descr: str | None = None
    sys_object_id: str | None = None
    sys_uptime_cs: int | None = None
    if_number: int | None = None
    hr_uptime_cs: int | None = None
    engine_boots: int | None = None
    engine_time: int | None = None


def system_group(values: Mapping[Oid, Value], chk: Checked) -> SystemGroup:
    """The system group out of a GET's var-binds."""
    oid = values.get(SYS_OBJECT_ID)
    object_id = None
    if isinstance(oid, tuple):
        object_id = ".".join(map(str, oid))
    elif isinstance(oid, int | bytes):
        chk.reject("sys_object_id")
    return SystemGroup(
        sys_name=chk.text("sys_name", values.get(SYS_NAME)),
        sys_descr=chk.text("sys_descr", values.get(SYS_DESCR)),
        sys_object_id=object_id,
        sys_uptime_cs=chk.integer("sys_uptime", values.get(SYS_UPTIME), 0, U32),
        if_number=chk.integer("if_number", values.get(IF_NUMBER), 0, I32),
        hr_uptime_cs=chk.integer("hr_system_uptime", values.get(HR_SYSTEM_UPTIME), 0, U32),
        engine_boots=chk.integer("engine_boots", values.get(SNMP_ENGINE_BOOTS), 1, I32),
        engine_time=chk.integer("engine_time", values.get(SNMP_ENGINE_TIME), 0, I32),
    )


def interface_rows(data: Mapping[int, Mapping[str, Value]], chk: Checked) -> tuple[RawInterface, ...]:
    """Interface rows by ifIndex (column values by :data:`IF_COLUMNS` name), checked."""
    rows = []
    for index in sorted(data):
        if not 1 <= index <= I32:
            chk.reject("if_index")  # InterfaceIndex is 1..2147483647: not a row we can name
            continue
        d = data[index]
        num = {name: chk.integer(name, d.get(name), lo, hi) for name, (lo, hi) in _RANGES.items()}
        hc_in, hc_out = num["in_octets64"], num["out_octets64"]
        bits = 64 if hc_in is not None and hc_out is not None else 32
        high, speed = num["high_speed"], num["speed"]
        # ifSpeed saturates at 4294967295 on links above 4 Gbit/s; ifHighSpeed (Mbit/s) is right then.
        speed_bps = high * 1_000_000 if high else speed
        descr = chk.text("descr", d.get("descr")) or ""
        rows.append(
            RawInterface(
                index=index,
                name=chk.text("name", d.get("name")) or descr or str(index),
                descr=descr,
                alias=chk.text("alias", d.get("alias")) or "",
                admin_status=num["admin_status"] or 1,
                oper_status=num["oper_status"] or 4,  # IF-MIB unknown(4): not said, or impossible
                speed_bps=speed_bps,
                in_octets=hc_in if bits == 64 else num["in_octets32"],
                out_octets=hc_out if bits == 64 else num["out_octets32"],
                counter_bits=bits,
                in_errors=num["in_errors"],
                out_errors=num["out_errors"],
                in_discards=num["in_discards"],
                out_discards=num["out_discards"],
            )
        )
    return tuple(rows)
