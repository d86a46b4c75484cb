"""SNMPv3 USM (agent.snmp.usm): known answers from the RFCs, the time window of RFC 3414
3.2 step 7, and the header checks of RFC 3412 7.2. Pure: no socket, no event loop."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.type import univ
from pysnmp.proto.secmod.rfc3414 import localkey

from netmon.agent.ber import BerError, encode_integer, tlv
from netmon.agent.snmp import (
    PDU_GET,
    PDU_REPORT,
    PDU_RESPONSE,
    LocalEngine,
    RemoteEngine,
    UserKeys,
    UsmError,
    UsmFailure,
    encode_v3,
    localized_key,
    open_v3,
    parse_v3,
    password_key,
    user_keys,
)
from netmon.agent.snmp.codec import NULL, request_pdu, response_pdu
from netmon.agent.snmp.usm import MAC_LEN, REPORTS, TIME_WINDOW_S, digest
from netmon.config.credentials import AuthProtocol, PrivProtocol

# RFC 3414 A.3: password "maplesyrup", snmpEngineID 00 00 00 00 00 00 00 00 00 00 00 02.
RFC_ENGINE = bytes(11) + b"\x02"


@pytest.mark.parametrize(
    ("auth", "password", "ku", "kul"),
    [
        # A.3.1 (MD5) and A.3.2 (SHA): password to key, then key localisation.
        (
            AuthProtocol.MD5,
            b"maplesyrup",
            "9faf3283884e92834ebc9847d8edd963",
            "526f5eed9fcce26f8964c2930787d82b",
        ),
        (
            AuthProtocol.SHA,
            b"maplesyrup",
            "9fb5cc0381497b3793528939ff788d5d79145211",
            "6695febc9288e36282235fc7151f128497b38f3f",
        ),
        # A.5.1 and A.5.2: the new keys of the key-change example ("newsyrup").
        (AuthProtocol.MD5, b"newsyrup", None, "87021d7bd9d101ba05ea6e3bf9d9bd4a"),
        (AuthProtocol.SHA, b"newsyrup", None, "78e2dcce79d59403b58c1bbaa5bff46391f1cd25"),
    ],
)
def test_rfc3414_appendix_a_password_to_key_and_localisation(
    auth: AuthProtocol, password: bytes, ku: str | None, kul: str
) -> None:
    if ku is not None:
        assert password_key(password, auth).hex() == ku
    assert localized_key(password, auth, RFC_ENGINE).hex() == kul


# RFC 7860 4.2 truncates HMAC-SHA-2 to 16/24/32/48 octets; the HMAC values are RFC 4231's
# (test cases 1 and 2), RFC 2202's for MD5 and SHA-1.
HMAC_VECTORS = {
    AuthProtocol.MD5: ("9294727a3638bb1c13f48ef8158bfc9d", "750c783e6ab0b503eaa86e310a5db738"),
    AuthProtocol.SHA: ("b617318655057264e28bc0b6fb378c8ef146be00", "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
    AuthProtocol.SHA224: (
        "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
        "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
    ),
    AuthProtocol.SHA256: (
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    ),
    AuthProtocol.SHA384: (
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
    ),
    AuthProtocol.SHA512: (
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
        "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    ),
}


@pytest.mark.parametrize("auth", list(AuthProtocol))
def test_digests_are_the_rfc_hmacs_truncated_as_rfc_3414_and_7860_say(auth: AuthProtocol) -> None:
    k1 = b"\x0b" * (16 if auth is AuthProtocol.MD5 else 20)  # RFC 2202 test case 1 uses 16 octets for MD5
    m1, k2, m2 = b"Hi There", b"Jefe", b"what do ya want for nothing?"
    full1, full2 = HMAC_VECTORS[auth]
    n = MAC_LEN[auth]
    assert n == {"MD5": 12, "SHA": 12, "SHA-224": 16, "SHA-256": 24, "SHA-384": 32, "SHA-512": 48}[auth.value]
    assert digest(auth, k1, m1).hex() == full1[: 2 * n]
    assert digest(auth, k2, m2).hex() == full2[: 2 * n]


@pytest.mark.parametrize("auth", [AuthProtocol.SHA224, AuthProtocol.SHA256, AuthProtocol.SHA384, AuthProtocol.SHA512])
def test_sha2_key_localisation_agrees_with_pysnmp(auth: AuthProtocol) -> None:
    """RFC 7860 publishes no password-to-key vectors: the RFC 3414 A.2 algorithm with the
    SHA-2 hash, checked against pysnmp's independent implementation."""
    h = {
        AuthProtocol.SHA224: hashlib.sha224,
        AuthProtocol.SHA256: hashlib.sha256,
        AuthProtocol.SHA384: hashlib.sha384,
        AuthProtocol.SHA512: hashlib.sha512,
    }[auth]
    theirs = bytes(localkey.password_to_key(b"maplesyrup", univ.OctetString(RFC_ENGINE), h))
    assert localized_key(b"maplesyrup", auth, RFC_ENGINE) == theirs
    assert len(theirs) == h().digest_size


