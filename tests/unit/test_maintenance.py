"""Maintenance windows (pure): one-off, daily, weekly, targets, exact boundaries."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from netmon.collector import maintenance as mnt
from netmon.config.loader import load_inventory
from netmon.config.settings import MaintenanceWindow

ICT = timezone(timedelta(hours=7))
T = datetime(2026, 11, 2, 22, 0, tzinfo=ICT)
t0 = T.timestamp()


def test_one_off_window() -> None:
    w = MaintenanceWindow(device="d522-r1", start=T, end=T + timedelta(hours=2))
    assert not mnt.active(w, t0 - 1)
    assert mnt.active(w, t0)
    assert mnt.active(w, t0 + 7199)
    assert not mnt.active(w, t0 + 7200)
    assert mnt.next_boundary(w, t0 - 10) == t0
    assert mnt.next_boundary(w, t0 + 10) == t0 + 7200
    assert mnt.next_boundary(w, t0 + 7200) is None


def test_daily_window_until() -> None:
    w = MaintenanceWindow(commune="21010", start=T, every="daily", duration_s=3600, until=T + timedelta(days=2))
    assert mnt.active(w, t0 + 86400 + 100)
    assert not mnt.active(w, t0 + 86400 + 3600)
    assert not mnt.active(w, t0 + 2 * 86400 + 100)  # no occurrence starts at or after until
    assert mnt.next_boundary(w, t0 + 3600) == t0 + 86400
    assert mnt.next_boundary(w, t0 + 86400 + 3600) is None


def test_weekly_window() -> None:
    w = MaintenanceWindow(district="522", start=T, every="weekly", duration_s=1800)
    assert mnt.active(w, t0 + 7 * 86400 + 60)
    assert not mnt.active(w, t0 + 86400 + 60)


def test_targets() -> None:
    inv = load_inventory("config/quang-ngai-2021.yaml")
    idx = inv.index
    district = MaintenanceWindow(district="522", start=T, end=T + timedelta(hours=1))
    assert mnt.covers(district, "d522-r1", idx)
    assert mnt.covers(district, "c21010-cpe1", idx)
    assert not mnt.covers(district, "p51-core", idx)
    commune = MaintenanceWindow(commune="21010", start=T, end=T + timedelta(hours=1))
    assert mnt.covers(commune, "c21010-cpe1", idx)
    assert not mnt.covers(commune, "d522-r1", idx)
    by_dev = mnt.windows_by_device([district, commune], idx)
    assert len(by_dev["c21010-cpe1"]) == 2
    assert "p51-core" not in by_dev


def test_changes_of_overlapping_windows_are_exact() -> None:
    a = MaintenanceWindow(device="x", start=T, end=T + timedelta(seconds=100))
    b = MaintenanceWindow(device="x", start=T + timedelta(seconds=50), end=T + timedelta(seconds=300))
    assert [(t - t0, on) for t, on, _ in mnt.changes([a, b], t0 - 10, t0 + 1000)] == [(0.0, True), (300.0, False)]
    assert mnt.changes([a, b], t0 + 10, t0 + 20) == []
    assert mnt.next_change([a, b], t0 + 10) == t0 + 50
