"""The simulated devices are real SNMP agents: net-snmp's own tools read them.

Each test starts a small simulator on free loopback addresses and a free UDP port,
and asks it with ``snmpget``/``snmpbulkwalk``/``snmpwalk`` (net-snmp, the reference
client), comparing with the recording the device was built from.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from netmon.demo import ber, recording, simulator
from tests import services

COMMUNITY = "demo-test"


class FakeClock:
    """A clock the test moves, so counters and uptime change by known amounts."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def sim() -> AsyncIterator[tuple[simulator.Simulator, int, FakeClock]]:
    port = services.free_port(socket.SOCK_DGRAM)
    clock = FakeClock()
    role = recording.ROLE_RECORDING  # the recordings the demo's devices answer with
    specs = [
        simulator.DeviceSpec("d1-r1", "127.1.250.1", recording.load(role["district_router"])),
        simulator.DeviceSpec("c1-cpe1", "127.1.250.2", recording.load(role["cpe"]), parent="d1-r1"),
        simulator.DeviceSpec("c2-cpe1", "127.1.250.3", recording.load("linksys-system"), parent="d1-r1"),
        simulator.DeviceSpec("d1-sw1", "127.1.250.4", recording.load(role["switch"]), parent="d1-r1"),
    ]
    s = simulator.Simulator(specs, community=COMMUNITY, port=port, seed=7, clock=clock)
    await s.start()
    yield s, port, clock
    s.close()


