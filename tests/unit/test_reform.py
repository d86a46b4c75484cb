"""The 2021 → 2025 migration on the real lists: Quảng Ngãi's 170 communes (with Kon
Tum's) into 96, every device and id kept, what merged reported, the earlier structure
recoverable for reports."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from netmon.cli import main
from netmon.config import geography
from netmon.config.inventory import Inventory, check
from netmon.config.loader import load_inventory
from netmon.config.reform import MigrationError, conversion_table, migrate, previous_structure

ROOT = Path(__file__).resolve().parents[2]
QN_2021 = ROOT / "config" / "quang-ngai-2021.yaml"
SWITCH = datetime(2025, 6, 30, 17, 0, tzinfo=UTC)


def kon_tum_2021() -> Inventory:
    raw = geography.generate("62", "2021")
    raw["devices"] = [{**raw["devices"][0], "id": "p62-core"}]
    for d in raw["districts"]:
        d["devices"][0]["parent"] = "p62-core"
    return Inventory.model_validate(raw)


def test_conversion_list_places_every_commune_of_quang_ngai_and_kon_tum() -> None:
    table = conversion_table()
    qn25 = {c.code for c in geography.province("51", "2025").children}
    successors: set[str] = set()
    for code in ("51", "62"):
        for d in geography.province(code, "2021").children:
            for c in d.children:
                succ = table.communes[c.code]
                assert sum(s.main for s in succ) == 1, c
                successors.update(s.code for s in succ)
            if not d.children:
                successors.add(table.districts[d.code])  # Lý Sơn → Đặc khu Lý Sơn
    assert successors == qn25  # every 2025 commune has a 2021 predecessor, none is elsewhere
    assert "vietnamadminunits 1.0.4" in table.source


def test_quang_ngai_alone_keeps_every_device_and_reports_what_merged() -> None:
    old = load_inventory(QN_2021)
    result = migrate([old], SWITCH)
    assert not result.problems
    new = Inventory.model_validate(result.inventory)
    assert check(new) == []
    assert new.edition == "2025"
    assert len(new.communes) == 96
    assert not new.districts
    # every device, same id and fields (the island district's router now connects its unit)
    before = {d.id: d for d in old.index.devices.values()}
    after = {d.id: d for d in new.index.devices.values()}
    assert before.keys() == after.keys()
    changed = {i for i in before if before[i] != after[i]}
    assert changed == {"d536-r1"}
    assert after["d536-r1"].access is True
    assert new.index.placement["d536-r1"].commune.code == "21548"  # type: ignore[union-attr]
    # every 2021 commune is in exactly one successor's `formerly` with its devices
    formerly = [(c.code, f) for c in new.communes for f in c.formerly if not f.whole_district]
    assert len({f.code for _, f in formerly}) == 170
    with_devices = [f for _, f in formerly if f.devices]
    assert len(with_devices) == 170
    # the divided Trà Bùi: in both successors, its device in the main one
    tra_bui = sorted((code, f.part, f.devices) for code, f in formerly if f.code == "21142")
    assert tra_bui == [("21136", True, ("c21142-cpe1",)), ("21157", True, ())]
    assert new.index.placement["c21142-cpe1"].commune.code == "21136"  # type: ignore[union-attr]
    # the report: merges with their members, the division, the island, Kon Tum's communes
    merged = {code: [p.code for p in ps] for (code, _), ps in result.merged.items()}
    assert merged["21025"] == ["21019", "21022", "21025", "21031"]  # Phường Cẩm Thành
    assert "21142" in result.divided
    assert result.island_units == {"Huyện Lý Sơn": ("21548", "Đặc khu Lý Sơn", 1)}
    assert len(result.from_elsewhere) == 40
    assert result.other_provinces == ["Tỉnh Kon Tum (62)"]
    assert result.district_devices == 12
    text = "\n".join(result.summary())
    assert "merged: Phường Cẩm Thành (21025) ← Phường Nghĩa Chánh (21019, Thành phố Quảng Ngãi)" in text
    assert "divided: Xã Trà Bùi (21142, Huyện Trà Bồng, part) → Xã Cà Đam (21136), Xã Tây Trà Bồng (21157)" in text


def test_the_two_provinces_that_merged_migrate_into_one() -> None:
    result = migrate([load_inventory(QN_2021), kon_tum_2021()], SWITCH)
    new = Inventory.model_validate(result.inventory)
    assert check(new) == []
    assert result.from_elsewhere == []
    assert all(any(d.is_access for d in c.devices) for c in new.communes)  # every commune provisioned
    assert [p.code for p in new.previous.provinces] == ["51", "62"]  # type: ignore[union-attr]


def test_previous_structure_is_the_2021_one() -> None:
    new = Inventory.model_validate(migrate([load_inventory(QN_2021)], SWITCH).inventory)
    [old] = previous_structure(new)
    assert old.edition == "2021"
    assert old.province.code == "51"
    assert len(old.districts) == 13
    assert len(old.index.communes) == 170
    shipped = load_inventory(QN_2021)
    for code, commune in shipped.index.communes.items():
        assert [d.id for d in old.index.communes[code].devices] == [d.id for d in commune.devices]
        assert old.index.commune_district[code].code == shipped.index.commune_district[code].code  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        (lambda: [Inventory.model_validate(geography.generate("51", "2025"))], "not a 2021 inventory"),
        (lambda: [load_inventory(QN_2021), load_inventory(QN_2021)], "device id 'p51-core'"),
        (
            lambda: [load_inventory(QN_2021), Inventory.model_validate(_renamed(geography.generate("01", "2021")))],
            "different 2025 provinces",
        ),
    ],
)
def test_migration_refuses(inputs: object, message: str) -> None:
    with pytest.raises(MigrationError, match=message):
        migrate(inputs(), SWITCH)  # type: ignore[operator]


def _renamed(raw: dict[str, object]) -> dict[str, object]:
    raw["devices"] = [{**raw["devices"][0], "id": "p01-core"}]  # type: ignore[index]
    for d in raw["districts"]:  # type: ignore[attr-defined]
        d["devices"][0]["parent"] = "p01-core"
    return raw


def test_migrate_command_writes_what_check_config_accepts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "qn-2025.yaml"
    assert main(["inventory", "migrate", "--to", "2025", str(QN_2021), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "184 carried over, ids unchanged" in err
    assert main(["check-config", str(out)]) == 0
    data = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert data["previous"]["until"] == "2025-07-01T00:00:00+07:00"
    assert main(["inventory", "migrate", "--to", "2025", str(out)]) == 2  # a 2025 inventory is not migrated again
    assert "not a 2021 inventory" in capsys.readouterr().err
    assert main(["inventory", "migrate", "--to", "2025", str(QN_2021), "--effective", "2025-07-01"]) == 2
    assert "time zone" in capsys.readouterr().err
