"""The collector process: store, engine, ingest, subscriber, web page, API, /metrics, InfluxDB.

One ``AsyncExitStack`` of resources and one ``TaskGroup`` of named tasks. SIGHUP reloads
the inventory without losing state; SIGTERM and SIGINT stop cleanly (the store is closed
after the last batch was applied, and the InfluxDB buffer is flushed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import signal
import sys
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CollectorRegistry

from netmon.collector.archive import ArchiveReader
from netmon.collector.binding import Binding
from netmon.collector.engine import Engine
from netmon.collector.ingest import Ingestor
from netmon.collector.model import IngestCounters
from netmon.collector.store import SqliteStore, StoreError
from netmon.collector.subscriber import run_subscriber
from netmon.collector.web import build_app
from netmon.config.addresses import parse_listen
from netmon.config.check import startup_problems
from netmon.config.credentials import Credentials
from netmon.config.errors import ConfigError
from netmon.config.inventory import Inventory
from netmon.config.loader import load_collector_settings, load_credentials, load_inventory
from netmon.config.logsetup import register_secret, setup_logging
from netmon.config.secrets import Secret
from netmon.config.settings import CollectorSettings
from netmon.exporters.prometheus import SnapshotCollector, metrics_handler
from netmon.exporters.report_service import ArchivedReportService, ReportSettings

log = logging.getLogger("netmon.collector")

#: How often the engine ticks (staleness, maintenance, availability windows).
TICK_S = 1.0


def freeze_long_lived() -> None:
    """Move what exists now out of the cyclic garbage collector's reach.

    Called once the engine has loaded (and after an inventory reload): the inventory, the
    devices' records and 31 days of timelines are hundreds of thousands of objects at
    national scale that live as long as the process, and a full collection that walks them
    all stalls the event loop for up to 150 ms (measured in ``bench/bench_ingest.py``).
    Reference counting still frees them when they go.
    """
    gc.collect()
    gc.freeze()


def split_listen(listen: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` → ``("127.0.0.1", 8080)``; ``"[::1]:8080"`` works too."""
    addr = parse_listen(listen)
    return addr.host, addr.port


def _load(settings: CollectorSettings) -> tuple[Inventory, Credentials | None]:
    creds = load_credentials(settings.credentials) if settings.credentials else None
    return load_inventory(settings.inventory, creds), creds


def _subscribed(settings: CollectorSettings) -> list[str] | None:
    """The agents whose topics this collector subscribes to: its partition if it has one,
    else the declared ``agents:`` map's (the broker then delivers nothing of any other
    login to it), else every agent (None)."""
    if settings.partition:
        return list(settings.partition)
    return sorted(settings.agents) if settings.agents else None


def _binding(settings: CollectorSettings, inventory: Inventory) -> Binding | None:
    """The declared ``agents:`` map bound to the inventory; None (with a warning) when none is declared."""
    if settings.agents is None:
        log.warning(
            "no agents map in the collector settings: any agent may speak for any device "
            "(declare `agents:` with each agent's scope; see netmon check-config --security-report)"
        )
        return None
    binding = Binding.build(settings.agents, inventory.index)
    unbound = binding.unbound()
    if unbound:
        log.warning(
            "%d devices are in no declared agent's scope, their samples will be dropped: %s%s",
            len(unbound),
            ", ".join(unbound[:10]),
            ", ..." if len(unbound) > 10 else "",
        )
    return binding


def _broker_password(settings: CollectorSettings, creds: Credentials | None) -> tuple[str | None, Secret | None]:
    if settings.broker.credential is not None and creds is not None:
        cred = creds.mqtt[settings.broker.credential]
        return cred.username, cred.password.resolve()
    if settings.broker.password is not None:
        return settings.broker.username, settings.broker.password.resolve()
    return settings.broker.username, None


