"""``netmon inventory check-lists``: the shipped GSO lists against an installed
``vietnam-provinces`` — the real release they come from, and a newer one that differs
(an installed distribution built here: a commune renamed, one removed, one added)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from netmon.config import geography
from netmon.config.geography import Unit, diff_units


def run_check(*args: str, path: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if path is not None:  # ahead of site-packages: this distribution is the installed one
        env["PYTHONPATH"] = os.pathsep.join([str(path), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "netmon", "inventory", "check-lists", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_the_real_release_holds_the_shipped_2025_list() -> None:
    out = run_check()
    assert out.returncode == 0, out.stderr
    assert "2021 structure from vietnam-provinces 0.6.0, 2025 structure from vietnam-provinces 2025.10.1" in out.stdout
    assert "installed vietnam-provinces 2025.10.1 (2025 structure): same list for the whole country" in out.stdout


def fake_release(tmp: Path, version: str) -> Path:
    """An installed ``vietnam-provinces`` of ``version``: the shipped 2025 list in the
    package's format with Xã Tịnh Khê renamed, Xã Ba Xa removed and a commune added."""
    raw = []
    for p in geography.provinces("2025"):
        wards = [{"name": c.name, "code": int(c.code)} for c in p.children]
        if p.code == "51":
            wards = [w for w in wards if w["code"] != 21538]
            for w in wards:
                if w["code"] == 21211:
                    w["name"] = "Phường Tịnh Khê"
            wards.append({"name": "Xã Mới Lập", "code": 21999})
        raw.append({"name": p.name, "code": int(p.code), "wards": wards})
    pkg = tmp / "vietnam_provinces"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "data" / "nested-divisions.json").write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    info = tmp / f"vietnam_provinces-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: vietnam-provinces\nVersion: {version}\n")
    return tmp


def test_a_newer_release_that_differs_is_reported(tmp_path: Path) -> None:
    out = run_check(path=fake_release(tmp_path, "2026.9.0"))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "vietnam-provinces 2026.9.0 (2025 structure) is newer than the shipped 2025.10.1" in out.stdout
    assert "differs for the whole country in 3 places" in out.stdout
    assert "Quảng Ngãi (51): renamed Xã Tịnh Khê (21211) → Phường Tịnh Khê" in out.stdout
    assert "Quảng Ngãi (51): removed Xã Ba Xa (21538)" in out.stdout
    assert "Quảng Ngãi (51): added Xã Mới Lập (21999)" in out.stdout
    other = run_check("--province", "01", path=tmp_path)
    assert other.returncode == 0
    assert "same list for province 01" in other.stdout


def test_an_older_release_that_differs_is_not_an_alarm(tmp_path: Path) -> None:
    out = run_check(path=fake_release(tmp_path, "2025.8.1"))
    assert out.returncode == 0
    assert "is not newer than the shipped 2025.10.1" in out.stdout


def test_diff_units_table() -> None:
    a = (Unit("01", "A", (Unit("001", "x"), Unit("002", "y"))), Unit("02", "B"))
    b = (Unit("01", "A2", (Unit("001", "x"), Unit("003", "z"))), Unit("04", "D"))
    assert diff_units(a, b) == [
        "renamed A (01) → A2",
        "A2 (01): removed y (002)",
        "A2 (01): added z (003)",
        "removed B (02)",
        "added D (04)",
    ]
    assert diff_units(a, a) == []
