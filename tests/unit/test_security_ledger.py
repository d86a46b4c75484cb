"""Ledger poisoning: forged sequence numbers must never lock a real agent out, even after a restart.

Measured before the fix: 1,030 empty batches numbered far from an agent's own made every
later real batch of that agent a "duplicate" (its devices went UNKNOWN), and the store
kept it so across collector restarts. Here the real agent's batches come from its real
outbox (numbered from the time in milliseconds), the collector is the real ingestor,
engine and SQLite store, and the store is closed and opened again in the middle.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from netmon.agent import wire
from netmon.agent.outbox import Outbox, Queued
from netmon.collector.engine import Engine
from netmon.collector.ingest import Ingestor
from netmon.collector.ledger import MAX_GAP
from netmon.collector.model import State
from netmon.collector.store import SqliteStore
from netmon.config.inventory import Inventory
from netmon.config.loader import load_inventory
from netmon.config.settings import CollectorSettings, OutboxSettings

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_800_000_000.0
DEVICE = "d522-r1"
TOPIC = wire.samples_topic("d522")


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")


class Collector:
    """The real ingest path over a store file that survives :meth:`restart`."""

    def __init__(self, inventory: Inventory, path: Path, clock: Clock) -> None:
        self.inventory, self.path, self.clock = inventory, path, clock
        self.start()

    def start(self) -> None:
        self.store = SqliteStore.open(self.path)
        self.engine = Engine(self.inventory, CollectorSettings(inventory="x"), self.store, clock=self.clock)
        self.ingest = Ingestor(self.engine, self.store, clock=self.clock)

    def restart(self) -> None:
        self.engine.close()
        self.start()

    def state(self) -> State:
        self.clock.now += 2  # the snapshot is rebuilt at most once a second
        return self.engine.snapshot().devices[DEVICE].state


@pytest.mark.parametrize(
    "forge",
    [
        lambda real, k: real + 10**9 + 2 * k,  # far ahead of the agent's own numbers
        lambda real, k: real + 50 + 2 * k,  # just ahead
        lambda real, k: 10**12 + 2 * k,  # near 1e12 (behind an outbox's time-based numbers)
    ],
    ids=["far-ahead", "just-ahead", "near-1e12"],
)
def test_forged_batches_do_not_turn_real_batches_into_duplicates(
    inventory: Inventory, tmp_path: Path, forge: object
) -> None:
    clock = Clock(T0)
    outbox = Outbox(tmp_path / "outbox.sqlite", OutboxSettings(), "d522", clock=clock)
    col = Collector(inventory, tmp_path / "netmon.sqlite", clock)

    def real(ok: bool) -> Queued:
        """The agent polls its router and sends the batch through its outbox."""
        clock.now += 60
        queued = outbox.append([wire.Sample(device=DEVICE, probe="icmp", ts=clock.now, ok=ok)])
        assert col.ingest.handle(TOPIC, queued.payload)
        return queued

    for _ in range(5):
        last = real(ok=True)
    assert col.state() is State.UP
    for k in range(1030):  # someone with d522's login (or an open broker) forges empty batches
        seq = forge(last.seq, k)  # type: ignore[operator]
        forged = wire.SampleBatch(v=1, agent="d522", seq=seq, sent_at=clock.now, samples=[])
        col.ingest.handle(TOPIC, wire.encode(forged))
    applied = col.ingest.counters().batches
    for _ in range(4):  # the router goes down: real news, every batch of it applied
        last = real(ok=False)
    assert col.ingest.counters().batches == applied + 4
    assert col.ingest.counters().duplicates == 0
    assert col.state() is State.DOWN
    # the forged numbers are visible: gaps between them, each a batch "missing"
    counters = col.ingest.counters()
    assert counters.ledger_gaps > 0
    assert 0 < counters.missing_batches["d522"] <= 1030 + MAX_GAP

    col.restart()
    assert col.ingest.handle(TOPIC, last.payload)  # a redelivery of the last real batch...
    assert col.ingest.counters().duplicates == 1  # ...is still known after the restart
    real(ok=True)
    real(ok=True)
    assert col.ingest.counters().batches == 2
    assert col.state() is State.UP
    outbox.close()
    col.engine.close()


def test_an_agent_that_lost_its_outbox_is_not_locked_out(inventory: Inventory, tmp_path: Path) -> None:
    """A new outbox numbers from the time in milliseconds: a jump, applied, and not counted as loss."""
    clock = Clock(T0)
    col = Collector(inventory, tmp_path / "netmon.sqlite", clock)
    for generation in range(3):  # the outbox file lost twice (a disk replaced, a reinstall)
        clock.now += 3 * 86400
        outbox = Outbox(tmp_path / f"outbox-{generation}.sqlite", OutboxSettings(), "d522", clock=clock)
        for _ in range(3):
            clock.now += 60
            queued = outbox.append([wire.Sample(device=DEVICE, probe="icmp", ts=clock.now, ok=True)])
            assert col.ingest.handle(TOPIC, queued.payload)
        outbox.close()
    counters = col.ingest.counters()
    assert (counters.batches, counters.duplicates) == (9, 0)
    assert counters.missing_batches == {"d522": 0}  # two jumps, no batch missing
    assert col.store.ledger_gaps()["d522"].jumps == 2
    col.engine.close()
