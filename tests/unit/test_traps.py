"""The trap receiver's judgement (agent.traps.TrapValidator) and the re-poller's bounds
(agent.trap_polls.TrapPolls): no socket; messages built with pysnmp (v1/v2c) and with
the agent's USM (v3, which test_snmp_v3/test_traps check against net-snmp)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import encoder
from pysnmp.proto import api

from netmon.agent import wire
from netmon.agent.ber import encode_integer, read_tlv, tlv
from netmon.agent.selfmetrics import PollStats
from netmon.agent.snmp import (
    PDU_REPORT,
    PDU_RESPONSE,
    LocalEngine,
    UserKeys,
    UsmError,
    decode_response,
    encode_v3,
    open_v3,
    parse_v3,
    resolve_profile,
    user_keys,
)
from netmon.agent.snmp.codec import PDU_INFORM, PDU_TRAP
from netmon.agent.snmp.tables import SYS_UPTIME
from netmon.agent.trap_polls import TrapPolls
from netmon.agent.traps import Sender, TrapEvent, TrapValidator
from netmon.config.credentials import AuthProtocol, PrivProtocol, SnmpProfile
from netmon.config.secrets import Secret, SecretRef
from netmon.config.settings import TrapSettings

V1 = api.PROTOCOL_MODULES[api.SNMP_VERSION_1]
V2 = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
REF = SecretRef(value="unused")
LINK_DOWN = (1, 3, 6, 1, 6, 3, 1, 1, 5, 3)
AUTH_FAILURE = (1, 3, 6, 1, 6, 3, 1, 1, 5, 5)
SNMP_TRAP_OID = (1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0)
IF_INDEX_2 = (1, 3, 6, 1, 2, 1, 2, 2, 1, 1, 2)
OUR_ENGINE = b"\x80\x00\x00\x00\x04netmon:a1"
SENDER_ENGINE = b"\x80\x00\x1f\x88\x04router"
WALL, MONO = 1_800_000_000.0, 10_000.0


def v2_profile(community: str) -> Any:
    return resolve_profile(community, SnmpProfile(version="2c", community=REF), {"community": Secret(community)})


def v3_profile(name: str, priv: PrivProtocol | None = PrivProtocol.AES128) -> Any:
    prof = SnmpProfile(
        version="3", user="netmon", auth_protocol=AuthProtocol.SHA, auth_key=REF, priv_protocol=priv, priv_key=REF
    )
    return resolve_profile(name, prof, {"auth_key": Secret("auth-secret-1"), "priv_key": Secret("priv-secret-1")})


def validator() -> TrapValidator:
    senders = {
        "10.0.0.1": [Sender("r1", v2_profile("ro-r1"))],
        "10.0.0.3": [Sender("r3", v3_profile("v3"))],
        "10.0.0.4": [Sender("r4", v3_profile("v3des", PrivProtocol.DES))],
    }
    return TrapValidator(LocalEngine(OUR_ENGINE, boots=9, started=MONO - 100), senders)


def v2c_notification(community: bytes, trap: tuple[int, ...], *, inform: bool = False, request_id: int = 7) -> bytes:
    pdu = V2.InformRequestPDU() if inform else V2.SNMPv2TrapPDU()
    V2.apiTrapPDU.set_defaults(pdu)
    V2.apiPDU.set_request_id(pdu, request_id)
    V2.apiPDU.set_varbinds(
        pdu, [(SYS_UPTIME, V2.TimeTicks(1234)), (SNMP_TRAP_OID, V2.ObjectIdentifier(trap)), (IF_INDEX_2, V2.Integer(2))]
    )
    msg = V2.Message()
    V2.apiMessage.set_defaults(msg)
    V2.apiMessage.set_community(msg, community)
    V2.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def v1_trap(community: bytes, generic: int) -> bytes:
    pdu = V1.TrapPDU()
    V1.apiTrapPDU.set_defaults(pdu)
    V1.apiTrapPDU.set_enterprise(pdu, (1, 3, 6, 1, 4, 1, 9))
    V1.apiTrapPDU.set_generic_trap(pdu, generic)
    V1.apiTrapPDU.set_varbinds(pdu, [(IF_INDEX_2, V1.Integer(2))])
    msg = V1.Message()
    V1.apiMessage.set_defaults(msg)
    V1.apiMessage.set_community(msg, community)
    V1.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def test_a_v2c_link_down_with_the_devices_community_is_accepted() -> None:
    v = validator().judge(v2c_notification(b"ro-r1", LINK_DOWN), "10.0.0.1", WALL, MONO)
    assert (v.result, v.version, v.reply) == ("accepted", "2c", None)
    assert v.events == (TrapEvent("r1", "linkDown", "2c", WALL, 2),)


@pytest.mark.parametrize(
    ("source", "community", "result"),
    [
        ("10.0.0.9", b"ro-r1", "unknown_source"),  # not a device of the inventory
        ("10.0.0.1", b"public", "bad_community"),  # a device's address, the wrong community
        ("10.0.0.3", b"ro-r1", "not_v3"),  # a device polled over SNMPv3 is not believed over a community
    ],
)
def test_forged_or_foreign_v2c_traps_are_refused(source: str, community: bytes, result: str) -> None:
    v = validator().judge(v2c_notification(community, LINK_DOWN), source, WALL, MONO)
    assert (v.result, v.events, v.reply) == (result, (), None)


def test_a_v1_link_down_is_translated_as_rfc_3584_says() -> None:
    v = validator().judge(v1_trap(b"ro-r1", 2), "::ffff:10.0.0.1", WALL, MONO)
    assert (v.result, v.version) == ("accepted", "1")
    assert v.events == (TrapEvent("r1", "linkDown", "1", WALL, 2),)


def test_an_inform_is_acknowledged_even_of_a_kind_not_acted_on() -> None:
    v = validator().judge(
        v2c_notification(b"ro-r1", AUTH_FAILURE, inform=True, request_id=4242), "10.0.0.1", WALL, MONO
    )
    assert (v.result, v.events) == ("ignored", ())
    assert v.reply is not None
    version, request_id, status, _index, varbinds = decode_response(v.reply)
    assert (version, request_id, status) == (1, 4242, 0)
    assert varbinds[1] == (SNMP_TRAP_OID, AUTH_FAILURE)  # the inform's var-binds, echoed


# --- v3 ----------------------------------------------------------------------------------

KEYS_AT_SENDER = user_keys(AuthProtocol.SHA, PrivProtocol.AES128, b"auth-secret-1", b"priv-secret-1", SENDER_ENGINE)
KEYS_AT_US = user_keys(AuthProtocol.SHA, PrivProtocol.AES128, b"auth-secret-1", b"priv-secret-1", OUR_ENGINE)


def notification_pdu(tag: int, request_id: int = 5) -> bytes:
    """The PDU of a pysnmp-built v2c notification, with another PDU tag if asked."""
    raw = v2c_notification(b"x", LINK_DOWN, request_id=request_id)
    _t, s, end = read_tlv(raw, 0, len(raw))
    _t, _s, pos = read_tlv(raw, s, end)  # version
    _t, _s, pos = read_tlv(raw, pos, end)  # community
    return bytes((tag,)) + raw[pos + 1 : end]


def v3_message(
    pdu_tag: int,
    *,
    engine_id: bytes,
    boots: int,
    etime: int,
    keys: UserKeys,
    user: bytes = b"netmon",
    reportable: bool = False,
) -> bytes:
    return encode_v3(
        msg_id=77,
        engine_id=engine_id,
        boots=boots,
        engine_time=etime,
        user=user,
        keys=keys,
        context=b"",
        pdu=notification_pdu(pdu_tag),
        salt=3,
        reportable=reportable,
    )


def test_v3_traps_are_checked_against_the_time_window_of_their_sender() -> None:
    val = validator()

    def trap(boots: int, etime: int, mono: float) -> str:
        msg = v3_message(PDU_TRAP, engine_id=SENDER_ENGINE, boots=boots, etime=etime, keys=KEYS_AT_SENDER)
        return val.judge(msg, "10.0.0.3", WALL, mono).result

    assert trap(3, 1000, MONO) == "accepted"  # the first authentic trap sets our notion of its clock
    assert trap(3, 1010, MONO + 10) == "accepted"
    assert trap(3, 1000 - 141, MONO + 10) == UsmError.NOT_IN_TIME_WINDOWS.value  # 151 s behind: a replay
    assert trap(2, 99_999, MONO + 10) == UsmError.NOT_IN_TIME_WINDOWS.value  # older boots
    assert trap(4, 2, MONO + 20) == "accepted"  # restarted


@pytest.mark.parametrize(
    ("source", "user", "keys", "result"),
    [
        ("10.0.0.3", b"intruder", KEYS_AT_SENDER, UsmError.UNKNOWN_USER_NAMES.value),
        (
            "10.0.0.3",
            b"netmon",
            user_keys(AuthProtocol.SHA, PrivProtocol.AES128, b"guessed-pass", b"priv-secret-1", SENDER_ENGINE),
            UsmError.WRONG_DIGESTS.value,
        ),
        ("10.0.0.3", b"netmon", UserKeys(), UsmError.UNSUPPORTED_SEC_LEVELS.value),  # below the profile's level
        ("10.0.0.4", b"netmon", KEYS_AT_SENDER, "unsupported_privacy"),  # DES: not in our USM
    ],
)
def test_v3_traps_that_are_not_the_devices_are_refused(source: str, user: bytes, keys: UserKeys, result: str) -> None:
    msg = v3_message(PDU_TRAP, engine_id=SENDER_ENGINE, boots=1, etime=1, keys=keys, user=user)
    v = validator().judge(msg, source, WALL, MONO)
    assert (v.result, v.events, v.reply) == (result, (), None)


def test_an_inform_sender_discovers_us_synchronises_and_is_acknowledged() -> None:
    val = validator()
    # 1. discovery: unauthenticated, reportable, no engine ID
    probe = encode_v3(
        msg_id=1,
        engine_id=b"",
        boots=0,
        engine_time=0,
        user=b"",
        keys=UserKeys(),
        context=b"",
        pdu=tlv(0xA0, encode_integer(1) + encode_integer(0) + encode_integer(0) + tlv(0x30, b"")),
    )
    v = val.judge(probe, "10.0.0.3", WALL, MONO)
    assert v.result == "discovery"
    assert v.reply is not None
    env = parse_v3(v.reply)
    report = open_v3(v.reply, env, UserKeys(), (PDU_REPORT,)).pdu
    assert (env.engine_id, env.boots, env.time, env.authenticated) == (OUR_ENGINE, 9, 100, False)
    assert report.varbinds[0][0] == UsmError.UNKNOWN_ENGINE_IDS.oid
    # 2. an inform with boots/time 0: an authenticated (authNoPriv) notInTimeWindow report
    v = val.judge(
        v3_message(PDU_INFORM, engine_id=OUR_ENGINE, boots=0, etime=0, keys=KEYS_AT_US), "10.0.0.3", WALL, MONO
    )
    assert v.result == UsmError.NOT_IN_TIME_WINDOWS.value
    assert v.reply is not None
    env = parse_v3(v.reply)
    assert (env.authenticated, env.encrypted, env.boots, env.time) == (True, False, 9, 100)
    auth_only = UserKeys(KEYS_AT_US.auth, None, KEYS_AT_US.auth_key)
    assert open_v3(v.reply, env, auth_only, (PDU_REPORT,)).pdu.varbinds[0][0] == UsmError.NOT_IN_TIME_WINDOWS.oid
    # 3. the inform on time: accepted and acknowledged at authPriv
    msg = v3_message(PDU_INFORM, engine_id=OUR_ENGINE, boots=9, etime=101, keys=KEYS_AT_US)
    v = val.judge(msg, "10.0.0.3", WALL, MONO)
    assert (v.result, v.events) == ("accepted", (TrapEvent("r3", "linkDown", "3", WALL, 2),))
    assert v.reply is not None
    env = parse_v3(v.reply)
    ack = open_v3(v.reply, env, KEYS_AT_US, (PDU_RESPONSE,)).pdu
    assert (env.encrypted, ack.request_id, env.msg_id) == (True, 5, 77)


def test_an_inform_sent_to_another_engine_gets_our_engine_id() -> None:
    msg = v3_message(PDU_INFORM, engine_id=SENDER_ENGINE, boots=1, etime=1, keys=KEYS_AT_SENDER)
    v = validator().judge(msg, "10.0.0.3", WALL, MONO)
    assert (v.result, v.events) == (UsmError.UNKNOWN_ENGINE_IDS.value, ())
    assert v.reply is not None
    assert parse_v3(v.reply).engine_id == OUR_ENGINE


@settings(max_examples=400)
@given(junk=st.binary(max_size=300), source=st.sampled_from(["10.0.0.1", "10.0.0.3", "10.0.0.9"]))
def test_any_datagram_gets_a_verdict_never_an_exception(junk: bytes, source: str) -> None:
    val = validator()
    for data in (junk, b"\x30\x81\xff\x02\x01\x03" + junk, b"\x30\x81\xff\x02\x01\x01\x04\x05ro-r1" + junk):
        v = val.judge(data, source, WALL, MONO)
        assert v.result != "accepted" or v.events


# --- the re-poller -----------------------------------------------------------------------


class Probes:
    """Stands in for the poller: records probes; each waits for the test to release it."""

    def __init__(self) -> None:
        self.stats = PollStats()
        self.calls: list[tuple[str, wire.Trigger | None]] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()

    def children(self, device_id: str) -> list[str]:
        return ["c1", "c2"] if device_id == "r1" else []

    async def poll_device(
        self, device_id: str, *, trigger: wire.Trigger | None = None, timeout_s: float | None = None
    ) -> list[wire.Sample]:
        self.calls.append((device_id, trigger))
        self.started.set()
        await self.release.wait()
        return []


async def test_a_burst_of_traps_becomes_one_probe_per_device_and_one_more() -> None:
    probes = Probes()
    polls = TrapPolls(probes, TrapSettings(min_repoll_interval_s=0, queue=4))  # type: ignore[arg-type]
    task = asyncio.create_task(polls.run())
    try:
        polls.offer(TrapEvent("r1", "linkDown", "2c", WALL, 2))
        await probes.started.wait()
        for i in range(10):  # a flapping port while the first probes run
            polls.offer(TrapEvent("r1", "linkUp" if i % 2 else "linkDown", "2c", WALL + i, 2))
        assert probes.stats.traps[("2c", "dropped")] == 6  # the queue holds 4: a full queue drops, and counts
        probes.release.set()
        async with asyncio.timeout(5):
            await polls.wait_idle()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    by_device = [d for d, _t in probes.calls]
    assert sorted(by_device) == ["c1", "c1", "c2", "c2", "r1", "r1"]  # the first probe, then the latest pending
    last = dict(probes.calls)
    assert last["c1"] is not None
    assert (last["c1"].sender, last["c1"].if_index) == ("r1", 2)
