"""The agent's MQTT edge: a batcher (the poller's sink) and a publisher draining the outbox.

Flow::

    poller --submit(sample)--> Batcher --append--> Outbox (SQLite) --> Publisher --QoS 1--> broker
                                                       ^                    |
                                                       +------- ack(seq) <--+ PUBACK

The poller never waits for the broker: :meth:`Batcher.submit` appends to a list and, when
a batch is full, writes it to the outbox (one SQLite insert). The publisher reads the
outbox oldest first, keeps a bounded window of QoS 1 publishes in flight and removes a
batch only when its PUBACK arrives. After a reconnect, what was queued while away (the
backlog) is drained at ``drain_rate_per_s`` while new batches go out at once, so a long
outage never starves live data (the collector's de-duplication ledger accepts batches in
any order, however far live data runs ahead of the backlog). Connection problems (refused
login, TLS mismatch, no route) are logged with the broker's reason and retried with exponential back-off and
jitter; they never reach the poller.

Only this module (and the collector's subscriber) imports aiomqtt.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiomqtt
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.client import MQTT_CLEAN_START_FIRST_ONLY
from paho.mqtt.reasoncodes import ReasonCode

from netmon.agent import wire
from netmon.agent.outbox import Outbox, OutboxError, Queued
from netmon.config.secrets import Secret
from netmon.config.settings import BrokerSettings, OutboxSettings, PollSettings, TlsSettings

log = logging.getLogger(__name__)
#: aiomqtt/paho log here; aiomqtt warns on every publish while more than
#: ``pending_calls_threshold`` are pending, which our window does on purpose.
mqtt_log = logging.getLogger("netmon.agent.mqtt")

#: How long a publish may wait for its PUBACK on a live connection before we reconnect.
PUBACK_TIMEOUT_S = 30.0
#: How long connecting (TCP + TLS + CONNACK) may take.
CONNECT_TIMEOUT_S = 15.0


def tls_context(tls: TlsSettings | None) -> ssl.SSLContext:
    """An SSL context from the settings: CA file, optional client certificate.

    Raises:
        OSError: A file named in the settings cannot be read.
        ssl.SSLError: A file is not a valid certificate or key.
    """
    ctx = ssl.create_default_context(cafile=tls.ca_file if tls else None)
    if tls is not None and tls.cert_file is not None and tls.key_file is not None:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    if tls is not None and tls.insecure_skip_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def describe_error(exc: BaseException, broker: BrokerSettings) -> str:
    """A one-line, human explanation of why talking to the broker failed.

    A refused CONNECT carries the broker's reason code (MQTT 5: 134 "Bad user name or
    password", 135 "Not authorized"; MQTT 3.1.1: 4, 5); a TLS failure says what did not
    verify. Never contains a secret.
    """
    where = f"{broker.host}:{broker.port}"
    if isinstance(exc, MqttConnectError):
        rc = exc.rc
        if isinstance(rc, ReasonCode):
            return f"broker {where} refused the connection: {rc} (reason code {rc.value})"
        return f"broker {where} refused the connection: {exc}"
    text = str(exc) or type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSL" in text or "certificate" in text.lower():
        return f"TLS with broker {where} failed: {text}"
    if isinstance(exc, aiomqtt.MqttCodeError) and cause is not None:
        return f"connection to broker {where} lost: {exc} ({cause})"
    return f"cannot talk to broker {where}: {text}"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential back-off with jitter: the n-th retry waits ``[cap/2, cap]`` where
    ``cap = min(max_s, min_s * 2**n)`` — jitter keeps a province of agents from
    reconnecting in lock-step after the broker restarts."""

    min_s: float
    max_s: float

    def delay(self, failures: int, rnd: float) -> float:
        """Seconds to wait after ``failures`` consecutive failures (``rnd`` in [0, 1))."""
        cap = min(self.max_s, self.min_s * 2 ** min(failures, 32))
        return float(cap * (0.5 + 0.5 * rnd))


