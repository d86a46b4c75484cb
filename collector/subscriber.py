"""The collector's MQTT edge: subscribe to every agent, feed the ingestor, reconnect forever.

Delivery guarantees, in order of the path a batch takes:

- **Persistent session.** The collector connects with a fixed client id and
  ``clean_start=False`` (MQTT 5, with a session expiry of a week) or
  ``clean_session=False`` (3.1.1), so the broker queues QoS 1 batches while the
  collector is down or restarting and delivers them when it is back.
- **Ack after apply.** paho-mqtt 2 can leave the PUBACK to the application
  (``manual_ack``); aiomqtt 2 does not expose it yet (aiomqtt issue #345, PR #346), so we
  switch it on through aiomqtt's paho client. A message is acknowledged only after
  :meth:`Ingestor.handle` returned — i.e. after the engine committed the batch and its
  ``(agent, seq)``. A collector killed between receipt and commit leaves the message
  un-acked, and the broker redelivers it on the next connect (same session). Together
  with the de-duplication ledger this gives exactly-once effects.
- **No queue in the collector.** Each message is applied inside paho's read callback,
  on the event loop, as it is read off the socket (the ingest is synchronous anyway), and
  acknowledged there. Nothing piles up in the collector: when it is slower than what
  arrives, TCP pushes back on the broker, which holds the messages under its own limits
  (``max_queued_messages``, ``max_queued_bytes``: see ``config/deploy/mosquitto``). The
  earlier design read every message into aiomqtt's unbounded queue and applied it from
  there: under a flood of 20,000 garbage messages a second the queue grew to tens of
  thousands of messages (Mosquitto 2.0.11 does not keep to the collector's Receive Maximum
  under load) and the collector to 570 MB; with the task and wake-up per message it
  applied 4,500 messages a second where applying in the callback keeps up with 20,000. A bounded aiomqtt queue would be
  worse: it discards a QoS 1 message it has no room for without a PUBACK, and the broker
  sends it again only on a new connection.
- **Not applied, not acked.** When the ingestor could not apply a batch because the
  store or the system failed (a full disk), the message stays un-acked and the subscriber
  reconnects (same session, with back-off): the broker delivers it again.
- **Several collectors.** No MQTT shared subscriptions: a broker hands each message of a
  ``$share/...`` group to one member, per message and not per agent, so one agent's
  batches would be split across collectors while device state (consecutive failures,
  parents, outages) must live in one place. A hot-hot pair is two collectors with their
  own client ids and stores, each receiving every batch; to split the load, each
  collector subscribes to its own set of agents (``agents=...``), which keeps every
  device's samples on one collector.
"""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
from collections.abc import Sequence

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY, Client, MQTTMessage
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from netmon.agent import wire
from netmon.collector.ingest import Ingestor
from netmon.config.secrets import Secret
from netmon.config.settings import BrokerSettings

log = logging.getLogger(__name__)
mqtt_log = logging.getLogger("netmon.collector.mqtt")

#: How long the broker keeps the collector's session (and queues its QoS 1 messages).
SESSION_EXPIRY_S = 7 * 86400
CONNECT_TIMEOUT_S = 15.0
#: MQTT 5 Receive Maximum: at most this many un-acked QoS 1 messages in flight towards the
#: collector (MQTT 3.1.1: the broker's own limit, Mosquitto's max_inflight_messages).
#: Nothing waits in the collector (see "No queue in the collector"), so this only bounds
#: what the broker sends ahead; Mosquitto 2.0.11 exceeds it under load.
RECEIVE_MAXIMUM = 100


class NotApplied(Exception):
    """The ingestor could not apply a message (its environment failed): reconnect, redeliver."""


class _ApplyOnRead:
    """paho's ``on_message``: apply each message as it is read, then acknowledge it.

    After a message could not be applied, the ones read behind it on this connection are
    left alone (not applied, not acknowledged): the broker sends them all again on the
    next connection of the session, in order.
    """

    def __init__(self, ingestor: Ingestor) -> None:
        self.ingestor = ingestor
        self.failure = ""
        self.failed = asyncio.Event()

    def __call__(self, client: Client, _userdata: object, message: MQTTMessage) -> None:
        if self.failed.is_set():
            return
        try:
            topic = message.topic
        except UnicodeDecodeError:  # not a netmon topic: the ingestor counts it
            topic = message._topic.decode("utf-8", "replace")
        payload = message.payload
        if not self.ingestor.handle(topic, payload if isinstance(payload, bytes) else bytes(payload)):
            # Not applied (store full, I/O error): leave it un-acked and start a new
            # connection of the same session, so the broker sends it again.
            self.failure = f"{topic[:200]} not applied; reconnecting for redelivery"
            self.failed.set()
            return
        if message.qos > 0:
            client.ack(message.mid, message.qos)


async def _connection_lost(client: aiomqtt.Client) -> None:
    """Raise :class:`aiomqtt.MqttError` when the connection ends (aiomqtt's message iterator
    does; nothing is queued there, the messages are applied as they are read)."""
    async for _ in client.messages:
        pass


def topic_filters(prefix: str, agents: Sequence[str] | None = None) -> list[str]:
    """The subscriptions: every agent's samples and status (or the listed agents')."""
    who = list(agents) if agents else ["+"]
    return [f"{prefix}/agents/{a}/{kind}" for a in who for kind in ("samples", "status")]


