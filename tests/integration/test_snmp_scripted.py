"""The poller against scripted devices on loopback (tests.services_snmp.ScriptedAgent):
nothing invisible (a walk that times out is said in the sample, counted and logged once),
and restarts told apart from a frozen uptime and from the 497-day rollover."""

from __future__ import annotations

import logging

import msgspec
import pytest

from netmon.agent import wire
from netmon.agent.poller import Poller
from netmon.agent.sink import MemorySink
from netmon.agent.snmp import SYS_UPTIME
from netmon.config.credentials import SnmpProfile
from netmon.config.inventory import Device, Probe, Role
from netmon.config.secrets import SecretRef
from netmon.config.settings import PollSettings
from netmon.demo import ber as demo_ber
from tests.services_snmp import ScriptedAgent, device_table, encoded

T0 = 1_800_000_000.0


class Clock:
    """The poller's wall clock, moved by the test (sample times and elapsed time)."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def poller_for(agent: ScriptedAgent, version: str, clock: Clock, sink: MemorySink) -> Poller:
    prof = SnmpProfile(version=version, community=SecretRef(value="c"), port=agent.port, timeout_s=0.3, retries=0)
    dev = Device(id="cpe", role=Role.CPE, address="127.0.0.1", snmp="p", probes=(Probe.SNMP,))
    return Poller([dev], {"p": prof}, PollSettings(icmp_mode="off"), sink, clock=clock)


@pytest.mark.parametrize("version", ["1", "2c"])
async def test_a_walk_that_times_out_is_said_counted_and_logged_once(
    version: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Seen on slow SNMPv1 devices: the system group answers, the interface walk times
    out, and the sample said ok with no interfaces and nothing else."""
    agent = await ScriptedAgent(device_table(), walk_silent=True).start()
    clock, sink = Clock(), MemorySink()
    poller = poller_for(agent, version, clock, sink)
    caplog.set_level(logging.INFO, logger="netmon.agent")
    try:
        first = (await poller.poll_all_once())[0]
        clock.now += 60
        second = (await poller.poll_all_once())[0]
        agent.walk_silent = False
        clock.now += 60
        third = (await poller.poll_all_once())[0]
    finally:
        poller.close()
        agent.close()
    for s in (first, second):
        assert s.ok
        assert s.interfaces is None
        assert s.unread == {"ifTable": "timeout", "ifXTable": "timeout"}
    assert third.unread is None
    assert third.interfaces
    assert [i.name for i in third.interfaces] == ["ge-0/0/1", "ge-0/0/2"]
    assert poller.stats.unread[("ifTable", "timeout")] == 2
    assert poller.stats.unread[("ifXTable", "timeout")] == 2
    said = [r for r in caplog.records if "tables not read" in r.getMessage() or "read again" in r.getMessage()]
    assert [r.levelno for r in said] == [logging.WARNING, logging.INFO]  # once per change, not per poll
    assert "ifTable=timeout" in said[0].getMessage()
    # What goes on the wire says it too.
    batch = wire.SampleBatch(v=1, agent="a", seq=1, sent_at=T0, samples=[first])
    assert wire.decode_batch(wire.encode(batch)).samples[0].unread == {"ifTable": "timeout", "ifXTable": "timeout"}


async def test_a_frozen_uptime_is_not_a_reboot_at_every_poll(caplog: pytest.LogCaptureFixture) -> None:
    agent = await ScriptedAgent(device_table(uptime_cs=500_000)).start()  # never moves
    clock, sink = Clock(), MemorySink()
    poller = poller_for(agent, "2c", clock, sink)
    caplog.set_level(logging.INFO, logger="netmon.agent")
    try:
        samples = []
        for _ in range(4):
            samples += await poller.poll_all_once()
            clock.now += 60
    finally:
        poller.close()
        agent.close()
    assert all(s.ok for s in samples)
    assert not any(s.rebooted for s in samples)
    assert poller.stats.reboots == 0
    assert poller.stats.uptime_anomalies["frozen"] == 3
    assert sum("uptime neither normal nor a restart" in r.getMessage() for r in caplog.records) == 1


async def test_a_restart_is_marked_with_its_time_and_the_rollover_is_not() -> None:
    agent = await ScriptedAgent(device_table(uptime_cs=(1 << 32) - 2_000)).start()  # 20 s before the wrap
    clock, sink = Clock(), MemorySink()
    poller = poller_for(agent, "2c", clock, sink)
    try:
        await poller.poll_all_once()
        clock.now += 60
        agent.table[SYS_UPTIME] = encoded(demo_ber.TIMETICKS, 4_000)  # wrapped: 40 s past 2^32
        wrapped = (await poller.poll_all_once())[0]
        clock.now += 60
        agent.table[SYS_UPTIME] = encoded(demo_ber.TIMETICKS, 1_500)  # up 15 s: it restarted
        restarted = (await poller.poll_all_once())[0]
    finally:
        poller.close()
        agent.close()
    assert not wrapped.rebooted
    assert restarted.rebooted
    assert restarted.rebooted_at == pytest.approx(clock.now - 15.0)
    assert poller.stats.reboots == 1
    assert restarted.interfaces
    assert all(i.rate_invalid == "reboot" for i in restarted.interfaces)
    # Only on the sample that saw it.
    assert msgspec.json.decode(msgspec.json.encode(wrapped)).get("rebooted_at") is None
