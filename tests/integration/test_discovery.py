"""``netmon inventory discover`` and ``diff`` against real SNMP responders on loopback:
snmpsim replaying real Huawei, ZTE and Cisco recordings with LLDP/CDP tables added (a
core, a district router, two commune CPEs, a commune office switch), and net-snmp's
snmpd, swept from an agent's settings at a bounded rate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from netmon.cli import main
from tests.lldp_topology import SimDevice, free_udp_port, link, serve
from tests.services import SNMP_COMMUNITY, Service, require, snmp_answers, wait_until

NET = "127.51.0"
CORE = SimDevice("QNI-CORE-01", f"{NET}.1", "huawei", "4c:1f:cc:00:00:01")
PE = SimDevice("QNG-PE-01", f"{NET}.2", "huawei", "4c:1f:cc:00:00:02", time_mark=1169175)
CPE_A = SimDevice("QNG-TinhKhe-CPE", f"{NET}.11", "zte", "00:19:c6:00:00:11")
CPE_B = SimDevice("QNG-NghiaLo-CPE", f"{NET}.12", "zte", "00:19:c6:00:00:12")
SWITCH = SimDevice("QNG-TinhKhe-SW", f"{NET}.21", "cisco", "00:1b:54:00:00:21", cdp=True)
link(CORE, 6, PE, 6)
link(PE, 7, CPE_A, 49)
link(PE, 8, CPE_B, 49)
link(CPE_A, 1, SWITCH, 10101)
SNMPD_ADDRESS = f"{NET}.30"
DEVICES = [CORE, PE, CPE_A, CPE_B, SWITCH]

INVENTORY = f"""
edition: "2021"
province: {{code: "51", name: Tỉnh Quảng Ngãi}}
devices:
  - {{id: p51-core, role: core_router, address: {CORE.address}, snmp: default}}
districts:
  - code: "522"
    name: Thành phố Quảng Ngãi
    devices:
      - {{id: d522-r1, role: district_router, address: {PE.address}, snmp: default, parent: p51-core}}
    communes:
      - code: "21211"
        name: Xã Tịnh Khê
        devices:
          - {{id: c21211-cpe1, role: cpe, address: {CPE_A.address}, snmp: default, parent: d522-r1}}
      - code: "21028"
        name: Phường Nghĩa Lộ
        devices:
          # wrong on purpose: the cable goes to the district router, not the core
          - {{id: c21028-cpe1, role: cpe, address: {CPE_B.address}, snmp: default, parent: p51-core}}
      - code: "21010"
        name: Phường Lê Hồng Phong
        devices:
          - {{id: c21010-cpe1, role: cpe, address: {NET}.13, snmp: default, parent: d522-r1}}
"""


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int]]:
    """The simulated district (snmpsim) and an snmpd, all on one UDP port; the agent's files."""
    work = tmp_path_factory.mktemp("district")
    port = free_udp_port([d.address for d in DEVICES] + [SNMPD_ADDRESS])
    services = serve(DEVICES, work / "sim", port)
    conf = work / "snmpd.conf"
    conf.write_text(f"rocommunity {SNMP_COMMUNITY} 127.0.0.1\nsysName netmon-server-01\n")
    snmpd = Service(
        "snmpd-discovery",
        [
            require("snmpd"),
            "-f",
            "-Lo",
            "-C",
            "-c",
            str(conf),
            "-p",
            str(work / "snmpd.pid"),
            f"udp:{SNMPD_ADDRESS}:{port}",
        ],
        work,
        port,
        env={"SNMP_PERSISTENT_DIR": str(work / "persist"), "MIBDIRS": "/nonexistent", "MIBS": ""},
    ).start(lambda: True)
    services.append(snmpd)
    try:
        wait_until(lambda: snmp_answers(port, host=SNMPD_ADDRESS), 30, "snmpd", snmpd.proc, snmpd.log)
        (work / "inventory.yaml").write_text(INVENTORY, encoding="utf-8")
        (work / "credentials.yaml").write_text(
            "snmp:\n"
            f"  default: {{version: '2c', community: {{value: {SNMP_COMMUNITY}}}, port: {port}, timeout_s: 1, retries: 1}}\n"
            f"  other: {{version: '2c', community: {{value: wrong-community}}, port: {port}, timeout_s: 1}}\n",
            encoding="utf-8",
        )
        (work / "agent.yaml").write_text(
            "agent_id: agent-522\ninventory: inventory.yaml\ncredentials: credentials.yaml\n"
            "scope: {districts: ['522']}\npoll: {timeout_s: 1, icmp_mode: auto}\n",
            encoding="utf-8",
        )
        yield work, port
    finally:
        for svc in services:
            svc.stop()