def _refused(code: object) -> bool:
    """Whether a SUBACK code (an int, or paho's ReasonCode) refuses the subscription (0x80 and above)."""
    value = code.value if isinstance(code, ReasonCode) else code
    return isinstance(value, int) and value >= 0x80


def _tls(broker: BrokerSettings) -> ssl.SSLContext | None:
    if not broker.uses_tls:
        return None
    tls = broker.tls
    ctx = ssl.create_default_context(cafile=tls.ca_file if tls else None)
    if tls is not None and tls.cert_file and tls.key_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    if tls is not None and tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _describe(exc: BaseException, broker: BrokerSettings) -> str:
    where = f"{broker.host}:{broker.port}"
    if isinstance(exc, NotApplied):
        return str(exc)
    if isinstance(exc, MqttConnectError) and isinstance(exc.rc, ReasonCode):
        return f"broker {where} refused the connection: {exc.rc} (reason code {exc.rc.value})"
    return f"broker {where}: {exc or type(exc).__name__}"


async def run_subscriber(
    broker: BrokerSettings,
    ingestor: Ingestor,
    *,
    client_id: str,
    password: Secret | None = None,
    ready: asyncio.Event | None = None,
    agents: Sequence[str] | None = None,
    rng: random.Random | None = None,
) -> None:
    """Subscribe and ingest forever, reconnecting with exponential back-off and jitter.

    Args:
        broker: Broker settings (``username`` is used with ``password``).
        ingestor: Receives every message; the message is acked after it returns.
        client_id: Stable id: the broker keeps this collector's session under it.
        password: Resolved MQTT password.
        ready: Set once subscribed (and again after each reconnect).
        agents: Subscribe only to these agents (partitioning); None: all.
        rng: Jitter source.
    """
    rnd = rng or random.Random()
    v5 = broker.protocol == "5"
    failures = 0
    last_error = ""
    filters = topic_filters(broker.topic_prefix, agents)
    while True:
        honour_cancellation()
        props: Properties | None = None
        if v5:
            props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            props.SessionExpiryInterval = SESSION_EXPIRY_S
            props.ReceiveMaximum = RECEIVE_MAXIMUM
        client = aiomqtt.Client(
            broker.host,
            broker.port,
            username=broker.username,
            password=password.reveal() if password is not None else None,
            identifier=client_id,
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            clean_session=None if v5 else False,
            # paho refuses clean_start with 3.1.1 unless it is its default
            clean_start=False if v5 else MQTT_CLEAN_START_FIRST_ONLY,
            properties=props,
            keepalive=broker.keepalive_s,
            timeout=CONNECT_TIMEOUT_S,
            tls_context=_tls(broker),
            logger=mqtt_log,
        )
        # aiomqtt 2 has no manual-ack API yet (issue #345); paho's is stable.
        client._client.manual_ack_set(True)
        apply = _ApplyOnRead(ingestor)
        client._client.on_message = apply
        try:
            async with client:
                failures = 0
                last_error = ""
                # one SUBSCRIBE for every filter (one per declared agent can be many)
                granted = await client.subscribe([(f, 1) for f in filters], timeout=CONNECT_TIMEOUT_S)
                refused = [f for f, rc in zip(filters, granted, strict=False) if _refused(rc)]
                if refused:
                    log.error("broker refused the subscriptions %s (check the ACL)", ",".join(refused[:10]))
                log.info(
                    "subscribed client_id=%s filters=%s",
                    client_id,
                    ",".join(filters[:10]) + (",..." if len(filters) > 10 else ""),
                )
                if ready is not None:
                    ready.set()
                honour_cancellation()
                lost = asyncio.create_task(_connection_lost(client), name=f"collector[{client_id}].connection")
                failed = asyncio.create_task(apply.failed.wait(), name=f"collector[{client_id}].not-applied")
                try:
                    await asyncio.wait((lost, failed), return_when=asyncio.FIRST_COMPLETED)
                finally:
                    lost.cancel()
                    failed.cancel()
                    await asyncio.gather(lost, failed, return_exceptions=True)
                if apply.failed.is_set():
                    raise NotApplied(apply.failure)
                lost.result()  # the connection's end, as aiomqtt tells it
        except (aiomqtt.MqttError, OSError, ssl.SSLError, NotApplied) as exc:
            failures += 1
            msg = _describe(exc, broker)
            delay = min(broker.reconnect_max_s, broker.reconnect_min_s * 2 ** min(failures - 1, 32))
            delay *= 0.5 + 0.5 * rnd.random()
            log.log(
                logging.ERROR if msg != last_error else logging.WARNING,
                "collector %s; retrying in %.1fs (attempt %d)",
                msg,
                delay,
                failures,
            )
            last_error = msg
            if ready is not None:
                ready.clear()
            honour_cancellation()
            await asyncio.sleep(delay)


def honour_cancellation() -> None:
    """Raise CancelledError if this task was cancelled and the cancellation was lost.

    Python 3.11's ``asyncio.wait_for`` (which aiomqtt awaits its connect, subscribe and
    disconnect with) returns the result, and drops the cancellation, when the operation
    completes as the cancellation arrives; the task still counts it (``cancelling()``).
    Without this, a collector told to stop could go on subscribing forever.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def status_filter(prefix: str = wire.DEFAULT_PREFIX) -> str:
    """The filter of every agent's status (for tools that only watch liveness)."""
    return f"{prefix}/agents/+/status"


__all__ = ["honour_cancellation", "run_subscriber", "status_filter", "topic_filters"]
