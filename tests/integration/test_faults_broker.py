"""The broker down for an hour (simulated): the agent keeps polling into its outbox,
bounded by age, keeps retrying, and delivers what it kept, in order, once the broker is
back; the collector's persistent session survives the broker's restart.

The outage lasts one simulated hour: the outbox's clock advances a minute per batch while
the publisher retries against a closed port in real time. With ``max_age_s`` of 30
minutes the oldest half is dropped and counted; everything younger arrives exactly once.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from netmon.agent import wire
from netmon.agent.outbox import Outbox
from netmon.agent.publisher import Publisher
from netmon.config.settings import BrokerSettings, OutboxSettings
from tests import services

T0 = 1_800_000_000.0
MINUTE = 60.0
MAX_AGE_S = 1800.0
BATCHES = 60  # one a minute for an hour


class Clock:
    """The outbox's settable wall clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Collector:
    """A paho MQTT 5 client with a persistent session (as the real subscriber keeps)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: queue.Queue[bytes] = queue.Queue()
        self.ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="collector-faults", protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda *_: self.ready.set()
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = lambda _c, _u, msg: self.messages.put(msg.payload)

    def connect(self) -> None:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 86400
        self.ready.clear()
        self.client.connect("127.0.0.1", self.port, clean_start=False, properties=props)
        self.client.loop_start()
        assert self.ready.wait(10), "no CONNACK"

    def subscribe(self) -> None:
        self.ready.clear()
        self.client.subscribe(wire.samples_topic("d522"), qos=1)
        assert self.ready.wait(10), "no SUBACK"

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


async def test_broker_down_for_an_hour(tmp_path: Path) -> None:
    port = services.free_port()
    workdir = tmp_path / "mosquitto"
    broker = services.start_mosquitto(workdir, port)
    collector = Collector(port)
    collector.connect()
    collector.subscribe()
    collector.close()
    broker.stop()  # the broker goes down; the collector's session is saved to disk

    clock = Clock(T0)
    box = Outbox(tmp_path / "outbox.sqlite", OutboxSettings(max_age_s=MAX_AGE_S), "d522", clock=clock)
    settings = BrokerSettings(url=f"mqtt://127.0.0.1:{port}", reconnect_min_s=0.05, reconnect_max_s=0.2)
    pub = Publisher(settings, "d522", box, OutboxSettings(max_age_s=MAX_AGE_S))
    refusals = asyncio.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING and "retrying" in record.getMessage():
                refusals.set()

    watch = Watch()
    logging.getLogger("netmon.agent.publisher").addHandler(watch)
    try:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(pub.run(), name="publisher")
            seqs = []
            for _ in range(BATCHES):
                sample = wire.Sample(device="d522-r1", probe="icmp", ts=clock.now, ok=True, loss=0.0)
                seqs.append(box.append([sample]).seq)
                clock.now += MINUTE
                await asyncio.sleep(0)  # the publisher retries meanwhile
            async with asyncio.timeout(10):
                await refusals.wait()  # the operator is told: connection refused, retrying
            clock.now -= MINUTE  # the last batch was appended at this time
            stats = box.stats()
            kept = [s for i, s in enumerate(seqs) if T0 + i * MINUTE >= clock.now - MAX_AGE_S]
            assert stats.depth == len(kept)
            assert stats.dropped_batches == BATCHES - len(kept)
            assert 0 < stats.dropped_batches < BATCHES
            assert stats.oldest_age_s <= MAX_AGE_S
            assert pub.stats.connect_failures >= 1
            assert not pub.stats.connected

            # the broker comes back on the same port with its saved sessions
            broker = await asyncio.to_thread(services.start_mosquitto, workdir, port)
            assert await pub.drain(30)
            pub.stop()
            task.cancel()
        collector.connect()
        got = []
        while len(got) < len(kept):
            payload = await asyncio.to_thread(collector.messages.get, timeout=10)
            got.append(wire.decode_batch(payload, topic_agent="d522").seq)
        assert got == kept  # every kept batch, once, in order
        assert collector.messages.empty()
        assert box.stats().depth == 0
    finally:
        logging.getLogger("netmon.agent.publisher").removeHandler(watch)
        collector.close()
        box.close()
        broker.stop()
