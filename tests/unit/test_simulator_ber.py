"""The demo's compact BER codec agrees with pyasn1 (the reference codec) and with itself."""

from __future__ import annotations

import contextlib

from hypothesis import given
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pyasn1.type import univ
from pysnmp.proto import api

from netmon.demo import ber, recording, simulator

arcs = st.lists(st.integers(0, 2**32 - 1), min_size=0, max_size=12)
oids = st.tuples(st.integers(0, 2), st.integers(0, 39), arcs).map(lambda t: (t[0], t[1], *t[2]))


@given(st.integers(-(2**63), 2**63))
def test_integers_decode_in_pyasn1(n: int) -> None:
    # pyasn1 pads some negatives (-128 as ff 80); ours is minimal, and pyasn1 reads it back.
    enc = ber.encode_integer(n)
    value, rest = decoder.decode(enc, asn1Spec=univ.Integer())
    assert (int(value), rest) == (n, b"")
    assert enc[1] == len(enc) - 2
    assert len(enc) == 3 or enc[2:4] not in (b"\x00\x00", b"\xff\xff")


@given(oids)
def test_oids_round_trip_and_encode_like_pyasn1(oid: tuple[int, ...]) -> None:
    enc = ber.encode_oid(oid)
    assert enc == encoder.encode(univ.ObjectIdentifier(oid))
    assert ber.decode_oid_content(enc[2:] if enc[1] < 0x80 else enc[2 + (enc[1] & 0x7F) :]) == oid


@given(st.lists(oids, min_size=1, max_size=20), st.integers(0, 2**31 - 1), st.sampled_from([ber.GET, ber.GETNEXT]))
def test_pysnmp_built_requests_decode(names: list[tuple[int, ...]], req_id: int, pdu_tag: int) -> None:
    p = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
    pdu = p.GetRequestPDU() if pdu_tag == ber.GET else p.GetNextRequestPDU()
    p.apiPDU.set_defaults(pdu)
    p.apiPDU.set_request_id(pdu, req_id)
    p.apiPDU.set_varbinds(pdu, [(o, p.Null("")) for o in names])
    msg = p.Message()
    p.apiMessage.set_defaults(msg)
    p.apiMessage.set_community(msg, "public")
    p.apiMessage.set_pdu(msg, pdu)
    req = ber.decode_request(encoder.encode(msg))
    assert (req.version, req.community, req.pdu, req.request_id) == (1, b"public", pdu_tag, req_id)
    assert req.oids == tuple(names)


@given(st.binary(max_size=200))
def test_garbage_is_a_typed_error(data: bytes) -> None:
    with contextlib.suppress(ber.BerError):
        ber.decode_request(data)


@given(st.integers(0, 50), st.integers(0, 3))
def test_getbulk_walks_in_order_without_repeating(max_rep: int, non_rep: int) -> None:
    rec = recording.load("linksys-system")
    dev = simulator.SimDevice(spec=simulator.DeviceSpec("c", "127.1.0.1", rec), boot_time=0.0)
    dev.name_tlv = ber.tlv(ber.OCTET_STRING, b"c")
    start = [(1, 3, 6, 1, 2, 1, 1), (1, 3, 6, 1, 2, 1, 2, 2, 1, 2), (1, 3, 6, 1, 2, 1, 31), (1, 3, 6, 1, 2, 1, 2)]
    msg = ber.encode_request(1, b"x", ber.GETBULK, 9, start, non_repeaters=non_rep, max_repetitions=max_rep)
    out = ber.decode_response_values(simulator.answer(dev, ber.decode_request(msg), 100.0))
    nr = min(non_rep, len(start))
    rest = len(start) - nr
    assert len(out) <= nr + rest * max_rep
    for j in range(rest):  # each repeater's column strictly increases
        col = [o for o, tag, _ in out[nr + j :: rest] if tag != ber.END_OF_MIB_VIEW]
        assert col == sorted(col)
        assert len(set(col)) == len(col)
    for oid, tag, _ in out:
        assert tag == ber.END_OF_MIB_VIEW or rec.position(oid) is not None
