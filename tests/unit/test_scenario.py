"""The scenario engine and its ground truth: reproducible, and true to the simulator.

The strongest check replays a plan's actions on the simulator's own device objects
(no sockets) and asks, at many instants, whether each device answers; the truth must
say DOWN/UNREACHABLE exactly when it does not (outside maintenance).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.collector.model import State
from netmon.config.inventory import Inventory
from netmon.demo import recording, runner, scenario, simulator, truth

START = 1_800_000_000.0


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return Inventory.model_validate(runner.build_inventory(runner.DemoOptions()))


def test_the_demo_inventory_is_loopback_and_snmp_only(inv: Inventory) -> None:
    devs = list(inv.index.devices.values())
    assert len(devs) == 184
    assert len({d.address for d in devs}) == 184
    assert all(d.address.startswith("127.1.") for d in devs)
    assert all([p.value for p in d.probes] == ["snmp"] and d.snmp == runner.DEMO_PROFILE for d in devs)


def test_fold_matches_names_without_diacritics() -> None:
    assert scenario.fold("Huyện Ba Tơ") == "ba to"
    assert scenario.fold("Thị xã Đức Phổ") == "duc pho"
    assert scenario.fold("Sơn Tây") == scenario.fold("Huyện Sơn Tây")


def test_default_scenario_is_reproducible_and_varies_with_the_seed(inv: Inventory) -> None:
    sc = scenario.load(None)
    a = scenario.plan(sc, inv, seed=3, start=START)
    b = scenario.plan(sc, inv, seed=3, start=START)
    c = scenario.plan(sc, inv, seed=4, start=START)
    assert a.actions == b.actions
    assert a.actions != c.actions
    assert a.notes == []
    kinds = {x.reason for x in a.actions}
    assert {"outage", "fibre_cut", "flap", "reboot", "degrade"} <= kinds
    assert {x.op for x in a.actions} >= {"agent_down", "agent_up", "degrade"}
    assert len(a.maintenance) == 1
    placed = inv.index.placement[a.maintenance[0].device or ""]
    assert placed.district is not None
    assert scenario.fold(placed.district.name) == "ly son"


def test_mountain_districts_are_degraded(inv: Inventory) -> None:
    p = scenario.plan(scenario.load(None), inv, seed=1, start=START)
    degraded = {a.target for a in p.actions if a.op == "degrade"}
    districts = {inv.index.placement[d].district.code for d in degraded}  # type: ignore[union-attr]
    names = {scenario.fold(inv.index.districts[c].name) for c in districts}
    assert names == {scenario.fold(n) for n in scenario.MOUNTAIN_DISTRICTS}


def test_e2e_scenario_truth(inv: Inventory) -> None:
    sc = scenario.load(Path(scenario.__file__).parent / "scenarios" / "e2e-short.yaml")
    p = scenario.plan(sc, inv, seed=1, start=START)
    gt = truth.compute(p, inv, interval_s=1.0, end=START + 30)
    t = START + 20
    cut = gt.state_at("d535-r1", t)
    assert cut is not None
    assert cut.state == State.DOWN
    behind = [c.devices[0].id for c in inv.index.districts["535"].communes]
    for d in behind:
        period = gt.state_at(d, t)
        assert period is not None
        assert (period.state, period.root_cause) == (State.UNREACHABLE, "d535-r1")
    assert gt.state_at("c21010-cpe1", t) is None  # came back at 10 s
    assert gt.availability("c21010-cpe1", START, START + 30).down_s == pytest.approx(6.0)
    commune = gt.commune_availability("21010", START, START + 30)
    assert (commune.up_s, commune.down_s) == (pytest.approx(24.0), pytest.approx(6.0))
    cut = gt.commune_availability(inv.index.districts["535"].communes[0].code, START, START + 30)
    assert cut.unreachable_s == pytest.approx(26.0)
    assert gt.state_at("c21013-cpe1", t).state == State.DOWN  # type: ignore[union-attr]
    assert gt.state_at("c21016-cpe1", t).state == State.MAINTENANCE  # type: ignore[union-attr]
    connected, total = gt.coverage(t)
    assert total == 170
    assert connected == 170 - len(behind) - 2
    again = truth.Truth.from_json(gt.to_json())
    assert again.coverage(t) == (connected, total)


def test_unknown_device_is_an_error(inv: Inventory) -> None:
    sc = scenario.Scenario.model_validate(
        {"name": "x", "events": [{"kind": "outage", "target": {"device": "no-such-device"}}]}
    )
    with pytest.raises(scenario.ScenarioError, match="no-such-device"):
        scenario.plan(sc, inv, seed=1, start=START)


def test_invalid_scenario_names_the_field(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("name: bad\nevents:\n  - kind: flap\n    at: 3\n", encoding="utf-8")
    with pytest.raises(scenario.ScenarioError, match=r"events\.0.*needs a duration"):
        scenario.load(f)


event = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["outage", "reboot", "fibre_cut", "flap", "maintenance"]),
        "at": st.integers(0, 100),
        "duration": st.integers(1, 80),
        "target": st.sampled_from(
            [{"role": "cpe", "count": 3}, {"district": "Ba Tơ"}, {"district": "Lý Sơn"}, {"device": "p51-core"}]
        ),
    }
)


@settings(max_examples=25, deadline=None)
@given(st.lists(event, min_size=1, max_size=6), st.integers(0, 1000), st.lists(st.floats(0, 200), max_size=20))
def test_truth_agrees_with_the_simulator(
    inv: Inventory, events: list[dict[str, object]], seed: int, probes: list[float]
) -> None:
    sc = scenario.Scenario.model_validate({"name": "prop", "events": events})
    p = scenario.plan(sc, inv, seed=seed, start=START)
    gt = truth.compute(p, inv, interval_s=1.0, end=START + 200)
    specs = [
        simulator.DeviceSpec(d.id, d.address, recording.load(recording.ROLE_RECORDING[d.role.value]), d.parent)
        for d in inv.index.devices.values()
    ]
    sim = simulator.Simulator(specs, community="c", seed=seed)
    times = sorted(START + x for x in probes)
    i = 0
    for t in times:
        while i < len(p.actions) and p.actions[i].t <= t:
            runner.apply(p.actions[i], sim, {})
            i += 1
        if any(a.t == t for a in p.actions):
            continue  # at the very instant of a change either answer is fair
        for dev_id, dev in sim.devices.items():
            period = gt.state_at(dev_id, t)
            if period is not None and period.state == State.MAINTENANCE:
                continue
            assert dev.answering == (period is None), (dev_id, t - START, period)
            if period is not None and period.state == State.UNREACHABLE:
                assert period.root_cause is not None
                assert not sim.devices[period.root_cause].own_up
