"""A hostile SNMP responder on loopback (garbage, truncated BER, foreign request ids,
oversized datagrams): counted and logged, and the other devices are polled on time."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from netmon.agent.poller import Poller
from netmon.agent.sink import MemorySink
from netmon.config.credentials import AuthProtocol, PrivProtocol, SnmpProfile
from netmon.config.inventory import Device, Probe, Role
from netmon.config.secrets import SecretRef
from netmon.config.settings import PollSettings
from tests import services
from tests.services_snmp import HostileResponder


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
