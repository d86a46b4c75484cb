"""The shipped Mosquitto configuration, on a real broker: nobody speaks for an agent it is not.

The broker runs ``config/deploy/mosquitto/conf.d/netmon.conf`` and ``.../acl`` as shipped
(TLS listener requiring a CA-signed client certificate, hashed password file, ACL); clients
are paho-mqtt speaking MQTT 5, so the broker's reason codes are visible.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from netmon.agent import wire
from tests import services
from tests.services_security import Pki, make_pki, start_secure_mosquitto

USERS = {"d522": "pw-agent-d522-x7", "d523": "pw-agent-d523-y8", "collector": "pw-collector-z9"}
TIMEOUT = 10.0
NOT_AUTHORIZED = 0x87


@dataclass
class Broker:
    """The running broker and the PKI its clients use."""

    svc: services.Service
    pki: Pki


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    """One secured broker for the module (each test uses its own client ids)."""
    work = tmp_path_factory.mktemp("secure-mosquitto")
    pki = make_pki(work / "pki", tuple(USERS))
    svc = start_secure_mosquitto(work, USERS, pki)
    yield Broker(svc, pki)
    svc.stop()


@dataclass
class Peer:
    """A paho MQTT 5 client whose callbacks feed events the test awaits (never sleeps)."""

    client: mqtt.Client
    settled: threading.Event = field(default_factory=threading.Event)
    closed: threading.Event = field(default_factory=threading.Event)
    connack: ReasonCode | None = None
    acks: dict[int, ReasonCode] = field(default_factory=dict)
    acked: threading.Condition = field(default_factory=threading.Condition)
    suback: queue.Queue[list[ReasonCode]] = field(default_factory=queue.Queue)
    messages: queue.Queue[mqtt.MQTTMessage] = field(default_factory=queue.Queue)

    def publish(self, topic: str, payload: bytes) -> ReasonCode:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        with self.acked:
            info = self.client.publish(topic, payload, qos=1)
            assert info.rc == mqtt.MQTT_ERR_SUCCESS
            assert self.acked.wait_for(lambda: info.mid in self.acks, TIMEOUT), "no PUBACK"
            return self.acks[info.mid]

    def subscribe(self, topic: str) -> ReasonCode:
        """Subscribe at QoS 1 and return the SUBACK's reason code."""
        self.client.subscribe(topic, qos=1)
        (rc,) = self.suback.get(timeout=TIMEOUT)
        return rc

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self.client.disconnect()
        self.client.loop_stop()


