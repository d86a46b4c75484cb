"""The poller end to end against a real net-snmp snmpd: samples out of a JSON-lines sink."""

from __future__ import annotations

import asyncio
import importlib.util
import socket
from pathlib import Path
from typing import NoReturn

import pytest

from netmon.agent import wire
from netmon.agent.poller import Poller, PollerConfigError
from netmon.agent.sink import JsonlSink, MemorySink, read_jsonl
from netmon.agent.snmp import SnmpClient
from netmon.config.credentials import AuthProtocol, PrivProtocol, SnmpProfile
from netmon.config.inventory import Device, Probe, Role
from netmon.config.secrets import SecretRef
from netmon.config.settings import PollSettings, SecurityPolicy
from tests import services

# No retries; the timeout leaves room for a loaded CI machine (the pysnmp path and the
# local servers share one event loop). The dead device's profile has its own short one.
FAST = PollSettings(interval_s=5.0, timeout_s=2.0, retries=0, icmp_mode="off")


def profiles(port: int) -> dict[str, SnmpProfile]:
    return {
        "v2": SnmpProfile(version="2c", community=SecretRef(value=services.SNMP_COMMUNITY), port=port),
        "v3": SnmpProfile(
            version="3",
            user=services.SNMP_V3_USER,
            auth_protocol=AuthProtocol.SHA,
            auth_key=SecretRef(value=services.SNMP_V3_AUTH),
            priv_protocol=PrivProtocol.AES128,
            priv_key=SecretRef(value=services.SNMP_V3_PRIV),
            port=port,
        ),
        "v1": SnmpProfile(version="1", community=SecretRef(value=services.SNMP_COMMUNITY), port=port),
        "dead": SnmpProfile(
            version="2c",
            community=SecretRef(value="x"),
            port=services.free_port(socket.SOCK_DGRAM),
            timeout_s=0.3,
            retries=0,
        ),
    }


def dev(
    id_: str, profile: str | None, probes: tuple[Probe, ...] = (Probe.SNMP,), tcp_port: int | None = None
) -> Device:
    return Device(id=id_, role=Role.CPE, address="127.0.0.1", snmp=profile, probes=probes, tcp_port=tcp_port)


@pytest.mark.parametrize("fast", [True, False], ids=["ber-codec", "pysnmp"])
async def test_poll_all_once_v1_v2c_v3_tcp_and_dead(snmpd: services.Service, tmp_path: Path, fast: bool) -> None:
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    tcp_port = server.sockets[0].getsockname()[1]
    closed_port = services.free_port()
    sink = JsonlSink(tmp_path / "samples.jsonl")
    devices = [
        dev("r-v2", "v2"),
        dev("r-v3", "v3"),
        dev("r-v1", "v1"),
        dev("r-dead", "dead"),
        dev("srv-tcp", None, (Probe.TCP,), tcp_port),
        dev("srv-closed", None, (Probe.TCP,), closed_port),
    ]
    poller = Poller(devices, profiles(snmpd.port), FAST, sink, snmp=SnmpClient(fast=fast))
    try:
        returned = await poller.poll_all_once()
    finally:
        poller.close()
        server.close()
        sink.close()
    samples = {s.device: s for s in read_jsonl(tmp_path / "samples.jsonl")}
    assert {s.device for s in returned} == set(samples)
    for name in ("r-v2", "r-v3", "r-v1"):
        s = samples[name]
        assert s.ok, s
        assert s.probe == "snmp"
        assert s.sys_name == "netmon-test-snmpd"
        assert s.sys_object_id is not None
        assert s.sys_object_id.startswith("1.3.6.1.4.1.8072")
        assert s.response_s is not None
        assert 0 < s.response_s < FAST.timeout_s
        assert s.interfaces
        assert any(i.name == "lo" and i.oper_status == 1 for i in s.interfaces)
    assert {i.counter_bits for i in samples["r-v2"].interfaces or ()} == {64}
    # SNMPv1 cannot carry Counter64: the agent falls back to the 32-bit counters.
    assert {i.counter_bits for i in samples["r-v1"].interfaces or ()} == {32}
    assert not samples["r-dead"].ok
    assert samples["r-dead"].reason == "timeout"
    assert samples["srv-tcp"].ok
    assert samples["srv-tcp"].probe == "tcp"
    assert not samples["srv-closed"].ok
    assert samples["srv-closed"].reason == "refused"
    assert poller.stats.errors[("snmp", "timeout")] == 1


async def test_second_poll_has_rates_and_identity_only_on_change(snmpd: services.Service) -> None:
    sink = MemorySink()
    now = [1_800_000_000.0]
    poller = Poller([dev("r-v2", "v2")], profiles(snmpd.port), FAST, sink, clock=lambda: now[0])
    try:
        first = (await poller.poll_all_once())[0]
        await asyncio.sleep(1.0)  # sysUpTime must advance like the injected clock below
        now[0] += 1.0
        second = (await poller.poll_all_once())[0]
    finally:
        poller.close()
    assert first.sys_name == "netmon-test-snmpd"
    assert second.sys_name is None
    assert not second.rebooted
    assert first.interfaces
    assert all(i.in_bps is None for i in first.interfaces)
    assert second.interfaces
    # Rates over the second (the loopback's ifSpeed is 10 Mbit/s, and other tests' traffic
    # crosses it: a rate above the speed is flagged, never emitted).
    for i in second.interfaces:
        if i.speed_bps:
            assert (i.in_bps is not None and i.in_bps >= 0) or i.rate_invalid == "above_speed", i


