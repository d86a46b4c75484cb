"""The shared BER primitives (agent.ber) against pyasn1, and strict on bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import univ
from pysnmp.proto import rfc1902

from netmon.agent import ber, snmp
from netmon.demo import ber as demo_ber

oids = st.tuples(st.integers(0, 2), st.integers(0, 39), st.lists(st.integers(0, 2**32 - 1), max_size=12)).map(
    lambda t: (t[0], t[1], *t[2])
)


@given(st.integers(0, 2**64 - 1), st.sampled_from([ber.COUNTER64, ber.COUNTER32, ber.GAUGE32, ber.TIMETICKS]))
def test_unsigned_types_encode_like_pyasn1(n: int, tag: int) -> None:
    kinds = {
        ber.COUNTER64: rfc1902.Counter64,
        ber.COUNTER32: rfc1902.Counter32,
        ber.GAUGE32: rfc1902.Gauge32,
        ber.TIMETICKS: rfc1902.TimeTicks,
    }
    if tag != ber.COUNTER64:
        n %= 2**32
    assert ber.encode_integer(n, tag) == encoder.encode(kinds[tag](n))


def test_negative_unsigned_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        ber.encode_integer(-1, ber.COUNTER32)


@given(st.integers(-(2**70), 2**70))
def test_integers_read_back(n: int) -> None:
    enc = ber.encode_integer(n)
    assert ber.read_integer(enc, 0, len(enc)) == (n, len(enc))
    assert decoder.decode(enc, asn1Spec=univ.Integer())[0] == n


@given(oids)
def test_oids_round_trip(oid: tuple[int, ...]) -> None:
    enc = ber.encode_oid(oid)
    assert enc == encoder.encode(univ.ObjectIdentifier(oid))
    tag, s, e = ber.read_tlv(enc, 0, len(enc))
    assert (tag, e) == (ber.OBJECT_IDENTIFIER, len(enc))
    assert ber.decode_oid_content(enc[s:e]) == oid


@pytest.mark.parametrize("raw", [b"", b"\x2b\x06\x81", b"\x2b\x86\x80"])
def test_empty_or_cut_oids_are_typed_errors(raw: bytes) -> None:
    with pytest.raises(ber.BerError):
        ber.decode_oid_content(raw)


@pytest.mark.parametrize(
    "buf", [b"\x02", b"\x02\x02\x01", b"\x02\x80\x01", b"\x02\x85\x00\x00\x00\x00\x01\x01", b"\x04\x00"]
)
def test_bad_tlvs_and_integers_are_typed_errors(buf: bytes) -> None:
    with pytest.raises(ber.BerError):
        ber.read_integer(buf, 0, len(buf))


def test_agent_and_demo_share_one_codec() -> None:
    # One implementation: the demo's names and the agent client's are the same objects.
    assert demo_ber.BerError is snmp.BerError is ber.BerError
    assert demo_ber.read_tlv is snmp.read_tlv is ber.read_tlv
    assert demo_ber.encode_oid is ber.encode_oid
    assert demo_ber.decode_oid_content is ber.decode_oid_content
