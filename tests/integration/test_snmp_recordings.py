"""The agent against recordings of real routers and switches (snmpsim-data, replayed by
snmpsim): every interface value it reports equals what net-snmp's snmpbulkwalk reads
from the same responder. Recordings: Cisco C3560, Juniper MX960, Huawei S5720,
ZTE ZXR10 5250, H3C E528 (see tests.services_snmp.RECORDINGS)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from netmon.agent.poller import Poller
from netmon.agent.sink import MemorySink
from netmon.config.credentials import SnmpProfile
from netmon.config.inventory import Device, Probe, Role
from netmon.config.secrets import SecretRef
from netmon.config.settings import PollSettings
from tests import services
from tests.services_snmp import NO_IFMIB, RECORDINGS, snmpbulkwalk, start_snmpsim

WITHOUT_IFX = "h3c-e528" + NO_IFMIB
IF = "1.3.6.1.2.1.2.2.1"
IFX = "1.3.6.1.2.1.31.1.1.1"
# IF-MIB column numbers, written out here independently of agent.snmp.
IF_COLS = {
    "descr": 2,
    "speed": 5,
    "admin": 7,
    "oper": 8,
    "in32": 10,
    "in_disc": 13,
    "in_err": 14,
    "out32": 16,
    "out_disc": 19,
    "out_err": 20,
}
IFX_COLS = {"name": 1, "in64": 6, "out64": 10, "high": 15, "alias": 18}


@pytest.fixture(scope="module")
def snmpsim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[services.Service]:
    svc = start_snmpsim(tmp_path_factory.mktemp("snmpsim"), RECORDINGS | {WITHOUT_IFX: RECORDINGS["h3c-e528"]})
    yield svc
    svc.stop()


def text(raw: tuple[str, str] | None) -> str:
    """An OCTET STRING as snmpbulkwalk -Ox prints it, decoded as the agent decodes it."""
    if raw is None:
        return ""
    typ, val = raw
    if val in ('""', ""):
        return ""
    if typ == "Hex-STRING":
        return bytes.fromhex(val.replace(" ", "")).decode("utf-8", errors="replace")
    return val.strip('"')


def num(raw: tuple[str, str] | None) -> int | None:
    if raw is None or raw[0] not in ("INTEGER", "Counter32", "Counter64", "Gauge32"):
        return None
    return int(raw[1].split()[0].split("(")[-1].rstrip(")"))


def expected_interfaces(port: int, community: str) -> dict[int, dict[str, object]]:
    walk = snmpbulkwalk(port, community, IF) | snmpbulkwalk(port, community, IFX)
    indexes = {int(oid.rsplit(".", 1)[1]) for oid in walk}
    out: dict[int, dict[str, object]] = {}
    for i in sorted(indexes):
        c = {k: walk.get(f"{IF}.{n}.{i}") for k, n in IF_COLS.items()} | {
            k: walk.get(f"{IFX}.{n}.{i}") for k, n in IFX_COLS.items()
        }
        hc = num(c["in64"]) is not None and num(c["out64"]) is not None
        high = num(c["high"])
        out[i] = {
            "name": text(c["name"]) or text(c["descr"]) or str(i),
            "alias": text(c["alias"]),
            "admin_status": num(c["admin"]) or 1,
            "oper_status": num(c["oper"]) or 4,
            "speed_bps": high * 1_000_000 if high else num(c["speed"]),
            "counter_bits": 64 if hc else 32,
            "in_octets": num(c["in64"]) if hc else num(c["in32"]),
            "out_octets": num(c["out64"]) if hc else num(c["out32"]),
            "in_errors": num(c["in_err"]),
            "out_errors": num(c["out_err"]),
            "in_discards": num(c["in_disc"]),
            "out_discards": num(c["out_disc"]),
        }
    return out


async def test_interfaces_equal_snmpbulkwalk_on_five_vendor_recordings(
    snmpsim: services.Service, tmp_path: Path
) -> None:
    profiles = {
        name: SnmpProfile(version="2c", community=SecretRef(value=name), port=snmpsim.port, timeout_s=10, retries=0)
        for name in RECORDINGS
    }
    devices = [
        Device(id=name, role=Role.SWITCH, address="127.0.0.1", snmp=name, probes=(Probe.SNMP,)) for name in RECORDINGS
    ]
    sink = MemorySink()
    poller = Poller(devices, profiles, PollSettings(icmp_mode="off", concurrency=5), sink)
    try:
        samples = {s.device: s for s in await poller.poll_all_once()}
    finally:
        poller.close()
    for name in RECORDINGS:
        s = samples[name]
        assert s.ok, (name, s.reason)
        assert s.sys_descr, name
        assert s.interfaces, name
        want = expected_interfaces(snmpsim.port, name)
        got = {i.index: {k: getattr(i, k) for k in next(iter(want.values()))} for i in s.interfaces}
        assert len(want) >= 9, name  # real devices, not stubs
        assert got == want, name


async def test_agent_without_ifxtable_falls_back_to_32_bit_counters_and_ifdescr(snmpsim: services.Service) -> None:
    """No ifXTable, and the MIB ends after ifTable: the ifX columns end in endOfMibView,
    names come from ifDescr, counters are the 32-bit ones; still equal to snmpbulkwalk."""
    prof = {"p": SnmpProfile(version="2c", community=SecretRef(value=WITHOUT_IFX), port=snmpsim.port, timeout_s=10)}
    device = Device(id="old", role=Role.SWITCH, address="127.0.0.1", snmp="p", probes=(Probe.SNMP,))
    poller = Poller([device], prof, PollSettings(icmp_mode="off"), MemorySink())
    try:
        (s,) = await poller.poll_all_once()
    finally:
        poller.close()
    assert s.ok
    assert s.interfaces
    assert {i.counter_bits for i in s.interfaces} == {32}
    want = expected_interfaces(snmpsim.port, WITHOUT_IFX)
    assert {i.index: {k: getattr(i, k) for k in want[i.index]} for i in s.interfaces} == want
    assert poller.stats.errors[("snmp_walk", "oid_not_increasing")] == 0
