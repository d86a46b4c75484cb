"""Impossible values are refused by the wire decoder, field by field, with the reason ``value``.

Every numeric field of a sample, an interface, a batch and a status is tried with values
just outside what it can be (and its limits, which must pass). A sample with an impossible
value is left out of its batch; the other samples of the batch are kept.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from netmon.agent import wire

NOW = 1_800_000_000.0

GOOD_IF: dict[str, Any] = {"index": 1, "name": "Gi0/1", "oper_status": 1}
GOOD: dict[str, Any] = {"device": "d1", "probe": "snmp", "ts": NOW - 5, "ok": True}

#: (where, field, impossible value); ``where`` is sample, rtt, interface or batch.
IMPOSSIBLE: list[tuple[str, str, Any]] = [
    ("sample", "response_s", -100),
    ("sample", "response_s", 1e999),  # JSON for infinity
    ("sample", "sys_uptime_s", -1e12),
    ("sample", "sys_uptime_s", 1e12),
    ("sample", "loss", -0.5),
    ("sample", "loss", 1.5),
    ("sample", "sent", -1),
    ("sample", "sent", 10**7),
    ("rtt", "min", -0.001),
    ("rtt", "avg", 1e9),
    ("rtt", "jitter", -1),
    ("interface", "oper_status", 99),
    ("interface", "oper_status", 0),
    ("interface", "admin_status", -1),
    ("interface", "index", -3),
    ("interface", "speed_bps", -1),
    ("interface", "in_octets", -5),
    ("interface", "in_errors", -1),
    ("interface", "out_discards", -2),
    ("interface", "counter_bits", 48),
    ("interface", "in_bps", -8000.0),
    ("interface", "out_bps", 1e300),
]

#: Values at the limits of their range: all valid.
LIMITS: list[tuple[str, str, Any]] = [
    ("sample", "loss", 0.0),
    ("sample", "loss", 1.0),
    ("sample", "sys_uptime_s", 4294967295 / 100),  # TimeTicks at its maximum
    ("sample", "response_s", 0.0),
    ("interface", "oper_status", 7),
    ("interface", "admin_status", 3),
    ("interface", "index", 0),
    ("interface", "in_octets", 2**64 - 1),
    ("interface", "counter_bits", 32),
    ("interface", "speed_bps", 400 * 10**9),
]


def payload(where: str, field: str, value: Any) -> bytes:
    """A batch of two samples; the second carries ``field = value``."""
    bad: dict[str, Any] = {**GOOD, "device": "d2"}
    if where == "sample":
        bad[field] = value
    elif where == "rtt":
        bad["rtt"] = {"min": 0.01, "avg": 0.02, "max": 0.03, field: value}
    elif where == "interface":
        bad["interfaces"] = [{**GOOD_IF, field: value}]
    doc: dict[str, Any] = {"v": 1, "agent": "a1", "seq": 1, "sent_at": NOW, "samples": [GOOD, bad]}
    if where == "batch":
        doc[field] = value
    # json.dumps writes 1e999 as Infinity, which is not JSON; an agent would send the number
    return json.dumps(doc).replace("Infinity", "1e999").encode()


@pytest.mark.parametrize(("where", "field", "value"), IMPOSSIBLE, ids=[f"{w}.{f}={v!r}" for w, f, v in IMPOSSIBLE])
def test_an_impossible_value_is_refused_with_reason_value(where: str, field: str, value: Any) -> None:
    with pytest.raises(wire.InvalidBatch) as info:
        wire.decode_batch(payload(where, field, value), topic_agent="a1", now=NOW)
    assert info.value.reason == "value"
    assert "d2" in info.value.detail


@pytest.mark.parametrize(("where", "field", "value"), IMPOSSIBLE, ids=[f"{w}.{f}={v!r}" for w, f, v in IMPOSSIBLE])
def test_the_sample_goes_and_the_rest_of_its_batch_stays(where: str, field: str, value: Any) -> None:
    decoded = wire.decode_samples(payload(where, field, value), topic_agent="a1", now=NOW)
    assert [s.device for s in decoded.batch.samples] == ["d1"]
    (rejected,) = decoded.rejected
    assert (rejected.device, rejected.reason) == ("d2", "value")
    assert (decoded.batch.agent, decoded.batch.seq) == ("a1", 1)


@pytest.mark.parametrize(("where", "field", "value"), LIMITS, ids=[f"{w}.{f}={v!r}" for w, f, v in LIMITS])
def test_values_at_the_limits_are_accepted(where: str, field: str, value: Any) -> None:
    batch = wire.decode_batch(payload(where, field, value), topic_agent="a1", now=NOW)
    assert [s.device for s in batch.samples] == ["d1", "d2"]


@pytest.mark.parametrize(
    ("field", "value"), [("seq", -1), ("seq", 2**63), ("sent_at", -1.0), ("sent_at", 1e999)], ids=repr
)
def test_a_batch_level_impossible_value_refuses_the_whole_batch(field: str, value: Any) -> None:
    with pytest.raises(wire.InvalidBatch) as info:
        wire.decode_samples(payload("batch", field, value), topic_agent="a1", now=NOW)
    assert info.value.reason == "value"


def test_a_sample_of_the_wrong_shape_is_refused_as_schema_and_the_rest_kept() -> None:
    doc = json.loads(payload("sample", "loss", 0.0))
    doc["samples"].append({"device": "d3", "probe": "icmp", "ts": NOW, "ok": "yes"})
    decoded = wire.decode_samples(json.dumps(doc).encode(), topic_agent="a1", now=NOW)
    assert [s.device for s in decoded.batch.samples] == ["d1", "d2"]
    assert [(r.device, r.reason) for r in decoded.rejected] == [("d3", "schema")]


def test_an_absurd_time_still_refuses_the_whole_batch() -> None:
    # the agent's clock, not a device's value: none of its times can be trusted
    with pytest.raises(wire.InvalidBatch) as info:
        wire.decode_samples(payload("sample", "ts", NOW + 86400), topic_agent="a1", now=NOW)
    assert info.value.reason == "timestamp"


@pytest.mark.parametrize(("field", "value"), [("devices", -1), ("interval_s", -60.0), ("ts", -1.0)], ids=repr)
def test_a_status_with_an_impossible_value_is_refused(field: str, value: Any) -> None:
    doc = {"v": 1, "agent": "a1", "state": "online", field: value}
    with pytest.raises(wire.InvalidBatch) as info:
        wire.decode_status(json.dumps(doc).encode(), topic_agent="a1")
    assert info.value.reason == "value"
