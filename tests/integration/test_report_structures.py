"""`netmon report` over a day that spans the switch to the 2025 structure: the store was
written by the engine watching the 2021 inventory; the collector then switched, at
12:00, to the inventory `netmon inventory migrate` made of it (same device ids). The
report says which structure each half used and gives the coverage against both the 170
communes of 2021 and the 96 of 2025 — the former equal to what the 2021 report gives."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.people_scenario import DAY, HOUR, INVENTORY_PATH, T0, inventory, scenario_engine

ROOT = Path(__file__).resolve().parents[2]
SWITCH = "2026-10-01T12:00:00+07:00"


def _netmon(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netmon", *args], check=False, capture_output=True, text=True, cwd=ROOT, timeout=300
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("structures")
    scenario_engine(str(d / "netmon.sqlite")).close()
    r = _netmon(
        "inventory",
        "migrate",
        "--to",
        "2025",
        str(INVENTORY_PATH),
        "--effective",
        SWITCH,
        "-o",
        str(d / "qn-2025.yaml"),
    )
    assert r.returncode == 0, r.stderr
    for name, inv in (("2021", INVENTORY_PATH), ("2025", d / "qn-2025.yaml")):
        (d / f"collector-{name}.yaml").write_text(f"inventory: {inv}\nstore:\n  path: netmon.sqlite\n")
    return d


def _rows(path: Path) -> list[dict[str, str]]:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    return [dict(zip(lines and next(csv.reader([lines[0]])), r, strict=True)) for r in csv.reader(lines[1:])]


def _report(setup: Path, edition: str, out: Path) -> Path:
    r = _netmon(
        "report", "-c", str(setup / f"collector-{edition}.yaml"), "--from", "2026-10-01", "--to", "2026-10-02",
        "--lang", "en", "-o", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


def expected_2025_coverage(migrated: dict[str, object]) -> tuple[float, float, float]:
    """Time-weighted commune coverage of the 96 communes by hand, whole day and each half: a
    commune is out when all its access devices are (the scenario's outages)."""
    old = inventory()
    ba_to = {d.id for c in old.index.districts["535"].communes for d in c.devices}
    outages = {"c21211-cpe1": [(10, 12)], "c21010-cpe1": [(23, 24)], **{d: [(14, 15)] for d in ba_to}}

    def lost(access: list[str], a: float, b: float) -> float:
        hours = 0.0
        for h in range(int(a), int(b)):  # outages start and end on the hour
            if all(any(s <= h < e for s, e in outages.get(d, ())) for d in access):
                hours += 1
        return hours

    def cov(a: float, b: float) -> float:
        total = 0.0
        for c in migrated["communes"]:  # type: ignore[attr-defined]
            access = [d["id"] for d in c.get("devices", []) if d["role"] == "cpe" or d.get("access")]
            if access:
                total += (b - a) - lost(access, a, b)
        return total / (96 * (b - a))

    return cov(0, 24), cov(0, 12), cov(12, 24)


def test_report_across_the_switch_gives_both_structures(setup: Path, tmp_path: Path) -> None:
    old_units = _rows(next(_report(setup, "2021", tmp_path / "old").glob("*-units.csv")))
    out = _report(setup, "2025", tmp_path / "new")
    rows = {r["Structure"]: r for r in _rows(next(out.glob("*-structures.csv")))}
    assert set(rows) == {"2021", "2025"}
    old, new = rows["2021"], rows["2025"]
    before = "Commune coverage 2026-10-01 00:00–2026-10-01 12:00"
    # the second part ends where the data ends (the last samples and a round)
    (after,) = [k for k in new if k.startswith("Commune coverage 2026-10-01 12:00–")]
    assert (old["Districts"], old["Communes"], old["Provisioned"], old["Connected at end"]) == (
        "13",
        "170",
        "170",
        "169",
    )
    # the 2021 denominator over the migrated inventory is what the 2021 report says
    old_twc = float(old_units[-1]["Time-weighted commune coverage"])
    assert float(old["Time-weighted commune coverage, whole period"]) == pytest.approx(old_twc, abs=1e-6)
    assert float(old[before]) == pytest.approx(1 - 2 / (170 * 12), abs=1e-6)  # Tịnh Khê's CPE, 10:00-12:00
    migrated = yaml.safe_load((setup / "qn-2025.yaml").read_text(encoding="utf-8"))
    whole, first, second = expected_2025_coverage(migrated)
    assert (new["Province"], new["Districts"], new["Communes"], new["Provisioned"]) == (
        "Quảng Ngãi (51)",
        "0",
        "96",
        "56",
    )
    assert new["Connected at end"] == "56"  # Lê Hồng Phong's CPE is down, its merged commune is not
    # The report's figures cover the data's window, which begins with the first samples, a
    # few seconds into the period: the hand figures (whole hours) agree to a few seconds.
    assert float(new["Time-weighted commune coverage, whole period"]) == pytest.approx(whole, abs=1e-4)
    assert float(new[before]) == pytest.approx(first, abs=1e-4)
    assert float(new[after]) == pytest.approx(second, abs=1e-4)
    assert whole < 56 / 96  # Kon Tum's 40 communes, not in this network, count as not connected
    html = next(out.glob("*.html")).read_text(encoding="utf-8")
    assert "From 2026-10-01 00:00 to 2026-10-01 12:00: monitored in the 2021 structure" in html
    assert "From 2026-10-01 12:00 to 2026-10-01 23:" in html  # where the data ends
    assert "monitored in the 2025 structure" in html
    assert T0 + 12 * HOUR < T0 + DAY


def test_no_structures_section_after_the_switch(setup: Path, tmp_path: Path) -> None:
    r = _netmon(
        "report", "-c", str(setup / "collector-2025.yaml"), "--from", "2026-10-01T12:00", "--to", "2026-10-02",
        "--format", "csv", "-o", str(tmp_path),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert not list(tmp_path.glob("*-structures.csv"))
