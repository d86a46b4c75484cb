"""The agent process: ``netmon agent -c FILE [--once] [--jsonl FILE]``.

One :class:`~contextlib.AsyncExitStack` of resources (outbox, poller, metrics) and one
:class:`asyncio.TaskGroup` of named tasks (poller, batcher, publisher, reloader). The
poller submits to the batcher, which writes to the durable outbox; the publisher drains
the outbox to the broker. Nothing the broker does can block polling.

Signals (installed by :func:`cli_main` only; :func:`run_agent` is also used in-process by
the demo, which runs several agents in one loop and owns the signals):

- SIGTERM / SIGINT: stop polling, cut the last batch into the outbox, try to deliver for
  :data:`SHUTDOWN_GRACE_S`, publish the retained ``offline`` status, close. What is not
  delivered stays in the outbox for the next start.
- SIGHUP: reload the inventory and credentials; the poller keeps its state (counters,
  schedule) for devices that remain. A broken file is refused and logged; the old
  configuration keeps running.

With a ``traps`` section the agent also listens for SNMP notifications on
``traps.listen`` (UDP, 10162 by default: no privilege needed) and probes the devices a
genuine linkDown/linkUp/coldStart/warmStart names at once (:mod:`netmon.agent.traps`,
:mod:`netmon.agent.trap_polls`); a port it cannot bind is a configuration error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.metadata
import logging
import signal
import sys
import time
from collections.abc import Callable, Iterator

from netmon.agent import wire
from netmon.agent.outbox import Outbox, OutboxError
from netmon.agent.poller import Poller, PollerConfigError
from netmon.agent.publisher import Batcher, Publisher
from netmon.agent.sink import JsonlSink, SampleSink
from netmon.agent.trap_polls import TrapPolls
from netmon.agent.traps import TrapReceiver, TrapValidator, local_engine, senders_by_address
from netmon.config.addresses import parse_listen
from netmon.config.check import startup_problems
from netmon.config.credentials import Credentials
from netmon.config.errors import ConfigError, Problem
from netmon.config.inventory import Device, Inventory
from netmon.config.loader import load_agent_settings, load_credentials, load_inventory
from netmon.config.logsetup import register_secret, setup_logging
from netmon.config.secrets import Secret
from netmon.config.settings import AgentSettings, Scope

log = logging.getLogger(__name__)

#: How long a stopping agent keeps trying to deliver its outbox before it closes.
SHUTDOWN_GRACE_S = 5.0
#: How long ``--once`` waits for the broker to take the round.
ONCE_DELIVERY_S = 30.0


def _version() -> str:
    try:
        return importlib.metadata.version("netmon")
    except importlib.metadata.PackageNotFoundError:
        return ""


def select_devices(inv: Inventory, scope: Scope) -> list[Device]:
    """The devices an agent polls: those in any of the scope's districts, communes or
    device ids; an empty scope means the whole inventory. Inventory order is kept."""
    return scope.select(inv.index)


def scope_text(scope: Scope) -> str:
    """A short description of the scope for the birth message (``all`` when empty)."""
    parts = [f"{k}={','.join(v)}" for k, v in scope.model_dump().items() if v]
    return ";".join(parts)[:200] or "all"


def mqtt_login(settings: AgentSettings, creds: Credentials | None) -> tuple[str | None, Secret | None]:
    """Username and resolved password for the broker.

    ``broker.credential`` names a login in the credentials file; otherwise
    ``broker.username``/``broker.password`` are used. Relative ``{file: ...}`` secrets
    are taken relative to the credentials file.

    Raises:
        ConfigError: The named login does not exist, or its secret cannot be read.
    """
    broker = settings.broker
    src = settings.credentials or "settings"
    try:
        if broker.credential is not None:
            if creds is None or broker.credential not in creds.mqtt:
                raise ConfigError([Problem(src, None, "broker.credential", f"no MQTT login {broker.credential!r}")])
            login = creds.mqtt[broker.credential]
            return login.username, login.password.resolve()
        return broker.username, broker.password.resolve() if broker.password is not None else None
    except ValueError as exc:
        raise ConfigError([Problem(src, None, "broker.password", str(exc))]) from None


def build_poller(
    settings: AgentSettings,
    creds: Credentials | None,
    devices: list[Device],
    sink: SampleSink,
    on_urgent: Callable[[], None] | None = None,
) -> Poller:
    """The poller of these settings; relative secret files are taken next to the credentials file."""
    return Poller(
        devices,
        creds.snmp if creds else {},
        settings.poll,
        sink,
        policy=settings.security,
        on_urgent=on_urgent,
    )


async def listen_for_traps(
    settings: AgentSettings, poller: Poller, stack: contextlib.AsyncExitStack
) -> tuple[TrapValidator, TrapPolls] | None:
    """Bind the trap receiver when the settings ask for it (closed with ``stack``).

    Raises:
        ConfigError: The address cannot be bound (in use, not local, privileged port).
    """
    traps = settings.traps
    if traps is None:
        return None
    host, _, port = traps.listen.rpartition(":")
    host = host.strip("[]")
    engine = local_engine(settings.agent_id, traps.engine_id, time.time(), time.monotonic())
    validator = TrapValidator(engine, await senders_by_address(poller.senders()))
    trap_polls = TrapPolls(poller, traps)
    receiver = TrapReceiver(validator, trap_polls.offer, poller.stats)
    try:
        transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
            lambda: receiver, local_addr=(host, int(port))
        )
    except OSError as exc:
        raise ConfigError(
            [Problem("settings", None, "traps.listen", f"cannot listen on {traps.listen}: {exc}")]
        ) from None
    stack.callback(transport.close)
    log.info(
        "agent=%s listening for traps on %s engine_id=%s senders=%d",
        settings.agent_id,
        traps.listen,
        engine.engine_id.hex(),
        len(poller.senders()),
    )
    return validator, trap_polls


def _load(settings: AgentSettings) -> tuple[Credentials | None, list[Device]]:
    creds = load_credentials(settings.credentials) if settings.credentials else None
    inv = load_inventory(settings.inventory, creds)
    return creds, select_devices(inv, settings.scope)


async def run_agent(
    settings: AgentSettings,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    reload: asyncio.Event | None = None,
    once: bool = False,
) -> bool:
    """Run one agent until ``stop`` is set (or, with ``once``, for one round).

    Args:
        settings: The agent's settings (paths already absolute or relative to the cwd).
        stop: Set to stop cleanly (flush, deliver for a grace period, say offline).
        ready: Set once polling and publishing are running (not waiting for the broker:
            an agent works, into its outbox, without one).
        reload: Set to reload inventory and credentials (SIGHUP); cleared when done.
        once: Poll every device once, deliver, and return.

    Returns:
        Whether the outbox was empty when the agent stopped (everything delivered).

    Raises:
        ConfigError: Inventory, credentials or the MQTT login are broken.
        PollerConfigError: A device's SNMP profile is missing or refused by the policy.
        OutboxError: The outbox file cannot be opened.
    """
    stop = stop or asyncio.Event()
    agent_id = settings.agent_id
    creds, devices = _load(settings)
    username, password = mqtt_login(settings, creds)
    if password is not None:
        register_secret(password)
    scope = scope_text(settings.scope)
    async with contextlib.AsyncExitStack() as stack:
        outbox = Outbox(settings.outbox.path, settings.outbox, agent_id)
        stack.callback(outbox.close)
        publisher = Publisher(
            settings.broker,
            agent_id,
            outbox,
            settings.outbox,
            username=username,
            password=password,
            birth=lambda: wire.AgentStatus(
                v=wire.SCHEMA_VERSION,
                agent=agent_id,
                state="online",
                ts=time.time(),
                version=_version(),
                devices=len(poller.devices),
                interval_s=settings.poll.interval_s,
                scope=scope,
            ),
        )
        batcher = Batcher(outbox, settings.poll, on_batch=publisher.wake)
        poller = build_poller(settings, creds, devices, batcher, on_urgent=batcher.flush)
        stack.callback(poller.close)
        trapping = None if once else await listen_for_traps(settings, poller, stack)
        if settings.metrics_listen:
            _serve_metrics(
                settings.metrics_listen,
                agent_id=agent_id,
                poller=poller,
                outbox=outbox,
                publisher=publisher,
                batcher=batcher,
            )
        log.info(
            "agent=%s starting devices=%d scope=%s broker=%s:%d outbox_depth=%d",
            agent_id,
            len(devices),
            scope,
            settings.broker.host,
            settings.broker.port,
            outbox.stats().depth,
        )

        async def reloader() -> None:
            while reload is not None:
                await reload.wait()
                reload.clear()
                try:
                    new_creds, new_devices = _load(settings)
                    poller.reload(new_devices, new_creds.snmp if new_creds else {})
                except (ConfigError, PollerConfigError) as exc:
                    log.error("agent=%s reload refused, keeping the running configuration: %s", agent_id, exc)
                    continue
                if trapping is not None:
                    trapping[0].update(await senders_by_address(poller.senders()))
                log.info("agent=%s reloaded devices=%d", agent_id, len(new_devices))

        async with asyncio.TaskGroup() as tg:
            background = [
                tg.create_task(publisher.run(), name=f"agent[{agent_id}].publisher"),
                tg.create_task(batcher.run(), name=f"agent[{agent_id}].batcher"),
                tg.create_task(reloader(), name=f"agent[{agent_id}].reloader"),
            ]
            if trapping is not None:
                background.append(tg.create_task(trapping[1].run(), name=f"agent[{agent_id}].trap-polls"))
            if once:
                if ready is not None:
                    ready.set()
                await poller.poll_all_once()
                batcher.flush()
                delivered = await publisher.drain(ONCE_DELIVERY_S)
            else:
                poll_task = tg.create_task(poller.run(), name=f"agent[{agent_id}].poller")
                if ready is not None:
                    ready.set()
                await stop.wait()
                log.info("agent=%s stopping: flushing and delivering for up to %.0fs", agent_id, SHUTDOWN_GRACE_S)
                poll_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poll_task
                batcher.flush()
                delivered = await publisher.drain(SHUTDOWN_GRACE_S)
            await publisher.say_offline()
            publisher.stop()
            for task in background:
                task.cancel()
        left = outbox.stats()
        log.info("agent=%s stopped delivered_all=%s outbox_depth=%d", agent_id, delivered, left.depth)
        return delivered


def _serve_metrics(
    listen: str, *, agent_id: str, poller: Poller, outbox: Outbox, publisher: Publisher, batcher: Batcher
) -> None:
    """Expose the agent's self-metrics (polling, outbox, publisher) on ``listen``."""
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.core import Metric
    from prometheus_client.registry import Collector

    from netmon.agent import selfmetrics

    class TransportCollector(Collector):
        def collect(self) -> Iterator[Metric]:
            sources = {"outbox": outbox.stats(), "publisher": publisher.stats, "batcher": batcher}
            return selfmetrics.TABLE.stat_families(sources, agent_id)

    registry = CollectorRegistry()
    selfmetrics.register(poller.stats, registry, agent_id)
    registry.register(TransportCollector())
    addr = parse_listen(listen)
    start_http_server(addr.port, addr=addr.host, registry=registry)


