"""The snapshot's standard availability is refreshed in steps, one a tick, at one ``now``."""

from __future__ import annotations

from pathlib import Path

import pytest

from netmon.collector import engine as engine_module
from netmon.collector.model import State
from netmon.collector.readmodel import standard_availability, standard_availability_steps
from netmon.collector.steps import Steps
from tests.unit.test_engine import make


def test_steps_give_the_figures_of_one_pass_and_ignore_what_comes_after_now(tmp_path: Path) -> None:
    eng, sim, clock = make(tmp_path)
    for k in range(6):
        sim.round(k, down={"a"} if 2 <= k < 5 else set())
    now = clock[0]
    whole = standard_availability(eng.topology, eng._memory, now)
    steps = Steps(standard_availability_steps(eng.topology, eng._memory, now, units_per_step=2))
    assert not steps.step()
    assert not steps.step()
    # Meanwhile the write path goes on: "b" fails after ``now`` (past the windows' end).
    for k in range(6, 10):
        sim.round(k, down={"a", "b", "b2"})
    yielded = 2
    while not steps.step():
        yielded += 1
    assert steps.result is not None
    assert dict(steps.result) == dict(whole)
    assert yielded == 5 // 2 + 3 // 2  # 5 devices and 3 communes, two a step
    assert whole[("device", "a", 86400)].down_s > 0


def test_the_engine_refreshes_a_step_a_tick_and_shows_the_old_figures_until_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "AVAILABILITY_STEP_UNITS", 2)
    monkeypatch.setattr(engine_module, "AVAILABILITY_REFRESH_S", 300.0)
    eng, sim, clock = make(tmp_path)
    for k in range(3):
        sim.round(k, tick=False)
    before = eng.snapshot().availability[("commune", "00001", 3600)]
    assert before.down_s == 0
    refreshed_at = clock[0]
    for k in range(3, 6):
        sim.round(k, down={"a"}, tick=False)
    clock[0] = refreshed_at + 300.0  # due at this tick
    ticks = 0
    while eng.snapshot().availability[("commune", "00001", 3600)] == before:
        eng.tick(clock[0])
        clock[0] += 1  # a tick a second (the snapshot is rebuilt at most once a second)
        ticks += 1
        assert ticks < 10
    assert ticks > 1  # not in the tick that began it
    assert eng.snapshot().availability[("commune", "00001", 3600)].down_s > 0
    core = eng.device_state("a")
    assert core is not None
    assert core.state == State.DOWN


def test_figures_no_tick_kept_fresh_are_computed_when_read(tmp_path: Path) -> None:
    eng, sim, clock = make(tmp_path)
    for k in range(6):
        sim.round(k, down={"a"} if k >= 2 else set(), tick=False)
    assert eng.snapshot().availability[("commune", "00001", 3600)].down_s > 0