def test_security_policy_refuses_community_and_weak_algorithms() -> None:
    profs = {
        "v2": SnmpProfile(version="2c", community=SecretRef(value="c")),
        "md5": SnmpProfile(
            version="3",
            user="u",
            auth_protocol=AuthProtocol.MD5,
            auth_key=SecretRef(value="a" * 8),
            priv_protocol=PrivProtocol.AES128,
            priv_key=SecretRef(value="p" * 8),
        ),
    }
    with pytest.raises(PollerConfigError, match=r"device 'a1'.*profile 'v2'.*allow_community"):
        Poller([dev("a1", "v2")], profs, FAST, MemorySink(), policy=SecurityPolicy(allow_community=False))
    with pytest.raises(PollerConfigError, match=r"device 'a2'.*profile 'md5'.*MD5"):
        Poller([dev("a2", "md5")], profs, FAST, MemorySink(), policy=SecurityPolicy(allow_weak_algorithms=False))
    with pytest.raises(PollerConfigError, match=r"device 'a3'.*unknown SNMP profile 'nope'"):
        Poller([dev("a3", "nope")], profs, FAST, MemorySink())
    with pytest.raises(PollerConfigError, match=r"MISSING_NETMON_VAR"):
        Poller(
            [dev("a4", "e")],
            {"e": SnmpProfile(version="2c", community=SecretRef(env="MISSING_NETMON_VAR"))},
            FAST,
            MemorySink(),
        )


async def test_profiles_sharing_a_community_both_work(snmpd: services.Service) -> None:
    """pysnmp maps a response back by community string; two profiles with the same
    community (different timeouts, say) must not steal each other's responses."""
    ref = SecretRef(value=services.SNMP_COMMUNITY)
    profs = {
        "fast": SnmpProfile(version="2c", community=ref, port=snmpd.port, timeout_s=1.5),
        "slow": SnmpProfile(version="2c", community=ref, port=snmpd.port, timeout_s=3.0, max_repetitions=5),
    }
    poller = Poller([dev("a", "fast"), dev("b", "slow")], profs, FAST, MemorySink())
    try:
        samples = await poller.poll_all_once()
    finally:
        poller.close()
    assert [s.ok for s in samples] == [True, True], samples


class _CountingSink(MemorySink):
    def __init__(self, want: int) -> None:
        super().__init__()
        self.want = want
        self.enough = asyncio.Event()

    def submit(self, sample: wire.Sample) -> None:
        super().submit(sample)
        if len(self.samples) >= self.want:
            self.enough.set()


async def test_run_polls_on_schedule_and_reload_takes_effect(snmpd: services.Service) -> None:
    sink = _CountingSink(want=3)
    settings = PollSettings(interval_s=0.3, timeout_s=2.0, retries=0, icmp_mode="off")
    poller = Poller([dev("r1", "v2")], profiles(snmpd.port), settings, sink)
    task = asyncio.create_task(poller.run(), name="poller")
    try:
        async with asyncio.timeout(10):
            await sink.enough.wait()
            poller.reload([dev("r2", "v3")], profiles(snmpd.port))
            sink.want, sink.enough = len(sink.samples) + 2, asyncio.Event()
            await sink.enough.wait()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        poller.close()
    assert all(s.ok for s in sink.samples)
    assert sink.samples[0].device == "r1"
    assert sink.samples[-1].device == "r2"
    assert poller.stats.lag.n >= 5
    assert poller.stats.duration.n >= 5


def test_privacy_without_cryptography_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """pysnmp does not declare cryptography; without it v3 privacy would fail at every
    poll with "Ciphering services not available". The poller refuses at build time."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "cryptography" else real(name, *a)
    )
    with pytest.raises(PollerConfigError, match=r"device 'a1'.*'v3'.*cryptography"):
        Poller([dev("a1", "v3")], profiles(161), FAST, MemorySink())
    no_priv = {
        "np": SnmpProfile(version="3", user="u", auth_protocol=AuthProtocol.SHA, auth_key=SecretRef(value="k" * 8))
    }
    Poller([dev("a2", "np")], no_priv, FAST, MemorySink()).close()  # authNoPriv needs no cipher


async def test_a_probe_bug_is_counted_and_the_round_goes_on(snmpd: services.Service) -> None:
    class Broken(SnmpClient):
        async def poll(self, *_a: object, **_k: object) -> NoReturn:
            raise RuntimeError("bug")

    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    both = dev("r1", "v2", (Probe.SNMP, Probe.TCP), port)
    poller = Poller([both, dev("r2", "v2")], profiles(snmpd.port), FAST, MemorySink(), snmp=Broken())
    try:
        samples = await poller.poll_all_once()
    finally:
        poller.close()
        server.close()
    assert [(s.device, s.probe, s.ok) for s in samples] == [("r1", "tcp", True)]
    assert poller.stats.internal_errors == 2
