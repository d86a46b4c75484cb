"""Hostile payloads on the wire: decode_batch returns a VALID batch or raises InvalidBatch.

A returned batch satisfies every promise the collector relies on (version, agent equals
the topic's, non-negative sequence, sane finite timestamps, loss in 0..1, non-negative
finite times), whatever bytes came in: arbitrary bytes, arbitrary JSON, valid batches with
one field replaced, and the classic attacks (deep nesting, huge numbers, duplicate keys).
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.agent import wire
from tests import wire_strategies

NOW = 1_800_000_000.0


def check_batch(batch: wire.SampleBatch, topic_agent: str | None, now: float | None) -> None:
    """Every property a decoded batch promises."""
    assert isinstance(batch, wire.SampleBatch)
    assert batch.v == wire.SCHEMA_VERSION
    assert topic_agent is None or batch.agent == topic_agent
    assert isinstance(batch.seq, int)
    assert batch.seq >= 0
    for s in batch.samples:
        assert isinstance(s, wire.Sample)
        assert math.isfinite(s.ts)
        assert s.ts >= wire.MIN_TIMESTAMP
        assert now is None or s.ts <= now + wire.MAX_FUTURE_SKEW_S
        assert s.loss is None or 0.0 <= s.loss <= 1.0
        for x in (s.response_s, s.sys_uptime_s):
            assert x is None or math.isfinite(x)
        if s.rtt is not None:
            assert all(math.isfinite(v) and v >= 0 for v in (s.rtt.min, s.rtt.avg, s.rtt.max, s.rtt.jitter))
        assert s.sent is None or s.sent >= 0
        for x in (s.response_s, s.sys_uptime_s):
            assert x is None or x >= 0
        for i in s.interfaces or ():
            assert 1 <= i.oper_status <= 7
            assert 1 <= i.admin_status <= 7
            assert i.counter_bits in (32, 64)
            counters = (
                i.speed_bps,
                i.in_octets,
                i.out_octets,
                i.in_errors,
                i.out_errors,
                i.in_discards,
                i.out_discards,
            )
            assert all(c is None or c >= 0 for c in counters)
            assert all(r is None or (math.isfinite(r) and r >= 0) for r in (i.in_bps, i.out_bps))


def decode(payload: bytes, topic_agent: str | None = "d522", now: float | None = NOW) -> str:
    """Decode; ``ok`` or the InvalidBatch reason. Any other exception fails the test."""
    started = time.monotonic()
    try:
        batch = wire.decode_batch(payload, topic_agent=topic_agent, now=now)
    except wire.InvalidBatch as exc:
        assert exc.reason in {"json", "schema", "version", "agent_mismatch", "timestamp", "value"}
        assert len(str(exc)) < 1000  # bounded: it goes into logs and the dead-letter table
        return exc.reason
    finally:
        assert time.monotonic() - started < 5
    check_batch(batch, topic_agent, now)
    return "ok"


@settings(max_examples=500, deadline=None)
@given(payload=st.binary(max_size=4000))
def test_arbitrary_bytes(payload: bytes) -> None:
    decode(payload)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(doc=json_values)
def test_arbitrary_json(doc: Any) -> None:
    decode(json.dumps(doc).encode())


batches = st.builds(
    wire.SampleBatch,
    v=st.just(wire.SCHEMA_VERSION),
    agent=st.just("d522"),
    seq=st.integers(0, 2**63 - 1),
    sent_at=st.floats(wire.MIN_TIMESTAMP, NOW),
    samples=st.lists(wire_strategies.samples(NOW), max_size=5),
)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


hostile_scalars = st.sampled_from(
    [None, True, -1, 0, 2**64, -(2**63) - 1, 1e308, -1e308, 1e-320, "", "x" * 10_000, [], {}, "NaN", "1e999"]
)


@settings(max_examples=250, deadline=None)
@given(batch=batches, data=st.data())
def test_one_field_replaced_by_anything(batch: wire.SampleBatch, data: st.DataObject) -> None:
    doc = json.loads(wire.encode(batch))
    path = data.draw(st.sampled_from(_paths(doc)))
    value = data.draw(hostile_scalars | json_values)
    if not path:
        doc = value
    else:
        target = doc
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    decode(json.dumps(doc).encode())


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"v":1,"agent":"d522","seq":1,"sent_at":1.8e9,"samples":[' + b"[" * 50_000 + b"]" * 50_000 + b"]}",
        b'{"v":1,"agent":"d522","seq":1e999,"sent_at":1.8e9,"samples":[]}',
        b'{"v":1,"agent":"d522","seq":' + b"9" * 100_000 + b',"sent_at":1.8e9,"samples":[]}',
        b'{"v":1,"agent":"d522","seq":1,"sent_at":NaN,"samples":[]}',
        b'{"v":1,"agent":"d522","agent":"d523","seq":1,"sent_at":1.8e9,"samples":[]}',
        b'{"v":1,"agent":"d522","seq":1,"sent_at":1.8e9,"samples":[{"device":"x","probe":"icmp","ts":1e999,"ok":true}]}',
        b'{"v":1,"agent":"d522","seq":1,"sent_at":1.8e9,"samples":[{"device":"x","probe":"icmp","ts":1.8e9,"ok":true,"loss":-0.0}]}',
        b"\xef\xbb\xbf" + wire.encode(wire.SampleBatch(v=1, agent="d522", seq=1, sent_at=NOW, samples=[])),
        b'{"v":1,"agent":"d522","seq":1,"sent_at":1.8e9,"samples":[],"extra":1}',
        b'{"v":1,"agent":"d522\\u0000","seq":1,"sent_at":1.8e9,"samples":[]}',
        b"",
        b"\x00" * 1000,
    ],
    ids=lambda p: repr(p[:40]),
)
def test_classic_attacks(payload: bytes) -> None:
    decode(payload)


def test_duplicate_agent_key_cannot_smuggle_another_agent() -> None:
    # JSON with a repeated key: whichever value the decoder keeps must equal the topic's agent
    payload = b'{"v":1,"agent":"d522","agent":"d523","seq":1,"sent_at":1.8e9,"samples":[]}'
    assert decode(payload, topic_agent="d523") in ("ok", "agent_mismatch", "schema", "json")
    assert decode(payload, topic_agent="d522") in ("ok", "agent_mismatch", "schema", "json")
    kept = msgspec.json.decode(payload)["agent"]
    assert decode(payload, topic_agent=kept) in ("ok", "schema", "json")


def test_large_valid_batch_decodes_fast() -> None:
    batch = wire.SampleBatch(
        v=1,
        agent="d522",
        seq=7,
        sent_at=NOW,
        samples=[wire.Sample(device=f"c{i}", probe="icmp", ts=NOW, ok=True, loss=0.0) for i in range(20_000)],
    )
    payload = wire.encode(batch)
    started = time.monotonic()
    assert decode(payload) == "ok"
    assert time.monotonic() - started < 2


@settings(max_examples=150, deadline=None)
@given(payload=st.binary(max_size=2000) | json_values.map(lambda d: json.dumps(d).encode()))
def test_status_decoder_raises_only_invalid_batch(payload: bytes) -> None:
    try:
        st_ = wire.decode_status(payload, topic_agent="d522")
    except wire.InvalidBatch:
        return
    assert st_.v == wire.SCHEMA_VERSION
    assert st_.agent == "d522"
