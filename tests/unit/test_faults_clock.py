"""Clock jumps on an agent: what the collector and the outbox do, defined and tested.

Defined behaviour:

* **Forward jump** (agent clock ahead of the collector's by more than
  ``wire.MAX_FUTURE_SKEW_S``): the whole batch is rejected with reason ``timestamp``,
  counted (``invalid["timestamp"]``), logged as a WARNING and kept as a dead letter for
  inspection; device states are untouched (a future sample would otherwise pin a device's
  state into the future). Skew within the bound is accepted.
* **Backward jump** (agent clock falls behind its own earlier samples): samples older
  than the device's newest by less than ``state.reorder_window_s`` are re-played in time
  order; older ones are counted in ``late_samples`` and change no state, until the agent's
  clock passes its earlier time again. The operator sees ``late_samples`` grow.
* **The outbox measures age on the agent's wall clock**: a forward jump larger than
  ``outbox.max_age_s`` drops what is queued (counted in ``dropped_batches``); a backward
  jump drops nothing.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from netmon.agent import wire
from netmon.agent.outbox import Outbox
from netmon.collector.engine import Engine
from netmon.collector.ingest import Ingestor
from netmon.collector.model import State
from netmon.collector.store import SqliteStore
from netmon.config.inventory import Inventory
from netmon.config.loader import load_inventory
from netmon.config.settings import CollectorSettings, OutboxSettings

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0
DEVICE = "c21010-cpe1"


class Clock:
    """A settable clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")


def rig(inventory: Inventory) -> tuple[Clock, Engine, Ingestor, SqliteStore]:
    clock = Clock(T0)
    store = SqliteStore.open(":memory:")
    engine = Engine(inventory, CollectorSettings(inventory="x"), store, clock=clock)
    ingest = Ingestor(engine, store, clock=clock)
    return clock, engine, ingest, store


def send(ingest: Ingestor, seq: int, ts: float, ok: bool, device: str = DEVICE) -> None:
    batch = wire.SampleBatch(
        v=1,
        agent="d522",
        seq=seq,
        sent_at=ts,
        samples=[wire.Sample(device=device, probe="icmp", ts=ts, ok=ok, loss=0.0 if ok else 1.0)],
    )
    ingest.handle(wire.samples_topic("d522"), wire.encode(batch))


def state_of(engine: Engine, clock: Clock) -> State:
    clock.now += 2  # the snapshot is rebuilt at most once a second
    return engine.snapshot().devices[DEVICE].state


def test_forward_jump_rejects_the_batch_and_tells_the_operator(
    inventory: Inventory, caplog: pytest.LogCaptureFixture
) -> None:
    clock, engine, ingest, store = rig(inventory)
    send(ingest, 1, T0 - 60, ok=True)
    before = state_of(engine, clock)
    assert before == State.UP
    with caplog.at_level(logging.WARNING, logger="netmon.collector.ingest"):
        send(ingest, 2, clock.now + 3600, ok=False)  # the agent's clock is an hour ahead
    assert ingest.counters().invalid == {"timestamp": 1}
    assert "reason=timestamp" in caplog.text
    (letter,) = store.dead_letters(10)
    assert letter.reason == "timestamp"
    assert b'"seq":2' in letter.payload
    assert state_of(engine, clock) == before
    assert not store.is_duplicate("d522", 2)  # a corrected resend would still be applied


def test_skew_within_the_bound_is_accepted(inventory: Inventory) -> None:
    clock, engine, ingest, _ = rig(inventory)
    send(ingest, 1, clock.now + wire.MAX_FUTURE_SKEW_S - 5, ok=True)
    assert ingest.counters().batches == 1
    assert ingest.counters().invalid == {}


def test_one_future_sample_rejects_its_whole_batch(inventory: Inventory) -> None:
    clock, _engine, ingest, _ = rig(inventory)
    good = wire.Sample(device=DEVICE, probe="icmp", ts=clock.now, ok=True)
    bad = wire.Sample(device="d522-r1", probe="icmp", ts=clock.now + 3600, ok=True)
    batch = wire.SampleBatch(v=1, agent="d522", seq=5, sent_at=clock.now, samples=[good, bad])
    ingest.handle(wire.samples_topic("d522"), wire.encode(batch))
    assert ingest.counters().batches == 0
    assert ingest.counters().invalid == {"timestamp": 1}


def test_backward_jump_beyond_the_reorder_window_changes_no_state(inventory: Inventory) -> None:
    clock, engine, ingest, _ = rig(inventory)
    window = CollectorSettings(inventory="x").state.reorder_window_s
    for i in range(3):
        send(ingest, i, T0 - 180 + 60 * i, ok=True)
    assert state_of(engine, clock) == State.UP
    late_before = engine.late_samples
    # the agent's clock jumps back two hours: its failures are dated before what we know
    jumped = T0 - 2 * 3600
    assert T0 - jumped > window
    for i in range(5):
        send(ingest, 10 + i, jumped + 60 * i, ok=False)
    assert ingest.counters().batches == 8  # accepted (sane timestamps), not dropped silently
    assert engine.late_samples - late_before == 5  # counted: the operator sees them
    assert state_of(engine, clock) == State.UP  # but they rewrite no settled history


def test_backward_jump_within_the_reorder_window_is_replayed_in_order(inventory: Inventory) -> None:
    clock, engine, ingest, _ = rig(inventory)
    for i in range(5):
        send(ingest, i, T0 - 300 + 60 * i, ok=True)
    assert state_of(engine, clock) == State.UP
    # a small backward step (NTP correction): failures dated between known samples
    down_after = CollectorSettings(inventory="x").state.down_after
    for i in range(down_after):
        send(ingest, 10 + i, T0 - 290 + 60 * i + 1, ok=False)
    assert engine.late_replayed >= 1
    assert ingest.counters().batches == 5 + down_after
    # in measurement order every failure sits between two successes: no failed streak.
    # (Applied in arrival order, `down_after` failures in a row would have made it DOWN.)
    assert state_of(engine, clock) == State.UP


def test_outbox_forward_jump_beyond_max_age_drops_and_counts(tmp_path: Path) -> None:
    clock = Clock(T0)
    box = Outbox(tmp_path / "outbox.sqlite", OutboxSettings(max_age_s=3600), "d522", clock=clock)
    try:
        for _ in range(10):
            box.append([wire.Sample(device=DEVICE, probe="icmp", ts=clock.now, ok=True)])
            clock.now += 60
        clock.now -= 86400  # backward: nothing becomes too old
        assert box.enforce_bounds() == 0
        assert box.stats().depth == 10
        clock.now += 86400 + 7200  # forward by two hours beyond the last append
        assert box.enforce_bounds() == 10
        stats = box.stats()
        assert stats.depth == 0
        assert stats.dropped_batches == 10
        assert stats.dropped_samples == 10
    finally:
        box.close()
