"""Ingestion: strict decoding, dead letters by reason, de-duplication, liveness, listeners."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.agent import wire
from netmon.collector.ingest import DEAD_LETTER_BURST, DEAD_LETTERS_PER_S, LOG_EVERY_S, Ingestor

NOW = 1_780_000_000.0
P = wire.DEFAULT_PREFIX


@dataclass
class FakeEngine:
    """Stand-in for collector.engine.Engine: records what it is given."""

    batches: list[wire.SampleBatch] = field(default_factory=list)
    statuses: list[wire.AgentStatus] = field(default_factory=list)
    ledger: set[tuple[str, int]] | None = None
    fail_on: int | None = None
    failure: Exception = field(default_factory=lambda: RuntimeError("a bug"))

    def apply_batch(self, batch: wire.SampleBatch, received_at: float) -> None:
        if batch.seq == self.fail_on:
            self.fail_on = None
            raise self.failure
        self.batches.append(batch)
        if self.ledger is not None:
            self.ledger.add((batch.agent, batch.seq))

    def agent_status(self, status: wire.AgentStatus, received_at: float) -> None:
        self.statuses.append(status)


@dataclass
class FakeStore:
    """Stand-in for SqliteStore's ingest ledger and dead-letter table."""

    applied: set[tuple[str, int]] = field(default_factory=set)
    letters: list[tuple[float, str, str, str, bytes]] = field(default_factory=list)

    def is_duplicate(self, agent: str, seq: int) -> bool:
        return (agent, seq) in self.applied

    def dead_letter(self, ts: float, topic: str, reason: str, detail: str, payload: bytes) -> None:
        self.letters.append((ts, topic, reason, detail, payload))


def make(store: FakeStore | None = None) -> tuple[Ingestor, FakeEngine, FakeStore]:
    store = store or FakeStore()
    engine = FakeEngine(ledger=store.applied)
    return Ingestor(engine, store, clock=lambda: NOW), engine, store


def batch(agent: str = "a1", seq: int = 1, ts: float = NOW - 5, **kw: object) -> bytes:
    s = wire.Sample(device="d1", probe="icmp", ts=ts, ok=True, **kw)  # type: ignore[arg-type]
    return wire.encode(wire.SampleBatch(v=1, agent=agent, seq=seq, sent_at=NOW, samples=[s, s]))


def test_valid_batch_applied_counted_and_listened() -> None:
    ing, engine, _ = make()
    seen: list[int] = []
    ing.listeners.append(lambda b: seen.append(b.seq))
    ing.handle(wire.samples_topic("a1"), batch(seq=7))
    assert [b.seq for b in engine.batches] == [7]
    assert seen == [7]
    c = ing.counters()
    assert (c.batches, c.samples, c.duplicates, c.invalid) == (1, 2, 0, {})


def test_duplicates_dropped_across_restart_via_the_store() -> None:
    store = FakeStore()
    ing, engine, _ = make(store)
    for seq in (1, 2, 2, 1, 3):
        ing.handle(wire.samples_topic("a1"), batch(seq=seq))
    ing.handle(wire.samples_topic("a2"), batch(agent="a2", seq=1))  # same seq, other agent: not a duplicate
    assert [(b.agent, b.seq) for b in engine.batches] == [("a1", 1), ("a1", 2), ("a1", 3), ("a2", 1)]
    assert ing.counters().duplicates == 2
    ing2, engine2, _ = make(store)  # a restarted collector over the same store
    ing2.handle(wire.samples_topic("a1"), batch(seq=3))
    ing2.handle(wire.samples_topic("a1"), batch(seq=4))
    assert [b.seq for b in engine2.batches] == [4]
    assert ing2.counters().duplicates == 1


def test_without_store_dedup_holds_in_process() -> None:
    engine = FakeEngine()
    ing = Ingestor(engine, None, clock=lambda: NOW)
    for seq in (1, 1, 2):
        ing.handle(wire.samples_topic("a1"), batch(seq=seq))
    assert [b.seq for b in engine.batches] == [1, 2]


