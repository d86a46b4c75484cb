"""Turn an operator's device list (:mod:`netmon.config.sheet`) into an inventory.

Each row is a device at a commune (its name or GSO code), at a district (a district but
no commune) or at the province (neither). Communes are found in the official list by
:class:`~netmon.config.gazetteer.Gazetteer`; a district column narrows the search, which
is how two communes of one name in different districts are told apart. Nothing is
guessed silently: a row whose commune cannot be found, or names several, is reported
with its row number and the candidates and left out; a close spelling that fits one
commune only is taken and reported as a warning.

The inventory lists every commune of the province from the official list, with the
devices the sheet gives it: a commune the sheet does not mention counts as not
connected, never as absent. Pure: no I/O.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from netmon.config.gazetteer import Gazetteer, How, Match, Place
from netmon.config.inventory import Device, Inventory, Role, check
from netmon.config.names import fold
from netmon.config.sheet import Column, Sheet, SheetRow

Severity = Literal["error", "warning"]

#: Role cell texts (folded) -> role. The role's own name is always accepted.
ROLE_WORDS: dict[str, Role] = {
    "core": Role.CORE_ROUTER,
    "core router": Role.CORE_ROUTER,
    "router loi": Role.CORE_ROUTER,
    "thiet bi loi": Role.CORE_ROUTER,
    "router tinh": Role.CORE_ROUTER,
    "dinh tuyen tinh": Role.CORE_ROUTER,
    "district router": Role.DISTRICT_ROUTER,
    "router huyen": Role.DISTRICT_ROUTER,
    "dinh tuyen huyen": Role.DISTRICT_ROUTER,
    "router cap huyen": Role.DISTRICT_ROUTER,
    "pe huyen": Role.DISTRICT_ROUTER,
    "commune router": Role.COMMUNE_ROUTER,
    "router xa": Role.COMMUNE_ROUTER,
    "dinh tuyen xa": Role.COMMUNE_ROUTER,
    "router cap xa": Role.COMMUNE_ROUTER,
    "cpe": Role.CPE,
    "modem": Role.CPE,
    "thiet bi dau cuoi": Role.CPE,
    "dau cuoi": Role.CPE,
    "switch": Role.SWITCH,
    "sw": Role.SWITCH,
    "bo chuyen mach": Role.SWITCH,
    "chuyen mach": Role.SWITCH,
    "server": Role.SERVER,
    "may chu": Role.SERVER,
    "other": Role.OTHER,
    "khac": Role.OTHER,
}
ROLE_WORDS.update({fold(r.value): r for r in Role})

#: The role of a row that leaves it blank, by where the device stands.
DEFAULT_ROLE: dict[str, Role] = {"commune": Role.CPE, "district": Role.DISTRICT_ROUTER, "province": Role.CORE_ROUTER}


@dataclass(frozen=True, slots=True)
class ImportProblem:
    """Something about a row (or the whole sheet, row None) that a person should see.

    Attributes:
        row: Sheet row number, None for the sheet as a whole.
        column: The column concerned.
        message: What is wrong, in words.
        candidates: The units or devices it may have meant.
        severity: ``error`` (the row is left out) or ``warning`` (taken, but check it).
    """

    row: int | None
    column: str
    message: str
    candidates: tuple[str, ...] = ()
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row is not None else "sheet"
        text = f"{where}: {self.column}: {self.message}" if self.column else f"{where}: {self.message}"
        if self.candidates:
            text += " — candidates: " + "; ".join(self.candidates)
        return f"{self.severity}: {text}"


@dataclass
class ImportResult:
    """The inventory built from a sheet and every problem found.

    Attributes:
        inventory: The inventory as plain data (YAML-ready), None when no row could be used.
        problems: Errors (rows left out) and warnings (rows taken with a doubt).
        devices: Devices imported.
        communes_with_devices: Communes that got at least one device.
    """

    inventory: dict[str, Any] | None
    problems: list[ImportProblem] = field(default_factory=list)
    devices: int = 0
    communes_with_devices: int = 0

    @property
    def errors(self) -> list[ImportProblem]:
        """The problems that left a row out."""
        return [p for p in self.problems if p.severity == "error"]


@dataclass
class _Row:
    """A row read and placed, before uplinks are resolved."""

    row: int
    level: Literal["province", "district", "commune"]
    district: Place | None
    commune: Place | None
    device: dict[str, Any]
    uplink: str
    keys: set[str]


def slug(text: str) -> str:
    """A device id from a name: ``"QNI-BS-BinhMinh CPE.01"`` → ``"qni-bs-binhminh-cpe-01"``."""
    return "-".join(fold(text).split())[:63].strip("-")


def _describe(match: Match) -> tuple[str, ...]:
    return tuple(p.label() for p in match.candidates)


def _place(row: SheetRow, gaz: Gazetteer, problems: list[ImportProblem]) -> _Row | None:
    """Where a row's device stands, or None (with a problem) when it cannot be told."""
    district: Place | None = None
    district_text = row.get(Column.DISTRICT)
    if district_text and gaz.districts:
        m = gaz.district(district_text)
        if m.place is None:
            problems.append(
                ImportProblem(
                    row.number,
                    "district",
                    f"{district_text!r}: {m.note or 'not found'} in {gaz.province.name} ({gaz.edition})",
                    _describe(m),
                )
            )
            return None
        if m.how is How.CLOSE:
            problems.append(
                ImportProblem(
                    row.number,
                    "district",
                    f"{district_text!r} read as {m.place.label()} (a close spelling)",
                    severity="warning",
                )
            )
        district = m.place
    name_text, code_text = row.get(Column.COMMUNE), row.get(Column.CODE)
    if not name_text and not code_text:
        level: Literal["province", "district", "commune"] = "district" if district else "province"
        return _Row(row.number, level, district, None, {}, "", set())
    by_code = gaz.commune(code_text, district) if code_text else None
    by_name = gaz.commune(name_text, district) if name_text else None
    first = by_code or by_name
    assert first is not None
    if first.place is None:
        col, text = ("code", code_text) if by_code is not None else ("commune", name_text)
        where = f" in {district.name}" if district else ""
        problems.append(
            ImportProblem(
                row.number,
                col,
                f"{text!r}: {first.note or 'not found'}{where} ({gaz.province.name}, {gaz.edition} list)"
                + ("; add the district column to tell them apart" if first.ambiguous and district is None else ""),
                _describe(first),
            )
        )
        return None
    commune = first.place
    if by_code is not None and by_name is not None and by_name.place != commune:
        said = by_name.place.label() if by_name.place else repr(name_text)
        problems.append(
            ImportProblem(
                row.number,
                "code",
                f"code {code_text} is {commune.label()} but the name says {said}",
                (commune.label(),),
            )
        )
        return None
    if first.how is How.CLOSE:
        problems.append(
            ImportProblem(
                row.number,
                "commune",
                f"{name_text!r} read as {commune.label()} (a close spelling: check it)",
                severity="warning",
            )
        )
    if district is None and commune.district_code is not None:
        district = Place(commune.district_code, commune.district_name or "")
    return _Row(row.number, "commune", district, commune, {}, "", set())


