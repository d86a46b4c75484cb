"""Who made a device and what it is, from its sysObjectID (and sysDescr).

sysObjectID is ``1.3.6.1.4.1.<enterprise>.<product...>``: the enterprise number (IANA's
Private Enterprise Numbers) names the vendor, the rest its product. The table holds the
vendors a provincial state data network buys (the numbers are those the vendors' own
devices report in the ``snmpsim-data`` recordings, which a test checks) and the
products whose identifiers those recordings show; any other product's model is read from
sysDescr by the vendor's wording, or left empty. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ENTERPRISE_PREFIX = "1.3.6.1.4.1."

#: IANA Private Enterprise Number -> vendor.
ENTERPRISES: dict[int, str] = {
    9: "Cisco",
    11: "HPE",
    171: "D-Link",
    850: "Tripp Lite",
    1588: "Brocade",
    1991: "Brocade (Foundry)",
    2011: "Huawei",
    2021: "UC Davis (net-snmp)",
    2636: "Juniper",
    3320: "BDCOM",
    3902: "ZTE",
    4881: "Ruijie",
    5089: "Clavister",
    5651: "Maipu",
    6339: "DCN (Digital China)",
    8072: "net-snmp",
    12356: "Fortinet",
    14331: "Topsec",
    14525: "Trapeze (Juniper)",
    14823: "Aruba",
    15227: "Venustech",
    15983: "Meru",
    19849: "NSFOCUS",
    25053: "Ruckus",
    25461: "Palo Alto Networks",
    25506: "H3C",
    30803: "Vyatta",
    31648: "DPtech",
    35047: "Sangfor",
    41112: "Ubiquiti",
}

#: sysObjectID -> model, for products seen in real recordings.
PRODUCTS: dict[str, str] = {
    "1.3.6.1.4.1.2011.2.23.276": "S5720-36C-EI",
    "1.3.6.1.4.1.2011.2.279.3": "S12704",
    "1.3.6.1.4.1.3902.3.100.614": "ZXR10 5250-52TM-H",
    "1.3.6.1.4.1.9.1.516": "Catalyst 3750",
    "1.3.6.1.4.1.9.1.617": "Catalyst 3560",
    "1.3.6.1.4.1.9.12.3.1.3.1084": "Nexus 5000",
    "1.3.6.1.4.1.2636.1.1.1.2.21": "MX960",
    "1.3.6.1.4.1.25506.1.578": "E528",
    "1.3.6.1.4.1.4881.1.1.10.1.165": "N18010",
    "1.3.6.1.4.1.8072.3.2.10": "Linux (net-snmp)",
}

#: Vendor -> how its sysDescr names the model (first group).
_DESCR_MODEL: dict[str, re.Pattern[str]] = {
    "Huawei": re.compile(r"^\s*([A-Z][A-Z0-9]+-[A-Z0-9-]+|[A-Z]{1,3}\d{3,5}[A-Z0-9-]*)\s*$", re.M),
    "ZTE": re.compile(r"ZXR10\s+([\w-]+)"),
    "Cisco": re.compile(r"Software \((?:[A-Za-z]+-)?([A-Za-z0-9]+?)-"),
    "H3C": re.compile(r"H3C (?:Switch |Router )?(\S+) Software"),
    "Juniper": re.compile(r"Juniper Networks, Inc\. (\S+)"),
    "Ruijie": re.compile(r"\(([A-Z]+\d+[\w-]*)\)"),
}


@dataclass(frozen=True, slots=True)
class Identity:
    """What a device is: its vendor and model (empty when unknown) and enterprise number."""

    vendor: str
    model: str
    enterprise: int | None


def enterprise_of(sys_object_id: str | None) -> int | None:
    """The enterprise number in a sysObjectID, or None when it is not under enterprises."""
    if not sys_object_id:
        return None
    oid = sys_object_id.strip().lstrip(".")
    if not oid.startswith(ENTERPRISE_PREFIX):
        return None
    head = oid[len(ENTERPRISE_PREFIX) :].split(".", 1)[0]
    return int(head) if head.isdigit() else None


def identify(sys_object_id: str | None, sys_descr: str | None = None) -> Identity:
    """Vendor and model from sysObjectID, the model from sysDescr when the table lacks it."""
    number = enterprise_of(sys_object_id)
    vendor = ENTERPRISES.get(number, f"enterprise {number}") if number is not None else ""
    oid = (sys_object_id or "").strip().lstrip(".")
    model = PRODUCTS.get(oid, "")
    if not model and sys_descr and vendor in _DESCR_MODEL:
        m = _DESCR_MODEL[vendor].search(sys_descr)
        if m:
            model = m.group(1)
    return Identity(vendor, model, number)