def test_invalid_payloads_counted_by_reason_and_dead_lettered_ingestion_goes_on() -> None:
    ing, engine, store = make()
    t = wire.samples_topic("a1")
    cases = {
        "json": (t, b"{not json"),
        "schema": (t, b'{"v":1,"agent":"a1","seq":"x","sent_at":1,"samples":[]}'),
        "version": (t, b'{"v":9,"agent":"a1","seq":1,"sent_at":1,"samples":[]}'),
        "agent_mismatch": (t, batch(agent="someone-else")),
        "timestamp": (t, batch(ts=NOW + 3600)),
        "value": (t, b'{"v":1,"agent":"a1","seq":-1,"sent_at":1,"samples":[]}'),
        "topic": ("elsewhere/agents/a1/samples", batch()),
    }
    for topic, payload in cases.values():
        ing.handle(topic, payload)
    ing.handle(t, batch(seq=99))
    c = ing.counters()
    assert c.invalid == dict.fromkeys(cases, 1)
    assert c.dead_letters == len(cases) == len(store.letters)
    assert [r[2] for r in store.letters] == list(cases)
    assert store.letters[0][4] == b"{not json"
    assert [b.seq for b in engine.batches] == [99]


def test_engine_failure_is_counted_and_kept_not_raised() -> None:
    ing, engine, store = make()
    engine.fail_on = 5
    assert ing.handle(wire.samples_topic("a1"), batch(seq=5)) is True  # dead-lettered, acked: no blocking
    ing.handle(wire.samples_topic("a1"), batch(seq=6))
    assert ing.counters().invalid == {"internal": 1}
    assert store.letters[0][2] == "internal"
    assert "a bug" in store.letters[0][3]
    assert [b.seq for b in engine.batches] == [6]


def test_status_and_last_will_reach_the_engine() -> None:
    ing, engine, _ = make()
    online = wire.AgentStatus(v=1, agent="a1", state="online", ts=NOW, devices=12)
    will = wire.AgentStatus(v=1, agent="a1", state="offline")
    ing.handle(wire.status_topic("a1"), wire.encode(online))
    ing.handle(wire.status_topic("a1"), wire.encode(will))
    ing.handle(wire.status_topic("a2"), wire.encode(will))  # agent a1 speaking on a2's topic
    assert [s.state for s in engine.statuses] == ["online", "offline"]
    assert ing.counters().invalid == {"agent_mismatch": 1}


def test_listener_failure_does_not_stop_ingestion() -> None:
    ing, engine, _ = make()

    def boom(_: wire.SampleBatch) -> None:
        raise ValueError("influx down")

    ing.listeners.append(boom)
    ing.handle(wire.samples_topic("a1"), batch(seq=1))
    ing.handle(wire.samples_topic("a1"), batch(seq=2))
    assert ing.counters().batches == 2


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=10),
    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=5),
    max_leaves=20,
)
_sample_like = st.fixed_dictionaries(
    {"device": st.text(max_size=5), "probe": st.sampled_from(["icmp", "snmp", "tcp", "x"]), "ts": _json, "ok": _json},
    optional={"loss": _json, "rtt": _json, "interfaces": _json, "extra": _json, "sys_uptime_s": _json},
)
_batch_like = st.fixed_dictionaries(
    {"v": st.sampled_from([1, 1, 2, "1"]), "agent": st.sampled_from(["a1", "a2"]), "seq": _json, "sent_at": _json},
    optional={"samples": st.lists(_sample_like, max_size=3), "more": _json},
)


@settings(max_examples=400, deadline=None)
@given(payload=st.one_of(st.binary(max_size=200), _json.map(msgspec.json.encode), _batch_like.map(msgspec.json.encode)))
def test_decoder_fuzz_never_an_unhandled_exception(payload: bytes) -> None:
    try:
        b = wire.decode_batch(payload, topic_agent="a1", now=NOW)
    except wire.InvalidBatch as exc:
        assert exc.reason in {"json", "schema", "version", "agent_mismatch", "timestamp", "value"}
    else:
        assert b.agent == "a1"
        assert b.v == 1
        assert b.seq >= 0
    with contextlib.suppress(wire.InvalidBatch):
        wire.decode_status(payload, topic_agent="a1")


