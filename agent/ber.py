"""The BER primitives SNMP messages are made of: one codec for both ends of the wire.

The agent's SNMP client (:mod:`agent.snmp`) encodes requests and decodes responses with
these, and the demo's simulated devices (``netmon.demo.ber``) decode requests and encode
responses with the same functions, so the two cannot drift apart: a fix or a strictness
rule here holds for both. Only what SNMP needs (RFC 3416/3417 over X.690): definite
lengths, INTEGER and the unsigned application types, OBJECT IDENTIFIER, and reading a
TLV's bounds. Values are plain bytes and tuples, no ASN.1 objects: pyasn1's generic codec
costs tens of microseconds per message where these cost a few, and both the agent and the
demo handle a country's devices in one process.

Everything that reads raises :class:`BerError` on malformed input (never IndexError or a
bare ValueError), so callers can count bad messages with one ``except``.
"""

from __future__ import annotations

from typing import Final

Oid = tuple[int, ...]

# Universal and SNMP application tags (X.690, RFC 2578, RFC 3416).
INTEGER: Final = 0x02
OCTET_STRING: Final = 0x04
NULL: Final = 0x05
OBJECT_IDENTIFIER: Final = 0x06
SEQUENCE: Final = 0x30
IP_ADDRESS: Final = 0x40
COUNTER32: Final = 0x41
GAUGE32: Final = 0x42
TIMETICKS: Final = 0x43
OPAQUE: Final = 0x44
COUNTER64: Final = 0x46
UINTEGER32: Final = 0x47
NO_SUCH_OBJECT: Final = 0x80
NO_SUCH_INSTANCE: Final = 0x81
END_OF_MIB_VIEW: Final = 0x82

# PDU tags (RFC 3416, RFC 3412 for Report).
GET: Final = 0xA0
GETNEXT: Final = 0xA1
RESPONSE: Final = 0xA2
SET: Final = 0xA3
GETBULK: Final = 0xA5
REPORT: Final = 0xA8


class BerError(ValueError):
    """A message that is not valid BER, or not the SNMP message the reader expected."""


def encode_length(n: int) -> bytes:
    """Definite-length octets of a content length."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    """Tag, definite length and content."""
    return bytes((tag,)) + encode_length(len(content)) + content


def encode_integer(value: int, tag: int = INTEGER) -> bytes:
    """A minimal two's-complement INTEGER (or an unsigned application type given its tag).

    Counter32/Gauge32/TimeTicks/Counter64 are INTEGERs on the wire with another tag, so a
    value with its top bit set gets a leading zero octet, as X.690 requires.

    Raises:
        ValueError: A negative value for an unsigned tag.
    """
    if value >= 0:
        return tlv(tag, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))
    if tag != INTEGER:
        raise ValueError(f"unsigned type 0x{tag:02x} cannot hold {value}")
    # ~value == -value - 1: the magnitude whose bit length decides the minimal size.
    return tlv(tag, value.to_bytes((~value).bit_length() // 8 + 1, "big", signed=True))


def encode_oid_content(oid: Oid) -> bytes:
    """Content octets of an OBJECT IDENTIFIER (base-128 arcs, the first two merged).

    Raises:
        ValueError: Fewer than two arcs.
    """
    if len(oid) < 2:
        raise ValueError(f"an OID needs two arcs at least: {oid}")
    out = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        if arc < 0x80:
            out.append(arc)
            continue
        chunk = [arc & 0x7F]
        rest = arc >> 7
        while rest:
            chunk.append(0x80 | (rest & 0x7F))
            rest >>= 7
        out.extend(reversed(chunk))
    return bytes(out)


def encode_oid(oid: Oid) -> bytes:
    """An OBJECT IDENTIFIER TLV."""
    return tlv(OBJECT_IDENTIFIER, encode_oid_content(oid))


def decode_oid_content(raw: bytes | memoryview) -> Oid:
    """Arcs of an OBJECT IDENTIFIER's content octets.

    Raises:
        BerError: Empty, or the last arc is cut short (its last octet says "more follows").
    """
    if not raw or raw[-1] & 0x80:
        raise BerError("bad OID")
    arcs: list[int] = []
    acc = 0
    for b in raw:
        acc = (acc << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(acc)
            acc = 0
    first = arcs[0]
    head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
    return (*head, *arcs[1:])


def read_tlv(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """``(tag, content start, content end)`` of the TLV at ``pos``, within ``buf[:end]``.

    Definite lengths of up to four octets only, as SNMP messages use.

    Raises:
        BerError: Truncated, an indefinite or oversized length, or content past ``end``.
    """
    if pos + 2 > end:
        raise BerError("truncated header")
    tag = buf[pos]
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0 or k > 4 or pos + k > end:
            raise BerError("bad length")
        n = int.from_bytes(buf[pos : pos + k], "big")
        pos += k
    if pos + n > end:
        raise BerError("length beyond message")
    return tag, pos, pos + n


def read_integer(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """``(value, end of the TLV)`` of the INTEGER at ``pos``.

    Raises:
        BerError: Not an INTEGER, empty, or malformed.
    """
    tag, s, e = read_tlv(buf, pos, end)
    if tag != INTEGER or s == e:
        raise BerError("expected INTEGER")
    return int.from_bytes(buf[s:e], "big", signed=True), e