def connect(
    broker: Broker,
    client_id: str,
    *,
    user: str | None,
    password: str | None = None,
    cert: tuple[Path, Path] | None = None,
) -> Peer:
    """Connect (TLS, MQTT 5) and wait for the CONNACK or the connection's end."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.reconnect_delay_set(60, 60)  # a refused client must not retry during the test
    ctx = ssl.create_default_context(cafile=str(broker.pki.ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    client.tls_set_context(ctx)
    if user is not None:
        client.username_pw_set(user, password)
    peer = Peer(client)

    def on_connect(_c: mqtt.Client, _u: object, _f: object, rc: ReasonCode, _p: Properties | None) -> None:
        peer.connack = rc
        peer.settled.set()

    def on_disconnect(_c: mqtt.Client, _u: object, _f: object, _rc: ReasonCode, _p: Properties | None) -> None:
        peer.closed.set()
        peer.settled.set()

    def on_publish(_c: mqtt.Client, _u: object, mid: int, rc: ReasonCode, _p: Properties | None) -> None:
        with peer.acked:
            peer.acks[mid] = rc
            peer.acked.notify_all()

    def on_subscribe(_c: mqtt.Client, _u: object, _mid: int, rcs: list[ReasonCode], _p: Properties | None) -> None:
        peer.suback.put(rcs)

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    client.on_publish = on_publish
    client.on_subscribe = on_subscribe
    client.on_message = lambda _c, _u, msg: peer.messages.put(msg)
    try:
        client.connect("127.0.0.1", broker.svc.port, keepalive=30)
    except (ssl.SSLError, OSError):
        peer.closed.set()  # the TLS handshake itself failed
        peer.settled.set()
        return peer
    client.loop_start()
    assert peer.settled.wait(TIMEOUT), "neither CONNACK nor disconnection"
    return peer


def agent(broker: Broker, name: str, client_id: str) -> Peer:
    """An agent logged in as itself with its certificate; asserts it is accepted."""
    peer = connect(broker, client_id, user=name, password=USERS[name], cert=broker.pki.clients[name])
    assert peer.connack is not None
    assert not peer.connack.is_failure, peer.connack
    return peer


def collector(broker: Broker, client_id: str) -> Peer:
    """The collector logged in with its certificate; asserts it is accepted."""
    return agent(broker, "collector", client_id)


def refused(peer: Peer) -> bool:
    """Whether the broker refused: a failing CONNACK, or the connection ended without one."""
    if peer.connack is not None:
        return bool(peer.connack.is_failure)
    return peer.closed.is_set()


def test_agent_cannot_publish_as_another_agent(broker: Broker) -> None:
    coll = collector(broker, "coll-t1")
    a = agent(broker, "d522", "d522-t1")
    try:
        assert coll.subscribe("netmon/v1/agents/+/samples").value == 1  # granted QoS 1
        forged = a.publish(wire.samples_topic("d523"), b"forged by d522")
        # the broker says so (MQTT 5 PUBACK 0x87) ...
        assert forged.value == NOT_AUTHORIZED, forged
        own = a.publish(wire.samples_topic("d522"), b"marker")
        assert not own.is_failure
        # ... and the forged message was not routed: the collector's next message, in
        # broker order, is the marker published after the forged one was acknowledged
        msg = coll.messages.get(timeout=TIMEOUT)
        assert (msg.topic, msg.payload) == (wire.samples_topic("d522"), b"marker")
        assert coll.messages.empty()
    finally:
        a.close()
        coll.close()


def test_agent_may_publish_its_status_but_reads_nothing(broker: Broker) -> None:
    a = agent(broker, "d522", "d522-t2")
    b = agent(broker, "d523", "d523-t2")
    try:
        assert not a.publish(wire.status_topic("d522"), b"{}").is_failure
        # Mosquitto 2 grants the SUBACK and applies the ACL to each message it would deliver
        a.subscribe("netmon/v1/agents/+/samples")
        assert not b.publish(wire.samples_topic("d523"), b"not for d522").is_failure
        # The broker routed b's message (or not) before acknowledging it; a PUBACK round
        # trip of a's own comes back behind anything queued for a by then.
        assert not a.publish(wire.samples_topic("d522"), b"round trip").is_failure
        assert a.messages.empty()
    finally:
        a.close()
        b.close()


def test_collector_is_read_only_and_may_share_a_subscription(broker: Broker) -> None:
    coll = collector(broker, "coll-t3")
    a = agent(broker, "d523", "d523-t3")
    try:
        assert coll.subscribe("$share/netmon/netmon/v1/agents/+/samples").value == 1
        assert coll.publish(wire.samples_topic("d523"), b"collector forging").value == NOT_AUTHORIZED
        assert not a.publish(wire.samples_topic("d523"), b"real").is_failure
        msg = coll.messages.get(timeout=TIMEOUT)
        assert msg.payload == b"real"
    finally:
        a.close()
        coll.close()


def test_anonymous_client_is_refused(broker: Broker) -> None:
    # even with a valid certificate, no user name means no session: it can neither publish
    # nor subscribe because it never gets past CONNECT
    peer = connect(broker, "anon-t4", user=None, cert=broker.pki.clients["d522"])
    try:
        assert refused(peer)
        assert peer.connack is not None
        assert peer.connack.value in (0x86, NOT_AUTHORIZED)  # bad user name or password / not authorized
    finally:
        peer.client.loop_stop()


def test_wrong_password_is_refused(broker: Broker) -> None:
    peer = connect(broker, "d522-t5", user="d522", password=USERS["d523"], cert=broker.pki.clients["d522"])
    try:
        assert refused(peer)
    finally:
        peer.client.loop_stop()


@pytest.mark.parametrize("which", ["rogue-ca", "none"])
def test_client_without_ca_signed_certificate_cannot_connect(broker: Broker, which: str) -> None:
    cert = broker.pki.rogue_client if which == "rogue-ca" else None
    peer = connect(broker, f"d522-t6-{which}", user="d522", password=USERS["d522"], cert=cert)
    try:
        assert refused(peer)
        assert peer.connack is None or peer.connack.is_failure
    finally:
        peer.client.loop_stop()


async def test_real_agent_publisher_connects_with_tls_certificate_and_password(broker: Broker, tmp_path: Path) -> None:
    from netmon.agent.outbox import Outbox
    from netmon.agent.publisher import Publisher
    from netmon.config.secrets import Secret
    from netmon.config.settings import BrokerSettings, OutboxSettings, TlsSettings

    coll = collector(broker, "coll-t7")
    assert coll.subscribe(wire.samples_topic("d522")).value == 1
    cert, key = broker.pki.clients["d522"]
    settings = BrokerSettings(
        url=f"mqtts://127.0.0.1:{broker.svc.port}",
        tls=TlsSettings(ca_file=str(broker.pki.ca), cert_file=str(cert), key_file=str(key)),
    )
    outbox = Outbox(tmp_path / "outbox.sqlite", OutboxSettings(), "d522")
    sample = wire.Sample(device="d522-r1", probe="icmp", ts=1_800_000_000.0, ok=True)
    queued = outbox.append([sample])
    pub = Publisher(settings, "d522", outbox, OutboxSettings(), username="d522", password=Secret(USERS["d522"]))
    try:
        async with asyncio.timeout(TIMEOUT), asyncio.TaskGroup() as tg:
            task = tg.create_task(pub.run(), name="publisher")
            assert await pub.drain(TIMEOUT)
            pub.stop()
            task.cancel()
        msg = await asyncio.to_thread(coll.messages.get, timeout=TIMEOUT)
        batch = wire.decode_batch(msg.payload, topic_agent="d522")
        assert batch.seq == queued.seq
        assert batch.samples == [sample]
    finally:
        outbox.close()
        coll.close()


async def test_real_agent_publisher_with_wrong_password_is_refused_and_says_why(broker: Broker, tmp_path: Path) -> None:
    from netmon.agent.outbox import Outbox
    from netmon.agent.publisher import Publisher
    from netmon.config.secrets import Secret
    from netmon.config.settings import BrokerSettings, OutboxSettings, TlsSettings

    cert, key = broker.pki.clients["d522"]
    settings = BrokerSettings(
        url=f"mqtts://127.0.0.1:{broker.svc.port}",
        tls=TlsSettings(ca_file=str(broker.pki.ca), cert_file=str(cert), key_file=str(key)),
        reconnect_min_s=0.05,
        reconnect_max_s=0.1,
    )
    outbox = Outbox(tmp_path / "outbox.sqlite", OutboxSettings(), "d522")
    pub = Publisher(settings, "d522", outbox, OutboxSettings(), username="d522", password=Secret("not-the-password"))
    refusals: list[str] = []
    told = asyncio.Event()

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "refused" in record.getMessage():
                refusals.append(record.getMessage())
                told.set()

    watch = Watch()
    logging.getLogger("netmon.agent.publisher").addHandler(watch)
    try:
        async with asyncio.TaskGroup() as tg:
            task = tg.create_task(pub.run(), name="publisher")
            async with asyncio.timeout(TIMEOUT):
                await told.wait()
            pub.stop()
            task.cancel()
        assert not pub.stats.connected
        assert pub.stats.connect_failures >= 1
        assert "refused" in pub.stats.last_error
        assert all("not-the-password" not in line for line in [*refusals, pub.stats.last_error])
    finally:
        logging.getLogger("netmon.agent.publisher").removeHandler(watch)
        outbox.close()
