"""After a broker outage the agent sends live data first and its backlog behind it: the
collector still turns the UNKNOWN gap into what really happened."""

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


def test_backlog_behind_live_data_rewrites_the_unknown_gap() -> None:
    inv = load_inventory(CONFIG / "quang-ngai-2021.yaml")
    clock = [T0]
    engine = Engine(
        inv,
        CollectorSettings(inventory="-", state={"down_after": 2, "default_interval_s": 60}),
        None,
        clock=lambda: clock[0],
    )
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

    send([41], lambda _: True, 41.02)  # live data first...
    send(list(range(10, 41)), lambda m: not 20 <= m < 30, 41.05)  # ...the backlog behind it

    got = [((t.ts - T0) / 60, t.new) for t in engine.transitions(DEV, 0, 2e10)]
    assert got == [(0.0, State.UP), (20.0, State.DOWN), (30.0, State.UP)]
    av = engine.availability("device", DEV, T0, T0 + 41 * 60)
    assert av.unknown_s == 0
    assert av.down_s == 600
