"""The pure parts of discovery: vendors from sysObjectID (checked against every network
recording of snmpsim-data), LLDP and CDP tables as real devices report them, the parents
the links imply and where the inventory disagrees, the sweep's address list."""

from __future__ import annotations

import bz2
from pathlib import Path

import pytest

from netmon.agent import lldp
from netmon.agent.discovery import DiscoveryError, Finding, addresses_of
from netmon.agent.links import build_graph, compare, default_roots, propose_parents
from netmon.agent.lldp import Neighbour
from netmon.agent.vendors import enterprise_of, identify
from netmon.config.inventory import Device
from tests.services_snmp import snmpsim_data_dir

#: Recording file name prefix -> the vendor its sysObjectID must name.
VENDOR_OF_FILE = {
    "cisco": "Cisco",
    "huawei": "Huawei",
    "juniper-mx": "Juniper",
    "juniper-wlc": "Trapeze (Juniper)",
    "zte": "ZTE",
    "h3c": "H3C",
    "ruijie": "Ruijie",
    "hpe": "HPE",
    "dlink": "D-Link",
    "brocade-icx": "Brocade (Foundry)",
    "brocade-ds": "Brocade",
    "maipu": "Maipu",
    "bdcom": "BDCOM",
    "fortinet": "Fortinet",
    "paloalto": "Palo Alto Networks",
    "aruba": "Aruba",
    "ubiquiti": "Ubiquiti",
    "sangfor": "Sangfor",
    "ruckus": "Ruckus",
    "tripplite": "Tripp Lite",
}


def _records(path: Path) -> dict[str, tuple[str, str]]:
    raw = path.read_bytes()
    text = (bz2.decompress(raw) if path.suffix == ".bz2" else raw).decode("utf-8", errors="replace")
    out = {}
    for line in text.splitlines():
        parts = line.split("|", 2)
        if len(parts) == 3:
            out[parts[0]] = (parts[1], parts[2])
    return out


def _sys_object_id(path: Path) -> str | None:
    """sysObjectID of a recording, read up to its line (recordings are in OID order)."""
    opener = bz2.open if path.suffix == ".bz2" else open
    with opener(path, "rt", encoding="utf-8", errors="replace") as fh:  # type: ignore[operator]
        for line in fh:
            if line.startswith("1.3.6.1.2.1.1.2.0|"):
                return str(line.rstrip("\r\n").split("|", 2)[2])
            if line.startswith("1.3.6.1.2.1.2"):
                return None
    return None


def _value(tag: str, text: str) -> object:
    if tag.endswith("x"):
        return bytes.fromhex(text)
    if tag == "4":
        return text.encode()
    if tag == "6":
        return tuple(int(x) for x in text.split("."))
    return int(text)


def _columns(
    records: dict[str, tuple[str, str]], columns: tuple[lldp.Oid, ...]
) -> dict[lldp.Oid, dict[lldp.Oid, object]]:
    out: dict[lldp.Oid, dict[lldp.Oid, object]] = {c: {} for c in columns}
    for oid_text, (tag, text) in records.items():
        oid = tuple(int(x) for x in oid_text.split("."))
        for c in columns:
            if oid[: len(c)] == c and len(oid) > len(c):
                out[c][oid[len(c) :]] = _value(tag, text)
    return out


def test_vendor_of_every_network_recording() -> None:
    checked = 0
    for path in sorted((snmpsim_data_dir() / "network").rglob("*.snmprec*")):
        vendor = next((v for k, v in VENDOR_OF_FILE.items() if path.name.startswith(k)), None)
        if vendor is None:
            continue
        oid = _sys_object_id(path)
        if oid is None:
            continue
        assert identify(oid).vendor == vendor, path.name
        checked += 1
    assert checked >= 40


@pytest.mark.parametrize(
    ("oid", "descr", "vendor", "model"),
    [
        ("1.3.6.1.4.1.2011.2.23.276", "", "Huawei", "S5720-36C-EI"),
        (
            "1.3.6.1.4.1.2011.2.23.999",
            "S5735-L48T4X-A1 \r\nHuawei Versatile Routing Platform",
            "Huawei",
            "S5735-L48T4X-A1",
        ),
        ("1.3.6.1.4.1.3902.3.1.2", "ZTE Ethernet Switch  ZXR10 2928E, Version: V2.05", "ZTE", "2928E"),
        (
            "1.3.6.1.4.1.9.1.1208",
            "Cisco IOS Software, C2960X Software (C2960X-UNIVERSALK9-M), Version 15.2",
            "Cisco",
            "C2960X",
        ),
        (".1.3.6.1.4.1.25506.1.1", "H3C Switch S5130 Software Version 7.1", "H3C", "S5130"),
        ("1.3.6.1.4.1.99999.1", "", "enterprise 99999", ""),
        ("1.3.6.1.2.1.1", "", "", ""),
        (None, None, "", ""),
    ],
)
def test_identify(oid: str | None, descr: str | None, vendor: str, model: str) -> None:
    who = identify(oid, descr)
    assert (who.vendor, who.model) == (vendor, model)
    assert who.enterprise == enterprise_of(oid)


