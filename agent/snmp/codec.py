"""SNMP message layouts over the BER primitives of :mod:`netmon.agent.ber`: requests out,
responses and notifications in, values as plain Python objects.

Only what the agent sends and reads: SNMPv1/v2c GET/GETNEXT/GETBULK requests, their
responses, v1 Trap and v2c Trap/InformRequest PDUs (and the Response that acknowledges
an inform), and the PDU inside an SNMPv3 scoped PDU (:mod:`netmon.agent.snmp.usm` wraps
it). Values are ints, bytes, OID tuples or one of four "no value" markers, never ASN.1
objects: pyasn1's generic codec costs tens of microseconds per message where this costs
a few, and the agent decodes every interface of every device every interval.

The decoders are strict: anything malformed raises :class:`~netmon.agent.ber.BerError`
(never IndexError or a bare ValueError), so a caller counts bad messages with one
``except``. An integer longer than any SNMP type allows (nine content octets: a
Counter64 with its leading zero) is malformed too, so a hostile device cannot make the
agent build thousand-digit numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from netmon.agent import ber
from netmon.agent.ber import BerError, Oid, decode_oid_content, encode_integer, encode_oid, read_integer, read_tlv, tlv

# --- values ------------------------------------------------------------------------------


class Special:
    """noSuchObject, noSuchInstance, endOfMibView, NULL: "no value" of one kind."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_SUCH_OBJECT: Final = Special("noSuchObject")
NO_SUCH_INSTANCE: Final = Special("noSuchInstance")
END_OF_MIB_VIEW: Final = Special("endOfMibView")
NULL: Final = Special("NULL")

#: A decoded value: integers (INTEGER, Counter32/64, Gauge32, TimeTicks), bytes (OCTET
#: STRING, IpAddress, Opaque), an OID, or a :class:`Special`.
Value = int | bytes | Oid | Special
VarBind = tuple[Oid, Value]

PDU_GET, PDU_NEXT, PDU_RESPONSE, PDU_BULK = ber.GET, ber.GETNEXT, ber.RESPONSE, ber.GETBULK
PDU_TRAP_V1: Final = 0xA4
PDU_INFORM: Final = 0xA6
PDU_TRAP: Final = 0xA7
PDU_REPORT: Final = ber.REPORT

_UNSIGNED_TAGS = frozenset({ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS, ber.COUNTER64, ber.UINTEGER32})
_SPECIAL_TAGS = {
    ber.NO_SUCH_OBJECT: NO_SUCH_OBJECT,
    ber.NO_SUCH_INSTANCE: NO_SUCH_INSTANCE,
    ber.END_OF_MIB_VIEW: END_OF_MIB_VIEW,
    ber.NULL: NULL,
}
#: The longest integer content of any SNMP type (Counter64 with a leading zero octet).
MAX_INTEGER_OCTETS = 9
_CACHE_MAX = 200_000

_vb_cache: dict[Oid, bytes] = {}
_oid_cache: dict[bytes, Oid] = {}


class Strict:
    """``with STRICT:`` turns the IndexError or ValueError of a decoder that read past
    what it checked into :class:`BerError`, so callers count bad input with one except."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, typ: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if exc is not None and isinstance(exc, IndexError | ValueError) and not isinstance(exc, BerError):
            raise BerError(str(exc)) from None


STRICT: Final = Strict()


def expect(buf: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int]:
    """``(content start, content end)`` of the TLV at ``pos``, which must have ``tag``."""
    t, s, e = read_tlv(buf, pos, end)
    if t != tag:
        raise BerError(f"bad {what}")
    return s, e


def varbind(oid: Oid) -> bytes:
    """SEQUENCE { oid, NULL }, cached: the same OIDs are asked every poll."""
    vb = _vb_cache.get(oid)
    if vb is None:
        if len(_vb_cache) > _CACHE_MAX:
            _vb_cache.clear()
        vb = _vb_cache[oid] = tlv(0x30, encode_oid(oid) + b"\x05\x00")
    return vb


def request_pdu(pdu: int, request_id: int, oids: Sequence[Oid], *, max_rep: int = 0) -> bytes:
    """A GET, GETNEXT or GETBULK PDU (non-repeaters 0) asking for ``oids``."""
    a, b = (0, max_rep) if pdu == PDU_BULK else (0, 0)
    body = encode_integer(request_id) + encode_integer(a) + encode_integer(b) + tlv(0x30, b"".join(map(varbind, oids)))
    return tlv(pdu, body)


def encode_request(
    version: int, community: bytes, pdu: int, request_id: int, oids: Sequence[Oid], *, max_rep: int = 0
) -> bytes:
    """An SNMPv1/v2c request message (GET, GETNEXT, or GETBULK with non-repeaters 0)."""
    return tlv(
        0x30,
        encode_integer(version) + tlv(0x04, community) + request_pdu(pdu, request_id, oids, max_rep=max_rep),
    )


def response_pdu(request_id: int, varbind_list: bytes) -> bytes:
    """A Response PDU (no error) carrying an already encoded var-bind list's content."""
    body = encode_integer(request_id) + encode_integer(0) + encode_integer(0) + tlv(0x30, varbind_list)
    return tlv(PDU_RESPONSE, body)


