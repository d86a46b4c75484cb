"""A snapshot is what the network was when it was taken, however late its views are made."""

from __future__ import annotations

from netmon.collector.model import State
from tests.unit.test_engine import make


def test_a_device_view_made_after_the_write_path_moved_on_shows_the_snapshot_s_moment() -> None:
    eng, sim, clock = make()
    for k in range(3):
        sim.round(k)
    snap = eng.snapshot()
    live_then = eng._writer.records.live["a"].last_seen
    rtt_then = eng._writer.records.measured["a"].loss_ratio
    for k in range(3, 7):
        sim.round(k, down={"a"})  # "a" fails: its live record and measurements move
    assert eng._writer.records.live["a"].last_seen != live_then
    assert eng._writer.records.measured["a"].loss_ratio != rtt_then
    view = snap.devices["a"]  # made now, from what the snapshot copied
    assert view.last_seen == live_then
    assert view.loss_ratio == rtt_then
    assert view.state == State.UP
    clock[0] += 1
    now = eng.snapshot().devices["a"]
    assert now.state == State.DOWN
    assert now.loss_ratio == 1.0


def test_a_snapshot_reads_as_a_mapping_of_every_device() -> None:
    eng, sim, _ = make()
    sim.round(0)
    devices = eng.snapshot().devices
    assert set(devices) == set(eng.topology.facts)
    assert len(devices) == len(eng.topology.facts)
    assert "a" in devices
    assert "nope" not in devices
    assert devices.get("nope") is None
    assert devices["a"] is devices["a"]  # made once


def test_an_unchanged_commune_keeps_its_view_object() -> None:
    eng, sim, clock = make()
    for k in range(3):
        sim.round(k)
    first = eng.snapshot().communes
    sim.round(3)
    clock[0] += 1
    second = eng.snapshot().communes
    assert second["00001"] is first["00001"]
    for k in range(4, 8):
        sim.round(k, down={"a"})
    clock[0] += 1
    third = eng.snapshot().communes
    assert third["00001"] is not first["00001"]
    assert third["00001"].state == State.DOWN
    assert third["00002"] is first["00002"]