def test_aes_keys_are_localised_keys_extended_blumenthal_style() -> None:
    keys = user_keys(AuthProtocol.SHA, PrivProtocol.AES256, b"maplesyrup", b"maplesyrup", RFC_ENGINE)
    kul = bytes.fromhex("6695febc9288e36282235fc7151f128497b38f3f")
    assert keys.auth_key == kul
    assert keys.priv_key == (kul + hashlib.sha1(kul).digest())[:32]
    assert user_keys(AuthProtocol.SHA, PrivProtocol.AES128, b"x" * 8, b"maplesyrup", RFC_ENGINE).priv_key == kul[:16]


# --- the time window (RFC 3414 3.2 step 7) -----------------------------------------------


def synced(boots: int = 5, etime: int = 1000, at: float = 100.0) -> RemoteEngine:
    eng = RemoteEngine(engine_id=b"\x80\x00\x00\x00\x04engine")
    assert eng.check(boots, etime, at) is None
    return eng


@pytest.mark.parametrize(
    ("boots", "etime", "mono", "refused", "after"),
    [
        (5, 1010, 110.0, False, (5, 1010)),  # on time
        (5, 1000 + 10 - TIME_WINDOW_S, 110.0, False, (5, 1010)),  # late by 150 s: still inside
        (5, 1000 + 10 - TIME_WINDOW_S - 1, 110.0, True, (5, 1010)),  # 151 s late: a replay
        (4, 99_999, 110.0, True, (5, 1010)),  # fewer boots: never, and nothing learnt from it
        (6, 3, 110.0, False, (6, 3)),  # restarted: more boots, time from zero
        (5, 5000, 110.0, False, (5, 5000)),  # its clock ran ahead: learnt
    ],
)
def test_remote_engine_window_table(boots: int, etime: int, mono: float, refused: bool, after: tuple[int, int]) -> None:
    eng = synced()
    got = eng.check(boots, etime, mono)
    assert (got is UsmError.NOT_IN_TIME_WINDOWS) == refused
    assert (eng.boots, eng.now(mono)) == after


def test_remote_engine_out_of_boots_refuses_everything() -> None:
    """RFC 3414 2.2.2: an engine whose boots reached 2^31-1 must be reconfigured."""
    eng = RemoteEngine(engine_id=b"e" * 8)
    assert eng.check(2**31 - 1, 1000, 100.0) is UsmError.NOT_IN_TIME_WINDOWS
    assert eng.check(2**31 - 1, 1001, 101.0) is UsmError.NOT_IN_TIME_WINDOWS


def test_an_unsynchronised_engine_sends_zeros_and_learns_from_the_first_authentic_message() -> None:
    eng = RemoteEngine(engine_id=b"\x80\x00\x00\x00\x04engine")
    assert eng.outgoing(500.0) == (0, 0)
    assert eng.check(3, 77, 500.0) is None
    assert eng.outgoing(510.0) == (3, 87)


@settings(max_examples=200)
@given(
    msgs=st.lists(
        st.tuples(st.integers(0, 20), st.integers(0, 10_000), st.floats(0, 10_000, allow_nan=False)), max_size=30
    )
)
def test_remote_engine_notion_never_goes_back(msgs: list[tuple[int, int, float]]) -> None:
    eng = RemoteEngine(engine_id=b"e" * 8)
    mono = 0.0
    before = (eng.boots, eng.latest)
    for boots, etime, dt in msgs:
        mono += dt
        accepted = eng.check(boots, etime, mono) is None
        now = (eng.boots, eng.latest)
        assert now >= before  # boots, then latest received time, only grow
        if accepted:
            # An accepted message is never older than the window allows.
            assert boots == eng.boots
            assert etime >= eng.now(mono) - TIME_WINDOW_S
        before = now


@pytest.mark.parametrize(
    ("boots", "etime", "ok"),
    [(9, 60, True), (9, 60 + TIME_WINDOW_S, True), (9, 61 + TIME_WINDOW_S, False), (8, 60, False), (10, 60, False)],
)
def test_local_engine_window_table(boots: int, etime: int, ok: bool) -> None:
    """Messages to us (informs): our boots, and a time within 150 s of ours (3.2 step 7a)."""
    eng = LocalEngine(b"\x80\x00\x00\x00\x04us", boots=9, started=1000.0)
    assert (eng.check(boots, etime, 1060.0) is None) == ok


