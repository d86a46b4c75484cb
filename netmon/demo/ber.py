"""A compact BER codec for the SNMP messages the simulated devices answer.

Only what an SNMP v1/v2c command responder needs: decode a GET/GETNEXT/GETBULK/SET
request and encode a RESPONSE from pre-encoded varbinds. It is pure and allocation-light
because one process answers a whole country's devices; pyasn1's generic codec spends
tens of microseconds per message where this spends a few (measured in
``bench/bench_demo.py``). Values are kept as their encoded TLV bytes, so a response is a
concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass

# Universal and SNMP application tags (RFC 1155/2578, RFC 3416).
INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06
SEQUENCE = 0x30
IP_ADDRESS = 0x40
COUNTER32 = 0x41
GAUGE32 = 0x42
TIMETICKS = 0x43
OPAQUE = 0x44
COUNTER64 = 0x46
NO_SUCH_OBJECT = 0x80
NO_SUCH_INSTANCE = 0x81
END_OF_MIB_VIEW = 0x82

GET = 0xA0
GETNEXT = 0xA1
RESPONSE = 0xA2
SET = 0xA3
GETBULK = 0xA5

#: error-status codes used in responses.
NO_ERROR = 0
TOO_BIG = 1
NO_SUCH_NAME = 2
READ_ONLY = 4
GEN_ERR = 5
NOT_WRITABLE = 17

Oid = tuple[int, ...]


class BerError(ValueError):
    """A message that is not valid BER or not an SNMP request we answer."""


def encode_length(n: int) -> bytes:
    """Definite-length octets of a content length."""
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def tlv(tag: int, content: bytes) -> bytes:
    """Tag, length and content."""
    return bytes((tag,)) + encode_length(len(content)) + content


def encode_integer(value: int, tag: int = INTEGER) -> bytes:
    """A two's-complement INTEGER (or an unsigned application type given its tag)."""
    if tag != INTEGER and value < 0:
        raise ValueError(f"unsigned type 0x{tag:02x} cannot hold {value}")
    n = (value.bit_length() + 8) // 8 if value >= 0 else ((-value - 1).bit_length() + 8) // 8
    return tlv(tag, value.to_bytes(max(n, 1), "big", signed=True))


def encode_oid_content(oid: Oid) -> bytes:
    """Content octets of an OBJECT IDENTIFIER."""
    if len(oid) < 2:
        raise ValueError(f"an OID needs two arcs at least: {oid}")
    out = bytearray()
    for arc in (oid[0] * 40 + oid[1], *oid[2:]):
        if arc < 0x80:
            out.append(arc)
            continue
        chunk = bytearray()
        rest = arc
        while rest:
            chunk.append(rest & 0x7F)
            rest >>= 7
        chunk.reverse()
        for i in range(len(chunk) - 1):
            chunk[i] |= 0x80
        out += chunk
    return bytes(out)


def encode_oid(oid: Oid) -> bytes:
    """An OBJECT IDENTIFIER TLV."""
    return tlv(OBJECT_IDENTIFIER, encode_oid_content(oid))


