"""A hostile SNMP responder on loopback (garbage, truncated BER, foreign request ids,
oversized datagrams): counted and logged, and the other devices are polled on time."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from prometheus_client import CollectorRegistry

from netmon.agent import selfmetrics, wire
from netmon.agent.ber import tlv
from netmon.agent.poller import Poller
from netmon.agent.sink import MemorySink
from netmon.agent.snmp import PDU_RESPONSE, ResolvedProfile, SnmpClient, SnmpResult, UsmError, resolve_profile
from netmon.config.credentials import AuthProtocol, PrivProtocol, SnmpProfile
from netmon.config.inventory import Device, Probe, Role
from netmon.config.secrets import Secret, SecretRef
from netmon.config.settings import PollSettings
from netmon.demo import ber as demo_ber
from tests import services
from tests.services_snmp import HostileResponder, ScriptedAgent, ScriptedV3Agent, device_table, encoded


async def test_hostile_responders_are_counted_and_do_not_delay_others(
    snmpd: services.Service, caplog: pytest.LogCaptureFixture
) -> None:
    hostile = {mode: await HostileResponder(mode).start() for mode in HostileResponder.MODES}
    profiles = {
        mode: SnmpProfile(version="2c", community=SecretRef(value="netmon-ro"), port=h.port, timeout_s=0.5, retries=1)
        for mode, h in hostile.items()
    } | {"good": SnmpProfile(version="2c", community=SecretRef(value=services.SNMP_COMMUNITY), port=snmpd.port)}
    devices = [
        Device(id=f"evil-{m}", role=Role.CPE, address="127.0.0.1", snmp=m, probes=(Probe.SNMP,)) for m in hostile
    ]
    devices.append(Device(id="good", role=Role.CPE, address="127.0.0.1", snmp="good", probes=(Probe.SNMP,)))
    sink = MemorySink()
    poller = Poller(devices, profiles, PollSettings(icmp_mode="off", concurrency=8), sink)
    caplog.set_level(logging.INFO, logger="netmon.agent")
    good_done = asyncio.Event()
    good_at: list[float] = []

    async def good_poll() -> None:
        await poller.poll_device("good")
        good_at.append(time.perf_counter())
        good_done.set()

    t0 = time.perf_counter()
    try:
        async with asyncio.timeout(10):  # no hang
            async with asyncio.TaskGroup() as tg:
                for m in hostile:
                    tg.create_task(poller.poll_device(f"evil-{m}"), name=f"evil-{m}")
                tg.create_task(good_poll(), name="good")
    finally:
        poller.close()
        for h in hostile.values():
            h.close()
    samples = {s.device: s for s in sink.samples}
    assert samples["good"].ok
    assert samples["good"].interfaces
    # The good device did not wait for the hostile ones' timeouts (0.5 s x 2 tries).
    assert good_at[0] - t0 < 0.5
    for m, h in hostile.items():
        s = samples[f"evil-{m}"]
        assert not s.ok
        assert h.received == 2  # the request and its one retry
        assert s.reason == ("bad_response" if m == "wrong_id" else "malformed"), (m, s.reason)
    assert poller.stats.malformed == 6  # garbage, truncated, oversized: two replies each
    assert poller.stats.errors[("snmp", "malformed")] == 3
    logged = [r.getMessage() for r in caplog.records if "evil-" in r.getMessage()]
    assert any("reason=malformed" in m for m in logged)


async def test_hostile_replies_to_snmpv3_are_malformed_not_a_crash() -> None:
    hostile = await HostileResponder().start()  # cycles garbage, truncated, wrong id, oversized
    prof = {
        "v3": SnmpProfile(
            version="3",
            user="netmon",
            auth_protocol=AuthProtocol.SHA,
            auth_key=SecretRef(value="auth-secret-1"),
            priv_protocol=PrivProtocol.AES128,
            priv_key=SecretRef(value="priv-secret-1"),
            port=hostile.port,
            timeout_s=0.3,
            retries=3,
        )
    }
    device = Device(id="evil-v3", role=Role.CPE, address="127.0.0.1", snmp="v3", probes=(Probe.SNMP,))
    poller = Poller([device], prof, PollSettings(icmp_mode="off"), MemorySink())
    try:
        async with asyncio.timeout(5):
            (s,) = await poller.poll_all_once()
    finally:
        poller.close()
        hostile.close()
    assert not s.ok
    assert s.reason == "malformed"
    assert hostile.received == 4
    assert poller.stats.malformed == 3  # the foreign-id reply is well-formed, only unmatched


IF = (1, 3, 6, 1, 2, 1, 2, 2, 1)
IFX = (1, 3, 6, 1, 2, 1, 31, 1, 1, 1)


async def test_impossible_values_are_dropped_at_the_source_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    """A device answering values its MIB forbids: none of them reaches a sample, the
    batch passes the collector's strict decoder, the fields are counted and logged once."""
    b = demo_ber
    hostile = {
        (1, 3, 6, 1, 2, 1, 1, 3, 0): encoded(b.INTEGER, -100),  # sysUpTime as a negative INTEGER
        (*IF, 8, 1): encoded(b.INTEGER, 99),  # ifOperStatus 99
        (*IF, 7, 1): encoded(b.INTEGER, -1),  # ifAdminStatus -1
        (*IF, 5, 1): encoded(b.INTEGER, -1),  # ifSpeed -1
        (*IF, 14, 1): encoded(b.INTEGER, -5),  # ifInErrors -5
        (*IF, 10, 2): encoded(b.COUNTER32, 1 << 40),  # a Counter32 wider than 32 bits
        (*IFX, 6, 2): encoded(b.COUNTER64, (1 << 64) + 5),  # a Counter64 wider than 64 bits
        (*IF, 2, 2): tlv(b.OCTET_STRING, b"x" * 5000),  # ifDescr of 5000 octets
        (*IF, 8, 0): encoded(b.INTEGER, 1),  # a row with ifIndex 0
    }
    agent = await ScriptedAgent(device_table(overrides=hostile)).start()
    prof = {"p": SnmpProfile(version="2c", community=SecretRef(value="c"), port=agent.port, timeout_s=0.5)}
    dev = Device(id="liar", role=Role.CPE, address="127.0.0.1", snmp="p", probes=(Probe.SNMP,))
    poller = Poller([dev], prof, PollSettings(icmp_mode="off"), MemorySink())
    caplog.set_level(logging.WARNING, logger="netmon.agent")
    try:
        (s,) = await poller.poll_all_once()
        (again,) = await poller.poll_all_once()
    finally:
        poller.close()
        agent.close()
    assert s.ok
    assert s.sys_uptime_s is None
    assert s.interfaces is not None
    assert [i.index for i in s.interfaces] == [1, 2]
    one, two = s.interfaces
    assert (one.oper_status, one.admin_status, one.in_errors) == (4, 1, None)  # unknown(4), not 99
    assert one.speed_bps == 100_000_000  # ifHighSpeed still says 100 Mbit/s
    assert two.in_octets is None  # both its octet counters were impossible
    assert two.counter_bits == 32
    stats = poller.stats.rejected_values
    assert set(stats) == {
        "sys_uptime",
        "oper_status",
        "admin_status",
        "speed",
        "in_errors",
        "in_octets32",
        "in_octets64",
        "descr",
        "if_index",
    }
    assert all(n == 2 for n in stats.values())  # per poll
    logged = [r.getMessage() for r in caplog.records if "impossible values" in r.getMessage()]
    assert len(logged) == 1  # the same fields again: not logged again
    assert again.interfaces is not None
    batch = wire.SampleBatch(v=1, agent="a", seq=1, sent_at=1_800_000_000.0, samples=[s, again])
    decoded = wire.decode_batch(wire.encode(batch), now=time.time())
    for i in decoded.samples[0].interfaces or ():
        assert i.oper_status in range(1, 8)
        assert all(v is None or v >= 0 for v in (i.in_octets, i.out_octets, i.in_errors, i.speed_bps))