class Batcher:
    """The poller's sink: groups samples into batches and writes them to the outbox.

    A batch is cut when it holds ``batch_max_samples`` or when its first sample is
    ``batch_max_delay_s`` old (:meth:`run` watches the age). Never blocks, never raises:
    an outbox write error (disk full) loses that batch, counted in ``lost_samples`` and
    logged.

    Args:
        outbox: Where batches go.
        poll: ``batch_max_samples`` and ``batch_max_delay_s``.
        on_batch: Called after a batch was stored (wakes the publisher).
        clock: Monotonic seconds (for the delay only).
    """

    def __init__(
        self,
        outbox: Outbox,
        poll: PollSettings,
        *,
        on_batch: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._outbox = outbox
        self._max = poll.batch_max_samples
        self._delay = poll.batch_max_delay_s
        self._on_batch = on_batch
        self._clock = clock
        self._buf: list[wire.Sample] = []
        self._first_at = 0.0
        self._has_samples = asyncio.Event()
        self.batches = 0
        self.samples = 0
        self.lost_samples = 0

    def submit(self, sample: wire.Sample) -> None:
        """Add a sample; cut a batch when full."""
        if not self._buf:
            self._first_at = self._clock()
            self._has_samples.set()
        self._buf.append(sample)
        if len(self._buf) >= self._max:
            self.flush()

    def flush(self) -> None:
        """Write what is buffered as one batch (nothing when empty)."""
        buf, self._buf = self._buf, []
        self._has_samples.clear()
        if not buf:
            return
        try:
            self._outbox.append(buf)
        except OutboxError as exc:
            self.lost_samples += len(buf)
            log.error("outbox write failed, batch lost samples=%d lost_total=%d: %s", len(buf), self.lost_samples, exc)
            return
        except Exception:  # a sink must not raise into the poller, whatever went wrong
            self.lost_samples += len(buf)
            log.exception("unexpected outbox failure, batch lost samples=%d", len(buf))
            return
        self.batches += 1
        self.samples += len(buf)
        if self._on_batch is not None:
            self._on_batch()

    @property
    def buffered(self) -> int:
        """Samples waiting for their batch to be cut."""
        return len(self._buf)

    async def run(self) -> None:
        """Cut batches by age, forever."""
        while True:
            await self._has_samples.wait()
            due = self._first_at + self._delay
            wait = due - self._clock()
            if wait > 0:
                await asyncio.sleep(wait)
                continue  # the batch may have been cut by size meanwhile; look again
            self.flush()


@dataclass(slots=True)
class PublisherStats:
    """Self-metrics of the publisher (monotonic counters and current state)."""

    connected: bool = False
    connects: int = 0
    connect_failures: int = 0
    published_batches: int = 0
    backlog_batches: int = 0
    last_error: str = ""


class _TokenBucket:
    """Rate limit for draining the backlog: ``rate`` per second, bursts up to ``burst``."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = burst
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def wait_s(self) -> float:
        return max(0.0, (1.0 - self._tokens) / self.rate)


class Publisher:
    """Publishes the outbox to the broker, reconnecting forever.

    Args:
        broker: Where and how to connect (protocol 5 or 3.1.1, TLS, keepalive, back-off).
        agent_id: Client id and topic component.
        outbox: The durable queue.
        outbox_settings: ``inflight`` window and ``drain_rate_per_s``.
        username: MQTT user (None: anonymous).
        password: Resolved password.
        birth: Builds the retained ``online`` status sent on every connect.
        rng: Random source of the back-off jitter.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        agent_id: str,
        outbox: Outbox,
        outbox_settings: OutboxSettings,
        *,
        username: str | None = None,
        password: Secret | None = None,
        birth: Callable[[], wire.AgentStatus] | None = None,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.broker = broker
        self.agent_id = agent_id
        self.outbox = outbox
        self._inflight = outbox_settings.inflight
        self._drain_rate = outbox_settings.drain_rate_per_s
        self._username = username
        self._password = password
        self._birth = birth or (lambda: wire.AgentStatus(v=wire.SCHEMA_VERSION, agent=agent_id, state="online"))
        self._rng = rng
        self._backoff = Backoff(broker.reconnect_min_s, max(broker.reconnect_min_s, broker.reconnect_max_s))
        self._wake = asyncio.Event()
        self._acked = asyncio.Event()
        self._stopping = False
        self._client: aiomqtt.Client | None = None
        self.samples_topic = wire.samples_topic(agent_id, broker.topic_prefix)
        self.status_topic = wire.status_topic(agent_id, broker.topic_prefix)
        self.stats = PublisherStats()
        self.connected = asyncio.Event()
        #: Set after every failed connection attempt (tests and the service's health wait on it).
        self.connect_failed = asyncio.Event()

    def wake(self) -> None:
        """A batch was stored: publish it now (the batcher calls this)."""
        self._wake.set()

    def _status(self, state: str) -> bytes:
        st = self._birth()
        if state == "offline":
            st = wire.AgentStatus(
                v=st.v,
                agent=st.agent,
                state="offline",
                ts=time.time(),
                version=st.version,
                devices=st.devices,
                interval_s=st.interval_s,
                scope=st.scope,
            )
        return wire.encode(st)

    def _make_client(self) -> aiomqtt.Client:
        v5 = self.broker.protocol == "5"
        will = aiomqtt.Will(self.status_topic, self._status("offline"), qos=1, retain=True)
        client = aiomqtt.Client(
            self.broker.host,
            self.broker.port,
            username=self._username,
            password=self._password.reveal() if self._password is not None else None,
            identifier=self.agent_id,
            protocol=aiomqtt.ProtocolVersion.V5 if v5 else aiomqtt.ProtocolVersion.V311,
            will=will,
            # The outbox is our session: nothing to resume at the broker for a publisher.
            clean_session=None if v5 else True,
            clean_start=True if v5 else MQTT_CLEAN_START_FIRST_ONLY,
            keepalive=self.broker.keepalive_s,
            timeout=CONNECT_TIMEOUT_S,
            max_inflight_messages=self._inflight,
            tls_context=tls_context(self.broker.tls) if self.broker.uses_tls else None,
            logger=mqtt_log,
        )
        # Our window keeps up to `inflight` publishes pending by design; aiomqtt would
        # otherwise log a warning for every publish above 10.
        client.pending_calls_threshold = self._inflight + 1
        return client

    async def run(self) -> None:
        """Connect, publish, reconnect on failure with back-off; forever (until cancelled or :meth:`stop`)."""
        failures = 0
        last_logged = ""
        while not self._stopping:
            try:
                client = self._make_client()
                async with asyncio.timeout(CONNECT_TIMEOUT_S + 5):
                    await client.__aenter__()
            except (aiomqtt.MqttError, OSError, ssl.SSLError, TimeoutError) as exc:
                failures += 1
                self.stats.connect_failures += 1
                msg = describe_error(exc, self.broker)
                self.stats.last_error = msg
                self.connect_failed.set()
                delay = self._backoff.delay(failures - 1, self._rng())
                # The cause is logged as an error when it first appears or changes; the
                # same cause repeating is a warning, so the log shows it without flooding.
                level = logging.ERROR if msg != last_logged else logging.WARNING
                log.log(level, "agent=%s %s; retrying in %.1fs (attempt %d)", self.agent_id, msg, delay, failures)
                last_logged = msg
                await asyncio.sleep(delay)
                continue
            self._client = client
            failures = 0
            last_logged = ""
            self.stats.connects += 1
            self.stats.connected = True
            self.connected.set()
            log.info("agent=%s connected to broker %s:%d", self.agent_id, self.broker.host, self.broker.port)
            try:
                await self._session(client)
            except* (aiomqtt.MqttError, OSError, TimeoutError) as eg:
                msg = describe_error(eg.exceptions[0], self.broker)
                self.stats.last_error = msg
                log.warning("agent=%s %s; reconnecting", self.agent_id, msg)
            except* Exception as eg:  # e.g. the outbox file failed: log it whole, back off, go on
                self.stats.last_error = f"{type(eg.exceptions[0]).__name__}: {eg.exceptions[0]}"
                log.error("agent=%s publisher failed; reconnecting", self.agent_id, exc_info=eg.exceptions[0])
            finally:
                self._client = None
                self.stats.connected = False
                self.connected.clear()
                with contextlib.suppress(aiomqtt.MqttError, OSError, TimeoutError):
                    async with asyncio.timeout(2):
                        await client.__aexit__(None, None, None)
            if not self._stopping:
                failures += 1
                await asyncio.sleep(self._backoff.delay(0, self._rng()))

    async def _watch_disconnect(self, client: aiomqtt.Client) -> None:
        # The agent subscribes to nothing; iterating the (empty) message stream is how
        # aiomqtt tells us the connection dropped.
        async for _ in client.messages:
            pass

    async def _session(self, client: aiomqtt.Client) -> None:
        await client.publish(self.status_topic, self._status("online"), qos=1, retain=True, timeout=PUBACK_TIMEOUT_S)
        # Everything queued before this connection is backlog, drained at a limited rate;
        # anything newer is live and goes first.
        boundary = self.outbox.last_seq()
        live_cursor = boundary
        backlog_cursor = -1
        bucket = _TokenBucket(self._drain_rate, max(1.0, min(self._drain_rate, float(self._inflight))), time.monotonic)
        window = asyncio.Semaphore(self._inflight)
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._watch_disconnect(client), name=f"agent[{self.agent_id}].watch")
            while True:
                await window.acquire()
                self._wake.clear()
                item: Queued | None = None
                live = self.outbox.next_after(live_cursor)
                backlog = self.outbox.next_after(backlog_cursor, upto=boundary) if backlog_cursor < boundary else []
                if not backlog:
                    backlog_cursor = boundary
                if live:  # live data first: the collector's ledger takes any order of arrival
                    item = live[0]
                    live_cursor = item.seq
                elif backlog and bucket.take():  # the backlog drains rate-limited behind it
                    item = backlog[0]
                    backlog_cursor = item.seq
                    self.stats.backlog_batches += 1
                if item is None:
                    window.release()
                    wait = bucket.wait_s() if backlog else None
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self._wake.wait()
                    continue
                tg.create_task(self._send(client, item, window), name=f"agent[{self.agent_id}].publish")

    async def _send(self, client: aiomqtt.Client, item: Queued, window: asyncio.Semaphore) -> None:
        try:
            await client.publish(self.samples_topic, item.payload, qos=1, timeout=PUBACK_TIMEOUT_S)
        finally:
            window.release()
        self.outbox.ack(item.seq)
        self.stats.published_batches += 1
        self._acked.set()

    async def drain(self, timeout_s: float) -> bool:
        """Wait until the outbox is empty (True) or ``timeout_s`` passed (False)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                while self.outbox.depth > 0:
                    self._acked.clear()
                    await self._acked.wait()
                return True
        return self.outbox.depth == 0

    async def say_offline(self) -> None:
        """Publish the retained ``offline`` status now (a clean stop sends no last will)."""
        client = self._client
        if client is None:
            return
        with contextlib.suppress(aiomqtt.MqttError, OSError, TimeoutError):
            async with asyncio.timeout(2):
                await client.publish(self.status_topic, self._status("offline"), qos=1, retain=True, timeout=2)

    def stop(self) -> None:
        """Do not reconnect any more; the caller then cancels :meth:`run`."""
        self._stopping = True