def decode_oid_content(data: bytes | memoryview) -> Oid:
    """Arcs of an OBJECT IDENTIFIER's content octets."""
    arcs: list[int] = []
    acc = 0
    for b in bytes(data):
        acc = (acc << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(acc)
            acc = 0
    if not arcs:
        raise BerError("empty OID")
    first = arcs[0]
    head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
    return (*head, *arcs[1:])


def parse_oid(text: str) -> Oid:
    """``"1.3.6.1.2.1.1.3.0"`` (a leading dot allowed) as a tuple of arcs."""
    return tuple(int(x) for x in text.strip().lstrip(".").split("."))


def _read(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """Tag, content start and content end of the TLV at ``pos``."""
    if pos + 2 > end:
        raise BerError("truncated TLV")
    tag = buf[pos]
    length = buf[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > end:
            raise BerError("unsupported or truncated length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    if pos + length > end:
        raise BerError("content runs past the message")
    return tag, pos, pos + length


def _int(buf: bytes, start: int, end: int) -> int:
    if start == end:
        raise BerError("empty INTEGER")
    return int.from_bytes(buf[start:end], "big", signed=True)


@dataclass(frozen=True, slots=True)
class Request:
    """A decoded SNMP request.

    Attributes:
        version: 0 for v1, 1 for v2c.
        community: The community string.
        pdu: The PDU tag (GET, GETNEXT, GETBULK, SET, ...).
        request_id: To be echoed in the response.
        non_repeaters: GETBULK's non-repeaters (0 otherwise).
        max_repetitions: GETBULK's max-repetitions (0 otherwise).
        oids: The requested names, in order.
    """

    version: int
    community: bytes
    pdu: int
    request_id: int
    non_repeaters: int
    max_repetitions: int
    oids: tuple[Oid, ...]


def decode_request(buf: bytes) -> Request:
    """Decode a v1/v2c request message.

    Raises:
        BerError: Not BER, not an SNMP v1/v2c message, or not a request PDU.
    """
    end = len(buf)
    tag, pos, mend = _read(buf, 0, end)
    if tag != SEQUENCE:
        raise BerError("message is not a SEQUENCE")
    tag, s, e = _read(buf, pos, mend)
    if tag != INTEGER:
        raise BerError("version is not an INTEGER")
    version = _int(buf, s, e)
    if version not in (0, 1):
        raise BerError(f"SNMP version code {version} is not v1/v2c")
    tag, s, e = _read(buf, e, mend)
    if tag != OCTET_STRING:
        raise BerError("community is not an OCTET STRING")
    community = buf[s:e]
    pdu, ps, pe = _read(buf, e, mend)
    if pdu not in (GET, GETNEXT, GETBULK, SET):
        raise BerError(f"PDU 0x{pdu:02x} is not a request")
    fields = []
    pos = ps
    for _ in range(3):
        tag, s, e = _read(buf, pos, pe)
        if tag != INTEGER:
            raise BerError("PDU header field is not an INTEGER")
        fields.append(_int(buf, s, e))
        pos = e
    tag, vs, ve = _read(buf, pos, pe)
    if tag != SEQUENCE:
        raise BerError("varbind list is not a SEQUENCE")
    oids: list[Oid] = []
    pos = vs
    while pos < ve:
        tag, s, e = _read(buf, pos, ve)
        if tag != SEQUENCE:
            raise BerError("varbind is not a SEQUENCE")
        otag, os_, oe = _read(buf, s, e)
        if otag != OBJECT_IDENTIFIER:
            raise BerError("varbind name is not an OID")
        oids.append(decode_oid_content(buf[os_:oe]))
        pos = e
    bulk = pdu == GETBULK
    return Request(
        version=version,
        community=bytes(community),
        pdu=pdu,
        request_id=fields[0],
        non_repeaters=max(fields[1], 0) if bulk else 0,
        max_repetitions=max(fields[2], 0) if bulk else 0,
        oids=tuple(oids),
    )


def varbind(enc_oid: bytes, enc_value: bytes) -> bytes:
    """One varbind from an encoded name and value."""
    return tlv(SEQUENCE, enc_oid + enc_value)


def encode_response(
    version: int,
    community: bytes,
    request_id: int,
    varbinds: list[bytes],
    *,
    error_status: int = 0,
    error_index: int = 0,
) -> bytes:
    """A RESPONSE message around encoded varbinds."""
    pdu = tlv(
        RESPONSE,
        encode_integer(request_id)
        + encode_integer(error_status)
        + encode_integer(error_index)
        + tlv(SEQUENCE, b"".join(varbinds)),
    )
    return tlv(SEQUENCE, encode_integer(version) + tlv(OCTET_STRING, community) + pdu)


def encode_request(
    version: int,
    community: bytes,
    pdu: int,
    request_id: int,
    oids: list[Oid],
    *,
    non_repeaters: int = 0,
    max_repetitions: int = 0,
) -> bytes:
    """A request message (for tests and the benchmark's load generator)."""
    vbs = b"".join(varbind(encode_oid(o), tlv(NULL, b"")) for o in oids)
    body = (
        encode_integer(request_id)
        + encode_integer(non_repeaters)
        + encode_integer(max_repetitions)
        + tlv(SEQUENCE, vbs)
    )
    return tlv(SEQUENCE, encode_integer(version) + tlv(OCTET_STRING, community) + tlv(pdu, body))


def decode_response_values(buf: bytes) -> list[tuple[Oid, int, bytes]]:
    """``(oid, tag, content)`` of each varbind of a response (for tests and benches)."""
    end = len(buf)
    _, pos, mend = _read(buf, 0, end)
    _, _, e = _read(buf, pos, mend)
    _, _, e = _read(buf, e, mend)
    _, ps, pe = _read(buf, e, mend)
    pos = ps
    for _ in range(3):
        _, _, pos = _read(buf, pos, pe)
    _, vs, ve = _read(buf, pos, pe)
    out: list[tuple[Oid, int, bytes]] = []
    pos = vs
    while pos < ve:
        _, s, e = _read(buf, pos, ve)
        _, os_, oe = _read(buf, s, e)
        vtag, vcs, vce = _read(buf, oe, e)
        out.append((decode_oid_content(buf[os_:oe]), vtag, bytes(buf[vcs:vce])))
        pos = e
    return out