def v3_profile(port: int) -> ResolvedProfile:
    prof = SnmpProfile(
        version="3",
        user="netmon",
        auth_protocol=AuthProtocol.SHA,
        auth_key=SecretRef(value="unused"),
        priv_protocol=PrivProtocol.AES128,
        priv_key=SecretRef(value="unused"),
        port=port,
        timeout_s=0.5,
        retries=0,
    )
    return resolve_profile("v3", prof, {"auth_key": Secret("auth-secret-1"), "priv_key": Secret("priv-secret-1")})


async def v3_polls(agent: ScriptedV3Agent, polls: int = 2) -> tuple[SnmpClient, list[SnmpResult]]:
    client = SnmpClient()
    try:
        out = [await client.poll("127.0.0.1", v3_profile(agent.port), interfaces=False) for _ in range(polls)]
    finally:
        client.close()
        agent.close()
    return client, out


async def test_an_honest_v3_agent_is_polled_after_discovery_and_time_sync() -> None:
    agent = await ScriptedV3Agent(device_table()).start()
    client, (first, second) = await v3_polls(agent)
    assert first.ok, first
    assert second.ok
    assert (first.engine_boots, second.engine_boots) == (7, 7)
    assert second.engine_time is not None
    assert second.engine_time >= 5000
    # The first authenticated request went out with boots 0 (RFC 3414 4: time synchronisation).
    assert [b for _e, b in agent.requests] == [0, 7, 7]
    assert not client.usm_errors


