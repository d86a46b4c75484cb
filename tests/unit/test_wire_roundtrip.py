"""Every batch an agent can encode, the collector accepts unchanged (the other half of the fuzz tests)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from agent import wire

NOW = 1_780_000_000.0
_t = st.floats(0, 10, allow_nan=False)
_rtt = st.builds(wire.Rtt, _t, _t, _t, _t)
_iface = st.builds(
    wire.Interface,
    index=st.integers(1, 2**31),
    name=st.text(max_size=20),
    oper_status=st.sampled_from([1, 2, 3, 5, 6, 7]),
    in_octets=st.none() | st.integers(0, 2**64 - 1),
    in_bps=st.none() | st.floats(0, 1e11),
)
_sample = st.builds(
    wire.Sample,
    device=st.text(min_size=1, max_size=30),
    probe=st.sampled_from(["icmp", "snmp", "tcp"]),
    ts=st.floats(wire.MIN_TIMESTAMP, NOW + wire.MAX_FUTURE_SKEW_S),
    ok=st.booleans(),
    reason=st.text(max_size=10),
    rtt=st.none() | _rtt,
    loss=st.none() | st.floats(0, 1),
    sys_uptime_s=st.none() | st.floats(0, 1e9),
    sys_descr=st.none() | st.text(max_size=50),
    interfaces=st.none() | st.lists(_iface, max_size=3),
)


@settings(max_examples=200, deadline=None)
@given(
    agent=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True),
    seq=st.integers(0, 2**62),
    samples=st.lists(_sample, max_size=5),
)
def test_encoded_batch_decodes_to_itself(agent: str, seq: int, samples: list[wire.Sample]) -> None:
    batch = wire.SampleBatch(v=wire.SCHEMA_VERSION, agent=agent, seq=seq, sent_at=NOW, samples=samples)
    assert wire.decode_batch(wire.encode(batch), topic_agent=agent, now=NOW) == batch
    topic = wire.samples_topic(agent)
    assert wire.parse_topic(topic) == (agent, "samples")


@given(agent=st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True), state=st.sampled_from(["online", "offline"]))
def test_status_round_trip(agent: str, state: str) -> None:
    st_ = wire.AgentStatus(v=1, agent=agent, state=state, ts=NOW, devices=3)  # type: ignore[arg-type]
    assert wire.decode_status(wire.encode(st_), topic_agent=agent) == st_
    assert wire.parse_topic(wire.status_topic(agent)) == (agent, "status")
