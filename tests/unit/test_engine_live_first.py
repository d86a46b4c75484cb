"""After a broker outage the collector turns the UNKNOWN gap into what really happened:
the backlog in order (what agents send), with no re-play at all; or, from an agent that
sends live data first (agents before issue #12), by re-playing within the reorder window."""

from __future__ import annotations

from collections.abc import Callable

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.model import State
from netmon.config.loader import load_inventory
from netmon.config.settings import CollectorSettings
from tests.unit.test_config import CONFIG

T0 = 1_800_000_000.0
DEV = "c21010-cpe1"


def _engine(clock: list[float], **state: float) -> Engine:
    inv = load_inventory(CONFIG / "quang-ngai-2021.yaml")
    settings = CollectorSettings(inventory="-", state={"down_after": 2, "default_interval_s": 60, **state})
    return Engine(inv, settings, None, clock=lambda: clock[0])


def _outage(engine: Engine, clock: list[float], *, backlog_first: bool) -> None:
    """Ten good minutes, half an hour of broker outage (the device was down from minute 20
    to 30), then the backlog and minute 41's live data, in either order."""
    seq = 0

    def send(minutes: list[int], ok: Callable[[int], bool], at_minute: float) -> None:
        nonlocal seq
        seq += 1
        clock[0] = T0 + at_minute * 60
        samples = [wire.Sample(device=DEV, probe="snmp", ts=T0 + m * 60, ok=ok(m)) for m in minutes]
        engine.apply_batch(wire.SampleBatch(v=1, agent="a", seq=seq, sent_at=clock[0], samples=samples), clock[0])
        engine.tick(clock[0])

    for m in range(10):
        send([m], lambda _: True, m + 0.02)
    for m in range(10, 41):  # the broker is away for half an hour: the collector hears nothing
        clock[0] = T0 + m * 60
        engine.tick(clock[0])
    assert engine.snapshot().devices[DEV].state is State.UNKNOWN
    backlog = list(range(10, 41))
    if backlog_first:
        send(backlog, lambda m: not 20 <= m < 30, 41.02)
        send([41], lambda _: True, 41.05)
    else:
        send([41], lambda _: True, 41.02)  # live data first...
        send(backlog, lambda m: not 20 <= m < 30, 41.05)  # ...the backlog behind it


def _assert_what_happened(engine: Engine) -> None:
    got = [((t.ts - T0) / 60, t.new) for t in engine.transitions(DEV, 0, 2e10)]
    assert got == [(0.0, State.UP), (20.0, State.DOWN), (30.0, State.UP)]
    av = engine.availability("device", DEV, T0, T0 + 41 * 60)
    assert av.unknown_s == 0
    assert av.down_s == 600


def test_the_backlog_in_order_turns_the_unknown_gap_into_what_happened_without_replay() -> None:
    clock = [T0]
    engine = _engine(clock)  # the default reorder window (ten minutes): shorter than the outage
    _outage(engine, clock, backlog_first=True)
    _assert_what_happened(engine)
    assert engine.replays == 0
    assert engine.late_samples == 0


def test_a_backlog_behind_live_data_is_replayed_within_the_window() -> None:
    clock = [T0]
    engine = _engine(clock, reorder_window_s=3600.0)
    _outage(engine, clock, backlog_first=False)
    _assert_what_happened(engine)
    assert engine.replays > 0