@pytest.mark.parametrize("forge", ["unauth_time", "unauth_engine"])
async def test_unauthenticated_reports_change_neither_engine_id_nor_boots_nor_time(forge: str) -> None:
    agent = await ScriptedV3Agent(device_table(), forge=forge).start()
    client = SnmpClient()
    prof = v3_profile(agent.port)
    try:
        assert (await client.poll("127.0.0.1", prof, interfaces=False)).ok
        agent.forge_count = 1
        forged = await client.poll("127.0.0.1", prof, interfaces=False)
        after = await client.poll("127.0.0.1", prof, interfaces=False)
    finally:
        client.close()
        agent.close()
    # Every authenticated request named the real engine and its real boots (or 0 before
    # the time synchronisation): nothing came from the forged 999s or the impostor ID.
    assert {e for e, _b in agent.requests} == {agent.engine_id}
    assert {b for _e, b in agent.requests} <= {0, 7}
    assert client.engine_id("127.0.0.1", agent.port, "v3") == agent.engine_id
    assert after.ok
    assert after.engine_boots == 7
    if forge == "unauth_time":
        assert (forged.ok, forged.reason) == (False, "not_in_time_window")
        assert client.usm_errors[(UsmError.NOT_IN_TIME_WINDOWS, "report")] == 1
    else:  # an unknownEngineID report only makes the client discover again, from the agent itself
        assert forged.ok
        assert client.resyncs == 1


async def test_a_replayed_response_outside_the_time_window_is_refused() -> None:
    agent = await ScriptedV3Agent(device_table()).start()
    client = SnmpClient()
    prof = v3_profile(agent.port)
    try:
        assert (await client.poll("127.0.0.1", prof, interfaces=False)).ok
        agent.forge, agent.forge_count = "replay", 1
        replayed = await client.poll("127.0.0.1", prof, interfaces=False)
    finally:
        client.close()
        agent.close()
    assert (replayed.ok, replayed.reason) == (False, "not_in_time_window")
    assert client.usm_errors == {(UsmError.NOT_IN_TIME_WINDOWS, "local"): 1}


async def test_another_security_model_is_refused_and_named() -> None:
    agent = await ScriptedV3Agent(device_table(), forge="model2", forge_count=99).start()
    client, (res, _again) = await v3_polls(agent)
    assert (res.ok, res.reason) == (False, "security_model")
    assert client.usm_errors[(UsmError.UNKNOWN_SECURITY_MODELS, "local")] == 2


async def test_discovery_accepts_only_a_report() -> None:
    agent = await ScriptedV3Agent(device_table(), discovery_pdu=PDU_RESPONSE).start()
    client, (res, _again) = await v3_polls(agent)
    assert (res.ok, res.reason) == (False, "malformed")
    assert "unexpected PDU type 0xa2" in res.detail
    assert client.engine_id("127.0.0.1", agent.port, "v3") is None
    assert agent.requests == []  # never got as far as a real request


async def test_usm_errors_reach_the_agents_metrics() -> None:
    agent = await ScriptedV3Agent(device_table(), forge="model2", forge_count=99).start()
    prof = v3_profile(agent.port).profile
    dev = Device(id="v3-liar", role=Role.CPE, address="127.0.0.1", snmp="p", probes=(Probe.SNMP,))
    poller = Poller(
        [dev],
        {
            "p": prof.model_copy(
                update={"auth_key": SecretRef(value="auth-secret-1"), "priv_key": SecretRef(value="priv-secret-1")}
            )
        },
        PollSettings(icmp_mode="off"),
        MemorySink(),
    )
    try:
        (s,) = await poller.poll_all_once()
    finally:
        poller.close()
        agent.close()
    assert s.reason == "security_model"
    assert poller.stats.usm_errors == {("snmpUnknownSecurityModels", "local"): 1}
    registry = CollectorRegistry()
    selfmetrics.register(poller.stats, registry, "a1")
    got = registry.get_sample_value(
        "netmon_agent_snmp_usm_errors_total", {"agent": "a1", "error": "snmpUnknownSecurityModels", "origin": "local"}
    )
    assert got == 1.0
