"""Every batch an agent can encode, the collector accepts unchanged (the other half of the fuzz tests)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.agent import wire
from tests import wire_strategies

NOW = 1_780_000_000.0
_sample = wire_strategies.samples(NOW)


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