def test_lldp_of_a_real_h3c_switch() -> None:
    """The H3C E528 recording: a non-zero time mark (1169175), MAC chassis id, an
    interface-name port id and a management address in the index."""
    records = _records(snmpsim_data_dir() / "network" / "switch" / "h3c-e528-1.snmprec.bz2")
    cols = _columns(records, (lldp.IF_NAME, *lldp.LLDP_COLUMNS))
    if_names = {idx[0]: lldp.text(v) for idx, v in cols[lldp.IF_NAME].items()}
    [n] = lldp.lldp_neighbours(cols, if_names)
    assert n == Neighbour(
        protocol="lldp",
        local_port="GigabitEthernet1/0/24",  # lldpLocPortNum 24 is ifIndex 24 here
        chassis_id="38:91:d5:fb:74:2c",
        port="GigabitEthernet1/0/33",
        sys_name="WRD-Huiju-2",
        sys_descr=n.sys_descr,
        addresses=("10.1.123.2",),
    )
    assert n.sys_descr.startswith("H3C Comware Platform Software")


def test_cdp_of_a_real_cisco_switch() -> None:
    records = _records(snmpsim_data_dir() / "network" / "switch" / "cisco-c3560.snmprec.bz2")
    cols = _columns(records, (lldp.IF_NAME, *lldp.CDP_COLUMNS))
    if_names = {idx[0]: lldp.text(v) for idx, v in cols[lldp.IF_NAME].items()}
    found = lldp.cdp_neighbours(cols, if_names)
    assert len(found) == 9
    first = found[0]
    assert first.protocol == "cdp"
    assert first.addresses == ("10.1.100.181",)
    assert first.port == "GigabitEthernet0/2"
    assert first.sys_name == "OLD-ShiTang-WIRELESS"
    assert first.local_port == if_names.get(10149, "10149")


@pytest.mark.parametrize(
    ("subtype", "raw", "text"),
    [
        (4, bytes.fromhex("3891d5fb742c"), "38:91:d5:fb:74:2c"),
        (5, bytes([1, 10, 51, 0, 1]), "10.51.0.1"),
        (7, b"QNG-PE-01", "QNG-PE-01"),
        (7, bytes.fromhex("00ff10"), "00ff10"),
    ],
)
def test_chassis_ids(subtype: int, raw: bytes, text: str) -> None:
    assert lldp.chassis_text(subtype, raw) == text


def _dev(dev_id: str, role: str, address: str, parent: str | None = None) -> Device:
    return Device.model_validate({"id": dev_id, "role": role, "address": address, "parent": parent, "snmp": "x"})


def _finding(address: str, name: str, *seen: tuple[str, str]) -> Finding:
    return Finding(
        address,
        snmp_profile="x",
        sys_name=name,
        neighbours=tuple(Neighbour("lldp", port, sys_name=peer) for port, peer in seen),
    )


def test_parents_from_a_ring_prefer_the_router() -> None:
    """A CPE cabled to the router and to a sibling CPE (a ring) hangs off the router;
    a device the inventory lacks becomes a node of its own; the disagreement is named."""
    devices = [
        _dev("core", "core_router", "10.0.0.1"),
        _dev("pe", "district_router", "10.0.0.2", "core"),
        _dev("cpe-a", "cpe", "10.0.0.11", "pe"),
        _dev("cpe-b", "cpe", "10.0.0.12", "cpe-a"),  # wrong: it is cabled to the router too
        _dev("cpe-c", "cpe", "10.0.0.13", "pe"),  # silent
    ]
    findings = [
        _finding("10.0.0.2", "PE", ("g1", "core"), ("g2", "cpe-a"), ("g3", "cpe-b")),
        _finding("10.0.0.11", "cpe-a", ("u", "PE"), ("l", "cpe-b"), ("x", "unknown-ap")),
        _finding("10.0.0.12", "cpe-b", ("u", "pe"), ("l", "cpe-a")),
    ]
    graph = build_graph(findings, devices)
    assert default_roots(graph) == ["core"]
    parents = propose_parents(graph, ["core"])
    assert parents == {"core": None, "pe": "core", "cpe-a": "pe", "cpe-b": "pe", "name:unknown-ap": "cpe-a"}
    result = compare(graph, parents, devices)
    assert [(d.device, d.inventory_parent, d.seen_parent) for d in result.disagreements] == [("cpe-b", "cpe-a", "pe")]
    assert result.unseen == ["cpe-c"]
    assert result.not_in_inventory == ["unknown-ap"]
    assert sorted(result.agreeing) == ["core", "cpe-a", "pe"]


def test_addresses_of_bounds_the_sweep() -> None:
    assert addresses_of(["127.51.0.0/30"]) == ["127.51.0.1", "127.51.0.2"]
    assert addresses_of(["127.51.0.7/32", "127.51.0.6/31"]) == ["127.51.0.7", "127.51.0.6"]
    with pytest.raises(DiscoveryError, match="more than the limit"):
        addresses_of(["10.0.0.0/16"])
    with pytest.raises(DiscoveryError, match="not a subnet"):
        addresses_of(["10.0.0.0/33"])


def test_finding_round_trips_through_plain_data() -> None:
    f = Finding("10.0.0.2", device="pe", icmp=True, rtt_s=0.01, snmp_profile="x", sys_name="PE",
                neighbours=(Neighbour("cdp", "Gi0/1", port="2/1", sys_name="cpe", addresses=("10.0.0.11",)),))  # fmt: skip
    assert Finding.from_data(f.to_data()) == f
