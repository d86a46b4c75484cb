"""What the engine stores stays true: a clamped UP survives a retracted UNKNOWN, and a root
cause that changes within an outage is stored as it changes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.model import State
from netmon.collector.store import SqliteStore
from tests.unit.test_engine import IV, T0, collector_settings, small_inventory


def _batch(seq: int, samples: list[wire.Sample]) -> wire.SampleBatch:
    return wire.SampleBatch(v=1, agent="ag", seq=seq, sent_at=samples[-1].ts, samples=samples)


def _round(
    k: int, down: set[str] = frozenset(), devices: tuple[str, ...] = ("core", "d1", "a", "b", "b2")
) -> list[wire.Sample]:
    return [
        wire.Sample(device=d, probe="icmp", ts=T0 + k * IV + i, ok=d not in down, loss=1.0 if d in down else 0.0)
        for i, d in enumerate(devices)
    ]


def test_a_clamped_up_survives_the_retraction_of_an_agent_offline() -> None:
    # A collector that starts (reusing its persistent session) after samples were taken:
    # its first samples are older than the engine, so the UP they make is clamped to the
    # engine's start. Then the agent's retained "offline" status arrives (its UNKNOWN is
    # clamped to the same instant and supersedes the UP), then samples that continue
    # without a gap: the UNKNOWN is retracted and the devices are UP — and so must their
    # communes be, at once, not at the devices' next change.
    start = T0 + 300
    clock = [start]
    eng = Engine(small_inventory(), collector_settings(), None, clock=lambda: clock[0])
    for k in range(3):
        eng.apply_batch(_batch(k, _round(k)), start)
    eng.agent_status(wire.AgentStatus(v=1, agent="ag", state="offline", ts=T0 - 100), start + 1)
    assert eng.snapshot().communes["00001"].state == State.UNKNOWN
    for k in (3, 4):
        clock[0] = max(T0 + k * IV + 10, start + 2)
        eng.apply_batch(_batch(k, _round(k)), clock[0])
        eng.tick(clock[0])
    snap = eng.snapshot()
    assert snap.devices["a"].state == State.UP
    assert snap.communes["00001"].state == State.UP
    assert snap.communes["00002"].connected
    assert [t.new for t in eng.transitions("a", 0, 1e11)] == [State.UP]
    a = eng.availability("commune", "00001", start, clock[0])
    assert a.up_s == clock[0] - start


def test_a_root_cause_that_changes_within_an_outage_is_stored() -> None:
    # The core fails from round 2 to 4; the district uplink d1 is cut from round 3 to 7.
    # The communes behind d1 are unreachable because of the core, then — once the core
    # answers again and d1 is still down — because of d1. The stored outages say so.
    clock = [T0]
    eng = Engine(small_inventory(), collector_settings(down_after=2), None, clock=lambda: clock[0])
    for k in range(10):
        down = set()
        if 2 <= k < 5:
            down |= {"core", "d1", "a", "b", "b2"}
        if 3 <= k < 8:
            down |= {"d1", "a", "b", "b2"}
        clock[0] = T0 + k * IV + 10
        eng.apply_batch(_batch(k, _round(k, down)), clock[0])
        eng.tick(clock[0])
    stretches = sorted((o.start, o.end, o.root_cause, o.continues) for o in eng.outages(0, 1e11, device="a"))
    assert [s[2] for s in stretches] == ["core", "d1"]
    assert [s[3] for s in stretches] == [False, True]  # one outage, two stretches
    first, second = stretches
    assert first[1] == second[0]  # the second stretch begins where the first ends
    assert second[1] == T0 + 8 * IV + 2  # a answers again
    assert eng.snapshot().outage_counts["a"] == 1
    # d1 is unreachable because of the core, then DOWN in its own right once the core
    # answers again; from when d1's own outage is dated, d1 is the fault behind a.
    d1 = sorted((o.start, o.state, o.root_cause, o.continues) for o in eng.outages(0, 1e11, device="d1"))
    assert [(s, r, c) for _, s, r, c in d1] == [(State.UNREACHABLE, "core", False), (State.DOWN, None, True)]
    assert second[0] == d1[1][0]
    assert eng.snapshot().outage_counts["d1"] == 1
    causes = [(t.old, t.new, t.root_cause) for t in eng.transitions("a", 0, 1e11)]
    assert causes == [
        (State.UNKNOWN, State.UP, None),
        (State.UP, State.UNREACHABLE, "core"),
        (State.UNREACHABLE, State.UNREACHABLE, "d1"),
        (State.UNREACHABLE, State.UP, None),
    ]


@settings(max_examples=120, deadline=None)
@given(
    st.integers(0, 600),
    st.lists(
        st.tuples(st.sampled_from(["round", "offline", "online", "tick"]), st.integers(0, 5), st.booleans()),
        min_size=1,
        max_size=40,
    ),
)
def test_property_the_log_always_ends_in_the_current_state(start_after: int, steps) -> None:
    # Whatever the order of rounds (some older than the engine), agent statuses and ticks,
    # every device's stored log ends in the state it is in, and every commune's state is
    # the one its access devices' states give: nothing UP is left with an UNKNOWN commune.
    start = T0 + start_after
    clock = [start]
    eng = Engine(small_inventory(), collector_settings(), None, clock=lambda: clock[0])
    t = T0
    seq = 0
    for kind, skip, ok in steps:
        if kind == "round":
            t += IV * (1 + skip // 4)
            down = set() if ok else {"a", "b"}
            samples = [
                wire.Sample(device=d, probe="icmp", ts=t + i, ok=d not in down, loss=0.0)
                for i, d in enumerate(("core", "d1", "a", "b", "b2"))
            ]
            clock[0] = max(clock[0], t + 10)
            eng.apply_batch(wire.SampleBatch(v=1, agent="ag", seq=seq, sent_at=t, samples=samples), clock[0])
            seq += 1
        elif kind in ("offline", "online"):
            eng.agent_status(wire.AgentStatus(v=1, agent="ag", state=kind, ts=t - skip * 30), clock[0] + 1)
        else:
            clock[0] = max(clock[0], t + skip * IV)
            eng.tick(clock[0])
    snap = eng.snapshot()
    for d in ("core", "d1", "a", "b", "b2"):
        log = eng.transitions(d, 0, 1e11)
        assert (log[-1].new if log else State.UNKNOWN) == snap.devices[d].state, d
    assert snap.communes["00001"].state == snap.devices["a"].state
    assert snap.communes["00002"].connected == (State.UP in (snap.devices["b"].state, snap.devices["b2"].state))


def test_a_store_that_fails_on_a_tick_degrades_the_collector_and_it_resumes(tmp_path) -> None:
    # A full disk fails the tick's commit (rounds it closes, staleness it declares): the
    # collector must not stop. The tick's work is rolled back and done again, the snapshot
    # says the store is failing, and when the disk has room again it all goes on.
    from tests.unit.test_engine import FailingStore

    store = SqliteStore.open(tmp_path / "s.sqlite")
    store.__class__ = FailingStore
    assert isinstance(store, FailingStore)
    clock = [T0]
    eng = Engine(small_inventory(), collector_settings(), store, clock=lambda: clock[0])
    ref = Engine(small_inventory(), collector_settings(), None, clock=lambda: clock[0])
    for e in (eng, ref):
        e.apply_batch(_batch(0, _round(0)), T0 + 10)
    clock[0] = T0 + 10 * IV  # every device silent for long: the tick has work to write
    store.fail_next = True
    eng.tick(clock[0])  # does not raise
    snap = eng.snapshot()
    assert not snap.store.ok
    assert "disk is full" in snap.store.error
    assert snap.store.since == clock[0]
    assert snap.devices["a"].state == State.UP  # rolled back: nothing half-done in memory
    clock[0] += 1
    for e in (eng, ref):
        e.tick(clock[0])
    snap = eng.snapshot()
    assert snap.store.ok
    assert snap.store.failures == 1
    assert snap.devices["a"].state == State.UNKNOWN
    for d in ("core", "d1", "a", "b", "b2"):
        assert eng.transitions(d, 0, 1e11) == ref.transitions(d, 0, 1e11)
