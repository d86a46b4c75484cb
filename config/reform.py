"""Carry inventories of the 2021 structure into the structure of the July 2025 reform.

The reform abolished the district level and merged communes (Quảng Ngãi: 13 districts
and 170 communes, with Kon Tum's, became 96 communes). The official conversion list —
each 2021 commune's 2025 successor, or successors where a commune was divided — ships in
``config/data/reform-2025.json.gz`` (see :data:`TABLE_SOURCE`; rebuilt by
``config/data/extract_reform.py``).

A migration keeps every device and its id, so the history stored under those ids stays
the devices' history; a commune's devices go to its successor (a divided commune's to
the successor the list names as its main one), district-level devices go to the
province level, and a district without communes that became a commune-level unit (an
island district: Lý Sơn → Đặc khu Lý Sơn) takes its devices along, its router now
connecting that unit. Each 2025 commune records what it was made of (``formerly``), and
the inventory records the earlier structure and the switch time (``previous``), which
is what ``netmon report`` needs to give a period that spans the switch in both
structures. Pure: no I/O but the shipped table.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from netmon.config import geography
from netmon.config.inventory import (
    ACCESS_ROLES,
    Commune,
    Device,
    District,
    Inventory,
    ProvinceRef,
    Role,
)

#: The roles that, moved from an island district into the commune-level unit it became,
#: connect that unit (its district centre is the site to watch).
_SITE_ROLES = frozenset({Role.DISTRICT_ROUTER, Role.COMMUNE_ROUTER, Role.CPE})


class MigrationError(ValueError):
    """The inventories cannot be migrated (wrong structure, provinces that did not merge)."""


@dataclass(frozen=True, slots=True)
class Successor:
    """A 2025 commune that succeeds a 2021 one; ``main`` is where a divided commune's
    devices go."""

    code: str
    main: bool


@dataclass(frozen=True)
class ConversionTable:
    """The official 2021 → 2025 conversion list.

    Attributes:
        source: Where it comes from (package, version, legal basis).
        effective: The date the reform took effect.
        communes: 2021 commune code -> its successors.
        districts: 2021 district code -> the 2025 commune-level unit a district without
            communes became.
        without_successor: 2021 communes the list does not map (changed before 2025).
    """

    source: str
    effective: str
    communes: dict[str, tuple[Successor, ...]]
    districts: dict[str, str]
    without_successor: frozenset[str]


@cache
def conversion_table() -> ConversionTable:
    """The shipped conversion list."""
    ref = resources.files("netmon.config") / "data" / "reform-2025.json.gz"
    with ref.open("rb") as fh, gzip.open(fh, "rt", encoding="utf-8") as text:
        raw = json.load(text)
    return ConversionTable(
        source=raw["source"],
        effective=raw["effective"],
        communes={
            code: tuple(Successor(s["code"], bool(s["default"])) for s in succ)
            for code, succ in raw["communes"].items()
        },
        districts=dict(raw["districts"]),
        without_successor=frozenset(raw["without_successor"]),
    )


@dataclass(frozen=True, slots=True)
class Predecessor:
    """A 2021 commune as the report names it."""

    code: str
    name: str
    district_name: str
    province: str
    devices: int
    part: bool = False

    def label(self) -> str:
        """``Xã Bình Minh (21085, Huyện Bình Sơn)``, with the share when divided."""
        share = ", part" if self.part else ""
        return f"{self.name} ({self.code}, {self.district_name}{share})"


@dataclass
class Migration:
    """What a migration did, for the person who runs it.

    Attributes:
        inventory: The 2025 inventory (plain data, YAML-ready).
        old_provinces: The 2021 provinces migrated.
        new_province: The 2025 province.
        merged: 2025 commune (code, name) -> its 2021 predecessors from the inputs, for
            every commune made of more than one.
        kept: 2025 communes with exactly one predecessor (renamed or not).
        divided: 2021 commune -> its successors, where it was divided.
        from_elsewhere: 2025 communes whose predecessors are all outside the inputs
            (another province merged in, whose inventory was not given).
        district_devices: Devices moved from the district level to the province level.
        island_units: 2021 district -> the 2025 unit it became, with its devices.
        devices: Devices carried over (ids unchanged).
        problems: Communes of the inputs the list cannot place (the migration refuses).
    """

    inventory: dict[str, Any]
    old_provinces: list[ProvinceRef]
    new_province: ProvinceRef
    merged: dict[tuple[str, str], list[Predecessor]] = field(default_factory=dict)
    kept: dict[tuple[str, str], Predecessor] = field(default_factory=dict)
    divided: dict[str, tuple[Predecessor, list[tuple[str, str]]]] = field(default_factory=dict)
    from_elsewhere: list[tuple[str, str]] = field(default_factory=list)
    other_provinces: list[str] = field(default_factory=list)
    district_devices: int = 0
    island_units: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    devices: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> list[str]:
        """The report, one line a fact."""
        old = " + ".join(f"{p.name} ({p.code})" for p in self.old_provinces)
        new = self.inventory["communes"]
        out = [
            f"{old}, 2021 structure → {self.new_province.name} ({self.new_province.code}), 2025 structure: "
            f"{len(new)} communes",
            f"devices: {self.devices} carried over, ids unchanged (their stored history stays theirs)",
        ]
        for (code, name), olds in sorted(self.merged.items()):
            out.append(
                f"merged: {name} ({code}) ← "
                + "; ".join(p.label() for p in olds)
                + f" [{sum(p.devices for p in olds)} devices]"
            )
        for (code, name), p in sorted(self.kept.items()):
            same = fold_eq(name, p.name)
            out.append(f"{'kept' if same else 'renamed'}: {p.label()} → {name} ({code})")
        for p, succ in self.divided.values():
            out.append(
                f"divided: {p.label()} → "
                + ", ".join(f"{n} ({c})" for c, n in succ)
                + f"; its devices ({p.devices}) to {succ[0][1]}, the main successor: check where they stand"
            )
        for district, (code, name, n) in sorted(self.island_units.items()):
            out.append(f"district {district} became {name} ({code}): its devices ({n}) moved there and connect it")
        if self.district_devices:
            out.append(f"district level gone: {self.district_devices} district devices now at the province level")
        if self.from_elsewhere:
            others = ", ".join(self.other_provinces) or "provinces not given"
            out.append(
                f"{len(self.from_elsewhere)} communes come only from {others}, whose inventory was not given "
                "(listed without devices, counted as not connected): "
                + ", ".join(f"{n} ({c})" for c, n in self.from_elsewhere[:8])
                + (" ..." if len(self.from_elsewhere) > 8 else "")
            )
        return out


def fold_eq(a: str, b: str) -> bool:
    """Whether two unit names are the same name (prefix and case aside)."""
    from netmon.config.names import core_name

    return core_name(a) == core_name(b)


def migrate(inventories: Sequence[Inventory], until: datetime, table: ConversionTable | None = None) -> Migration:
    """Migrate 2021 inventories of the provinces that merged into one 2025 inventory.

    Args:
        inventories: Inventories of the 2021 structure (one per former province).
        until: When the collector switches to the result (recorded as ``previous.until``).
        table: The conversion list (default: the shipped one).

    Raises:
        MigrationError: An input is not of the 2021 structure, device ids collide, or
            the inputs belong to different 2025 provinces.
    """
    table = table or conversion_table()
    if not inventories:
        raise MigrationError("no inventory given")
    for inv in inventories:
        if inv.previous is not None or inv.communes or not inv.districts:
            raise MigrationError(
                f"{inv.province.name} ({inv.province.code}): not a 2021 inventory (it has no districts, "
                "or communes directly under the province)"
            )
    seen: dict[str, str] = {}
    for inv in inventories:
        for dev_id in inv.index.devices:
            if dev_id in seen:
                raise MigrationError(
                    f"device id {dev_id!r} is in {seen[dev_id]} and in {inv.province.name}: ids must be unique"
                )
            seen[dev_id] = inv.province.name

    names25 = {c.code: c.name for p in geography.provinces("2025") for c in p.children}
    province25 = {c.code: p for p in geography.provinces("2025") for c in p.children}
    migration = Migration(
        inventory={}, old_provinces=[inv.province for inv in inventories], new_province=ProvinceRef(code="00", name="?")
    )

    targets: set[str] = set()
    for inv in inventories:
        for d in inv.districts:
            for c in d.communes:
                succ = table.communes.get(c.code)
                if not succ:
                    migration.problems.append(
                        f"{c.name} ({c.code}, {d.name}): not in the conversion list "
                        + ("(it changed between 2021 and 2025)" if c.code in table.without_successor else "")
                    )
                    continue
                targets.update(s.code for s in succ)
            if not d.communes and d.code in table.districts:
                targets.add(table.districts[d.code])
    new_provinces = {province25[t].code for t in targets}
    if len(new_provinces) != 1:
        raise MigrationError(
            "the inventories belong to different 2025 provinces: "
            + ", ".join(
                sorted(
                    f"{province25[next(t for t in targets if province25[t].code == p)].name} ({p})"
                    for p in new_provinces
                )
            )
            if new_provinces
            else "no commune of the inventories is in the conversion list"
        )
    prov25 = province25[next(iter(targets))]
    migration.new_province = ProvinceRef(code=prov25.code, name=prov25.name)
    if migration.problems:
        return migration

    devices_of: dict[str, list[dict[str, Any]]] = {c.code: [] for c in prov25.children}
    formerly: dict[str, list[dict[str, Any]]] = {c.code: [] for c in prov25.children}
    top: list[dict[str, Any]] = []
    preds: dict[str, list[Predecessor]] = {c.code: [] for c in prov25.children}
    for inv in inventories:
        top += [_dump(d) for d in inv.devices]
        for d in inv.districts:
            island = table.districts.get(d.code) if not d.communes else None
            if island is not None:
                moved = [_as_site(dev) for dev in d.devices]
                devices_of[island] += moved
                migration.island_units[d.name] = (island, names25[island], len(moved))
                formerly[island].append(
                    {
                        "code": island,
                        "name": d.name,
                        "province": inv.province.code,
                        "district": d.code,
                        "district_name": d.name,
                        "devices": [dev.id for dev in d.devices],
                        "whole_district": True,
                    }
                )
            else:
                top += [_dump(dev) for dev in d.devices]
                migration.district_devices += len(d.devices)
            for c in d.communes:
                succ = table.communes[c.code]
                main = next((s for s in succ if s.main), succ[0])
                part = len(succ) > 1
                for s in succ:
                    here = s is main
                    if here:
                        devices_of[s.code] += [_dump(dev) for dev in c.devices]
                    formerly[s.code].append(
                        {
                            "code": c.code,
                            "name": c.name,
                            "province": inv.province.code,
                            "district": d.code,
                            "district_name": d.name,
                            "devices": [dev.id for dev in c.devices] if here else [],
                            "part": part,
                        }
                    )
                    preds[s.code].append(
                        Predecessor(c.code, c.name, d.name, inv.province.code, len(c.devices) if here else 0, part)
                    )
                if part:
                    ordered = [main, *(s for s in succ if s is not main)]
                    migration.divided[c.code] = (
                        Predecessor(c.code, c.name, d.name, inv.province.code, len(c.devices), True),
                        [(s.code, names25[s.code]) for s in ordered],
                    )
    communes: list[dict[str, Any]] = []
    for u in prov25.children:
        entry: dict[str, Any] = {"code": u.code, "name": u.name}
        if devices_of[u.code]:
            entry["devices"] = devices_of[u.code]
        if formerly[u.code]:
            entry["formerly"] = [_former(f) for f in formerly[u.code]]
        communes.append(entry)
        ps = preds[u.code]
        if len(ps) > 1:
            migration.merged[(u.code, u.name)] = ps
        elif len(ps) == 1:
            migration.kept[(u.code, u.name)] = ps[0]
        elif not formerly[u.code]:
            migration.from_elsewhere.append((u.code, u.name))
    if migration.from_elsewhere:
        given = {p.code for p in migration.old_provinces}
        lost = {c for c, _ in migration.from_elsewhere}
        province21 = {c.code: p for p in geography.provinces("2021") for d in p.children for c in d.children}
        migration.other_provinces = sorted(
            {
                f"{province21[old].name} ({province21[old].code})"
                for old, succ in table.communes.items()
                if old in province21 and province21[old].code not in given and any(s.code in lost for s in succ)
            }
        )
    migration.devices = len(seen)
    migration.inventory = {
        "edition": "2025",
        "province": {"code": prov25.code, "name": prov25.name},
        "previous": {
            "edition": "2021",
            "until": until.isoformat(),
            "provinces": [{"code": p.code, "name": p.name} for p in migration.old_provinces],
            "source": table.source,
        },
        **({"devices": top} if top else {}),
        "communes": communes,
    }
    return migration


def _former(f: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in f.items() if v not in ([], False, "")}


def _dump(dev: Device) -> dict[str, Any]:
    return dev.model_dump(mode="json", exclude_defaults=True)


def _as_site(dev: Device) -> dict[str, Any]:
    """A device of an island district moved into the unit it became: its router now
    connects that unit."""
    out = _dump(dev)
    if dev.role in _SITE_ROLES and dev.access is None and dev.role not in ACCESS_ROLES:
        out["access"] = True
    return out


def previous_structure(inv: Inventory) -> list[Inventory]:
    """The earlier structure of a migrated inventory, one inventory per former province,
    rebuilt from its communes' ``formerly``: the 2021 districts and communes, each commune
    with the devices that came from it (same ids), for computing figures over the time
    the collector watched the network in that structure. Empty if not migrated."""
    prev = inv.previous
    if prev is None:
        return []
    devices = inv.index.devices
    out: list[Inventory] = []
    for p in prev.provinces:
        districts: dict[str, dict[str, Any]] = {}
        placed: set[str] = set()
        for c in inv.communes:
            for f in c.formerly:
                if f.province != p.code or f.district is None:
                    continue
                d = districts.setdefault(f.district, {"code": f.district, "name": f.district_name, "communes": {}})
                if f.whole_district:
                    continue  # a district without communes: its devices stay at the province level
                entry = d["communes"].setdefault(f.code, {"code": f.code, "name": f.name, "devices": []})
                for dev_id in f.devices:
                    if dev_id in devices and dev_id not in placed:
                        entry["devices"].append(devices[dev_id])
                        placed.add(dev_id)
        rest = [d for dev_id, d in devices.items() if dev_id not in placed]
        out.append(
            Inventory(
                edition=prev.edition,
                province=p,
                devices=tuple(rest),
                districts=tuple(
                    District(
                        code=d["code"],
                        name=d["name"],
                        communes=tuple(Commune(**c) for c in sorted(d["communes"].values(), key=lambda c: c["code"])),
                    )
                    for d in sorted(districts.values(), key=lambda d: d["code"])
                ),
            )
        )
    return out
