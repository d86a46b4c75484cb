"""The SNMP messages the simulated devices answer, over the agent's BER codec (:mod:`agent.ber`).

Only what an SNMP v1/v2c command responder needs: decode a GET/GETNEXT/GETBULK/SET
request and encode a RESPONSE from pre-encoded varbinds. The BER primitives (lengths,
TLVs, INTEGER, OBJECT IDENTIFIER) are the agent's own, so the demo's devices and the
agent polling them cannot disagree about the encoding. It is pure and allocation-light
because one process answers a whole country's devices; pyasn1's generic codec spends
tens of microseconds per message where this spends a few (measured in
``bench/bench_demo.py``). Values are kept as their encoded TLV bytes, so a response is a
concatenation.
"""

from __future__ import annotations

from dataclasses import dataclass

# The BER primitives and tags are the agent's (agent.ber): the agent's client and these
# simulated devices speak through one codec. Re-exported here, where the demo, its tests
# and bench/bench_demo.py reach them as ``ber.<name>``.
from netmon.agent.ber import (
    COUNTER32,
    COUNTER64,
    END_OF_MIB_VIEW,
    GAUGE32,
    GET,
    GETBULK,
    GETNEXT,
    INTEGER,
    IP_ADDRESS,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    NULL,
    OBJECT_IDENTIFIER,
    OCTET_STRING,
    OPAQUE,
    RESPONSE,
    SEQUENCE,
    SET,
    TIMETICKS,
    BerError,
    Oid,
    decode_oid_content,
    encode_integer,
    encode_oid,
    read_integer,
    read_tlv,
    tlv,
)

__all__ = [
    "COUNTER32",
    "COUNTER64",
    "END_OF_MIB_VIEW",
    "GAUGE32",
    "GEN_ERR",
    "GET",
    "GETBULK",
    "GETNEXT",
    "INTEGER",
    "IP_ADDRESS",
    "NOT_WRITABLE",
    "NO_ERROR",
    "NO_SUCH_INSTANCE",
    "NO_SUCH_NAME",
    "NO_SUCH_OBJECT",
    "NULL",
    "OBJECT_IDENTIFIER",
    "OCTET_STRING",
    "OPAQUE",
    "READ_ONLY",
    "RESPONSE",
    "SEQUENCE",
    "SET",
    "TIMETICKS",
    "TOO_BIG",
    "BerError",
    "Oid",
    "Request",
    "decode_oid_content",
    "decode_request",
    "decode_response_values",
    "encode_integer",
    "encode_oid",
    "encode_request",
    "encode_response",
    "parse_oid",
    "tlv",
    "varbind",
]

#: error-status codes used in responses.
NO_ERROR = 0
TOO_BIG = 1
NO_SUCH_NAME = 2
READ_ONLY = 4
GEN_ERR = 5
NOT_WRITABLE = 17


def parse_oid(text: str) -> Oid:
    """``"1.3.6.1.2.1.1.3.0"`` (a leading dot allowed) as a tuple of arcs."""
    return tuple(int(x) for x in text.strip().lstrip(".").split("."))


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
    tag, pos, mend = read_tlv(buf, 0, end)
    if tag != SEQUENCE:
        raise BerError("message is not a SEQUENCE")
    version, e = read_integer(buf, pos, mend)
    if version not in (0, 1):
        raise BerError(f"SNMP version code {version} is not v1/v2c")
    tag, s, e = read_tlv(buf, e, mend)
    if tag != OCTET_STRING:
        raise BerError("community is not an OCTET STRING")
    community = buf[s:e]
    pdu, ps, pe = read_tlv(buf, e, mend)
    if pdu not in (GET, GETNEXT, GETBULK, SET):
        raise BerError(f"PDU 0x{pdu:02x} is not a request")
    fields = []
    pos = ps
    for _ in range(3):
        value, pos = read_integer(buf, pos, pe)
        fields.append(value)
    tag, vs, ve = read_tlv(buf, pos, pe)
    if tag != SEQUENCE:
        raise BerError("varbind list is not a SEQUENCE")
    oids: list[Oid] = []
    pos = vs
    while pos < ve:
        tag, s, e = read_tlv(buf, pos, ve)
        if tag != SEQUENCE:
            raise BerError("varbind is not a SEQUENCE")
        otag, os_, oe = read_tlv(buf, s, e)
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
    _, pos, mend = read_tlv(buf, 0, end)
    _, _, e = read_tlv(buf, pos, mend)
    _, _, e = read_tlv(buf, e, mend)
    _, ps, pe = read_tlv(buf, e, mend)
    pos = ps
    for _ in range(3):
        _, _, pos = read_tlv(buf, pos, pe)
    _, vs, ve = read_tlv(buf, pos, pe)
    out: list[tuple[Oid, int, bytes]] = []
    pos = vs
    while pos < ve:
        _, s, e = read_tlv(buf, pos, ve)
        _, os_, oe = read_tlv(buf, s, e)
        vtag, vcs, vce = read_tlv(buf, oe, e)
        out.append((decode_oid_content(buf[os_:oe]), vtag, bytes(buf[vcs:vce])))
        pos = e
    return out