def cli_main(args: argparse.Namespace) -> int:
    """``netmon agent``: 0 on a clean stop, 1 when ``--once`` could not deliver, 2 on a configuration error
    (every problem ``netmon check-config`` would report, at once)."""
    problems = startup_problems(args.config, "agent")
    if problems:
        print(ConfigError(problems), file=sys.stderr)
        return 2
    try:
        settings = load_agent_settings(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    setup_logging(settings.log)
    if getattr(args, "jsonl", None):
        return _jsonl_main(settings, args.jsonl, once=bool(args.once))

    async def main() -> bool:
        loop = asyncio.get_running_loop()
        stop, reload = asyncio.Event(), asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, reload.set)
        return await run_agent(settings, stop=stop, reload=reload, once=bool(args.once))

    try:
        delivered = asyncio.run(main())
    except (ConfigError, PollerConfigError, OutboxError) as exc:
        print(f"netmon agent: {exc}", file=sys.stderr)
        return 2
    return 0 if delivered or not args.once else 1


def _jsonl_main(settings: AgentSettings, target: str, *, once: bool) -> int:
    """Poll and write samples as JSON lines (no broker, no outbox)."""

    async def main() -> None:
        creds, devices = _load(settings)
        sink = JsonlSink(sys.stdout if target == "-" else target)
        poller = build_poller(settings, creds, devices, sink)
        try:
            if once:
                await poller.poll_all_once()
                return
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            async with asyncio.TaskGroup() as tg:
                task = tg.create_task(poller.run(), name=f"agent[{settings.agent_id}].poller")
                await stop.wait()
                task.cancel()
        finally:
            poller.close()
            sink.close()

    try:
        asyncio.run(main())
    except (ConfigError, PollerConfigError) as exc:
        print(f"netmon agent: {exc}", file=sys.stderr)
        return 2
    return 0