def _device(row: SheetRow, placed: _Row, snmp_profile: str, problems: list[ImportProblem]) -> bool:
    """Fill the placed row's device from its cells; False (with a problem) if it cannot be."""
    role_text = row.get(Column.ROLE)
    if role_text:
        role = ROLE_WORDS.get(fold(role_text))
        if role is None:
            problems.append(
                ImportProblem(
                    row.number,
                    "role",
                    f"unknown role {role_text!r}",
                    tuple(r.value for r in Role),
                )
            )
            return False
    else:
        role = DEFAULT_ROLE[placed.level]
    name = row.get(Column.NAME)
    model = row.get(Column.MODEL)
    dev: dict[str, Any] = {"id": row.get(Column.ID).lower() or (slug(name) if name else ""), "role": role.value}
    address = row.get(Column.ADDRESS)
    label = f"{name} ({model})" if name and model else name or model
    if label:
        dev["name"] = label
    dev["address"] = address
    dev["snmp"] = row.get(Column.SNMP) or snmp_profile
    placed.device = dev
    placed.uplink = row.get(Column.UPLINK)
    placed.keys = {k for k in (fold(name), fold(dev["id"]), address.lower()) if k}
    return True


def _fill_ids(rows: list[_Row]) -> None:
    """Ids for rows that name no device: from the unit's code and the role, numbered."""
    short = {
        Role.CORE_ROUTER.value: "core",
        Role.DISTRICT_ROUTER.value: "r",
        Role.COMMUNE_ROUTER.value: "r",
        Role.CPE.value: "cpe",
        Role.SWITCH.value: "sw",
        Role.SERVER.value: "srv",
        Role.OTHER.value: "dev",
    }
    taken = {r.device["id"] for r in rows if r.device["id"]}
    for r in rows:
        if r.device["id"]:
            continue
        unit = f"c{r.commune.code}" if r.commune else f"d{r.district.code}" if r.district else "p"
        n = 1
        while f"{unit}-{short[r.device['role']]}{n}" in taken:
            n += 1
        r.device["id"] = f"{unit}-{short[r.device['role']]}{n}"
        taken.add(r.device["id"])
        r.keys.add(r.device["id"])


