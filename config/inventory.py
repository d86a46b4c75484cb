"""The inventory: what the network is.

Province → optional district → commune → devices. The 2021 structure has districts;
the structure after the 2025 reform has communes directly under the province, so
nothing here assumes that a district exists. Codes are the General Statistics Office
codes as zero-padded strings (``"51"``, ``"522"``, ``"21010"``).

This module is pure: models, cross-checks and an index, no I/O.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class Role(StrEnum):
    """What a device does in the network."""

    CORE_ROUTER = "core_router"
    DISTRICT_ROUTER = "district_router"
    COMMUNE_ROUTER = "commune_router"
    CPE = "cpe"
    SWITCH = "switch"
    SERVER = "server"
    OTHER = "other"


#: Roles whose UP state connects a commune, unless a device says otherwise.
ACCESS_ROLES = frozenset({Role.COMMUNE_ROUTER, Role.CPE})


class Probe(StrEnum):
    """How a device is checked."""

    ICMP = "icmp"
    SNMP = "snmp"
    TCP = "tcp"


#: The names of the fields set, one set per distinct combination (see ``_Strict``).
_FIELDS_SET: dict[frozenset[str], set[str]] = {}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    def model_post_init(self, context: Any, /) -> None:
        """Share the set of the names of the fields set with every model that set the same.

        Pydantic keeps that set per instance (728 bytes for a device's five): 21 MB for a
        national inventory's 30,000 devices, in a collector whose budget is 220 MB. The
        models are frozen, so nothing changes the set in place (a ``model_copy`` copies it
        before adding to it).
        """
        fields_set = self.__pydantic_fields_set__
        shared = _FIELDS_SET.setdefault(frozenset(fields_set), fields_set)
        if shared is not fields_set:
            object.__setattr__(self, "__pydantic_fields_set__", shared)


class Device(_Strict):
    """A monitored device.

    Attributes:
        id: Unique, stable id (lower case, digits, ``.-_``); used in topics and labels.
        role: What it does; access roles connect their commune.
        address: IPv4/IPv6 address or DNS name the agent polls.
        name: Human label (hostname, model), optional.
        snmp: Name of an SNMP credential profile (credentials file); needed for the
            ``snmp`` probe.
        probes: Probes to run; ``icmp`` and ``snmp`` by default.
        tcp_port: Port for the ``tcp`` probe (fallback reachability when ICMP is not allowed).
        parent: Id of the device this one depends on (its uplink); its failure makes
            this device UNREACHABLE rather than DOWN.
        interval_s: Poll interval, overriding the agent's default.
        access: Whether this device's UP state connects its commune; by default true for
            commune routers and CPEs.
    """

    id: str
    role: Role
    address: str
    name: str = ""
    snmp: str | None = None
    probes: tuple[Probe, ...] = (Probe.ICMP, Probe.SNMP)
    tcp_port: int | None = Field(default=None, ge=1, le=65535)
    parent: str | None = None
    interval_s: float | None = Field(default=None, gt=0, le=86400)
    access: bool | None = None

    @field_validator("id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"invalid device id {v!r}: use lower-case letters, digits, '.', '-', '_'")
        return sys.intern(v)  # one string for the id and every child's ``parent``

    @field_validator("parent")
    @classmethod
    def _shared_parent(cls, v: str | None) -> str | None:
        return None if v is None else sys.intern(v)

    @field_validator("address")
    @classmethod
    def _valid_address(cls, v: str) -> str:
        try:
            ipaddress.ip_address(v)
        except ValueError:
            if not _HOSTNAME.match(v) or v.replace(".", "").isdigit():
                raise ValueError(f"invalid address {v!r}: not an IP address or host name") from None
        return v

    @property
    def is_access(self) -> bool:
        """Whether this device counts for its commune's connectivity."""
        return self.access if self.access is not None else self.role in ACCESS_ROLES


class FormerCommune(_Strict):
    """A commune of an earlier structure that this one succeeds (written by
    ``netmon inventory migrate``): what it was and which devices came from it.

    Attributes:
        part: The former commune was divided between several successors.
        whole_district: The former unit was a district without communes (an island
            district) that became this commune-level unit; ``code`` is then this unit's.
    """

    code: str = Field(pattern=r"^\d{5}$")
    name: str = Field(min_length=1)
    province: str = Field(pattern=r"^\d{2}$")
    district: str | None = Field(default=None, pattern=r"^\d{3}$")
    district_name: str = ""
    devices: tuple[str, ...] = ()
    part: bool = False
    whole_district: bool = False


class Commune(_Strict):
    """A commune-level unit (xã, phường, thị trấn, đặc khu) and the devices at its site.

    ``formerly`` lists the communes of the earlier structure it succeeds, after a
    migration (see :class:`PreviousStructure`).
    """

    code: str = Field(pattern=r"^\d{5}$")
    name: str = Field(min_length=1)
    devices: tuple[Device, ...] = ()
    formerly: tuple[FormerCommune, ...] = ()


class District(_Strict):
    """A district-level unit (huyện, quận, thị xã, thành phố) of the 2021 structure."""

    code: str = Field(pattern=r"^\d{3}$")
    name: str = Field(min_length=1)
    devices: tuple[Device, ...] = ()
    communes: tuple[Commune, ...] = ()


class ProvinceRef(_Strict):
    """The province the inventory covers."""

    code: str = Field(pattern=r"^\d{2}$")
    name: str = Field(min_length=1)


class PreviousStructure(_Strict):
    """The structure an inventory was migrated from, and until when the collector used it.

    Attributes:
        edition: The earlier edition (``2021``).
        until: When the collector switched to this inventory: periods before it were
            monitored in the earlier structure (the communes' ``formerly``).
        provinces: The earlier provinces whose inventories were migrated into this one.
        source: The conversion list used.
    """

    edition: str
    until: datetime
    provinces: tuple[ProvinceRef, ...]
    source: str = ""


class Inventory(_Strict):
    """The whole monitored network of one province.

    Either ``districts`` (2021 structure) or top-level ``communes`` (2025 structure), or
    both while a migration is under way; ``devices`` holds province-level equipment
    (the core router, the provincial data centre).
    """

    edition: str = ""
    province: ProvinceRef
    devices: tuple[Device, ...] = ()
    districts: tuple[District, ...] = ()
    communes: tuple[Commune, ...] = ()
    previous: PreviousStructure | None = None

    @cached_property
    def index(self) -> InventoryIndex:
        """Lookup tables over the inventory, built once."""
        return InventoryIndex.build(self)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a device stands: its path in the model and its administrative units."""

    path: str
    district: District | None
    commune: Commune | None


@dataclass(frozen=True)
class InventoryIndex:
    """Lookup tables: devices, communes and districts by id/code, and each device's place."""

    inventory: Inventory
    devices: dict[str, Device] = field(default_factory=dict)
    placement: dict[str, Placement] = field(default_factory=dict)
    communes: dict[str, Commune] = field(default_factory=dict)
    commune_district: dict[str, District | None] = field(default_factory=dict)
    districts: dict[str, District] = field(default_factory=dict)

    @classmethod
    def build(cls, inv: Inventory) -> InventoryIndex:
        """Index an inventory; the first of duplicate ids wins (``check`` reports them)."""
        idx = cls(inventory=inv)
        for path, dev, district, commune in iter_devices(inv):
            idx.devices.setdefault(dev.id, dev)
            idx.placement.setdefault(dev.id, Placement(path, district, commune))
        for district in inv.districts:
            idx.districts.setdefault(district.code, district)
            for commune in district.communes:
                idx.communes.setdefault(commune.code, commune)
                idx.commune_district.setdefault(commune.code, district)
        for commune in inv.communes:
            idx.communes.setdefault(commune.code, commune)
            idx.commune_district.setdefault(commune.code, None)
        return idx

    def ancestors(self, device_id: str) -> list[str]:
        """Parent chain of a device, nearest first; stops at a cycle or a dangling id."""
        chain: list[str] = []
        seen = {device_id}
        cur = self.devices.get(device_id)
        while cur is not None and cur.parent is not None and cur.parent not in seen:
            chain.append(cur.parent)
            seen.add(cur.parent)
            cur = self.devices.get(cur.parent)
        return chain

    def children(self) -> dict[str, list[str]]:
        """Direct dependants of each device."""
        out: dict[str, list[str]] = {}
        for dev in self.devices.values():
            if dev.parent is not None:
                out.setdefault(dev.parent, []).append(dev.id)
        return out


def iter_devices(inv: Inventory) -> Iterator[tuple[str, Device, District | None, Commune | None]]:
    """Every device with its field path and its district and commune (None where absent)."""
    for i, dev in enumerate(inv.devices):
        yield f"devices[{i}]", dev, None, None
    for di, district in enumerate(inv.districts):
        for i, dev in enumerate(district.devices):
            yield f"districts[{di}].devices[{i}]", dev, district, None
        for ci, commune in enumerate(district.communes):
            for i, dev in enumerate(commune.devices):
                yield f"districts[{di}].communes[{ci}].devices[{i}]", dev, district, commune
    for ci, commune in enumerate(inv.communes):
        for i, dev in enumerate(commune.devices):
            yield f"communes[{ci}].devices[{i}]", dev, None, commune


@dataclass(frozen=True, slots=True)
class _DevFacts:
    """What the cross-checks need of a device, from a model or from raw YAML data."""

    id: str
    parent: str | None
    snmp: str | None
    probes: tuple[str, ...]
    tcp_port: int | None


def check(inv: Inventory, snmp_profiles: set[str] | None = None) -> list[tuple[str, str]]:
    """Cross-check an inventory that parsed.

    Args:
        inv: The parsed inventory.
        snmp_profiles: Names of the known SNMP credential profiles, or None to skip
            that check (no credentials file given).

    Returns:
        ``(field path, message)`` for every problem: duplicate device ids or unit
        codes, dangling parents, parent cycles, SNMP probes without a known profile.
    """
    devices = [
        (path, _DevFacts(d.id, d.parent, d.snmp, tuple(p.value for p in d.probes), d.tcp_port))
        for path, d, _, _ in iter_devices(inv)
    ]
    units = [(f"districts[{di}]", d.code) for di, d in enumerate(inv.districts)]
    units += [
        (f"districts[{di}].communes[{ci}]", c.code)
        for di, d in enumerate(inv.districts)
        for ci, c in enumerate(d.communes)
    ]
    units += [(f"communes[{ci}]", c.code) for ci, c in enumerate(inv.communes)]
    return _cross_check(devices, units, snmp_profiles)


def check_raw(data: object) -> list[tuple[str, str]]:
    """The same cross-checks on raw data that failed validation, so that one run of
    ``check-config`` reports dangling parents and duplicates beside type errors.
    Entries too malformed to read are skipped (validation reports them)."""
    if not isinstance(data, dict):
        return []
    devices: list[tuple[str, _DevFacts]] = []
    units: list[tuple[str, str]] = []

    def seq(obj: object, key: str) -> list[object]:
        val = obj.get(key) if isinstance(obj, dict) else None
        return val if isinstance(val, list) else []

    def devs(owner: object, prefix: str) -> None:
        for i, d in enumerate(seq(owner, "devices")):
            if isinstance(d, dict) and isinstance(d.get("id"), str):
                parent = d.get("parent")
                probes = d.get("probes", ["icmp", "snmp"])
                devices.append(
                    (
                        f"{prefix}devices[{i}]",
                        _DevFacts(
                            d["id"],
                            parent if isinstance(parent, str) else None,
                            d.get("snmp") if isinstance(d.get("snmp"), str) else None,
                            tuple(str(p) for p in probes) if isinstance(probes, list) else (),
                            d.get("tcp_port") if isinstance(d.get("tcp_port"), int) else None,
                        ),
                    )
                )

    devs(data, "")
    for di, district in enumerate(seq(data, "districts")):
        if isinstance(district, dict):
            units.append((f"districts[{di}]", str(district.get("code"))))
            devs(district, f"districts[{di}].")
            for ci, commune in enumerate(seq(district, "communes")):
                units.append(
                    (f"districts[{di}].communes[{ci}]", str(commune.get("code")) if isinstance(commune, dict) else "")
                )
                devs(commune, f"districts[{di}].communes[{ci}].")
    for ci, commune in enumerate(seq(data, "communes")):
        units.append((f"communes[{ci}]", str(commune.get("code")) if isinstance(commune, dict) else ""))
        devs(commune, f"communes[{ci}].")
    return _cross_check(devices, [(p, c) for p, c in units if c not in ("", "None")], None)


def _cross_check(
    facts: list[tuple[str, _DevFacts]], units: list[tuple[str, str]], snmp_profiles: set[str] | None
) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    devices: dict[str, _DevFacts] = {}
    paths: dict[str, str] = {}
    for path, dev in facts:
        if dev.id in paths:
            problems.append((f"{path}.id", f"duplicate device id {dev.id!r} (first at {paths[dev.id]})"))
            continue
        paths[dev.id] = path
        devices[dev.id] = dev

    seen_codes: dict[str, str] = {}
    for path, code in units:
        if code in seen_codes:
            problems.append((f"{path}.code", f"duplicate code {code!r} (first at {seen_codes[code]})"))
        else:
            seen_codes[code] = path

    for dev_id, dev in devices.items():
        path = paths[dev_id]
        if dev.parent == dev.id:
            problems.append((f"{path}.parent", "a device cannot be its own parent"))
        elif dev.parent is not None and dev.parent not in devices:
            problems.append((f"{path}.parent", f"unknown device {dev.parent!r}"))
        if "snmp" in dev.probes and dev.snmp is None:
            problems.append((f"{path}.snmp", "the snmp probe needs an SNMP credential profile"))
        if snmp_profiles is not None and dev.snmp is not None and dev.snmp not in snmp_profiles:
            problems.append((f"{path}.snmp", f"unknown SNMP profile {dev.snmp!r}"))
        if "tcp" in dev.probes and dev.tcp_port is None:
            problems.append((f"{path}.tcp_port", "the tcp probe needs tcp_port"))

    reported: set[str] = set()
    for dev_id in devices:
        chain = [dev_id]
        cur = devices[dev_id].parent
        while cur is not None and cur in devices and cur != chain[-1]:
            if cur in chain:
                cycle = chain[chain.index(cur) :]
                key = min(cycle)
                if key not in reported:
                    reported.add(key)
                    problems.append((f"{paths[key]}.parent", "parent cycle: " + " -> ".join([*cycle, cur])))
                break
            chain.append(cur)
            cur = devices[cur].parent
    return problems
