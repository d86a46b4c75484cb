"""Coverage (pure): connected / communes in the inventory, both structures."""

from __future__ import annotations

import pytest

from netmon.collector import coverage as cov
from netmon.collector.model import State
from netmon.config.inventory import Inventory
from netmon.config.loader import load_inventory


def test_2021_structure_counts() -> None:
    inv = load_inventory("config/quang-ngai-2021.yaml")
    access = cov.access_devices(inv.index)
    assert len(access) == 170
    assert access["21010"] == ("c21010-cpe1",)
    by_district = cov.communes_by_district(inv.index)
    assert len(by_district) == 13
    assert "21010" in by_district["522"]
    states = dict.fromkeys(access, State.UP)
    states["21010"] = State.UNREACHABLE
    counts = cov.counts(access, states, {c: bool(d) for c, d in access.items()})
    assert (counts.communes, counts.provisioned, counts.connected) == (170, 170, 169)
    assert counts.by_state[State.UNREACHABLE] == 1
    assert counts.coverage_ratio == pytest.approx(169 / 170)


def test_2025_structure_has_no_districts() -> None:
    inv = load_inventory("config/quang-ngai-2025.yaml")
    assert cov.communes_by_district(inv.index) == {}
    access = cov.access_devices(inv.index)
    counts = cov.counts(access, {}, {c: bool(d) for c, d in access.items()})
    assert counts.communes == len(inv.communes)
    assert counts.connected == 0


def test_unprovisioned_and_unwatched_communes_are_not_connected() -> None:
    inv = Inventory.model_validate(
        {
            "province": {"code": "51", "name": "P"},
            "communes": [
                {"code": "00001", "name": "A", "devices": [{"id": "a", "role": "cpe", "address": "127.0.0.1"}]},
                {"code": "00002", "name": "B"},
                {"code": "00003", "name": "C", "devices": [{"id": "c", "role": "switch", "address": "127.0.0.2"}]},
            ],
        }
    )
    access = cov.access_devices(inv.index)
    assert access == {"00001": ("a",), "00002": (), "00003": ()}
    counts = cov.counts(access, {"00001": State.UP}, {c: bool(d) for c, d in access.items()})
    assert (counts.communes, counts.provisioned, counts.connected) == (3, 1, 1)


def test_time_weighted_and_series() -> None:
    tls = {"1": [(0.0, State.UP)], "2": [(0.0, State.UP), (50.0, State.DOWN)], "3": []}
    assert cov.time_weighted(tls, ["1", "2", "3"], 0.0, 100.0) == pytest.approx((100 + 50) / 300)
    pts = cov.series(tls, ["1", "2", "3"], 0.0, 100.0, 50.0)
    assert [(p.ts, p.connected, p.communes) for p in pts] == [(0.0, 2, 3), (50.0, 1, 3), (100.0, 1, 3)]