def test_discover_finds_what_answers_and_proposes_parents(
    district: tuple[Path, int], capsys: pytest.CaptureFixture[str]
) -> None:
    work, _ = district
    out = work / "found.yaml"
    code = main(
        [
            "inventory", "discover", "-c", str(work / "agent.yaml"), "--subnet", f"{NET}.0/27",
            "--rate", "40", "--concurrency", "8", "--profile", "other", "--profile", "default", "-o", str(out),
        ]
    )  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    head = text.splitlines()[0]
    assert head.startswith("swept 30 addresses in ")
    # at most 40 a second: 30 evenly spaced starts take at least 29/40 s
    assert float(head.split(" in ")[1].split(" s ")[0]) >= 0.7
    assert "6 answered SNMP" in head
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    found = {f["address"]: f for f in doc["findings"] if "snmp_profile" in f}
    assert set(found) == {d.address for d in DEVICES} | {SNMPD_ADDRESS}
    assert {f["snmp_profile"] for f in found.values()} == {"default"}  # the wrong community never answers
    core = found[CORE.address]
    assert (core["vendor"], core["model"], core["sys_name"], core["device"]) == (
        "Huawei", "S5720-36C-EI", "QNI-CORE-01", "p51-core",
    )  # fmt: skip
    assert (found[CPE_A.address]["vendor"], found[CPE_A.address]["model"]) == ("ZTE", "ZXR10 5250-52TM-H")
    assert (found[SWITCH.address]["vendor"], found[SWITCH.address]["model"]) == ("Cisco", "Catalyst 3560")
    assert found[SNMPD_ADDRESS]["vendor"] == "net-snmp"
    assert found[SNMPD_ADDRESS]["sys_name"] == "netmon-server-01"
    # LLDP seen from the district router (non-zero time mark), with ports and addresses
    pe = {n["sys_name"]: n for n in found[PE.address]["neighbours"]}
    assert pe["QNG-TinhKhe-CPE"]["local_port"] == "GigabitEthernet0/0/2"
    assert pe["QNG-TinhKhe-CPE"]["port"] == "2/1"
    assert pe["QNG-TinhKhe-CPE"]["addresses"] == [CPE_A.address]
    assert pe["QNG-TinhKhe-CPE"]["chassis_id"] == CPE_A.mac
    cdp = found[SWITCH.address]["neighbours"]
    assert [(n["protocol"], n["local_port"], n["sys_name"], n["addresses"]) for n in cdp] == [
        ("cdp", "Gi0/1", "QNG-TinhKhe-CPE.tslcd.qn", [CPE_A.address])
    ]
    parents = {p["device"]: p["parent"] for p in doc["proposed_parents"]}
    assert parents["p51-core"] is None
    assert parents["d522-r1"] == "p51-core"
    assert parents["c21211-cpe1"] == "d522-r1"
    assert parents["c21028-cpe1"] == "d522-r1"
    assert parents[f"QNG-TinhKhe-SW ({SWITCH.address})"] == "c21211-cpe1"  # found through CDP only


@pytest.mark.parametrize("from_file", [False, True])
def test_diff_shows_the_parent_lldp_contradicts(
    district: tuple[Path, int], capsys: pytest.CaptureFixture[str], from_file: bool
) -> None:
    work, _ = district
    args = ["inventory", "diff", "-c", str(work / "agent.yaml")]
    if from_file:
        found = work / "found-diff.yaml"
        assert main(["inventory", "discover", "-c", str(work / "agent.yaml"), "--subnet", f"{NET}.0/27",
                     "--rate", "200", "--no-icmp", "-o", str(found)]) == 0  # fmt: skip
        capsys.readouterr()
        args += ["--discovery", str(found)]
    code = main(args)
    text = capsys.readouterr().out
    assert code == 1, text
    assert "c21028-cpe1: inventory parent p51-core, LLDP/CDP shows d522-r1" in text
    assert "c21211-cpe1" not in text.split("disagree")[1].split("not seen")[0]
    assert "4 devices of agent-522: 2 agree with LLDP/CDP, 1 disagree, 1 not seen" in text
    assert "not seen by any neighbour table: c21010-cpe1" in text
    # the switch speaks CDP only: a sweep reaches it, the inventory's own devices do not show it
    assert (f"neighbours not in the inventory: QNG-TinhKhe-SW ({SWITCH.address})" in text) is from_file
