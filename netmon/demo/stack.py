"""Stand-ins for the collector and agent processes, composed from the real parts.

The demo prefers ``netmon.collectord.run_collector`` and ``agent.service.run_agent``;
while a build lacks them, these compose the same real parts (store, engine, ingestor,
subscriber, web app, Prometheus exposition; poller, batcher, outbox, publisher) with the
same signature, so the demo and its tests run either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from agent import wire
from agent.outbox import Outbox
from agent.poller import Poller
from agent.publisher import Batcher, Publisher
from collector.engine import Engine
from collector.ingest import Ingestor
from collector.model import IngestCounters
from collector.store import SqliteStore
from collector.subscriber import run_subscriber
from collector.web import build_app
from config.loader import load_credentials, load_inventory
from config.settings import AgentSettings, CollectorSettings
from exporters.prometheus import SnapshotCollector, metrics_handler

log = logging.getLogger("netmon.demo.stack")


async def run_collector(
    settings: CollectorSettings, *, stop: asyncio.Event | None = None, ready: asyncio.Event | None = None
) -> None:
    """Store, engine, ingest, subscriber, web page, API and /metrics until ``stop``."""
    stop = stop or asyncio.Event()
    inv = load_inventory(settings.inventory)
    store = SqliteStore.open(settings.store.path, retention_days=settings.store.retention_days)
    ingestors: list[Ingestor] = []

    def counters() -> IngestCounters:  # the engine exists before its ingestor
        return ingestors[0].counters() if ingestors else IngestCounters()

    engine = Engine(inv, settings, store, ingest_counters=counters)
    ingestor = Ingestor(engine, store, prefix=settings.broker.topic_prefix)
    ingestors.append(ingestor)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(engine.snapshot, coverage_target=settings.objectives.coverage_target))
    app = build_app(
        engine,
        language=settings.http.language,
        extra_routes=[web.get("/metrics", metrics_handler(registry))],
        coverage_target=settings.objectives.coverage_target,
    )
    host, _, port = settings.http.listen.rpartition(":")
    web_runner = web.AppRunner(app, access_log=None)
    await web_runner.setup()
    try:
        await web.TCPSite(web_runner, host or "127.0.0.1", int(port)).start()
        sub_ready = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                engine.tick(time.time())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1.0):
                        await stop.wait()

        async with asyncio.TaskGroup() as tg:
            sub = tg.create_task(
                run_subscriber(settings.broker, ingestor, client_id=settings.collector_id, ready=sub_ready),
                name="demo.collector.subscriber",
            )
            tick = tg.create_task(ticker(), name="demo.collector.tick")
            await sub_ready.wait()
            if ready is not None:
                ready.set()
            await stop.wait()
            sub.cancel()
            tick.cancel()
    finally:
        await web_runner.cleanup()
        engine.close()


async def run_agent(
    settings: AgentSettings, *, stop: asyncio.Event | None = None, ready: asyncio.Event | None = None
) -> None:
    """Poller, batcher, outbox and publisher of one agent until ``stop``."""
    stop = stop or asyncio.Event()
    creds = load_credentials(settings.credentials) if settings.credentials else None
    inv = load_inventory(settings.inventory, creds)
    scope = settings.scope
    devices = [
        d
        for d_id, d in inv.index.devices.items()
        if d_id in scope.devices
        or ((p := inv.index.placement[d_id]).district is not None and p.district.code in scope.districts)
        or (p.commune is not None and p.commune.code in scope.communes)
    ]
    outbox = Outbox(settings.outbox.path, settings.outbox, settings.agent_id)
    publisher = Publisher(
        settings.broker,
        settings.agent_id,
        outbox,
        settings.outbox,
        birth=lambda: wire.AgentStatus(
            v=wire.SCHEMA_VERSION,
            agent=settings.agent_id,
            state="online",
            ts=time.time(),
            devices=len(devices),
            interval_s=settings.poll.interval_s,
        ),
    )
    batcher = Batcher(outbox, settings.poll, on_batch=publisher.wake)
    poller = Poller(
        devices,
        creds.snmp if creds else {},
        settings.poll,
        batcher,
        policy=settings.security,
        secrets_dir=Path(settings.credentials).parent if settings.credentials else None,
    )
    try:
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(publisher.run(), name=f"demo.agent[{settings.agent_id}].publisher"),
                tg.create_task(batcher.run(), name=f"demo.agent[{settings.agent_id}].batcher"),
                tg.create_task(poller.run(), name=f"demo.agent[{settings.agent_id}].poller"),
            ]
            if ready is not None:
                ready.set()
            await stop.wait()
            batcher.flush()
            await publisher.drain(2.0)
            await publisher.say_offline()
            publisher.stop()
            for t in tasks:
                t.cancel()
    finally:
        poller.close()
        outbox.close()