def _resolve_uplinks(rows: list[_Row], left_out: dict[str, int], problems: list[ImportProblem]) -> list[_Row]:
    """Set each device's parent from its uplink cell, or by default from where it stands:
    a commune's other equipment hangs off its one access device (CPE or commune router),
    a commune's access device off its district's one router, a district's equipment off
    the province's one core router (the next level up when a level has none; no parent
    when a level has several). Rows whose uplink names nothing known are left out."""
    by_key: dict[str, _Row] = {}
    for r in rows:
        for k in r.keys:
            by_key.setdefault(k, r)
    kept: list[_Row] = []
    district_routers: dict[str, list[_Row]] = {}
    commune_access: dict[str, list[_Row]] = {}
    cores: list[_Row] = []
    for r in rows:
        role = r.device["role"]
        if r.level == "district" and r.district and role == Role.DISTRICT_ROUTER.value:
            district_routers.setdefault(r.district.code, []).append(r)
        if r.level == "commune" and r.commune and role in (Role.CPE.value, Role.COMMUNE_ROUTER.value):
            commune_access.setdefault(r.commune.code, []).append(r)
        if r.level == "province" and role == Role.CORE_ROUTER.value:
            cores.append(r)

    def default_parent(r: _Row) -> _Row | None:
        options: list[list[_Row]] = []
        if r.commune is not None and r not in commune_access.get(r.commune.code, []):
            options.append(commune_access.get(r.commune.code, []))
        if r.district is not None and r not in district_routers.get(r.district.code, []):
            options.append(district_routers.get(r.district.code, []))
        if r not in cores:
            options.append(cores)
        for found in options:
            if found:
                return found[0] if len(found) == 1 else None
        return None

    for r in rows:
        if r.uplink:
            key = r.uplink.strip()
            target = by_key.get(fold(key)) or by_key.get(key.lower())
            if target is None:
                lost = left_out.get(fold(key)) or left_out.get(key.lower())
                names = sorted({x.device.get("name", x.device["id"]) for x in rows})
                close = tuple(difflib.get_close_matches(key, names, n=3, cutoff=0.6))
                problems.append(
                    ImportProblem(
                        r.row,
                        "uplink",
                        f"{key!r} is on row {lost}, which was left out" if lost else f"no device {key!r} in the sheet",
                        close,
                    )
                )
                continue
            if target is r:
                problems.append(ImportProblem(r.row, "uplink", "a device cannot be its own uplink"))
                continue
            r.device["parent"] = target.device["id"]
        else:
            parent = default_parent(r)
            if parent is not None:
                r.device["parent"] = parent.device["id"]
        kept.append(r)
    return kept


