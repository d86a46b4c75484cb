"""A snapshot is what the network was when it was taken, however late its views are made."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netmon.collector.model import DeviceView, State, series_of_view
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
    assert "a" in devices
    assert not devices._made  # type: ignore[attr-defined]  # asking whether it is there makes no view
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


def test_a_device_s_series_read_from_the_engine_is_the_one_read_from_its_view() -> None:
    """A scrape reads each device's series from what its view would be made of, without
    making the view: the same figures, and the same rule for what is current."""
    from netmon.collector.model import SeriesSource, series_of_view
    from tests.people_scenario import HOUR, T0, engine_at, silent_agent_engine

    seen: set[str] = set()
    for engine in (engine_at(T0 + 14.5 * HOUR), silent_agent_engine()):
        snap = engine.snapshot()
        assert isinstance(snap.devices, SeriesSource)  # the path a scrape takes
        fast = list(snap.device_series())
        assert fast == [series_of_view(view) for view in snap.devices.values()]
        for s in fast:
            seen.add(s.state.value)
            seen.add("walk" if s.interfaces else "no walk")
            seen.add("probe" if s.rtt_avg_s is not None else "no probe")
    # the comparison covered every kind of device
    assert {"up", "down", "unreachable", "unknown", "walk", "no walk", "probe", "no probe"} <= seen


_TIMES = st.none() | st.floats(0, 1000)


@given(
    state=st.sampled_from(State),
    last_seen=_TIMES,
    interval_s=st.none() | st.floats(0, 600),
    probe_at=_TIMES,
    snmp_at=_TIMES,
    interfaces_at=_TIMES,
)
def test_a_series_carries_exactly_the_values_its_view_calls_current(
    *,
    state: State,
    last_seen: float | None,
    interval_s: float | None,
    probe_at: float | None,
    snmp_at: float | None,
    interfaces_at: float | None,
) -> None:
    view = DeviceView(
        id="a",
        role="cpe",
        name="A",
        address="127.0.0.1",
        commune="00001",
        district="001",
        parent=None,
        agent="ag",
        state=state,
        since=0.0,
        last_seen=last_seen,
        rtt_avg_s=0.02,
        jitter_s=0.001,
        loss_ratio=0.0,
        response_s=0.01,
        probe_at=probe_at,
        snmp_at=snmp_at,
        interfaces_at=interfaces_at,
        interval_s=interval_s,
    )
    s = series_of_view(view)
    assert (s.rtt_avg_s, s.jitter_s, s.loss_ratio) == ((0.02, 0.001, 0.0) if view.current(probe_at) else (None,) * 3)
    assert s.response_s == (0.01 if view.current(snmp_at) else None)
    assert s.interfaces == (() if view.current(interfaces_at) else None)