async def net_snmp(*args: str) -> list[str]:
    """Run a net-snmp tool (numeric OIDs, one try) and return its output lines."""
    prog = services.require(args[0])
    proc = await asyncio.create_subprocess_exec(
        prog, "-On", "-t", "0.5", "-r", "0", *args[1:],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return out.decode(errors="replace").splitlines()


def value_of(lines: list[str], oid: str) -> str:
    for line in lines:
        name, _, val = line.partition(" = ")
        if name == "." + oid:
            return val
    raise AssertionError(f"{oid} not in {lines}")


async def test_snmpget_returns_the_recording(sim: tuple[simulator.Simulator, int, FakeClock]) -> None:
    _, port, _ = sim
    lines = await net_snmp(
        "snmpget", "-v2c", f"-c{COMMUNITY}", f"127.1.250.1:{port}",
        "1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.42.0",
    )  # fmt: skip
    # The district router is snmpsim-data's Huawei S5720 (VRP), enterprise 2011.
    assert value_of(lines, "1.3.6.1.2.1.1.1.0").startswith('STRING: "S5720-36C-EI-AC')
    assert "Huawei Versatile Routing Platform Software " in lines  # sysDescr's second line
    assert value_of(lines, "1.3.6.1.2.1.1.2.0") == "OID: .1.3.6.1.4.1.2011.2.23.276"
    assert value_of(lines, "1.3.6.1.2.1.1.5.0") == 'STRING: "d1-r1"'  # sysName is the device id
    assert "No Such Object" in value_of(lines, "1.3.6.1.2.1.1.42.0")


async def test_snmpbulkwalk_walks_the_whole_interface_table(sim: tuple[simulator.Simulator, int, FakeClock]) -> None:
    _, port, _ = sim
    rec = recording.load(recording.ROLE_RECORDING["district_router"])
    expected = [o for o in rec.oids if o[: len(recording.IF_ENTRY)] == recording.IF_ENTRY]
    lines = await net_snmp("snmpbulkwalk", "-v2c", f"-c{COMMUNITY}", f"127.1.250.1:{port}", "1.3.6.1.2.1.2.2.1")
    walked = [ber.parse_oid(line.split(" = ")[0]) for line in lines]
    assert walked == expected
    assert len(walked) > 20
    # A static column comes back exactly as recorded: ifDescr of interface 1.
    assert value_of(lines, "1.3.6.1.2.1.2.2.1.2.1") == 'STRING: "InLoopBack0"'
    assert value_of(lines, "1.3.6.1.2.1.2.2.1.2.34") == 'STRING: "XGigabitEthernet0/0/1"'


@pytest.mark.parametrize(
    ("address", "device", "descr", "enterprise"),
    [
        ("127.1.250.1", "d1-r1", "S5720-36C-EI-AC", "2011"),  # district router: Huawei
        ("127.1.250.2", "c1-cpe1", "ZTE Ethernet Switch  ZXR10 5250-52TM-H", "3902"),  # commune CPE: ZTE
        ("127.1.250.4", "d1-sw1", "Cisco IOS Software, C3560 Software", "9"),  # switch: Cisco
    ],
)
async def test_each_role_answers_as_its_vendor_recording(
    sim: tuple[simulator.Simulator, int, FakeClock], address: str, device: str, descr: str, enterprise: str
) -> None:
    _, port, _ = sim
    oids = ("1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.5.0")
    lines = await net_snmp("snmpget", "-v2c", f"-c{COMMUNITY}", f"{address}:{port}", *oids)
    assert value_of(lines, oids[0]).startswith(f'STRING: "{descr}')
    assert value_of(lines, oids[1]).startswith(f"OID: .1.3.6.1.4.1.{enterprise}.")
    assert value_of(lines, oids[2]) == f'STRING: "{device}"'  # sysName is the device id


async def test_the_commune_cpe_keeps_two_office_ports(sim: tuple[simulator.Simulator, int, FakeClock]) -> None:
    _, port, _ = sim
    lines = await net_snmp("snmpbulkwalk", "-v2c", f"-c{COMMUNITY}", f"127.1.250.2:{port}", "1.3.6.1.2.1")
    assert value_of(lines, "1.3.6.1.2.1.2.1.0") == "INTEGER: 2"  # ifNumber matches the rows kept
    descr = {ln.split(" = ")[0] for ln in lines if ln.startswith(".1.3.6.1.2.1.2.2.1.2.")}
    assert descr == {".1.3.6.1.2.1.2.2.1.2.1", ".1.3.6.1.2.1.2.2.1.2.49"}
    assert value_of(lines, "1.3.6.1.2.1.2.2.1.2.49") == 'STRING: "2/1"'  # the gigabit uplink
    assert value_of(lines, "1.3.6.1.2.1.31.1.1.1.1.1") == 'STRING: "1/1"'  # ifXTable kept for both
    assert value_of(lines, "1.3.6.1.2.1.31.1.1.1.6.49").startswith("Counter64: ")
    # The walk ends after ifXTable: the recording is cut to what the agent polls.
    assert ber.parse_oid(lines[-1].split(" = ")[0])[:10] == recording.IFX_ENTRY


async def test_v1_walk_of_a_cpe_with_synthesized_interfaces(sim: tuple[simulator.Simulator, int, FakeClock]) -> None:
    _, port, _ = sim
    lines = await net_snmp("snmpwalk", "-v1", f"-c{COMMUNITY}", f"127.1.250.3:{port}", "1.3.6.1.2.1")
    assert value_of(lines, "1.3.6.1.2.1.1.1.0") == 'STRING: "BEFSX41"'  # the Linksys recording
    assert value_of(lines, "1.3.6.1.2.1.2.2.1.2.1") == 'STRING: "wan0"'
    assert value_of(lines, "1.3.6.1.2.1.31.1.1.1.1.2") == 'STRING: "lan0"'


async def test_counters_advance_with_traffic_and_uptime_with_time(
    sim: tuple[simulator.Simulator, int, FakeClock],
) -> None:
    s, port, clock = sim
    oids = ["1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.2.2.1.10.6", "1.3.6.1.2.1.2.2.1.16.6"]  # GigabitEthernet0/0/1
    before = await net_snmp("snmpget", "-v2c", f"-c{COMMUNITY}", f"127.1.250.1:{port}", *oids)
    clock.now += 10.0
    after = await net_snmp("snmpget", "-v2c", f"-c{COMMUNITY}", f"127.1.250.1:{port}", *oids)

    def num(lines: list[str], oid: str) -> int:
        v = value_of(lines, oid)
        return int(v.split("(")[1].split(")")[0]) if v.startswith("Timeticks") else int(v.split(": ")[1])

    assert num(after, oids[0]) - num(before, oids[0]) == 1000  # 10 s in hundredths
    rate_in, rate_out = s.device("d1-r1").rates[6]
    d_in = (num(after, oids[1]) - num(before, oids[1])) % (1 << 32)
    d_out = (num(after, oids[2]) - num(before, oids[2])) % (1 << 32)
    assert abs(d_in - rate_in * 10) <= 1
    assert d_in > 0
    assert abs(d_out - rate_out * 10) <= 1
    assert d_out > 0


async def test_reboot_resets_uptime_and_counters(sim: tuple[simulator.Simulator, int, FakeClock]) -> None:
    s, port, clock = sim
    dev = s.device("c1-cpe1")
    dev.hold("reboot")
    assert await net_snmp("snmpget", "-v2c", f"-c{COMMUNITY}", f"127.1.250.2:{port}", "1.3.6.1.2.1.1.3.0") == [
        f"Timeout: No Response from 127.1.250.2:{port}."
    ]
    clock.now += 30.0
    dev.release("reboot", now=clock.now, reboot=True)
    clock.now += 5.0
    lines = await net_snmp(
        "snmpget", "-v2c", f"-c{COMMUNITY}", f"127.1.250.2:{port}", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.2.2.1.10.1"
    )
    assert value_of(lines, "1.3.6.1.2.1.1.3.0") == "Timeticks: (500) 0:00:05.00"
    assert int(value_of(lines, "1.3.6.1.2.1.2.2.1.10.1").split(": ")[1]) == int(dev.rates[1][0] * 5)


async def test_a_cut_uplink_silences_the_devices_behind_it(sim: tuple[simulator.Simulator, int, FakeClock]) -> None:
    s, port, _ = sim
    s.device("d1-r1").hold("fibre_cut")
    for addr in ("127.1.250.1", "127.1.250.2"):
        out = await net_snmp("snmpget", "-v2c", f"-c{COMMUNITY}", f"{addr}:{port}", "1.3.6.1.2.1.1.3.0")
        assert out == [f"Timeout: No Response from {addr}:{port}."]
    s.device("d1-r1").release("fibre_cut")
    out = await net_snmp("snmpget", "-v2c", f"-c{COMMUNITY}", f"127.1.250.2:{port}", "1.3.6.1.2.1.1.5.0")
    assert value_of(out, "1.3.6.1.2.1.1.5.0") == 'STRING: "c1-cpe1"'
    assert s.stats.silent == 2


async def test_wrong_community_and_total_loss_get_no_answer(sim: tuple[simulator.Simulator, int, FakeClock]) -> None:
    s, port, _ = sim
    out = await net_snmp("snmpget", "-v2c", "-cwrong", f"127.1.250.1:{port}", "1.3.6.1.2.1.1.5.0")
    assert out[0].startswith("Timeout")
    s.device("d1-r1").loss = 1.0
    out = await net_snmp("snmpget", "-v2c", f"-c{COMMUNITY}", f"127.1.250.1:{port}", "1.3.6.1.2.1.1.5.0")
    assert out[0].startswith("Timeout")
    assert s.stats.bad_community == 1
    assert s.stats.dropped == 1


async def test_a_slow_device_answers_late(sim: tuple[simulator.Simulator, int, FakeClock]) -> None:
    s, port, _ = sim
    s.device("d1-r1").latency_s = 0.3
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    out = await net_snmp("snmpget", "-v2c", f"-c{COMMUNITY}", f"127.1.250.1:{port}", "1.3.6.1.2.1.1.5.0")
    assert value_of(out, "1.3.6.1.2.1.1.5.0") == 'STRING: "d1-r1"'
    assert loop.time() - t0 >= 0.3


def test_addresses_outside_loopback_are_refused() -> None:
    spec = simulator.DeviceSpec("x", "10.0.0.1", recording.load("linksys-system"))
    with pytest.raises(simulator.SimulatorError, match=r"outside 127\.0\.0\.0/8"):
        simulator.Simulator([spec], community="c")


async def test_64_bit_counters_advance_too(sim: tuple[simulator.Simulator, int, FakeClock]) -> None:
    s, port, clock = sim
    oid = "1.3.6.1.2.1.31.1.1.1.6.1"  # ifHCInOctets of the CPE's LAN port 1/1
    before = await net_snmp("snmpget", "-v2c", f"-c{COMMUNITY}", f"127.1.250.2:{port}", oid)
    clock.now += 4.0
    after = await net_snmp("snmpget", "-v2c", f"-c{COMMUNITY}", f"127.1.250.2:{port}", oid)
    assert value_of(before, oid).startswith("Counter64: ")
    delta = int(value_of(after, oid).split(": ")[1]) - int(value_of(before, oid).split(": ")[1])
    assert abs(delta - s.device("c1-cpe1").rates[1][0] * 4) <= 1