async def run_collector(
    settings: CollectorSettings,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    http_listen: str | None = None,
    on_started: Callable[[str], Awaitable[None] | None] | None = None,
) -> None:
    """Run the collector until ``stop`` is set (or forever).

    Args:
        settings: The collector's settings (paths already resolved by the loader).
        stop: Set to stop cleanly.
        ready: Set once the web server listens and the subscriber is connected.
        http_listen: Override of ``settings.http.listen`` (the demo picks a port).
        on_started: Called with the base URL once the web server listens.

    Raises:
        ConfigError: The inventory or credentials have problems.
        StoreError: The store cannot be opened (corrupt, read-only, full disk).
    """
    stop = stop or asyncio.Event()
    inventory, creds = _load(settings)
    username, password = _broker_password(settings, creds)
    broker = settings.broker if username is None else settings.broker.model_copy(update={"username": username})
    token = settings.http.token.resolve() if settings.http.token else None
    for secret in (password, token):
        if secret is not None:
            register_secret(secret)  # no log line, ours or a library's, may show it

    async with contextlib.AsyncExitStack() as stack:
        store = SqliteStore.open(
            settings.store.path,
            retention_days=settings.store.retention_days,
            dead_letter_max=settings.store.dead_letter_max,
            dead_letter_max_bytes=settings.store.dead_letter_max_bytes,
        )
        ingestors: list[Ingestor] = []

        def counters() -> IngestCounters:  # the engine exists before its ingestor
            return ingestors[0].counters() if ingestors else IngestCounters()

        try:
            engine = Engine(inventory, settings, store, ingest_counters=counters)
        except BaseException:
            store.close()
            raise
        stack.callback(engine.close)  # saves every device's state, then closes the store
        freeze_long_lived()
        ingestor = Ingestor(engine, store, prefix=settings.broker.topic_prefix, binding=_binding(settings, inventory))
        ingestors.append(ingestor)

        influx = None
        if settings.influx is not None:
            from netmon.exporters.influx import InfluxWriter

            itoken = settings.influx.token.resolve() if settings.influx.token else None
            if itoken is not None:
                register_secret(itoken)
            influx = InfluxWriter(settings.influx, inventory, itoken)
            ingestor.listeners.append(influx.offer)

        archive = ArchiveReader(inventory, settings, settings.store.path)
        archive.start()
        stack.callback(archive.close)
        registry = CollectorRegistry(auto_describe=False)
        snap_collector = SnapshotCollector(engine.snapshot, coverage_target=settings.objectives.coverage_target)
        registry.register(snap_collector)
        if influx is not None:
            from netmon.exporters.influx import WriterCollector

            registry.register(WriterCollector(influx))
        app = build_app(
            engine,
            token=token,
            language=settings.http.language,
            # the snapshot is taken on the loop (the engine is not thread-safe), rendered in a thread
            extra_routes=[web.get("/metrics", metrics_handler(registry, prepare=[snap_collector]))],
            coverage_target=settings.objectives.coverage_target,
            archive=archive,
            report_maker=ArchivedReportService(
                archive,
                ReportSettings(
                    poll_interval_s=settings.state.default_interval_s,
                    availability_target=settings.objectives.availability_target,
                    coverage_target=settings.objectives.coverage_target,
                ),
            ),
        )
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        host, port = split_listen(http_listen or settings.http.listen)
        site = web.TCPSite(runner, host, port)
        await site.start()
        base_url = f"http://{host}:{port}"
        log.info("collector listening", extra={"url": base_url, "collector": settings.collector_id})
        if on_started is not None:
            res = on_started(base_url)
            if res is not None:
                await res

        loop = asyncio.get_running_loop()

        def reload() -> None:
            try:
                new_inventory, _ = _load(settings)
            except ConfigError as exc:
                log.error("inventory reload refused, keeping the current one:\n%s", exc)
                return
            engine.reload(new_inventory)
            archive.reload(new_inventory)
            freeze_long_lived()
            ingestor.binding = _binding(settings, new_inventory)
            log.info("inventory reloaded", extra={"devices": len(new_inventory.index.devices)})

        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGHUP, reload)
            stack.callback(loop.remove_signal_handler, signal.SIGHUP)

        subscribed = asyncio.Event()

        async def ticker() -> None:
            while not stop.is_set():
                engine.tick(time.time())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), TICK_S)

        async def announce_ready() -> None:
            await subscribed.wait()
            if ready is not None:
                ready.set()

        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(
                    run_subscriber(
                        broker,
                        ingestor,
                        client_id=settings.collector_id,
                        password=password,
                        ready=subscribed,
                        agents=_subscribed(settings),
                    ),
                    name="collector.subscriber",
                ),
                tg.create_task(ticker(), name="collector.tick"),
                tg.create_task(announce_ready(), name="collector.ready"),
            ]
            if influx is not None:
                tasks.append(tg.create_task(influx.run(), name="collector.influx"))
            await stop.wait()
            for task in tasks:
                task.cancel()
        if influx is not None:
            await influx.flush()
        engine.tick(time.time())
        log.info("collector stopped", extra={"collector": settings.collector_id})


def cli_main(args: argparse.Namespace) -> int:
    """``netmon collector -c FILE``: refuses to start, with every problem, when ``netmon
    check-config`` would not say ok."""
    problems = startup_problems(args.config, "collector")
    if problems:
        print(ConfigError(problems), file=sys.stderr)
        return 2
    try:
        settings = load_collector_settings(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    setup_logging(settings.log)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_collector(settings, stop=stop)

    try:
        asyncio.run(main())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"netmon collector: {exc}", file=sys.stderr)
        return 3
    return 0
