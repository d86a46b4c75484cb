"""The live tails are bounded, and a large inventory is saved whole a slice per commit."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from netmon.collector import tails
from netmon.collector.devices import LiveTail
from netmon.collector.engine import Engine
from netmon.collector.records import load_records
from netmon.collector.store import Commit, SqliteStore
from netmon.collector.tails import TailSaves
from tests.unit.test_engine import IV, T0, Sim, collector_settings, small_inventory


def _commit(gen: int, tail_bytes: int) -> Commit:
    return Commit(gen=gen, tails=b"x" * tail_bytes)


def test_a_small_inventory_is_saved_whole_in_the_commit_that_passes_the_bound() -> None:
    saves = TailSaves()
    devices = {f"d{i}": None for i in range(10)}  # bound: 2,000 bytes
    for gen in range(1, 4):
        c = _commit(gen, 600)
        step = saves.plan(c, devices)
        assert not c.devices
        saves.committed(c, step)
    c = _commit(4, 600)
    step = saves.plan(c, devices)
    assert c.drop_tails
    assert c.tails is None
    assert list(c.devices) == list(devices)
    saves.committed(c, step)
    assert saves.tail_bytes == 0
    assert saves.rolling is None


def test_a_large_inventory_is_saved_a_slice_per_commit_then_the_old_tails_go() -> None:
    saves = TailSaves()
    devices = {f"d{i}": None for i in range(2500)}  # bound: 500,000 bytes; three slices
    saves.tail_bytes = 499_900
    first = _commit(7, 200)
    step = saves.plan(first, devices)
    assert list(first.devices) == [f"d{i}" for i in range(1000)]
    assert first.tails is not None
    assert not first.drop_tails
    assert first.drop_tails_upto is None
    saves.committed(first, step)
    assert saves.rolling is not None
    assert saves.rolling.first_gen == 7
    second = _commit(8, 300)
    step = saves.plan(second, devices)
    assert list(second.devices) == [f"d{i}" for i in range(1000, 2000)]
    saves.committed(second, step)
    # A device joins the inventory before the last slice: it is saved with it.
    devices["new"] = None
    failed = _commit(9, 400)
    saves.plan(failed, devices)  # this commit fails: nothing moves
    last = _commit(9, 400)
    step = saves.plan(last, devices)
    assert set(last.devices) == {f"d{i}" for i in range(2000, 2500)} | {"new"}
    assert last.drop_tails_upto == 7
    assert not last.drop_tails
    saves.committed(last, step)
    # What is left: the tails written after the first slice.
    assert saves.rolling is None
    assert saves.tail_bytes == 300 + 400


def test_a_checkpoint_begins_a_rolling_save_whatever_the_tails_size() -> None:
    saves = TailSaves(due=True)
    devices = {f"d{i}": None for i in range(1500)}
    c = _commit(1, 10)
    step = saves.plan(c, devices)
    assert len(c.devices) == 1000
    saves.committed(c, step)
    assert not saves.due
    c = _commit(2, 10)
    step = saves.plan(c, devices)
    assert len(c.devices) == 500
    assert c.drop_tails_upto == 1
    saves.committed(c, step)
    assert saves.rolling is None
    assert saves.tail_bytes == 10


def test_a_save_of_everything_in_one_commit_ends_a_rolling_one() -> None:
    saves = TailSaves(tail_bytes=10**9)
    devices = {f"d{i}": None for i in range(1500)}
    c = _commit(1, 10)
    step = saves.plan(c, devices)
    saves.committed(c, step)
    assert saves.rolling is not None
    checkpoint = Commit(gen=2, devices=dict.fromkeys(devices, b""), drop_tails=True)  # as on a clean stop
    step = saves.plan(checkpoint, devices)
    saves.committed(checkpoint, step)
    assert saves.rolling is None
    assert saves.tail_bytes == 0


@pytest.mark.parametrize("checkpoint_s", [math.inf, 2 * IV], ids=["bound", "bound-and-checkpoints"])
def test_records_loaded_after_any_commit_are_the_engine_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checkpoint_s: float
) -> None:
    # Slices of two devices and a bound of 30 bytes a device: rolling saves begin and end
    # many times in 40 rounds of the small inventory (and at every other tick, checkpoints
    # begin them too). After every batch, the records loaded from the store (as after a
    # SIGKILL) must be the engine's own.
    monkeypatch.setattr(tails, "SLICE_DEVICES", 2)
    monkeypatch.setattr(tails, "TAIL_BYTES_PER_DEVICE", 30)
    store = SqliteStore.open(tmp_path / "s.sqlite")
    drops: list[int] = []
    real_commit = store.commit

    def commit(c: Commit) -> None:
        if c.drop_tails_upto is not None:
            drops.append(c.drop_tails_upto)
        real_commit(c)

    monkeypatch.setattr(store, "commit", commit)
    clock = [T0]
    eng = Engine(small_inventory(), collector_settings(), store, clock=lambda: clock[0], checkpoint_s=checkpoint_s)
    sim = Sim(eng, clock)
    writer = eng._writer
    for k in range(40):
        sim.round(k, down={"a", "b"} if k % 9 in (3, 4, 5) else set(), tick=k % 4 == 0)
        loaded = load_records(store, eng.topology, clock[0])
        assert loaded.core == writer.records.core, k
        # What a batch moves of a live record (the rest is saved with the whole record).
        assert {d: LiveTail.of(d, v) for d, v in loaded.live.items()} == {
            d: LiveTail.of(d, v) for d, v in writer.records.live.items()
        }, k
    assert len(drops) >= 3
    n_tails = store.reader._conn.execute("SELECT count(*) FROM live_tails").fetchone()[0]
    assert n_tails < 20  # bounded: 40 batches and as many ticks wrote theirs