def encode_inform_ack(version: int, community: bytes, request_id: int, varbind_list: bytes) -> bytes:
    """The v2c Response that acknowledges an InformRequest: its request id and var-binds."""
    return tlv(0x30, encode_integer(version) + tlv(0x04, community) + response_pdu(request_id, varbind_list))


def _decode_oid(raw: bytes) -> Oid:
    """:func:`decode_oid_content`, cached: a poll gets the same OIDs back every time."""
    oid = _oid_cache.get(raw)
    if oid is not None:
        return oid
    oid = decode_oid_content(raw)
    if len(_oid_cache) > _CACHE_MAX:
        _oid_cache.clear()
    _oid_cache[raw] = oid
    return oid


def decode_varbinds(buf: bytes, pos: int, end: int) -> list[VarBind]:
    """The var-binds of the var-bind list content ``buf[pos:end]``."""
    varbinds: list[VarBind] = []
    while pos < end:
        t, vs, pos = read_tlv(buf, pos, end)
        if t != 0x30:
            raise BerError("bad var-bind")
        t, os_, oe = read_tlv(buf, vs, pos)
        if t != 0x06:
            raise BerError("var-bind without OID")
        oid = _decode_oid(buf[os_:oe])
        t, s, e = read_tlv(buf, oe, pos)
        value: Value
        if t in _UNSIGNED_TAGS:
            if e - s > MAX_INTEGER_OCTETS:
                raise BerError("integer too long")
            value = int.from_bytes(buf[s:e], "big")
        elif t == 0x02:
            if e - s > MAX_INTEGER_OCTETS:
                raise BerError("integer too long")
            value = int.from_bytes(buf[s:e], "big", signed=True)
        elif t == 0x06:
            value = _decode_oid(buf[s:e])
        elif t in _SPECIAL_TAGS:
            value = _SPECIAL_TAGS[t]
        else:  # OCTET STRING, IpAddress, Opaque, and tags we do not know: the bytes
            value = buf[s:e]
        varbinds.append((oid, value))
    return varbinds


@dataclass(frozen=True, slots=True)
class Pdu:
    """A decoded PDU of the request/response layout (everything but the v1 Trap).

    Attributes:
        tag: The PDU type (``PDU_RESPONSE``, ``PDU_REPORT``, ``PDU_TRAP``, ...).
        request_id: Its request id.
        status: error-status.
        index: error-index.
        varbinds: The var-binds.
        varbind_list: The var-bind list's content octets, as received (an inform's
            acknowledgement echoes them).
    """

    tag: int
    request_id: int
    status: int
    index: int
    varbinds: list[VarBind]
    varbind_list: bytes = b""


def decode_pdu(buf: bytes, pos: int, end: int, tags: tuple[int, ...]) -> Pdu:
    """The PDU at ``pos``; its type must be one of ``tags``."""
    tag, pos, pdu_end = read_tlv(buf, pos, end)
    if tag not in tags:
        raise BerError(f"unexpected PDU type {tag:#x}")
    request_id, pos = read_integer(buf, pos, pdu_end)
    status, pos = read_integer(buf, pos, pdu_end)
    index, pos = read_integer(buf, pos, pdu_end)
    pos, vbl_end = expect(buf, pos, pdu_end, 0x30, "var-bind list")
    return Pdu(tag, request_id, status, index, decode_varbinds(buf, pos, vbl_end), buf[pos:vbl_end])


def decode_response(buf: bytes) -> tuple[int, int, int, int, list[VarBind]]:
    """``(version, request_id, error_status, error_index, var-binds)`` of a v1/v2c response.

    Raises:
        BerError: Anything that is not a well-formed SNMPv1/v2c GetResponse.
    """
    with STRICT:
        s, end = expect(buf, 0, len(buf), 0x30, "message")
        version, pos = read_integer(buf, s, end)
        _s, pos = expect(buf, pos, end, 0x04, "community")
        p = decode_pdu(buf, pos, end, (PDU_RESPONSE,))
        return version, p.request_id, p.status, p.index, p.varbinds


# --- notifications (SNMPv1 Trap, SNMPv2 Trap and InformRequest) --------------------------

