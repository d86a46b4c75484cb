"""Agent → real Mosquitto → collector: nothing lost, nothing duplicated, across crashes.

The agent side is the real publisher, batcher and outbox fed with synthetic samples (no
SNMP needed); the collector side is the real subscriber and ingestor. Every test uses its
own broker on a free port and unique agent ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from netmon.agent import wire
from netmon.agent.outbox import Outbox
from netmon.agent.publisher import Batcher, Publisher
from netmon.collector.ingest import Ingestor
from netmon.collector.subscriber import run_subscriber
from netmon.config.secrets import Secret
from netmon.config.settings import BrokerSettings, OutboxSettings, PollSettings, TlsSettings
from tests import services, services_transport

ROOT = Path(__file__).resolve().parents[2]
T0 = time.time()


@dataclass
class Collected:
    """Stand-in engine + ledger recording what the collector applied (and waking waiters)."""

    batches: list[wire.SampleBatch] = field(default_factory=list)
    statuses: list[wire.AgentStatus] = field(default_factory=list)
    applied: set[tuple[str, int]] = field(default_factory=set)
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def apply_batch(self, batch: wire.SampleBatch, received_at: float) -> None:
        self.batches.append(batch)
        self.applied.add((batch.agent, batch.seq))
        self.changed.set()

    def agent_status(self, status: wire.AgentStatus, received_at: float) -> None:
        self.statuses.append(status)
        self.changed.set()

    def is_duplicate(self, agent: str, seq: int) -> bool:
        return (agent, seq) in self.applied

    def dead_letter(self, ts: float, topic: str, reason: str, detail: str, payload: bytes) -> None:
        raise AssertionError(f"unexpected dead letter {reason}: {detail}")

    def sample_ids(self) -> list[str]:
        return [s.device for b in self.batches for s in b.samples]

    async def wait_for(self, cond: Callable[[], bool], limit_s: float, what: str) -> None:
        try:
            async with asyncio.timeout(limit_s):
                while not cond():
                    self.changed.clear()
                    await self.changed.wait()
        except TimeoutError:
            ids = self.sample_ids()
            raise AssertionError(
                f"timed out waiting for {what}: {len(ids)} samples ({len(set(ids))} distinct) in {len(self.batches)} batches"
            ) from None


def broker_of(svc: services.Service, **kw: object) -> BrokerSettings:
    base: dict[str, object] = {"reconnect_min_s": 0.05, "reconnect_max_s": 0.5, "keepalive_s": 5}
    return BrokerSettings(url=f"mqtt://127.0.0.1:{svc.port}", **{**base, **kw})  # type: ignore[arg-type]


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def sample(i: int) -> wire.Sample:
    return wire.Sample(device=f"d{i}", probe="icmp", ts=T0 + i * 0.001, ok=True)


@contextlib.asynccontextmanager
async def collector(broker: BrokerSettings, col: Collected, client_id: str, **kw: object) -> AsyncIterator[Ingestor]:
    ing = Ingestor(col, col, prefix=broker.topic_prefix)
    ready = asyncio.Event()
    task = asyncio.create_task(
        run_subscriber(broker, ing, client_id=client_id, ready=ready, **kw),  # type: ignore[arg-type]
        name="test.subscriber",
    )
    async with asyncio.timeout(10):
        await ready.wait()
    try:
        yield ing
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def agent(
    broker: BrokerSettings, agent_id: str, outbox_path: Path, *, max_samples: int = 10, **outbox_kw: object
) -> AsyncIterator[tuple[Batcher, Publisher]]:
    ob_settings = OutboxSettings(path=str(outbox_path), **outbox_kw)  # type: ignore[arg-type]
    ob = Outbox(outbox_path, ob_settings, agent_id)
    pub = Publisher(broker, agent_id, ob, ob_settings)
    batcher = Batcher(ob, PollSettings(batch_max_samples=max_samples, batch_max_delay_s=0.05), on_batch=pub.wake)
    tasks = [
        asyncio.create_task(pub.run(), name="test.publisher"),
        asyncio.create_task(batcher.run(), name="test.batcher"),
    ]
    try:
        yield batcher, pub
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        ob.close()


def assert_exactly_once(col: Collected, n: int) -> None:
    ids = col.sample_ids()
    assert sorted(ids, key=lambda d: int(d[1:])) == [f"d{i}" for i in range(n)], "lost or duplicated samples"
    seqs = [(b.agent, b.seq) for b in col.batches]
    assert len(seqs) == len(set(seqs))


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
async def test_stream_delivered_exactly_once_with_birth_status(
    mosquitto: services.Service, tmp_path: Path, protocol: str
) -> None:
    broker = broker_of(mosquitto, protocol=protocol)
    col, aid = Collected(), uid("a")
    async with collector(broker, col, uid("col")), agent(broker, aid, tmp_path / "o.sqlite") as (batcher, pub):
        for i in range(500):
            batcher.submit(sample(i))
        await col.wait_for(lambda: len(col.sample_ids()) >= 500, 20, "500 samples")
        await col.wait_for(lambda: any(s.state == "online" for s in col.statuses), 5, "birth")
        await pub.drain(5)
        assert pub.outbox.stats().depth == 0
    assert_exactly_once(col, 500)
    assert [b.seq for b in col.batches] == sorted(b.seq for b in col.batches)  # live data goes out in order


#: Mosquitto persists its in-memory queues by periodic snapshots; with this it snapshots
#: after every change, so a message it acknowledged (PUBACK) survives a SIGKILL of the broker
#: (see bench/README-transport.md: a broker PUBACK is only as durable as the broker's persistence).
DURABLE_BROKER = "autosave_on_changes true\n"


async def test_broker_sigkilled_mid_stream_and_restarted_every_sample_exactly_once(tmp_path: Path) -> None:
    mq = await asyncio.to_thread(services.start_mosquitto, tmp_path / "mq", extra_conf=DURABLE_BROKER)
    broker = broker_of(mq)
    col, aid, n = Collected(), uid("a"), 2000
    restarted: services.Service | None = None
    try:
        async with collector(broker, col, uid("col")), agent(broker, aid, tmp_path / "o.sqlite") as (batcher, pub):
            for i in range(n):
                batcher.submit(sample(i))
                if i % 20 == 0:
                    await asyncio.sleep(0.005)  # a steady stream (~4,000 samples/s), not one burst
                if i == n // 3:
                    mq.kill()
                if i == 2 * n // 3:
                    assert pub.outbox.stats().depth > 0  # the outage is in the outbox, not lost
                    restarted = await asyncio.to_thread(
                        services.start_mosquitto, mq.workdir, port=mq.port, extra_conf=DURABLE_BROKER
                    )
            await col.wait_for(lambda: len(set(col.sample_ids())) >= n, 40, "all samples")
            assert await pub.drain(10)
            assert pub.stats.connects >= 2
    finally:
        mq.stop()
        if restarted is not None:
            restarted.stop()
    assert_exactly_once(col, n)


_KILLED_AGENT = textwrap.dedent(
    """
    import asyncio, sys
    from netmon.agent import wire
    from netmon.agent.outbox import Outbox
    from netmon.agent.publisher import Batcher, Publisher
    from netmon.config.settings import BrokerSettings, OutboxSettings, PollSettings

    async def main():
        path, agent_id, port, start, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        broker = BrokerSettings(url=f"mqtt://127.0.0.1:{port}", reconnect_min_s=0.05, reconnect_max_s=0.5)
        ob = Outbox(path, OutboxSettings(path=path), agent_id)
        pub = Publisher(broker, agent_id, ob, OutboxSettings(path=path))
        b = Batcher(ob, PollSettings(batch_max_samples=10), on_batch=pub.wake)
        task = asyncio.create_task(pub.run())
        for i in range(start, start + n):
            b.submit(wire.Sample(device=f"d{i}", probe="icmp", ts=1_780_000_000.0 + i, ok=True))
        b.flush()
        print("queued", ob.stats().depth, flush=True)
        if await pub.drain(60):
            print("drained", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())
    """
)


async def spawn_agent(path: Path, aid: str, port: int, start: int, n: int) -> asyncio.subprocess.Process:
    """A separate agent process (so it can be SIGKILLed) publishing samples start..start+n."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _KILLED_AGENT,
        str(path),
        aid,
        str(port),
        str(start),
        str(n),
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )


async def test_agent_sigkilled_with_full_outbox_restarts_and_drains_nothing_lost(tmp_path: Path) -> None:
    port, aid, path = services.free_port(), uid("a"), tmp_path / "agent-outbox.sqlite"
    # The broker is not there yet: the agent can only queue.
    proc = await spawn_agent(path, aid, port, 0, 400)
    assert proc.stdout is not None
    line = await proc.stdout.readline()
    assert line.split() == [b"queued", b"40"]
    proc.send_signal(signal.SIGKILL)
    await proc.wait()
    svc = await asyncio.to_thread(services.start_mosquitto, tmp_path / "mq", port=port)
    col = Collected()
    broker = BrokerSettings(url=f"mqtt://127.0.0.1:{port}")
    try:
        async with collector(broker, col, uid("col")):
            proc = await spawn_agent(path, aid, port, 400, 200)  # the restarted agent adds 200 more samples
            assert proc.stdout is not None
            try:
                assert (await proc.stdout.readline()).split() == [b"queued", b"60"]  # 40 old + 20 new
                async with asyncio.timeout(30):
                    assert (await proc.stdout.readline()).split() == [b"drained"]
                await col.wait_for(lambda: len(col.sample_ids()) >= 600, 30, "600 samples")
            finally:
                proc.kill()
                await proc.wait()
    finally:
        svc.stop()
    assert_exactly_once(col, 600)
    seqs = [b.seq for b in col.batches]
    assert len(seqs) == 60
    assert max(seqs) - min(seqs) == 59  # one sequence across the restart, no gap, no reuse
    assert Outbox(path, OutboxSettings(), aid).stats().depth == 0


