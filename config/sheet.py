"""Read an operator's device list from a workbook (XLSX) or a CSV file.

Provincial network teams keep their sites in spreadsheets shaped for people: a title
row or two above the header, Vietnamese headers ("Xã/Phường", "Địa chỉ IP", "Kết nối
lên"), a district cell merged down over its communes, blank spacer rows. This module
finds the header row, recognises the columns by their (folded) names, fills merged
cells into every row they cover and hands back plain rows with their sheet row
numbers, so that every later problem can name the row a person sees in the sheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from netmon.config.names import fold


class Column(StrEnum):
    """The fields a device row can carry."""

    COMMUNE = "commune"
    CODE = "code"
    DISTRICT = "district"
    NAME = "name"
    ID = "id"
    ROLE = "role"
    ADDRESS = "address"
    MODEL = "model"
    UPLINK = "uplink"
    SNMP = "snmp"


#: Header texts (folded) that name each column, in Vietnamese and English. A header
#: matches when it equals one of these, or starts with one followed by more words
#: ("dia chi ip quan ly" is an address).
HEADERS: dict[Column, tuple[str, ...]] = {
    Column.COMMUNE: (
        "xa phuong thi tran",
        "xa phuong",
        "xa",
        "ten xa",
        "ten xa phuong",
        "phuong xa",
        "don vi hanh chinh",
        "don vi cap xa",
        "commune",
        "commune name",
        "ward",
    ),
    Column.CODE: ("ma xa", "ma don vi", "ma dvhc", "ma gso", "ma hanh chinh", "gso code", "commune code", "code"),
    Column.DISTRICT: (
        "huyen thi xa thanh pho",
        "quan huyen",
        "huyen",
        "ten huyen",
        "district",
        "district name",
    ),
    Column.NAME: ("ten thiet bi", "thiet bi", "hostname", "ten may", "device name", "device"),
    Column.ID: ("ma thiet bi", "id", "device id"),
    Column.ROLE: ("vai tro", "loai thiet bi", "chuc nang", "role", "type"),
    Column.ADDRESS: ("dia chi ip", "ip", "ip quan ly", "dia chi quan ly", "address", "ip address", "management ip"),
    Column.MODEL: ("model", "chung loai", "dong may", "kieu thiet bi", "hang model", "vendor model"),
    Column.UPLINK: (
        "ket noi len",
        "thiet bi cap tren",
        "uplink",
        "ket noi toi",
        "parent",
        "thiet bi uplink",
        "upstream",
    ),
    Column.SNMP: ("snmp", "snmp profile", "ho so snmp"),
}

#: The header row is looked for among the first rows of the sheet.
HEADER_SEARCH_ROWS = 15


class SheetError(ValueError):
    """The file cannot be read as a device list (format, no header row)."""


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One data row: its row number in the sheet (1-based, as a spreadsheet shows it)
    and the recognised cells, stripped (absent or blank cells are left out)."""

    number: int
    cells: dict[Column, str]

    def get(self, column: Column) -> str:
        """A cell's text, empty when absent."""
        return self.cells.get(column, "")


@dataclass(frozen=True)
class Sheet:
    """The rows of a device list and what was recognised of its layout.

    Attributes:
        source: File (and sheet name for a workbook).
        header_row: Row number of the header.
        columns: Recognised column -> the header text as written.
        ignored: Header texts not recognised (their cells are not read).
        rows: The data rows.
    """

    source: str
    header_row: int
    columns: dict[Column, str]
    ignored: tuple[str, ...]
    rows: tuple[SheetRow, ...] = field(default=())


def recognise(header: str) -> Column | None:
    """The column a header text names, or None."""
    key = fold(header)
    if not key:
        return None
    for column, names in HEADERS.items():
        if key in names:
            return column
    for column, names in HEADERS.items():
        if any(key.startswith(n + " ") for n in names if len(n) > 2):
            return column
    return None


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a code typed as a number: 21211.0 -> "21211"
    return str(value).strip()