# --- headers (RFC 3412 7.2) --------------------------------------------------------------


def v3_message(*, version: int = 3, max_size: int = 65507, flags: int = 0x04, model: int = 3) -> bytes:
    """A hand-built noAuthNoPriv message with every header field chosen."""
    header = tlv(
        0x30, encode_integer(1) + encode_integer(max_size) + tlv(0x04, bytes((flags,))) + encode_integer(model)
    )
    usm = tlv(
        0x04,
        tlv(
            0x30,
            tlv(0x04, b"\x80\x00\x00\x00\x04engine")
            + encode_integer(1)
            + encode_integer(2)
            + tlv(0x04, b"u")
            + tlv(0x04, b"")
            + tlv(0x04, b""),
        ),
    )
    scoped = tlv(0x30, tlv(0x04, b"") + tlv(0x04, b"") + response_pdu(1, b""))
    return tlv(0x30, encode_integer(version) + header + usm + scoped)


def test_a_well_formed_header_parses() -> None:
    env = parse_v3(v3_message())
    assert (env.msg_id, env.boots, env.time, env.user) == (1, 1, 2, b"u")
    assert open_v3(v3_message(), env, UserKeys(), (PDU_RESPONSE,)).pdu.request_id == 1


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"model": 2}, UsmError.UNKNOWN_SECURITY_MODELS),  # SNMPv2c's security model in a v3 message
        ({"model": 1}, UsmError.UNKNOWN_SECURITY_MODELS),
        ({"flags": 0x06}, UsmError.INVALID_MSGS),  # privFlag without authFlag
        ({"max_size": 100}, UsmError.INVALID_MSGS),  # msgMaxSize below 484
    ],
)
def test_header_checks_name_their_rfc_counter(kwargs: dict[str, int], error: UsmError) -> None:
    with pytest.raises(UsmFailure) as err:
        parse_v3(v3_message(**kwargs))
    assert err.value.error is error


@pytest.mark.parametrize("version", [0, 1, 2, 4])
def test_other_msg_versions_are_not_snmpv3(version: int) -> None:
    with pytest.raises(BerError, match="msgVersion"):
        parse_v3(v3_message(version=version))


def test_open_accepts_only_the_pdu_types_asked_for() -> None:
    msg = v3_message()
    with pytest.raises(BerError, match="unexpected PDU type"):
        open_v3(msg, parse_v3(msg), UserKeys(), (PDU_REPORT,))  # discovery wants a Report


def test_every_report_oid_maps_to_its_error_and_reason() -> None:
    assert REPORTS[(1, 3, 6, 1, 6, 3, 15, 1, 1, 2, 0)] is UsmError.NOT_IN_TIME_WINDOWS
    assert REPORTS[(1, 3, 6, 1, 6, 3, 15, 1, 1, 5, 0)] is UsmError.WRONG_DIGESTS
    assert {e.reason for e in UsmError} >= {"auth", "decrypt", "unknown_user", "unknown_engine", "not_in_time_window"}
    assert all(REPORTS[e.oid] is e for e in UsmError)


def test_an_encrypted_request_opens_only_with_the_users_keys() -> None:
    keys = user_keys(AuthProtocol.SHA256, PrivProtocol.AES128, b"auth-pass", b"priv-pass", b"\x80\x00\x00\x00\x04e")
    msg = encode_v3(
        msg_id=9,
        engine_id=b"\x80\x00\x00\x00\x04e",
        boots=1,
        engine_time=2,
        user=b"u",
        keys=keys,
        context=b"",
        pdu=request_pdu(PDU_GET, 9, [(1, 3, 6, 1, 2, 1, 1, 3, 0)]),
        salt=42,
    )
    env = parse_v3(msg)
    assert env.authenticated
    assert env.encrypted
    assert open_v3(msg, env, keys, (PDU_GET,)).pdu.varbinds == [((1, 3, 6, 1, 2, 1, 1, 3, 0), NULL)]
    other = user_keys(AuthProtocol.SHA256, PrivProtocol.AES128, b"auth-pass2", b"priv-pass", b"\x80\x00\x00\x00\x04e")
    with pytest.raises(UsmFailure) as err:
        open_v3(msg, env, other, (PDU_GET,))
    assert err.value.error is UsmError.WRONG_DIGESTS