SNMP_TRAP_OID: Final = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
SYS_UPTIME_0: Final = (1, 3, 6, 1, 2, 1, 1, 3, 0)
_SNMP_TRAPS: Final = (1, 3, 6, 1, 6, 3, 1, 1, 5)
#: The generic traps (RFC 3418 snmpTraps, RFC 2863 for the link traps), by their v1
#: generic-trap number: a v1 trap is translated to its v2 OID as RFC 3584 3.1 says.
GENERIC_TRAPS: Final[dict[int, Oid]] = {
    0: (*_SNMP_TRAPS, 1),  # coldStart
    1: (*_SNMP_TRAPS, 2),  # warmStart
    2: (*_SNMP_TRAPS, 3),  # linkDown
    3: (*_SNMP_TRAPS, 4),  # linkUp
    4: (*_SNMP_TRAPS, 5),  # authenticationFailure
}


@dataclass(frozen=True, slots=True)
class Notification:
    """A trap or inform as the receiver needs it, whatever the SNMP version.

    Attributes:
        version: ``1``, ``2c`` or ``3``.
        pdu: ``PDU_TRAP_V1``, ``PDU_TRAP`` or ``PDU_INFORM``.
        trap_oid: snmpTrapOID.0 (for a v1 trap: its RFC 3584 translation).
        varbinds: The var-binds after sysUpTime.0 and snmpTrapOID.0 (v1: all of them).
        request_id: The request id (an inform's acknowledgement repeats it).
        varbind_list: The var-bind list as received (an inform's acknowledgement echoes it).
        community: The community (v1/v2c).
        agent_address: The v1 trap's agent-addr field (the sender may be a relay).
    """

    version: str
    pdu: int
    trap_oid: Oid
    varbinds: list[VarBind]
    request_id: int = 0
    varbind_list: bytes = b""
    community: bytes = b""
    agent_address: bytes = b""


def notification_from_pdu(version: str, pdu: Pdu, community: bytes = b"") -> Notification:
    """A v2c/v3 Trap or InformRequest PDU as a :class:`Notification`.

    RFC 3416 4.2.6: the first two var-binds are sysUpTime.0 and snmpTrapOID.0.
    """
    vbs = pdu.varbinds
    if len(vbs) < 2 or vbs[0][0] != SYS_UPTIME_0 or vbs[1][0] != SNMP_TRAP_OID or not isinstance(vbs[1][1], tuple):
        raise BerError("notification without sysUpTime.0 and snmpTrapOID.0")
    return Notification(version, pdu.tag, vbs[1][1], vbs[2:], pdu.request_id, pdu.varbind_list, community)


def _decode_v1_trap(buf: bytes, pos: int, end: int, community: bytes) -> Notification:
    """RFC 1157 Trap-PDU: enterprise, agent-addr, generic-trap, specific-trap, time-stamp, var-binds."""
    _tag, pos, pdu_end = read_tlv(buf, pos, end)
    s, pos = expect(buf, pos, pdu_end, 0x06, "v1 trap enterprise")
    enterprise = _decode_oid(buf[s:pos])
    s, pos = expect(buf, pos, pdu_end, ber.IP_ADDRESS, "v1 trap agent-addr")
    if pos - s != 4:
        raise BerError("bad v1 trap agent-addr")
    agent_address = buf[s:pos]
    generic, pos = read_integer(buf, pos, pdu_end)
    specific, pos = read_integer(buf, pos, pdu_end)
    _s, pos = expect(buf, pos, pdu_end, ber.TIMETICKS, "v1 trap time-stamp")
    vs, ve = expect(buf, pos, pdu_end, 0x30, "var-bind list")
    # RFC 3584 3.1: a generic trap becomes its snmpTraps OID; an enterprise-specific
    # one becomes enterprise.0.specific.
    trap_oid = GENERIC_TRAPS.get(generic) or (*enterprise, 0, specific)
    return Notification(
        "1", PDU_TRAP_V1, trap_oid, decode_varbinds(buf, vs, ve), community=community, agent_address=agent_address
    )


def decode_community_notification(buf: bytes) -> Notification:
    """A v1 Trap, or a v2c Trap or InformRequest, with its community.

    Raises:
        BerError: Malformed, or not one of those PDUs (a v1 message must carry a v1
            Trap, a v2c one a Trap or an InformRequest).
    """
    with STRICT:
        s, end = expect(buf, 0, len(buf), 0x30, "message")
        version, pos = read_integer(buf, s, end)
        cs, pos = expect(buf, pos, end, 0x04, "community")
        community = buf[cs:pos]
        if version == 0:
            if pos >= end or buf[pos] != PDU_TRAP_V1:
                raise BerError("SNMPv1 message that is not a Trap")
            return _decode_v1_trap(buf, pos, end, community)
        if version != 1:
            raise BerError(f"not SNMPv1/v2c (version {version})")
        pdu = decode_pdu(buf, pos, end, (PDU_TRAP, PDU_INFORM))
        return notification_from_pdu("2c", pdu, community)