def import_sheet(sheet: Sheet, gazetteer: Gazetteer, *, snmp_profile: str = "default") -> ImportResult:
    """Build an inventory from a sheet's rows.

    Args:
        sheet: The rows as read.
        gazetteer: The province and edition of the official lists to match communes in.
        snmp_profile: Credential profile of the devices whose row names none.

    Returns:
        The inventory (every commune of the province, the sheet's devices in theirs)
        and every problem, errors first by row.
    """
    problems: list[ImportProblem] = []
    if Column.DISTRICT in sheet.columns and not gazetteer.districts:
        problems.append(
            ImportProblem(
                None,
                "district",
                f"the {gazetteer.edition} structure has no districts: the column "
                f"{sheet.columns[Column.DISTRICT]!r} is not used (a sheet of the 2021 structure: "
                "import it with --edition 2021, then `netmon inventory migrate --to 2025`)",
                severity="warning",
            )
        )
    rows: list[_Row] = []
    left_out: dict[str, int] = {}
    for sheet_row in sheet.rows:
        placed = _place(sheet_row, gazetteer, problems)
        has_device = any(sheet_row.get(c) for c in (Column.NAME, Column.ID, Column.ADDRESS, Column.ROLE, Column.MODEL))
        if placed is None:
            for key in (sheet_row.get(Column.NAME), sheet_row.get(Column.ID)):
                if key:
                    left_out.setdefault(fold(key), sheet_row.number)
            continue
        if not has_device:
            continue  # a commune listed without equipment: it is in the inventory anyway
        if _device(sheet_row, placed, snmp_profile, problems):
            rows.append(placed)
    _fill_ids(rows)
    seen: dict[str, int] = {}
    unique: list[_Row] = []
    for r in rows:
        first = seen.get(r.device["id"])
        if first is not None:
            problems.append(
                ImportProblem(
                    r.row, "name", f"device id {r.device['id']!r} is also row {first}'s: give it another name"
                )
            )
            continue
        seen[r.device["id"]] = r.row
        unique.append(r)
    rows = _resolve_uplinks(unique, left_out, problems)
    for r in rows:
        if not r.device["address"]:
            r.device["address"] = f"{r.device['id']}.placeholder.invalid"
            problems.append(
                ImportProblem(
                    r.row,
                    "address",
                    f"no address: {r.device['address']} written, to fill in (it never resolves)",
                    severity="warning",
                )
            )
    rows = _valid_devices(rows, problems)
    inv = _assemble(gazetteer, rows)
    result = ImportResult(
        inventory=inv,
        problems=sorted(problems, key=lambda p: (p.severity != "error", p.row or 0)),
        devices=len(rows),
        communes_with_devices=len({r.commune.code for r in rows if r.commune}),
    )
    try:
        model = Inventory.model_validate(inv)
    except ValidationError as exc:  # a bug here, not in the sheet: say so plainly
        raise AssertionError(f"imported inventory does not validate: {exc}") from None
    for path, msg in check(model):
        result.problems.append(ImportProblem(None, path, msg))
    return result


def _valid_devices(rows: list[_Row], problems: list[ImportProblem]) -> list[_Row]:
    """Rows whose device the inventory model accepts; the others reported by field."""
    kept: list[_Row] = []
    for r in rows:
        try:
            Device.model_validate(r.device)
        except ValidationError as exc:
            for err in exc.errors():
                col = str(err["loc"][0]) if err["loc"] else ""
                problems.append(
                    ImportProblem(r.row, {"id": "name"}.get(col, col), str(err["msg"]).removeprefix("Value error, "))
                )
            continue
        kept.append(r)
    # a device whose uplink was left out cannot keep that parent (nor its own dependants)
    ids = {r.device["id"] for r in kept}
    while True:
        lost = [r for r in kept if r.device.get("parent") is not None and r.device["parent"] not in ids]
        if not lost:
            return kept
        for r in lost:
            problems.append(ImportProblem(r.row, "uplink", f"its uplink {r.device['parent']!r} was left out"))
            ids.discard(r.device["id"])
        kept = [r for r in kept if r.device["id"] in ids]


def _assemble(gaz: Gazetteer, rows: Sequence[_Row]) -> dict[str, Any]:
    prov = gaz.province
    by_commune: dict[str, list[dict[str, Any]]] = {}
    by_district: dict[str, list[dict[str, Any]]] = {}
    top: list[dict[str, Any]] = []
    for r in rows:
        if r.commune is not None:
            by_commune.setdefault(r.commune.code, []).append(r.device)
        elif r.district is not None:
            by_district.setdefault(r.district.code, []).append(r.device)
        else:
            top.append(r.device)

    def commune(c: Place) -> dict[str, Any]:
        out: dict[str, Any] = {"code": c.code, "name": c.name}
        if by_commune.get(c.code):
            out["devices"] = by_commune[c.code]
        return out

    inv: dict[str, Any] = {"edition": gaz.edition, "province": {"code": prov.code, "name": prov.name}}
    if top:
        inv["devices"] = top
    if gaz.edition == "2021":
        inv["districts"] = []
        for d in gaz.districts:
            entry: dict[str, Any] = {"code": d.code, "name": d.name}
            if by_district.get(d.code):
                entry["devices"] = by_district[d.code]
            entry["communes"] = [commune(c) for c in gaz.communes if c.district_code == d.code]
            inv["districts"].append(entry)
    else:
        inv["communes"] = [commune(c) for c in gaz.communes]
    return inv
