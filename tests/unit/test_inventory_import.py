"""``netmon inventory import`` on a workbook shaped as a provincial network team keeps it:
a merged title, Vietnamese headers, districts merged down over their communes, typos,
names that repeat across districts or differ only by diacritics, codes typed as numbers,
an uplink that names nobody, a duplicate device, a missing address."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook

from netmon.cli import main
from netmon.config.check import inspect_file
from netmon.config.sheet import Column, SheetError, from_grid, read_sheet

HEADER = [
    "STT",
    "Huyện/Thị xã/Thành phố",
    "Xã/Phường/Thị trấn",
    "Mã xã",
    "Tên thiết bị",
    "Vai trò",
    "Địa chỉ IP quản lý",
    "Model",
    "Kết nối lên",
    "Ghi chú",
]

# (district, commune, code, name, role, ip, model, uplink, note); the district is merged
# down over its rows by the workbook builder (a run of equal districts is one merged cell).
ROWS: list[tuple[object, ...]] = [
    ("", "", "", "QNI-CORE-01", "Router lõi", "10.51.0.1", "Huawei NE40E-X8", "", "Trung tâm THDL tỉnh"),
    ("Huyện Bình Sơn", "", "", "BSN-PE-01", "Router huyện", "10.51.24.1", "Huawei AR6280", "QNI-CORE-01", ""),
    ("Huyện Bình Sơn", "Xã Bình Minh", "", "BSN-BinhMinh-CPE", "CPE", "10.51.24.11", "ZTE ZXR10 5250", "BSN-PE-01", ""),
    ("Huyện Bình Sơn", "Bình Thạnh", "", "BSN-BinhThanh-CPE", "cpe", "10.51.24.12", "ZTE ZXR10 5250", "", ""),
    ("Huyện Bình Sơn", "xa binh thanh", "", "BSN-BinhThanh2-CPE", "CPE", "10.51.24.13", "", "", "ambiguous"),
    ("Huyện Bình Sơn", "Thị trấn Châu Ổ", 21040, "BSN-ChauO-CPE", "CPE", "10.51.24.14", "", "", "code as number"),
    ("Huyện Bình Sơn", "Thị trấn Châu Ổ", "", "BSN-ChauO-SW", "Bộ chuyển mạch", "10.51.24.15", "Cisco 2960", "", ""),
    ("Huyện Bình Sơn", "Xã Bình Chuơng", "", "BSN-BinhChuong-CPE", "CPE", "", "", "", "typo, no IP"),
    ("Thành phố Quảng Ngãi", "", "", "QNG-PE-01", "Router huyện", "10.51.22.1", "", "QNI-CORE-01", ""),
    ("Thành phố Quảng Ngãi", "Phường Nguyễn Nghiêm", "", "QNG-NguyenNghiem-CPE", "CPE", "10.51.22.11", "", "", ""),
    ("Thành phố Quảng Ngãi", "Tịnh Kê", "", "QNG-TinhKhe-CPE", "CPE", "10.51.22.12", "", "", "typo"),
    ("Thành phố Quảng Ngãi", "Xã Tịnh Châu", "21209", "QNG-TinhChau-CPE", "CPE", "10.51.22.13", "", "", "bad code"),
    ("Thị xã Đức Phổ", "", "", "DPO-PE-01", "Router huyện", "10.51.34.1", "", "QNI-CORE-01", ""),
    ("Thị xã Đức Phổ", "Phường Nguyễn Nghiêm", "", "DPO-NguyenNghiem-CPE", "CPE", "10.51.34.11", "", "", ""),
    ("Thị xã Đức Phổ", "Xã Phổ Không Có", "", "DPO-X-CPE", "CPE", "10.51.34.12", "", "", "no such commune"),
    ("Thị xã Đức Phổ", "Xã Phổ An", "", "DPO-PhoAn-CPE", "CPE", "10.51.34.13", "", "DPO-PE-02", "unknown uplink"),
    ("Thị xã Đức Phổ", "Xã Phổ An", "", "DPO-PhoAn-SW", "switch", "10.51.34.16", "", "DPO-PhoAn-CPE", "behind it"),
    ("Thị xã Đức Phổ", "Xã Phổ Phong", "", "DPO-PE-01", "CPE", "10.51.34.14", "", "", "duplicate name"),
    ("Thị xã Đức Phổ", "Xã Phổ Thuận", "", "DPO-PhoThuan-CPE", "Thiết bị lạ", "10.51.34.15", "", "", "bad role"),
]
FIRST_DATA_ROW = 5  # title (merged), date line, blank, header on row 4


def build_workbook(path: Path, rows: list[tuple[object, ...]]) -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Thiết bị TSLCD"
    ws["A1"] = "DANH SÁCH THIẾT BỊ MẠNG TRUYỀN SỐ LIỆU CHUYÊN DÙNG TỈNH QUẢNG NGÃI"
    ws.merge_cells("A1:J1")
    ws["A2"] = "(Cập nhật ngày 15/08/2024)"
    ws.append([])
    ws.append(HEADER)
    for i, row in enumerate(rows, start=1):
        ws.append([i, *row])
    # a district is one merged cell over its rows; the value sits in the first only
    r = FIRST_DATA_ROW
    while r < FIRST_DATA_ROW + len(rows):
        value = ws.cell(r, 2).value
        end = r
        while end + 1 < FIRST_DATA_ROW + len(rows) and ws.cell(end + 1, 2).value == value and value:
            end += 1
        if end > r:
            ws.merge_cells(start_row=r, start_column=2, end_row=end, end_column=2)
        r = end + 1
    wb.save(path)


def row_of(name: str) -> int:
    return next(FIRST_DATA_ROW + i for i, r in enumerate(ROWS) if r[3] == name and r[8] != "duplicate name")


def test_workbook_layout_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "thiet-bi.xlsx"
    build_workbook(path, ROWS)
    sheet = read_sheet(path)
    assert sheet.header_row == 4
    assert set(sheet.columns) == {
        Column.DISTRICT,
        Column.COMMUNE,
        Column.CODE,
        Column.NAME,
        Column.ROLE,
        Column.ADDRESS,
        Column.MODEL,
        Column.UPLINK,
    }
    assert set(sheet.ignored) == {"STT", "Ghi chú"}
    # merged district cells reach every row they cover
    by_row = {r.number: r for r in sheet.rows}
    assert by_row[row_of("BSN-ChauO-SW")].get(Column.DISTRICT) == "Huyện Bình Sơn"
    assert by_row[row_of("BSN-ChauO-CPE")].get(Column.CODE) == "21040"


def test_import_reports_every_bad_row_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "thiet-bi.xlsx"
    out = tmp_path / "inventory.yaml"
    build_workbook(path, ROWS)
    code = main(["inventory", "import", str(path), "--province", "51", "--edition", "2021", "-o", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert not out.exists()
    lines = err.splitlines()

    def line(row: int) -> str:
        hits = [ln for ln in lines if ln.startswith(("error: row ", "warning: row ")) and f"row {row}:" in ln]
        assert hits, f"row {row} not reported in:\n{err}"
        return " | ".join(hits)

    ambiguous = line(row_of("BSN-BinhThanh2-CPE"))
    assert ambiguous.startswith("error:")
    assert "Xã Bình Thạnh (21046, Huyện Bình Sơn)" in ambiguous
    assert "Xã Bình Thanh (21091, Huyện Bình Sơn)" in ambiguous
    bad_code = line(row_of("QNG-TinhChau-CPE"))
    assert "21209" in bad_code
    assert bad_code.startswith("error:")
    missing = line(row_of("DPO-X-CPE"))
    assert "Xã Phổ Không Có" in missing
    assert missing.startswith("error:")
    uplink = line(row_of("DPO-PhoAn-CPE"))
    assert "DPO-PE-02" in uplink
    assert "candidates" in uplink
    assert "DPO-PE-01" in uplink
    dup_row = FIRST_DATA_ROW + next(i for i, r in enumerate(ROWS) if r[8] == "duplicate name")
    assert f"row {row_of('DPO-PE-01')}" in line(dup_row)
    assert "core_router" in line(row_of("DPO-PhoThuan-CPE"))
    # taken, with a doubt: the close spelling and the missing address
    typo = line(row_of("QNG-TinhKhe-CPE"))
    assert typo.startswith("warning:")
    assert "Xã Tịnh Khê (21211" in typo
    assert "placeholder.invalid" in line(row_of("BSN-BinhChuong-CPE"))
    assert "left out" in line(row_of("DPO-PhoAn-SW"))
    assert "7 errors, 2 warnings" in err


def test_import_partial_writes_an_inventory_check_config_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "thiet-bi.xlsx"
    out = tmp_path / "inventory.yaml"
    build_workbook(path, ROWS)
    code = main(
        ["inventory", "import", str(path), "--province", "51", "--edition", "2021", "--partial", "-o", str(out)]
    )
    assert code == 2
    capsys.readouterr()
    assert main(["check-config", str(out)]) == 0
    kind, problems = inspect_file(out).kind, inspect_file(out).problems
    assert kind == "inventory"
    assert problems == []
    inv = yaml.safe_load(out.read_text(encoding="utf-8"))
    # every commune of the province is listed (the denominator), devices where the sheet put them
    assert sum(len(d["communes"]) for d in inv["districts"]) == 170
    communes = {c["code"]: c for d in inv["districts"] for c in d["communes"]}
    districts = {d["code"]: d for d in inv["districts"]}
    assert [d["id"] for d in inv["devices"]] == ["qni-core-01"]
    assert inv["devices"][0]["name"] == "QNI-CORE-01 (Huawei NE40E-X8)"
    assert [d["id"] for d in districts["524"]["devices"]] == ["bsn-pe-01"]
    assert districts["524"]["devices"][0]["parent"] == "qni-core-01"
    assert [d["id"] for d in communes["21085"]["devices"]] == ["bsn-binhminh-cpe"]
    assert [d["id"] for d in communes["21046"]["devices"]] == ["bsn-binhthanh-cpe"]
    assert "devices" not in communes["21091"]  # the ambiguous row went nowhere
    chau_o = {d["id"]: d for d in communes["21040"]["devices"]}
    assert chau_o["bsn-chauo-cpe"]["parent"] == "bsn-pe-01"  # by default: its district's router
    assert chau_o["bsn-chauo-sw"]["role"] == "switch"
    assert chau_o["bsn-chauo-sw"]["parent"] == "bsn-chauo-cpe"  # behind the commune's CPE
    assert communes["21100"]["devices"][0]["address"] == "bsn-binhchuong-cpe.placeholder.invalid"
    # the two Phường Nguyễn Nghiêm, told apart by the merged district cell
    assert [d["id"] for d in communes["21025"]["devices"]] == ["qng-nguyennghiem-cpe"]
    assert [d["id"] for d in communes["21439"]["devices"]] == ["dpo-nguyennghiem-cpe"]
    assert communes["21439"]["devices"][0]["parent"] == "dpo-pe-01"
    assert [d["id"] for d in communes["21211"]["devices"]] == ["qng-tinhkhe-cpe"]
    assert "devices" not in communes["21442"]  # Phổ An: its uplink names nobody


def test_clean_sheet_imports_with_exit_zero(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = [r for r in ROWS if r[8] in ("", "code as number", "typo, no IP", "typo", "Trung tâm THDL tỉnh")]
    path = tmp_path / "clean.xlsx"
    out = tmp_path / "inventory.yaml"
    build_workbook(path, good)
    assert main(["inventory", "import", str(path), "--province", "51", "--edition", "2021", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "0 errors" in err
    assert main(["check-config", str(out)]) == 0


def test_csv_export_with_district_written_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A CSV saved from the workbook: semicolons, a byte-order mark, each district written
    once above its communes (what a merged cell exports to)."""
    lines = [";".join(HEADER)]
    last = None
    for i, r in enumerate(ROWS, start=1):
        if r[8] not in ("", "code as number", "Trung tâm THDL tỉnh"):
            continue
        district = r[0] if r[0] != last or not r[1] else ""
        last = r[0]
        lines.append(";".join(str(x) for x in (i, district, *r[1:])))
    path = tmp_path / "thiet-bi.csv"
    path.write_text("\ufeff" + "\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "inventory.yaml"
    assert main(["inventory", "import", str(path), "--province", "51", "--edition", "2021", "-o", str(out)]) == 0
    capsys.readouterr()
    inv = yaml.safe_load(out.read_text(encoding="utf-8"))
    communes = {c["code"]: c for d in inv["districts"] for c in d["communes"]}
    assert [d["id"] for d in communes["21025"]["devices"]] == ["qng-nguyennghiem-cpe"]
    assert [d["id"] for d in communes["21439"]["devices"]] == ["dpo-nguyennghiem-cpe"]


def test_sheet_without_a_header_row_is_refused() -> None:
    with pytest.raises(SheetError, match="no header row"):
        from_grid([["a", "b"], [1, 2]], "x.csv")


def test_2025_import_without_districts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid = [
        ["Xã/Phường", "Tên thiết bị", "Địa chỉ IP", "Kết nối lên"],
        ["", "QNI-CORE-01", "10.51.0.1", ""],
        ["Đặc khu Lý Sơn", "LSN-CPE", "10.51.36.10", ""],
        ["son ha", "SHA-CPE", "10.51.29.10", ""],  # Sơn Hà and Sơn Hạ fold alike
    ]
    path = tmp_path / "2025.csv"
    path.write_text("\n".join(",".join(r) for r in grid) + "\n", encoding="utf-8")
    out = tmp_path / "inv.yaml"
    assert main(["inventory", "import", str(path), "--province", "51", "--edition", "2025", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "row 4: commune: 'son ha'" in err
    assert "Xã Sơn Hà (21289)" in err
    assert "Xã Sơn Hạ (21292)" in err