@settings(max_examples=200, deadline=None)
@given(
    topic=st.one_of(st.text(max_size=40), st.sampled_from([wire.samples_topic("a1"), wire.status_topic("a1")])),
    payload=st.one_of(st.binary(max_size=100), _batch_like.map(msgspec.json.encode)),
)
def test_ingestor_fuzz_never_raises_and_accounts_for_every_message(topic: str, payload: bytes) -> None:
    ing, engine, store = make()
    ing.handle(topic, payload)
    c = ing.counters()
    assert c.batches + sum(c.invalid.values()) + ing.statuses == 1
    # a whole payload refused, or a batch applied without some of its samples: one letter each
    assert len(store.letters) == sum(c.invalid.values()) + (1 if any(c.rejected_samples.values()) else 0)


def test_store_failure_is_not_acknowledged_and_the_redelivery_applies() -> None:
    import sqlite3

    ing, engine, store = make()
    engine.fail_on, engine.failure = 5, sqlite3.OperationalError("database or disk is full")
    assert ing.handle(wire.samples_topic("a1"), batch(seq=5)) is False  # do not ack: redeliver
    assert ing.apply_failures == 1
    assert store.letters == []  # the payload is fine: not a dead letter
    assert ing.counters().invalid == {}
    assert ing.handle(wire.samples_topic("a1"), batch(seq=5)) is True  # the redelivery
    assert [b.seq for b in engine.batches] == [5]


def test_samples_with_impossible_values_are_left_out_counted_and_the_rest_applied() -> None:
    ing, engine, store = make()
    good = wire.Sample(device="d1", probe="snmp", ts=NOW - 5, ok=True, response_s=0.01)
    bad = {"device": "d2", "probe": "snmp", "ts": NOW - 5, "ok": True, "response_s": -100}
    doc = {"v": 1, "agent": "a1", "seq": 3, "sent_at": NOW, "samples": [msgspec.to_builtins(good), bad]}
    assert ing.handle(wire.samples_topic("a1"), msgspec.json.encode(doc))
    assert [[s.device for s in b.samples] for b in engine.batches] == [["d1"]]
    c = ing.counters()
    assert (c.batches, c.samples, c.invalid) == (1, 1, {})
    assert c.rejected_samples == {"value": 1, "schema": 0, "foreign_device": 0}
    (letter,) = store.letters
    assert letter[2] == "value"
    assert "d2" in letter[3]
    assert "response_s" in letter[3]


def test_a_flood_of_garbage_costs_a_counter_not_a_log_line_or_a_letter_each(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = [NOW]
    store = FakeStore()
    engine = FakeEngine(ledger=store.applied)
    ing = Ingestor(engine, store, clock=lambda: clock[0])
    t = wire.samples_topic("a1")
    with caplog.at_level(logging.WARNING, logger="netmon.collector.ingest"):
        for i in range(20_000):  # one second of a 20k msg/s flood
            clock[0] = NOW + i / 20_000
            ing.handle(t, b"garbage %d" % i)
        ing.handle(t, batch(seq=1))  # the real batch behind it
    c = ing.counters()
    assert c.invalid == {"json": 20_000}
    assert [b.seq for b in engine.batches] == [1]
    assert len(caplog.records) == 1  # one line per reason per LOG_EVERY_S
    assert len(store.letters) == c.dead_letters <= DEAD_LETTER_BURST + DEAD_LETTERS_PER_S * 1
    clock[0] = NOW + LOG_EVERY_S + 1
    with caplog.at_level(logging.WARNING, logger="netmon.collector.ingest"):
        ing.handle(t, b"more garbage")
    assert "19999 more with this reason" in caplog.records[-1].getMessage()
    assert store.letters[0][4] == b"garbage 0"  # the first of a burst is kept
