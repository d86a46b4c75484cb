"""A batch the collector could not store must not be acknowledged to the broker.

The store fails its first commit the way a full disk does (``sqlite3.OperationalError:
database or disk is full``), then recovers. The collector's real subscriber, ingestor,
engine and SQLite store run against a real Mosquitto; one batch is published at QoS 1.
Required: the batch ends up applied (the broker redelivers it because it was not acked),
and the failure was logged as an ERROR naming the full disk.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.ingest import Ingestor
from netmon.collector.store import Commit, SqliteStore
from netmon.collector.subscriber import run_subscriber
from netmon.config.loader import load_inventory
from netmon.config.settings import BrokerSettings, CollectorSettings
from tests import services

ROOT = Path(__file__).resolve().parents[2]


class FillingStore(SqliteStore):
    """A real store whose first ``failures`` commits fail as on a full disk."""

    failures = 1

    def commit(self, commit: Commit) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise sqlite3.OperationalError("database or disk is full")
        super().commit(commit)


async def test_a_batch_that_could_not_be_stored_is_redelivered_and_applied(
    mosquitto: services.Service, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    inv = load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")
    base = SqliteStore.open(tmp_path / "netmon.sqlite")
    base.close()
    store = FillingStore.open(tmp_path / "netmon.sqlite")
    assert isinstance(store, FillingStore)
    engine = Engine(inv, CollectorSettings(inventory="x"), store)
    ingest = Ingestor(engine, store)
    settings = BrokerSettings(url=f"mqtt://127.0.0.1:{mosquitto.port}", reconnect_min_s=0.05, reconnect_max_s=0.2)
    ready = asyncio.Event()
    applied = asyncio.Event()
    ingest.listeners.append(lambda _batch: applied.set())
    now = wire.MIN_TIMESTAMP + 10**8
    batch = wire.SampleBatch(
        v=1,
        agent="d522",
        seq=7,
        sent_at=now,
        samples=[wire.Sample(device="d522-r1", probe="icmp", ts=now, ok=True, loss=0.0)],
    )
    with caplog.at_level(logging.ERROR):
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(
                run_subscriber(settings, ingest, client_id="collector-ack", ready=ready), name="subscriber"
            )
            async with asyncio.timeout(10):
                await ready.wait()
            pub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="agent-d522", protocol=mqtt.MQTTv5)
            pub.connect("127.0.0.1", mosquitto.port)
            pub.loop_start()
            pub.publish(wire.samples_topic("d522"), wire.encode(batch), qos=1).wait_for_publish(10)
            try:
                async with asyncio.timeout(30):  # the redelivery, on a loaded machine
                    await applied.wait()
            finally:
                pub.loop_stop()
                task.cancel()
    assert "disk is full" in caplog.text
    assert store.is_duplicate("d522", 7)
    store.close()
