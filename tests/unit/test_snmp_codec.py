"""The agent's SNMP codec and SNMPv3 message layer, checked against an independent
implementation (pysnmp's message types encoded/decoded by pyasn1), and fuzzed: any input
either decodes or raises BerError, never anything else."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api

from netmon.agent.snmp import (
    END_OF_MIB_VIEW,
    NO_SUCH_INSTANCE,
    NO_SUCH_OBJECT,
    PDU_BULK,
    PDU_GET,
    PDU_NEXT,
    PDU_REPORT,
    PDU_RESPONSE,
    BerError,
    UserKeys,
    UsmError,
    UsmFailure,
    decode_response,
    encode_request,
    encode_v3,
    open_v3,
    parse_v3,
    read_tlv,
    user_keys,
    v3_msg_id,
)
from netmon.agent.snmp.usm import ScopedPdu
from netmon.config.credentials import AuthProtocol, PrivProtocol

V1 = api.PROTOCOL_MODULES[api.SNMP_VERSION_1]
V2 = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]

arc = st.integers(0, 2**32 - 1)
oids = st.tuples(st.integers(0, 2), st.integers(0, 39)).flatmap(
    lambda head: st.lists(arc, min_size=0, max_size=14).map(lambda rest: (*head, *rest))
)

# (pysnmp value, what our decoder must return)
values = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(lambda v: (V2.Integer(v), v)),
    st.integers(0, 2**32 - 1).map(lambda v: (V2.Counter32(v), v)),
    st.integers(0, 2**32 - 1).map(lambda v: (V2.Gauge32(v), v)),
    st.integers(0, 2**32 - 1).map(lambda v: (V2.TimeTicks(v), v)),
    st.integers(0, 2**64 - 1).map(lambda v: (V2.Counter64(v), v)),
    st.binary(max_size=300).map(lambda v: (V2.OctetString(v), v)),
    st.binary(min_size=4, max_size=4).map(lambda v: (V2.IpAddress(v), v)),
    oids.map(lambda o: (V2.ObjectIdentifier(o), o)),
    st.sampled_from(
        [
            (V2.NoSuchObject(""), NO_SUCH_OBJECT),
            (V2.NoSuchInstance(""), NO_SUCH_INSTANCE),
            (V2.EndOfMibView(""), END_OF_MIB_VIEW),
        ]
    ),
)


def response(request_id: int, varbinds: list[tuple[tuple[int, ...], Any]], status: int = 0, index: int = 0) -> bytes:
    pdu = V2.GetResponsePDU()
    V2.apiPDU.set_defaults(pdu)
    V2.apiPDU.set_request_id(pdu, request_id)
    V2.apiPDU.set_error_status(pdu, status)
    V2.apiPDU.set_error_index(pdu, index)
    V2.apiPDU.set_varbinds(pdu, varbinds)
    msg = V2.Message()
    V2.apiMessage.set_defaults(msg)
    V2.apiMessage.set_community(msg, "netmon-ro")
    V2.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


@settings(max_examples=120)
@given(
    request_id=st.integers(0, 2**31 - 1),
    status=st.integers(0, 18),
    vbs=st.lists(st.tuples(oids, values), max_size=40),
)
def test_decodes_what_pyasn1_encodes(request_id: int, status: int, vbs: list[tuple[Any, Any]]) -> None:
    raw = response(request_id, [(o, v[0]) for o, v in vbs], status, min(status, len(vbs)))
    version, rid, st_, idx, got = decode_response(raw)
    assert (version, rid, st_, idx) == (1, request_id, status, min(status, len(vbs)))
    assert got == [(o, v[1]) for o, v in vbs]


@settings(max_examples=80)
@given(
    request_id=st.integers(0, 2**31 - 1),
    pdu=st.sampled_from([PDU_GET, PDU_NEXT, PDU_BULK]),
    max_rep=st.integers(0, 200),
    version=st.sampled_from([0, 1]),
    community=st.binary(max_size=64),
    names=st.lists(oids, min_size=1, max_size=30),
)
def test_requests_decode_in_pyasn1(  # noqa: PLR0917 - hypothesis passes the drawn values by name
    request_id: int, pdu: int, max_rep: int, version: int, community: bytes, names: list[tuple[int, ...]]
) -> None:
    if version == 0 and pdu == PDU_BULK:
        return  # SNMPv1 has no GETBULK; the agent walks v1 with GETNEXT
    mod = V1 if version == 0 else V2
    raw = encode_request(version, community, pdu, request_id, names, max_rep=max_rep)
    msg, rest = decoder.decode(raw, asn1Spec=mod.Message())
    assert rest == b""
    assert int(msg["version"]) == version
    assert bytes(msg["community"]) == community
    p = mod.apiMessage.get_pdu(msg)
    assert int(mod.apiPDU.get_request_id(p)) == request_id
    assert [tuple(o) for o, _v in mod.apiPDU.get_varbinds(p)] == names
    if pdu == PDU_BULK:
        assert int(V2.apiBulkPDU.get_max_repetitions(p)) == max_rep
        assert int(V2.apiBulkPDU.get_non_repeaters(p)) == 0


@settings(max_examples=400)
@given(junk=st.binary(max_size=600))
def test_garbage_raises_only_ber_error(junk: bytes) -> None:
    with contextlib.suppress(BerError):
        decode_response(junk)


@settings(max_examples=150)
@given(
    vbs=st.lists(st.tuples(oids, values), min_size=1, max_size=10),
    cut=st.integers(1, 10_000),
    flip=st.tuples(st.integers(0, 10_000), st.integers(1, 255)),
)
def test_truncated_or_corrupted_responses_raise_only_ber_error(
    vbs: list[tuple[Any, Any]], cut: int, flip: tuple[int, int]
) -> None:
    raw = response(7, [(o, v[0]) for o, v in vbs])
    truncated = raw[: len(raw) - 1 - cut % len(raw)]
    corrupted = bytearray(raw)
    corrupted[flip[0] % len(raw)] ^= flip[1]
    for msg in (truncated, bytes(corrupted)):
        with contextlib.suppress(BerError):
            decode_response(msg)


def test_requests_are_not_responses() -> None:
    raw = encode_request(1, b"c", PDU_GET, 5, [(1, 3, 6, 1, 2, 1, 1, 3, 0)])
    try:
        decode_response(raw)
    except BerError as exc:
        assert "unexpected PDU type 0xa0" in str(exc)
    else:
        raise AssertionError("a GetRequest was accepted as a response")


ENGINE_ID = b"\x80\x00\x1f\x88\x04netmon-test"
BOOTS, TIME = 7, 1234


def _keys(auth: AuthProtocol | None, priv: PrivProtocol | None) -> UserKeys:
    return user_keys(auth, priv, b"auth-secret-1", b"priv-secret-1", ENGINE_ID)


def decode_v3(msg: bytes, keys: UserKeys, tags: tuple[int, ...] = (PDU_RESPONSE, PDU_REPORT)) -> ScopedPdu:
    return open_v3(msg, parse_v3(msg), keys, tags)


def wrap_v3(pdu: bytes, keys: UserKeys, *, salt: int = 0, msg_id: int = 5) -> bytes:
    return encode_v3(
        msg_id=msg_id,
        engine_id=ENGINE_ID,
        boots=BOOTS,
        engine_time=TIME,
        user=b"netmon",
        keys=keys,
        context=b"",
        pdu=pdu,
        salt=salt,
        reportable=False,
    )


def inner_pdu(raw: bytes) -> bytes:
    """The PDU inside a v2c message, to re-wrap as SNMPv3."""
    _t, s, end = read_tlv(raw, 0, len(raw))
    _t, _s, pos = read_tlv(raw, s, end)
    _t, _s, pos = read_tlv(raw, pos, end)
    return raw[pos:end]


levels = st.sampled_from(
    [(None, None), (AuthProtocol.MD5, None), (AuthProtocol.SHA, PrivProtocol.AES128)]
    + [
        (a, PrivProtocol.AES256)
        for a in (AuthProtocol.SHA224, AuthProtocol.SHA256, AuthProtocol.SHA384, AuthProtocol.SHA512)
    ]
    + [(AuthProtocol.SHA256, PrivProtocol.AES192)]
)


@settings(max_examples=60)
@given(
    level=levels,
    vbs=st.lists(st.tuples(oids, values), max_size=20),
    flip=st.integers(0, 10_000),
    salt=st.integers(0, 2**64 - 1),
)
def test_v3_messages_open_with_the_right_keys_and_not_when_tampered(
    level: tuple[AuthProtocol | None, PrivProtocol | None], vbs: list[tuple[Any, Any]], flip: int, salt: int
) -> None:
    keys = _keys(*level)
    msg = wrap_v3(inner_pdu(response(99, [(o, v[0]) for o, v in vbs])), keys, salt=salt)
    assert v3_msg_id(msg) == 5
    env = parse_v3(msg)
    assert (env.boots, env.time, env.engine_id, env.user) == (BOOTS, TIME, ENGINE_ID, b"netmon")
    scoped = decode_v3(msg, keys)
    assert (scoped.pdu.tag, scoped.pdu.request_id, scoped.context_engine_id) == (0xA2, 99, ENGINE_ID)
    assert scoped.pdu.varbinds == [(o, v[1]) for o, v in vbs]
    tampered = bytearray(msg)
    tampered[flip % len(msg)] ^= 0x01
    try:
        decode_v3(bytes(tampered), keys)
    except BerError:
        pass
    else:
        # Only an unauthenticated message may be altered unnoticed.
        assert level[0] is None


@settings(max_examples=300)
@given(junk=st.binary(max_size=400), level=levels)
def test_v3_garbage_raises_only_ber_error(junk: bytes, level: tuple[AuthProtocol | None, PrivProtocol | None]) -> None:
    keys = _keys(*level)
    with contextlib.suppress(BerError):
        decode_v3(b"\x30\x82\x01\x00\x02\x01\x03" + junk, keys)
    with contextlib.suppress(BerError):
        decode_v3(junk, keys)


@pytest.mark.parametrize(
    ("auth", "priv"),
    [(AuthProtocol.MD5, None), (AuthProtocol.SHA, None), (AuthProtocol.SHA, PrivProtocol.AES128)],
)
def test_a_response_below_the_profiles_security_level_is_refused(auth: AuthProtocol, priv: PrivProtocol | None) -> None:
    """A forged response sent without authentication must not skip the MAC check."""
    forged = wrap_v3(inner_pdu(response(99, [])), UserKeys())
    assert decode_v3(forged, UserKeys()).pdu.request_id == 99  # a well-formed noAuthNoPriv response
    with pytest.raises(UsmFailure) as err:
        decode_v3(forged, _keys(auth, priv))
    assert err.value.error is UsmError.UNSUPPORTED_SEC_LEVELS