def from_grid(grid: Sequence[Sequence[object]], source: str) -> Sheet:
    """A device list from a grid of cells (row 1 first), merged cells already filled."""
    best: tuple[int, dict[int, Column]] | None = None
    for r, row in enumerate(grid[:HEADER_SEARCH_ROWS]):
        found: dict[int, Column] = {}
        for c, value in enumerate(row):
            col = recognise(_cell_text(value))
            if col is not None and col not in found.values():
                found[c] = col
        named = set(found.values())
        if (
            (Column.COMMUNE in named or Column.CODE in named)
            and len(found) >= 3
            and (best is None or len(found) > len(best[1]))
        ):
            best = (r, found)
    if best is None:
        raise SheetError(
            f"{source}: no header row in the first {HEADER_SEARCH_ROWS} rows: expected columns such as "
            "'Xã/Phường' (or 'Mã xã'), 'Tên thiết bị', 'Địa chỉ IP', 'Vai trò', 'Kết nối lên'"
        )
    header_index, by_pos = best
    header = grid[header_index]
    columns = {col: _cell_text(header[c]) for c, col in by_pos.items()}
    ignored = tuple(_cell_text(v) for c, v in enumerate(header) if c not in by_pos and _cell_text(v))
    rows: list[SheetRow] = []
    for r in range(header_index + 1, len(grid)):
        cells = {col: text for c, col in by_pos.items() if c < len(grid[r]) and (text := _cell_text(grid[r][c]))}
        if cells:
            rows.append(SheetRow(r + 1, cells))
    return Sheet(source, header_index + 1, columns, ignored, tuple(rows))


def read_xlsx(path: str | Path, sheet: str | None = None) -> Sheet:
    """Read a workbook's sheet (the first, or ``sheet`` by name); merged cells are
    filled into every cell they cover, as a person reading the sheet sees them."""
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=False, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise SheetError(f"{path}: cannot read the workbook: {exc}") from None
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise SheetError(f"{path}: no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})")
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        grid: list[list[object]] = [list(row) for row in ws.iter_rows(values_only=True)]
        for merged in ws.merged_cells.ranges:
            top = grid[merged.min_row - 1][merged.min_col - 1] if merged.min_row <= len(grid) else None
            for r in range(merged.min_row, min(merged.max_row, len(grid)) + 1):
                row = grid[r - 1]
                for c in range(merged.min_col, merged.max_col + 1):
                    if c - 1 < len(row):
                        row[c - 1] = top
        title = ws.title
    finally:
        wb.close()
    return from_grid(grid, f"{path} [{title}]")


def read_csv(path: str | Path) -> Sheet:
    """Read a CSV export (UTF-8, with or without Excel's byte-order mark; comma,
    semicolon or tab separated). A CSV has no merged cells: a district written once
    above its communes, as a merged cell exports, is carried down to the rows below it."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SheetError(f"{path}: not UTF-8 text ({exc.reason}); save the CSV as UTF-8") from None
    except OSError as exc:
        raise SheetError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    grid: list[list[object]] = [list(r) for r in csv.reader(io.StringIO(text), dialect)]
    sheet = from_grid(grid, str(path))
    return _carry_down(sheet, (Column.DISTRICT,))


def _carry_down(sheet: Sheet, columns: Iterable[Column]) -> Sheet:
    """Carry ``columns`` down into the commune rows that leave them blank (a row without
    a commune is a district's or the province's own device and gets nothing carried)."""
    rows: list[SheetRow] = []
    last: dict[Column, str] = {}
    for row in sheet.rows:
        cells = dict(row.cells)
        commune_row = Column.COMMUNE in cells or Column.CODE in cells
        for col in columns:
            if col in cells:
                last[col] = cells[col]
            elif col in last and commune_row:
                cells[col] = last[col]
        rows.append(SheetRow(row.number, cells))
    return Sheet(sheet.source, sheet.header_row, sheet.columns, sheet.ignored, tuple(rows))


def read_sheet(path: str | Path, sheet: str | None = None) -> Sheet:
    """Read a device list from ``.xlsx``/``.xlsm`` or ``.csv`` by the file's suffix."""
    suffix = Path(path).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path, sheet)
    if suffix in (".csv", ".txt"):
        return read_csv(path)
    raise SheetError(f"{path}: expected an .xlsx workbook or a .csv file")
