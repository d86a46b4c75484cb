"""Rebuild ``reform-2025.json.gz``: every 2021 commune's 2025 successor(s), with GSO codes.

The table comes from the PyPI package ``vietnamadminunits`` (its
``data/converter_2025.json``, which maps each 2021 ward by province/district/ward keys to
its 2025 ward, and ``data/dataset.db``, which gives both structures' GSO codes), as
compiled by its author from the National Assembly Standing Committee's 2025 resolutions
on the arrangement of commune-level units. Run with that package's wheel unpacked in a
directory (it is not a dependency of netmon)::

    pip download --no-deps vietnamadminunits==1.0.4 -d /tmp/vau
    (cd /tmp/vau && python -m zipfile -e vietnamadminunits-1.0.4-py3-none-any.whl .)
    python config/data/extract_reform.py /tmp/vau/vietnamadminunits 1.0.4

Every code is checked against the shipped 2021 and 2025 lists before the file is written.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import sys
import unicodedata
from pathlib import Path
from typing import Any

from netmon.config.names import core_name

HERE = Path(__file__).parent


def _fold(name: str) -> str:
    return core_name(name)


def _accented(name: str) -> str:
    words = unicodedata.normalize("NFC", name).casefold().split()
    return " ".join(words[len(words) - len(_fold(name).split()) :])


def _shipped(edition: str) -> dict[str, Any]:
    with gzip.open(HERE / f"divisions-{edition}.json.gz", "rt", encoding="utf-8") as fh:
        doc: dict[str, Any] = json.load(fh)
    return doc


def build(package_dir: Path, version: str) -> dict[str, Any]:
    """The conversion table from an unpacked ``vietnamadminunits`` package."""
    conv = json.loads((package_dir / "data" / "converter_2025.json").read_text(encoding="utf-8"))
    db = sqlite3.connect(package_dir / "data" / "dataset.db")
    old_code: dict[str, str] = {}
    for pk, dk, wk, code in db.execute("select provinceKey, districtKey, wardKey, wardCode from admin_units_legacy"):
        if code:
            old_code[f"{pk}_{dk}_{wk}"] = str(code).zfill(5)
    old21 = _shipped("2021")
    new25 = _shipped("2025")
    names25: dict[str, tuple[str, str]] = {
        c["code"]: (p["code"], c["name"]) for p in new25["provinces"] for c in p["communes"]
    }
    by_name25: dict[tuple[str, str], list[str]] = {}
    for code, (pcode, name) in names25.items():
        by_name25.setdefault((pcode, _fold(name)), []).append(code)
    new_code: dict[tuple[str, str], str] = {}
    renumbered = 0
    for pk, wk, raw_pcode, ward, raw_code in db.execute(
        "select provinceKey, wardKey, provinceCode, ward, wardCode from admin_units"
    ):
        code, pcode = str(raw_code).zfill(5), str(raw_pcode).zfill(2)
        if names25.get(code) == (pcode, ward) or (code in names25 and _fold(names25[code][1]) == _fold(ward)):
            new_code[(pk, wk)] = code
            continue
        # Where the package's code is not the shipped list's (a draft code), the unit is
        # found by its name in its province: names did not change between draft and final.
        found = by_name25.get((pcode, _fold(ward)), [])
        if len(found) > 1:  # folding merged two names (Sơn Hà, Sơn Hạ): diacritics decide
            found = [c for c in found if _accented(names25[c][1]) == _accented(ward)]
        if len(found) != 1:
            raise SystemExit(f"2025 unit {ward} ({pcode}): {len(found)} units of this name in the shipped list")
        shipped = found[0]
        renumbered += 1
        new_code[(pk, wk)] = shipped
    communes21 = {
        c["code"]: (p["code"], d["code"]) for p in old21["provinces"] for d in p["districts"] for c in d["communes"]
    }
    districts21 = {d["code"]: p["code"] for p in old21["provinces"] for d in p["districts"]}
    province25 = {c["code"]: p["code"] for p in new25["provinces"] for c in p["communes"]}
    successors: dict[str, list[dict[str, Any]]] = {}
    whole_districts: dict[str, str] = {}
    district_key: dict[str, str] = {
        f"{pk}_{dk}": str(code).zfill(3)
        for pk, dk, code in db.execute("select distinct provinceKey, districtKey, districtCode from admin_units_legacy")
        if code
    }
    for new_pk, wards in conv["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for new_wk, olds in wards.items():
            target = new_code[(new_pk, new_wk)]
            for key in olds:
                if key not in old_code and not key.endswith("_"):
                    continue  # a ward formed after 2021 (2023-2024 mergers): not in the 2021 list
                if key.endswith("_"):  # a district without communes (an island) becomes one unit
                    whole_districts[district_key[key[:-1]]] = target
                    continue
                successors.setdefault(old_code[key], []).append({"code": target, "default": True})
    for new_pk, wards in conv["DICT_PROVINCE_WARD_DIVIDED"].items():
        for key, parts in wards.items():
            if key not in old_code:
                continue
            successors[old_code[key]] = [
                {"code": new_code[(new_pk, p["newWardKey"])], "default": bool(p["isDefaultNewWard"])} for p in parts
            ]
    after_2021 = sorted(set(successors) - set(communes21))
    for code in after_2021:
        del successors[code]
    missing = sorted(set(communes21) - set(successors))
    unknown = sorted({s["code"] for v in successors.values() for s in v} - set(province25))
    if unknown:
        raise SystemExit(f"2025 codes outside the shipped list: {unknown}")
    print(
        f"{renumbered} 2025 codes taken from the shipped list by name; {len(after_2021)} units formed after 2021 left out"
    )
    return {
        "source": f"PyPI package vietnamadminunits {version} (data/converter_2025.json, data/dataset.db), "
        "compiled from the National Assembly Standing Committee's 2025 resolutions on commune-level units",
        "from_edition": "2021",
        "to_edition": "2025",
        "effective": "2025-07-01",
        "communes": {code: successors[code] for code in sorted(successors)},
        "districts": dict(sorted(whole_districts.items())),
        "without_successor": missing,
        "checked": {"districts_2021": len(districts21), "communes_2021": len(communes21)},
    }


def main() -> None:
    """Write ``reform-2025.json.gz`` beside this script."""
    table = build(Path(sys.argv[1]), sys.argv[2])
    with gzip.open(HERE / "reform-2025.json.gz", "wt", encoding="utf-8", compresslevel=9) as fh:
        json.dump(table, fh, ensure_ascii=False, separators=(",", ":"))
    print(
        f"{len(table['communes'])} communes, {len(table['districts'])} whole districts, "
        f"{len(table['without_successor'])} without successor"
    )


if __name__ == "__main__":
    main()
