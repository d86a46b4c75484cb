"""`netmon report` as a planner runs it: a real store written by the engine, a settings
file, every format; the numbers in the files are the scenario's, computed by hand."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from tests.people_scenario import INTERVAL_S, INVENTORY_PATH, ba_to_communes, inventory, scenario_engine

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def settings_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("report")
    engine = scenario_engine(str(d / "netmon.sqlite"))
    engine.close()
    cfg = d / "collector.yaml"
    cfg.write_text(
        f"inventory: {INVENTORY_PATH}\nstore:\n  path: netmon.sqlite\nobjectives:\n  availability_target: 0.95\n"
        f"state:\n  default_interval_s: {INTERVAL_S}\n"
    )
    return cfg


def _netmon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netmon", *args], check=False, capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_report_files_carry_the_scenario_numbers(settings_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = _netmon(
        "report", "-c", str(settings_file), "--from", "2026-10-01", "--to", "2026-10-02", "--lang", "en", "-o", str(out)
    )
    assert r.returncode == 0, r.stderr
    files = sorted(p.name for p in out.iterdir())
    assert len(files) == 7, files
    assert all(Path(line).exists() for line in r.stdout.split())
    units_csv = next(out.glob("*-units.csv"))
    rows = list(csv.reader(units_csv.read_text(encoding="utf-8-sig").splitlines()))
    header, province = rows[0], rows[-1]
    col = dict(zip(header, province, strict=True))
    nb = ba_to_communes(inventory())
    assert col["Code"] == "51"
    assert int(col["Communes"]) == 170
    assert int(col["Connected at end"]) == 169
    assert int(col["Outages"]) == 2 + nb
    assert float(col["Outage time (h)"]) == pytest.approx(3 + nb)
    assert float(col["Availability"]) == pytest.approx((170 * 24 - (3 + nb)) / (170 * 24), abs=1e-6)
    # Objective 95% from the settings file: Ba Tơ's communes (23/24 ≈ 95.8%) meet it, Tịnh Khê (22/24) does not.
    assert int(col["Communes meeting the target"]) == 170 - 1
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    assert "Huyện Ba Tơ" in html
    assert "<svg" in html


def test_month_report_in_vietnamese_html_only(settings_file: Path, tmp_path: Path) -> None:
    r = _netmon("report", "-c", str(settings_file), "--month", "2026-10", "--format", "html", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    (html,) = tmp_path.glob("*.html")
    assert '<html lang="vi">' in html.read_text(encoding="utf-8")


def test_a_month_with_one_day_of_data_warns_and_counts_only_that_day(settings_file: Path, tmp_path: Path) -> None:
    # The store holds the scenario's day (1 October); the collector is not running. October's
    # report must not stretch the last states (Lê Hồng Phong down) over the rest of the month.
    r = _netmon("report", "-c", str(settings_file), "--month", "2026-10", "--format", "csv", "-o", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (
        "netmon report: Cảnh báo: dữ liệu giám sát chỉ phủ 3.23% kỳ 2026-10 "
        "(từ 01/10/2026 00:00 đến 02/10/2026 00:00)." in r.stderr
    )
    units = list(csv.reader(next(tmp_path.glob("*-units.csv")).read_text(encoding="utf-8-sig").splitlines()))
    col = dict(zip(units[0], units[-1], strict=True))
    assert float(col["Tổng thời gian mất kết nối (giờ)"]) == pytest.approx(3 + ba_to_communes(inventory()))
    info = dict(csv.reader(next(tmp_path.glob("*-info.csv")).read_text(encoding="utf-8-sig").splitlines()))
    assert info["Dữ liệu đến"] == "2026-10-02 00:00:00"


@pytest.mark.parametrize(
    ("lang", "month", "message"),
    [
        (
            "vi",
            "2025-01",
            "netmon report: Không có dữ liệu giám sát trong kỳ 2025-01 (01/01/2025 00:00 – 01/02/2025 00:00). "
            "Dữ liệu đầu tiên sau kỳ này: 01/10/2026 00:00.",
        ),
        (
            "en",
            "2026-11",
            "netmon report: No monitoring data in 2026-11 (2026-11-01 00:00 – 2026-12-01 00:00). "
            "Latest data: 2026-10-02 00:00.",
        ),
    ],
)
def test_a_period_without_data_is_refused(
    settings_file: Path, tmp_path: Path, lang: str, month: str, message: str
) -> None:
    out = tmp_path / "out"
    r = _netmon("report", "-c", str(settings_file), "--month", month, "--lang", lang, "-o", str(out))
    assert r.returncode == 1
    assert r.stderr.strip() == message
    assert r.stdout == ""
    assert not out.exists()


def test_report_help_prints_percent_signs_once() -> None:
    r = _netmon("report", "--help")
    assert r.returncode == 0
    assert "100% of communes" in r.stdout
    assert "%%" not in r.stdout


def test_bad_period_and_bad_store_are_clear_errors(settings_file: Path, tmp_path: Path) -> None:
    r = _netmon("report", "-c", str(settings_file), "--month", "2026-13", "-o", str(tmp_path))
    assert r.returncode == 2
    assert "2026-13" in r.stderr
    bad = tmp_path / "collector.yaml"
    (tmp_path / "netmon.sqlite").write_bytes(b"this is not a database" * 100)
    bad.write_text(f"inventory: {INVENTORY_PATH}\nstore:\n  path: netmon.sqlite\n")
    r = _netmon("report", "-c", str(bad), "--month", "2026-10", "-o", str(tmp_path / "o"))
    assert r.returncode == 2
    assert "netmon.sqlite" in r.stderr
    assert "Traceback" not in r.stderr