async def test_collector_restarted_mid_stream_no_duplicates_nothing_lost(
    mosquitto: services.Service, tmp_path: Path
) -> None:
    broker = broker_of(mosquitto)
    col, aid, cid, n = Collected(), uid("a"), uid("col"), 2000
    async with agent(broker, aid, tmp_path / "o.sqlite") as (batcher, pub):
        async with collector(broker, col, cid):
            for i in range(n // 2):
                batcher.submit(sample(i))
            await col.wait_for(lambda: len(col.sample_ids()) >= n // 4, 20, "a quarter")
        # The collector is away (its session persists at the broker); the stream goes on.
        before = len(col.batches)
        for i in range(n // 2, n):
            batcher.submit(sample(i))
        assert await pub.drain(20)  # the broker has all of it, queued for the collector
        async with collector(broker, col, cid):  # same client id, a new process's ingestor, same ledger
            await col.wait_for(lambda: len(set(col.sample_ids())) >= n, 30, "all samples")
        assert len(col.batches) > before
    assert_exactly_once(col, n)


async def test_partitioned_collectors_each_receive_only_and_all_of_their_agents(
    mosquitto: services.Service, tmp_path: Path
) -> None:
    broker = broker_of(mosquitto)
    a, a1, a2 = Collected(), uid("a"), uid("a")
    b = Collected(changed=a.changed)  # one event: either collector wakes the waiter
    async with (
        collector(broker, a, uid("col"), agents=[a1]),
        collector(broker, b, uid("col"), agents=[a2]),
        agent(broker, a1, tmp_path / "o1.sqlite") as (batcher1, _),
        agent(broker, a2, tmp_path / "o2.sqlite") as (batcher2, _),
    ):
        for i in range(400):
            (batcher1 if i % 2 else batcher2).submit(sample(i))
        await a.wait_for(lambda: len(a.sample_ids()) + len(b.sample_ids()) >= 400, 20, "400")
        await a.wait_for(lambda: {s.agent for s in a.statuses + b.statuses} == {a1, a2}, 5, "births")
    assert {x.agent for x in a.batches} == {a1}
    assert {x.agent for x in b.batches} == {a2}
    assert {s.agent for s in a.statuses} == {a1}
    assert {s.agent for s in b.statuses} == {a2}
    assert_exactly_once(Collected(batches=a.batches + b.batches), 400)


async def test_last_will_marks_a_killed_agent_offline(mosquitto: services.Service, tmp_path: Path) -> None:
    broker = broker_of(mosquitto, keepalive_s=5)
    col, aid = Collected(), uid("a")
    path = tmp_path / "o.sqlite"
    async with collector(broker, col, uid("col")):
        proc = await spawn_agent(path, aid, mosquitto.port, 0, 10)
        await col.wait_for(lambda: any(s.state == "online" for s in col.statuses), 15, "birth")
        proc.kill()
        await proc.wait()
        # The broker notices the dead socket at once (RST) and publishes the will.
        await col.wait_for(lambda: col.statuses[-1].state == "offline", 15, "last will")
    assert col.statuses[-1].agent == aid


async def test_wrong_password_clear_error_and_retry_not_crash(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    svc = await asyncio.to_thread(services_transport.start_password_mosquitto, tmp_path / "mq", {"agent-x": "right"})
    try:
        for protocol in ("5", "3.1.1"):
            caplog.clear()
            broker = broker_of(svc, username="agent-x", protocol=protocol)
            ob = Outbox(tmp_path / f"o{protocol}.sqlite", OutboxSettings(), "agent-x")
            pub = Publisher(broker, "agent-x", ob, OutboxSettings(), username="agent-x", password=Secret("wrong"))
            with caplog.at_level(logging.WARNING, logger="netmon.agent.publisher"):
                task = asyncio.create_task(pub.run())
                async with asyncio.timeout(10):
                    while pub.stats.connect_failures < 3:  # it keeps retrying (with back-off)
                        pub.connect_failed.clear()
                        await pub.connect_failed.wait()
                assert not task.done()  # no crash
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            text = caplog.text
            assert "refused the connection" in text
            assert ("Bad user name or password" in text) or ("Not authorized" in text) or ("code:5" in text)
            assert "wrong" not in text  # the password is never logged
            errors = [r for r in caplog.records if r.levelno == logging.ERROR]
            assert len(errors) == 1  # the cause is an error once, then repeated as warnings
            # the right password connects
            pub_ok = Publisher(broker, "agent-x", ob, OutboxSettings(), username="agent-x", password=Secret("right"))
            task = asyncio.create_task(pub_ok.run())
            async with asyncio.timeout(10):
                await pub_ok.connected.wait()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    finally:
        svc.stop()


async def test_tls_mismatch_clear_error_and_retry_then_right_ca_with_client_cert_works(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    right = await asyncio.to_thread(services_transport.make_pki, tmp_path / "pki", "right")
    other = await asyncio.to_thread(services_transport.make_pki, tmp_path / "pki", "other")
    svc = await asyncio.to_thread(
        services_transport.start_tls_mosquitto, tmp_path / "mq", right, require_client_cert=True
    )
    try:
        bad = BrokerSettings(
            url=f"mqtts://127.0.0.1:{svc.port}",
            reconnect_min_s=0.05,
            reconnect_max_s=0.2,
            tls=TlsSettings(ca_file=str(other.ca), cert_file=str(other.client_cert), key_file=str(other.client_key)),
        )
        ob = Outbox(tmp_path / "o.sqlite", OutboxSettings(), "agent-t")
        pub = Publisher(bad, "agent-t", ob, OutboxSettings())
        with caplog.at_level(logging.WARNING, logger="netmon.agent.publisher"):
            task = asyncio.create_task(pub.run())
            async with asyncio.timeout(10):
                while pub.stats.connect_failures < 3:
                    pub.connect_failed.clear()
                    await pub.connect_failed.wait()
            assert not task.done()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert "TLS with broker" in caplog.text
        assert "CERTIFICATE_VERIFY_FAILED" in caplog.text

        good = bad.model_copy(
            update={
                "tls": TlsSettings(
                    ca_file=str(right.ca), cert_file=str(right.client_cert), key_file=str(right.client_key)
                )
            }
        )
        col = Collected()
        async with collector(good, col, uid("col")), agent(good, "agent-t", tmp_path / "o2.sqlite") as (b, _):
            for i in range(20):
                b.submit(sample(i))
            await col.wait_for(lambda: len(col.sample_ids()) >= 20, 15, "20 over TLS")
        assert_exactly_once(col, 20)
    finally:
        svc.stop()


async def test_backlog_drains_rate_limited_while_live_batches_go_first(
    mosquitto: services.Service, tmp_path: Path
) -> None:
    broker = broker_of(mosquitto)
    aid, path = uid("a"), tmp_path / "o.sqlite"
    ob_settings = OutboxSettings(path=str(path), drain_rate_per_s=20, inflight=5)
    ob = Outbox(path, ob_settings, aid)
    for i in range(60):  # 60 batches queued while "offline"
        ob.append([sample(i)])
    col = Collected()
    async with collector(broker, col, uid("col")):
        pub = Publisher(broker, aid, ob, ob_settings)
        task = asyncio.create_task(pub.run())
        await col.wait_for(lambda: len(col.batches) >= 3, 10, "drain started")
        live = ob.append([sample(1000)])
        pub.wake()
        await col.wait_for(lambda: any(b.seq == live.seq for b in col.batches), 5, "live batch")
        position = [b.seq for b in col.batches].index(live.seq)
        assert position < 30  # it did not wait behind the 60-batch backlog
        t0 = time.monotonic()
        await col.wait_for(lambda: len(col.batches) >= 61, 10, "backlog")
        elapsed = time.monotonic() - t0
        assert await pub.drain(5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert elapsed > (61 - position - 10) / 20 * 0.8  # the backlog went at ~20 batches/s, not at once
    assert ob.stats().depth == 0


async def test_long_backlog_with_live_data_is_not_lost_to_the_real_dedup_ledger(
    mosquitto: services.Service, tmp_path: Path
) -> None:
    """Live data overtaking a 400-batch backlog must not make the real store's ledger give
    the backlog up as duplicates."""
    from netmon.collector.engine import Engine
    from netmon.collector.store import SqliteStore
    from netmon.config.inventory import Inventory, ProvinceRef
    from netmon.config.settings import CollectorSettings

    broker = broker_of(mosquitto)
    aid, path = uid("a"), tmp_path / "o.sqlite"
    store = SqliteStore.open(tmp_path / "netmon.sqlite")
    engine = Engine(Inventory(province=ProvinceRef(code="51", name="x")), CollectorSettings(inventory="-"), store)
    ingestor = Ingestor(engine, store)
    got = asyncio.Event()
    ingestor.listeners.append(lambda _: got.set())

    async def applied(n: int) -> None:
        async with asyncio.timeout(30):
            while ingestor.counters().batches < n:
                got.clear()
                await got.wait()

    ob_settings = OutboxSettings(path=str(path), drain_rate_per_s=50, inflight=10)
    ob = Outbox(path, ob_settings, aid)
    ready = asyncio.Event()
    sub = asyncio.create_task(run_subscriber(broker, ingestor, client_id=uid("col"), ready=ready))
    try:
        await ready.wait()
        for i in range(5):  # the collector knows this agent
            ob.append([sample(i)])
        pub = Publisher(broker, aid, ob, ob_settings)
        task = asyncio.create_task(pub.run())
        await applied(5)
        assert await pub.drain(5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for i in range(5, 405):  # a long outage
            ob.append([sample(i)])
        pub = Publisher(broker, aid, ob, ob_settings)
        task = asyncio.create_task(pub.run())
        await pub.connected.wait()
        for i in range(405, 425):  # live data during the drain
            ob.append([sample(i)])
            pub.wake()
            await asyncio.sleep(0.02)  # pacing of the live stream
        await applied(425)
        assert await pub.drain(5)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        sub.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sub
    c = ingestor.counters()
    assert (c.batches, c.samples, c.duplicates) == (425, 425, 0)
    assert ob.stats().depth == 0
    engine.close()
    store.close()


async def test_collector_partitioned_by_agent_gets_only_its_agents(mosquitto: services.Service, tmp_path: Path) -> None:
    broker = broker_of(mosquitto)
    mine, other = uid("a"), uid("a")
    col = Collected()
    async with (
        collector(broker, col, uid("col"), agents=[mine]),
        agent(broker, mine, tmp_path / "m.sqlite") as (bm, pm),
        agent(broker, other, tmp_path / "o.sqlite") as (bo, po),
    ):
        for i in range(50):
            bm.submit(sample(i))
            bo.submit(sample(1000 + i))
        await col.wait_for(lambda: len(col.sample_ids()) >= 50, 10, "my agent's samples")
        assert await po.drain(10)  # the other agent's batches reached the broker too
        assert await pm.drain(10)
    assert_exactly_once(col, 50)
    assert {b.agent for b in col.batches} == {mine}
    assert {s.agent for s in col.statuses} == {mine}


async def test_collector_wrong_password_clear_error_and_retry(tmp_path: Path) -> None:
    svc = await asyncio.to_thread(services_transport.start_password_mosquitto, tmp_path / "mq", {"collector": "right"})
    records: list[logging.LogRecord] = []
    seen = asyncio.Event()

    class Catch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)
            seen.set()

    handler = Catch(level=logging.WARNING)
    sub_log = logging.getLogger("netmon.collector.subscriber")
    sub_log.addHandler(handler)
    try:
        broker = broker_of(svc, username="collector")
        ing = Ingestor(Collected(), None)
        task = asyncio.create_task(run_subscriber(broker, ing, client_id=uid("col"), password=Secret("nope")))
        async with asyncio.timeout(10):
            while len(records) < 3:  # keeps retrying, does not crash
                seen.clear()
                await seen.wait()
        assert not task.done()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    finally:
        sub_log.removeHandler(handler)
        svc.stop()
    text = "\n".join(r.getMessage() for r in records)
    assert "refused the connection" in text
    # MQTT 5: 134 "Bad user name or password" or, as Mosquitto answers, 135 "Not authorized"
    assert ("reason code 134" in text) or ("reason code 135" in text)
    assert "nope" not in text
    assert [r.levelno for r in records[:3]] == [logging.ERROR, logging.WARNING, logging.WARNING]
