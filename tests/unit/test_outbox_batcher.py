"""The batcher (the poller's sink in front of the outbox) and the reconnect back-off."""

from __future__ import annotations

import asyncio
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from netmon.agent import wire
from netmon.agent.outbox import Outbox
from netmon.agent.publisher import Backoff, Batcher
from netmon.config.settings import OutboxSettings, PollSettings


def sample(i: int) -> wire.Sample:
    return wire.Sample(device=f"d{i}", probe="icmp", ts=1_780_000_000.0 + i, ok=True)


@given(
    lo=st.floats(0.01, 10),
    hi=st.floats(0.01, 600),
    failures=st.integers(0, 10_000),
    rnd=st.floats(0, 1, exclude_max=True),
)
def test_backoff_grows_is_capped_and_jittered(lo: float, hi: float, failures: int, rnd: float) -> None:
    b = Backoff(lo, max(lo, hi))
    cap = min(max(lo, hi), lo * 2 ** min(failures, 32))
    d = b.delay(failures, rnd)
    assert cap / 2 <= d <= cap
    assert b.delay(failures + 1, 0.999) >= b.delay(failures, 0.999) - 1e-9


def test_batches_cut_by_size_stored_and_announced(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite", OutboxSettings(), "a")
    woken: list[int] = []
    b = Batcher(ob, PollSettings(batch_max_samples=3), on_batch=lambda: woken.append(ob.depth))
    for i in range(7):
        b.submit(sample(i))
    assert woken == [1, 2]
    assert b.buffered == 1
    b.flush()
    batches = [wire.decode_batch(q.payload) for q in ob.next_after(-1, limit=10)]
    assert [[s.device for s in x.samples] for x in batches] == [["d0", "d1", "d2"], ["d3", "d4", "d5"], ["d6"]]
    assert (b.batches, b.samples, b.lost_samples) == (3, 7, 0)


async def test_batch_cut_by_age_without_more_samples(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite", OutboxSettings(), "a")
    cut = asyncio.Event()
    b = Batcher(ob, PollSettings(batch_max_samples=1000, batch_max_delay_s=0.05), on_batch=cut.set)
    task = asyncio.create_task(b.run())
    try:
        b.submit(sample(1))
        b.submit(sample(2))
        async with asyncio.timeout(5):
            await cut.wait()
        assert ob.depth == 1
        assert b.buffered == 0
    finally:
        task.cancel()


def test_outbox_failure_is_counted_never_raised_into_the_poller(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite", OutboxSettings(), "a")
    b = Batcher(ob, PollSettings(batch_max_samples=2))
    ob.close()  # the disk went away
    for i in range(5):
        b.submit(sample(i))  # must not raise
    b.flush()
    assert b.lost_samples == 5
    assert b.batches == 0
