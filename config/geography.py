"""The real administrative geography and inventories generated from it.

The General Statistics Office lists ship in ``config/data/`` as extracted from the PyPI
package ``vietnam-provinces`` (0.6.0: the 2021 three-level structure; 2025.10.1: the
two-level structure after the July 2025 reform), so generation works offline. With
``source="package"`` the installed package is read instead, to pick up a newer list;
:func:`check_installed` says whether an installed release differs from the shipped lists
(``netmon inventory check-lists``).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

Edition = Literal["2021", "2025"]
EDITIONS: tuple[Edition, ...] = ("2021", "2025")
#: The package version whose lists each edition was extracted from.
PACKAGE_VERSION: dict[Edition, str] = {"2021": "0.6.0", "2025": "2025.10.1"}
NATIONAL_CODE = "00"


@dataclass(frozen=True, slots=True)
class Unit:
    """An administrative unit: code, name and the units under it."""

    code: str
    name: str
    children: tuple[Unit, ...] = ()


class GeographyError(Exception):
    """The requested geography is not available (unknown province, missing package)."""


def _version_key(version: str) -> tuple[int, ...]:
    """``"2025.10.1"`` → ``(2025, 10, 1)``; non-numeric parts (``rc1``) count as 0."""
    out = []
    for part in version.split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def edition_of(version: str) -> Edition:
    """The structure a ``vietnam-provinces`` release holds: 2025 from release 2025.x on."""
    return "2025" if _version_key(version)[0] >= 2025 else "2021"


@cache
def provinces(edition: Edition, source: Literal["shipped", "package"] = "shipped") -> tuple[Unit, ...]:
    """All provinces of an edition, each with its districts (2021) or communes (2025)."""
    raw = _read_package(edition) if source == "package" else _read_shipped(edition)
    out = []
    for p in raw:
        if edition == "2021":
            kids = tuple(
                Unit(d["code"], d["name"], tuple(Unit(c["code"], c["name"]) for c in d["communes"]))
                for d in p["districts"]
            )
        else:
            kids = tuple(Unit(c["code"], c["name"]) for c in p["communes"])
        out.append(Unit(p["code"], p["name"], kids))
    return tuple(out)


def _read_shipped(edition: Edition) -> list[dict[str, Any]]:
    ref = resources.files("netmon.config") / "data" / f"divisions-{edition}.json.gz"
    with ref.open("rb") as fh, gzip.open(fh, "rt", encoding="utf-8") as text:
        doc = json.load(text)
    provinces_: list[dict[str, Any]] = doc["provinces"]
    return provinces_


def _read_package(edition: Edition) -> list[dict[str, Any]]:
    try:
        from importlib.metadata import version

        installed = version("vietnam-provinces")
        import vietnam_provinces
    except Exception as exc:
        raise GeographyError(
            f"the package vietnam-provinces is not installed: pip install 'vietnam-provinces=={PACKAGE_VERSION[edition]}'"
        ) from exc
    if edition_of(installed) != edition:
        raise GeographyError(
            f"vietnam-provinces {installed} holds the {edition_of(installed)} structure; "
            f"for edition {edition} install vietnam-provinces=={PACKAGE_VERSION[edition]}"
        )
    data = resources.files(vietnam_provinces) / "data" / "nested-divisions.json"
    raw = json.loads(data.read_text(encoding="utf-8"))
    out = []
    for p in raw:
        item: dict[str, Any] = {"code": f"{p['code']:02d}", "name": p["name"]}
        if edition == "2021":
            item["districts"] = [
                {
                    "code": f"{d['code']:03d}",
                    "name": d["name"],
                    "communes": [{"code": f"{w['code']:05d}", "name": w["name"]} for w in d["wards"]],
                }
                for d in p["districts"]
            ]
        else:
            item["communes"] = [{"code": f"{w['code']:05d}", "name": w["name"]} for w in p["wards"]]
        out.append(item)
    return out


def province(code: str, edition: Edition, source: Literal["shipped", "package"] = "shipped") -> Unit:
    """One province, or the whole country as code ``00``."""
    code = code.zfill(2)
    all_ = provinces(edition, source)
    if code == NATIONAL_CODE:
        if edition == "2021":
            return Unit(NATIONAL_CODE, "Việt Nam", tuple(d for p in all_ for d in p.children))
        return Unit(NATIONAL_CODE, "Việt Nam", tuple(c for p in all_ for c in p.children))
    for p in all_:
        if p.code == code:
            return p
    known = ", ".join(f"{p.code} {p.name}" for p in all_[:5])
    raise GeographyError(f"no province with code {code!r} in the {edition} lists (e.g. {known}, ...)")


AddressFn = Any  # Callable[[str, int], str]: (device id, running number) -> address


def placeholder_address(device_id: str, n: int) -> str:
    """A reserved ``.invalid`` name the operator replaces: it never resolves, so a
    generated inventory cannot send traffic anywhere until someone fills it in."""
    return f"{device_id}.placeholder.invalid"


def loopback_address(device_id: str, n: int) -> str:
    """A loopback address (127.0.0.0/8) for the demo's simulated devices, from 127.1.0.1 on."""
    n += 1 + 65536  # skip 127.0.x.x, where the host's own services listen
    return f"127.{(n >> 16) & 0xFF}.{(n >> 8) & 0xFF}.{n & 0xFF}"


