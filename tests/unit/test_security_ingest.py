"""Behind the broker's ACL, the collector's own check: a batch whose payload names another
agent than its topic is rejected, counted, kept as a dead letter, and changes nothing."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.ingest import Ingestor
from netmon.collector.model import State
from netmon.collector.store import SqliteStore
from netmon.config.loader import load_inventory
from netmon.config.settings import CollectorSettings

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0


def test_payload_agent_must_equal_topic_agent(caplog: pytest.LogCaptureFixture) -> None:
    inv = load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")
    store = SqliteStore.open(":memory:")
    engine = Engine(inv, CollectorSettings(inventory="x"), store, clock=lambda: NOW)
    ingest = Ingestor(engine, store, clock=lambda: NOW)
    device = "c21010-cpe1"
    # d523 (a compromised or misconfigured agent allowed on its own topic only) claims to be d522
    forged = wire.SampleBatch(
        v=1, agent="d522", seq=1, sent_at=NOW, samples=[wire.Sample(device=device, probe="icmp", ts=NOW, ok=False)]
    )
    with caplog.at_level(logging.WARNING, logger="netmon.collector.ingest"):
        ingest.handle(wire.samples_topic("d523"), wire.encode(forged))
    counters = ingest.counters()
    assert counters.batches == 0
    assert counters.invalid == {"agent_mismatch": 1}
    assert "reason=agent_mismatch" in caplog.text
    (letter,) = store.dead_letters(5)
    assert (letter.topic, letter.reason) == (wire.samples_topic("d523"), "agent_mismatch")
    assert engine.snapshot().devices[device].state == State.UNKNOWN  # nothing applied
    assert not store.is_duplicate("d522", 1)  # d522's real batch 1 will still be applied
