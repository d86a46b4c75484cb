"""The durable outbox: order, acks, bounds with counted drops, sequence numbers across restarts and SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.agent import wire
from netmon.agent.outbox import Outbox
from netmon.config.settings import OutboxSettings

T0 = 1_780_000_000.0


def sample(i: int, ts: float = T0) -> wire.Sample:
    return wire.Sample(device=f"dev-{i}", probe="icmp", ts=ts, ok=i % 2 == 0)


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_fifo_ack_and_payload_round_trip(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.sqlite", OutboxSettings(), "agent-x", clock=Clock())
    queued = [ob.append([sample(i), sample(i + 1)]) for i in range(5)]
    seqs = [q.seq for q in queued]
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    batch = wire.decode_batch(queued[2].payload, topic_agent="agent-x")
    assert batch.seq == seqs[2]
    assert [s.device for s in batch.samples] == ["dev-2", "dev-3"]
    assert [q.seq for q in ob.next_after(-1, limit=10)] == seqs
    ob.ack(seqs[1])
    ob.ack(seqs[1])  # a second PUBACK for the same batch is harmless
    assert [q.seq for q in ob.next_after(-1, limit=10)] == [seqs[0], *seqs[2:]]
    assert [q.seq for q in ob.next_after(seqs[0], upto=seqs[3], limit=10)] == [seqs[2], seqs[3]]
    assert ob.last_seq() == seqs[-1]
    st_ = ob.stats()
    assert st_.depth == 4
    assert st_.bytes == sum(len(q.payload) for i, q in enumerate(queued) if i != 1)
    assert st_.next_seq == seqs[-1] + 1


def test_seq_survives_restart_even_when_empty(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    ob = Outbox(path, OutboxSettings(), "a", clock=Clock())
    last = [ob.append([sample(0)]).seq for _ in range(3)][-1]
    for s in range(last - 2, last + 1):
        ob.ack(s)
    ob.close()
    ob2 = Outbox(path, OutboxSettings(), "a", clock=Clock(T0 - 10_000))  # clock went back: still monotonic
    assert ob2.append([sample(1)]).seq == last + 1


def test_new_outbox_starts_above_an_old_lost_one(tmp_path: Path) -> None:
    old = Outbox(tmp_path / "old.sqlite", OutboxSettings(), "a", clock=Clock(T0))
    old_seq = [old.append([sample(0)]).seq for _ in range(100)][-1]
    new = Outbox(tmp_path / "new.sqlite", OutboxSettings(), "a", clock=Clock(T0 + 1))
    assert new.append([sample(0)]).seq > old_seq


def test_age_bound_drops_oldest_and_counts(tmp_path: Path) -> None:
    clock = Clock()
    ob = Outbox(tmp_path / "o.sqlite", OutboxSettings(max_age_s=100), "a", clock=clock)
    first = ob.append([sample(0), sample(1)]).seq
    clock.t += 60
    ob.append([sample(2)])
    clock.t += 60  # the first is now 120 s old
    third = ob.append([sample(3)]).seq
    assert [q.seq for q in ob.next_after(-1, limit=10)] == [first + 1, third]
    st_ = ob.stats()
    assert (st_.dropped_batches, st_.dropped_samples) == (1, 2)
    assert st_.oldest_age_s == 60


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=40), max_kb=st.integers(1, 8))
def test_size_bound_keeps_newest_within_bytes_and_counts_every_drop(sizes: list[int], max_kb: int) -> None:
    with tempfile.TemporaryDirectory() as d:
        ob = Outbox(Path(d) / "o.sqlite", OutboxSettings(max_bytes=max_kb * 1024), "a", clock=Clock())
        total = 0
        for n in sizes:
            ob.append([sample(i) for i in range(n)])
            total += n
        st_ = ob.stats()
        kept = ob.next_after(-1, limit=1000)
        assert st_.bytes == sum(len(q.payload) for q in kept) <= max_kb * 1024 or st_.depth == 0
        kept_samples = sum(len(wire.decode_batch(q.payload).samples) for q in kept)
        # nothing disappears silently: kept + dropped = everything written
        assert kept_samples + st_.dropped_samples == total
        assert st_.depth + st_.dropped_batches == len(sizes)
        # the newest survive: what is kept is a suffix of what was written
        if kept:
            assert [q.seq for q in kept] == list(range(kept[0].seq, kept[0].seq + len(kept)))
            assert kept[-1].seq == st_.next_seq - 1
        ob.close()


_WRITER = textwrap.dedent(
    """
    import sys
    from netmon.agent import wire
    from netmon.agent.outbox import Outbox
    from netmon.config.settings import OutboxSettings
    ob = Outbox(sys.argv[1], OutboxSettings(), "a")
    s = wire.Sample(device="d", probe="icmp", ts=1_780_000_000.0, ok=True)
    while True:
        q = ob.append([s] * 20)
        print(q.seq, flush=True)
    """
)


def test_sigkill_mid_write_loses_no_acknowledged_append_and_keeps_seq_monotonic(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert proc.stdout is not None
    reported: list[int] = []
    while len(reported) < 300:  # kill it while it is busy appending
        line = proc.stdout.readline()
        assert line, "writer died"
        reported.append(int(line))
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    ob = Outbox(path, OutboxSettings(), "a")
    stored = [q.seq for q in ob.next_after(-1, limit=1_000_000)]
    # every append the writer saw committed is there, in order, without gaps
    assert stored[: len(reported)] == reported
    assert stored == list(range(stored[0], stored[0] + len(stored)))
    for q in ob.next_after(-1, limit=5):
        assert len(wire.decode_batch(q.payload).samples) == 20
    assert ob.append([sample(0)]).seq == stored[-1] + 1