def generate(
    code: str,
    edition: Edition,
    *,
    address: AddressFn = placeholder_address,
    snmp_profile: str = "default",
    source: Literal["shipped", "package"] = "shipped",
) -> dict[str, Any]:
    """An inventory for a province (or the country) with one device per site.

    A core router at the province, a router per district (2021) whose parent is the
    core, and a CPE per commune whose parent is its district router (or the core in the
    2025 structure). Ids derive from GSO codes: ``p51-core``, ``d522-r1``, ``c21010-cpe1``.
    """
    prov = province(code, edition, source)
    counter = iter(range(10**7))
    core_id = f"p{prov.code}-core"

    def dev(dev_id: str, role: str, parent: str | None) -> dict[str, Any]:
        d: dict[str, Any] = {
            "id": dev_id,
            "role": role,
            "address": address(dev_id, next(counter)),
            "snmp": snmp_profile,
        }
        if parent:
            d["parent"] = parent
        return d

    inv: dict[str, Any] = {
        "edition": edition,
        "province": {"code": prov.code, "name": prov.name},
        "devices": [dev(core_id, "core_router", None)],
    }
    if edition == "2021":
        inv["districts"] = [
            {
                "code": d.code,
                "name": d.name,
                "devices": [dev(f"d{d.code}-r1", "district_router", core_id)],
                "communes": [
                    {"code": c.code, "name": c.name, "devices": [dev(f"c{c.code}-cpe1", "cpe", f"d{d.code}-r1")]}
                    for c in d.children
                ],
            }
            for d in prov.children
        ]
    else:
        inv["communes"] = [
            {"code": c.code, "name": c.name, "devices": [dev(f"c{c.code}-cpe1", "cpe", core_id)]} for c in prov.children
        ]
    return inv


def to_yaml(inv: dict[str, Any], *, header: str = "") -> str:
    """Render a generated inventory as YAML, with a comment header."""
    body = yaml.dump(inv, allow_unicode=True, sort_keys=False, width=120, Dumper=yaml.SafeDumper)
    lines = "".join(f"# {h}\n" if h else "#\n" for h in header.splitlines())
    return lines + body


@dataclass(frozen=True, slots=True)
class ListCheck:
    """The shipped lists against an installed ``vietnam-provinces``.

    Attributes:
        installed: The installed release, None when the package is not installed.
        edition: The structure it holds.
        shipped: The release the shipped list of that structure comes from.
        differences: What differs, one line each (empty: the same lists).
    """

    installed: str | None
    edition: Edition | None
    shipped: str | None
    differences: tuple[str, ...] = ()

    @property
    def newer(self) -> bool:
        """The installed release is newer than the shipped one."""
        if self.installed is None or self.shipped is None:
            return False
        return _version_key(self.installed) > _version_key(self.shipped)


def diff_units(shipped: Sequence[Unit], installed: Sequence[Unit], *, path: str = "") -> list[str]:
    """What changed between two lists of units (and, recursively, the units under them),
    by GSO code: units added, removed or renamed."""
    out: list[str] = []
    old = {u.code: u for u in shipped}
    new = {u.code: u for u in installed}
    for code in sorted(old.keys() | new.keys()):
        a, b = old.get(code), new.get(code)
        if a is None and b is not None:
            out.append(f"{path}added {b.name} ({code})")
        elif b is None and a is not None:
            out.append(f"{path}removed {a.name} ({code})")
        elif a is not None and b is not None:
            if a.name != b.name:
                out.append(f"{path}renamed {a.name} ({code}) → {b.name}")
            out += diff_units(a.children, b.children, path=f"{path}{b.name} ({code}): ")
    return out


def check_installed(province_code: str | None = None) -> ListCheck:
    """Compare the shipped list of the installed release's structure with the installed
    package's, for the whole country or one province."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        installed = version("vietnam-provinces")
    except PackageNotFoundError:
        return ListCheck(None, None, None)
    edition = edition_of(installed)
    shipped = provinces(edition, "shipped")
    theirs = provinces(edition, "package")
    if province_code is not None:
        code = province_code.zfill(2)
        shipped = tuple(p for p in shipped if p.code == code)
        theirs = tuple(p for p in theirs if p.code == code)
    return ListCheck(installed, edition, PACKAGE_VERSION[edition], tuple(diff_units(shipped, theirs)))
