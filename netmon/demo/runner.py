"""The ``netmon demo`` runner: simulator, broker, agents and collector in one process.

Order of start: the simulated devices (so the agents' first polls find them), the
scenario's plan and ground truth, the MQTT broker (``--broker URL``, else one already
answering on localhost:1883, else an embedded ``amqtt``), a small TCP relay in front of
the broker for every agent the scenario silences, the collector, one agent per district.
Then the scenario plays and a one-line summary is printed until ``--duration`` is over
or SIGINT/SIGTERM arrives; everything stops through one ``stop`` event.

Reachability in the demo comes from SNMP: the simulated devices share the loopback
interface, so ICMP to them would always be answered. The demo's inventory sets every
device's probes to ``snmp``, and says so when it starts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from netmon.config import geography
from netmon.config.inventory import Inventory, Probe
from netmon.config.loader import load_inventory
from netmon.config.settings import (
    AgentSettings,
    BrokerSettings,
    CollectorSettings,
    HttpSettings,
    LogSettings,
    OutboxSettings,
    PollSettings,
    Scope,
    StateSettings,
    StoreSettings,
)
from netmon.demo import recording, scenario, simulator, truth

log = logging.getLogger("netmon.demo")

#: The credentials profile every simulated device uses (v2c, inline community).
DEMO_PROFILE = "demo"
DEMO_COMMUNITY = "netmon-demo"
DEFAULT_INVENTORY = "quang-ngai-{edition}.yaml"


class DemoError(Exception):
    """The demo cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class DemoOptions:
    """What ``netmon demo`` was asked to do (the CLI's options, typed)."""

    inventory: str | None = None
    edition: geography.Edition = "2021"
    scale: str = "province"
    scenario: str | None = None
    seed: int = 1
    broker: str | None = None
    http: str = "127.0.0.1:8080"
    interval_s: float = 5.0
    duration_s: float | None = None
    workdir: str | None = None
    truth: str | None = None
    time_scale: float | None = None
    snmp_port: int | None = None
    summary_every_s: float | None = None
    districts_per_agent: int | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> DemoOptions:
        """From the parsed command line."""
        return cls(
            inventory=args.inventory,
            edition=args.edition,
            scale=args.scale,
            scenario=args.scenario,
            seed=args.seed,
            broker=args.broker,
            http=args.http,
            interval_s=args.interval,
            duration_s=args.duration,
            workdir=args.workdir,
            truth=args.truth,
            time_scale=getattr(args, "time_scale", None),
            snmp_port=getattr(args, "snmp_port", None),
            districts_per_agent=getattr(args, "districts_per_agent", None),
        )


# --- the simulated inventory --------------------------------------------------------


def simulated(raw: dict[str, Any]) -> dict[str, Any]:
    """An inventory document re-addressed for the simulator: loopback addresses
    (127.1.x.y on), the demo's SNMP profile, SNMP as the only probe."""
    n = 0

    def fix(devices: list[dict[str, Any]]) -> None:
        nonlocal n
        for d in devices:
            d["address"] = geography.loopback_address(d["id"], n)
            d["snmp"] = DEMO_PROFILE
            d["probes"] = [Probe.SNMP.value]
            d.pop("tcp_port", None)
            n += 1

    fix(raw.get("devices", []))
    for dist in raw.get("districts", []):
        fix(dist.get("devices", []))
        for c in dist.get("communes", []):
            fix(c.get("devices", []))
    for c in raw.get("communes", []):
        fix(c.get("devices", []))
    return raw


def build_inventory(opts: DemoOptions) -> dict[str, Any]:
    """The inventory document the demo simulates.

    Raises:
        DemoError: The inventory file cannot be read or is invalid.
    """
    if opts.scale == "national":
        return simulated(geography.generate(geography.NATIONAL_CODE, opts.edition, snmp_profile=DEMO_PROFILE))
    path = opts.inventory or str(Path(geography.__file__).parent / DEFAULT_INVENTORY.format(edition=opts.edition))
    try:
        load_inventory(path)  # the strict loader, for its file:line errors
        with open(path, encoding="utf-8") as fh:
            raw = yaml.safe_load(fh)
    except Exception as exc:
        raise DemoError(f"cannot use inventory {path}: {exc}") from None
    return simulated(raw)


def agent_inventory(raw: dict[str, Any], scope: Scope) -> dict[str, Any]:
    """The part of the inventory an agent needs: the province-level devices (every
    chain's top) and the units of its scope, so that a national demo's agents do not
    each parse the whole country."""
    out: dict[str, Any] = {k: raw[k] for k in ("edition", "province") if k in raw}
    out["devices"] = raw.get("devices", [])
    want_d, want_c = set(scope.districts), set(scope.communes)
    out["districts"] = [d for d in raw.get("districts", []) if d["code"] in want_d]
    out["communes"] = [c for c in raw.get("communes", []) if c["code"] in want_c]
    return out


def credentials_doc(port: int) -> dict[str, Any]:
    """The demo's credentials file: one v2c profile with an inline community."""
    return {
        "snmp": {
            DEMO_PROFILE: {
                "version": "2c",
                "community": {"value": DEMO_COMMUNITY},
                "port": port,
                "timeout_s": 1.0,
                "retries": 1,
            }
        }
    }


#: libyaml's dumper when present: the national inventory takes 17 s in pure Python, 1 s in C.
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(path: Path, doc: dict[str, Any], header: str) -> None:
    path.write_text(
        f"# {header}\n" + yaml.dump(doc, allow_unicode=True, sort_keys=False, width=120, Dumper=_DUMPER),
        encoding="utf-8",
    )


# --- the broker and the relays -------------------------------------------------------


async def _answers(host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(0.5):
            _, writer = await asyncio.open_connection(host, port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


class EmbeddedBroker:
    """An ``amqtt`` broker inside the demo's event loop (MQTT 3.1.1, anonymous, loopback)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._broker: Any = None

    async def start(self) -> None:
        """Listen; port 0 picks a free one."""
        from amqtt.broker import Broker

        if self.port == 0:
            self.port = _free_tcp_port(self.host)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}", "max_connections": 5000}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._broker = Broker(config)
        await self._broker.start()
        # amqtt is chatty about every connection and, at shutdown, about messages for
        # subscribers that already left; the demo's own output says what matters.
        for name in ("amqtt", "transitions"):
            logging.getLogger(name).setLevel(logging.ERROR)

    async def close(self) -> None:
        """Stop the broker."""
        if self._broker is not None:
            with contextlib.suppress(Exception):
                await self._broker.shutdown()
            self._broker = None


def _free_tcp_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class Relay:
    """A TCP relay between one agent and the broker, which the scenario can cut: the
    agent sees its connection drop and reconnects fail, as when a district's line to
    the provincial centre goes down, while its polls go on into its outbox."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = 0
        self.cut = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            writer.close()
            return
        try:
            async with asyncio.timeout(5):
                up_r, up_w = await asyncio.open_connection(*self.upstream)
        except (OSError, TimeoutError):
            writer.close()
            return
        self._writers |= {writer, up_w}
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._pipe(reader, up_w), name="demo.relay.up")
                tg.create_task(self._pipe(up_r, writer), name="demo.relay.down")
        except* (OSError, ConnectionError):
            pass
        finally:
            for w in (writer, up_w):
                self._writers.discard(w)
                w.close()

    @staticmethod
    async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while data := await src.read(65536):
                dst.write(data)
                await dst.drain()
        finally:
            dst.close()

    def set_cut(self, cut: bool) -> None:
        """Cut (close every connection, refuse new ones) or restore the relay."""
        self.cut = cut
        if cut:
            for w in list(self._writers):
                w.close()

    async def close(self) -> None:
        """Stop listening and close every connection."""
        self.set_cut(True)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()


# --- the scenario player --------------------------------------------------------------


async def play(
    plan: scenario.Plan,
    sim: simulator.Simulator,
    relays: Mapping[str, Relay],
    stop: asyncio.Event,
    *,
    clock: Callable[[], float] = time.time,
) -> None:
    """Apply the plan's actions at their times, until the plan or ``stop`` ends."""
    for a in plan.actions:
        delay = a.t - clock()
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()
        if stop.is_set():
            return
        apply(a, sim, relays)


def apply(a: scenario.Action, sim: simulator.Simulator, relays: Mapping[str, Relay]) -> None:
    """Apply one action to the simulator or an agent's relay."""
    if a.op in ("agent_down", "agent_up"):
        relay = relays.get(a.target)
        if relay is not None:
            relay.set_cut(a.op == "agent_down")
        log.info("scenario %s agent=%s", a.op, a.target)
        return
    dev = sim.devices.get(a.target)
    if dev is None:
        return
    if a.op == "hold":
        dev.hold(a.reason)
    elif a.op == "release":
        dev.release(a.reason, now=a.t, reboot=a.reboot)
    elif a.op == "degrade":
        dev.latency_s, dev.loss = a.latency_s, a.loss
    else:
        dev.latency_s, dev.loss = 0.0, 0.0
    log.debug("scenario %s device=%s reason=%s", a.op, a.target, a.reason)


# --- the collector and the agents -------------------------------------------------------

Runner = Callable[..., Coroutine[Any, Any, Any]]


# --- the run --------------------------------------------------------------------------


@dataclass
class Demo:
    """A running demo's parts, for the summary and for tests."""

    opts: DemoOptions
    workdir: Path
    inventory: Inventory
    sim: simulator.Simulator
    plan: scenario.Plan
    truth: truth.Truth
    broker_url: str = ""
    broker_kind: str = ""
    relays: dict[str, Relay] = field(default_factory=dict)
    started: float = 0.0
    t_cmd: float = 0.0
    out: TextIO = sys.stdout
    raw: dict[str, Any] = field(default_factory=dict)
    scopes: Mapping[str, Scope] = field(default_factory=dict)
    inv_path: Path = Path()
    cred_path: Path = Path()
    truth_path: Path = Path()


def _print(out: TextIO, text: str) -> None:
    out.write(text + "\n")
    out.flush()


async def _summary(demo: Demo, stop: asyncio.Event, out: TextIO, every: float) -> None:
    """Print a one-line summary from the collector's API every ``every`` seconds."""
    import aiohttp

    url = f"http://{demo.opts.http}/api/v1/overview"
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every):
                    await stop.wait()
            if stop.is_set():
                return
            now = time.time()
            try:
                async with asyncio.timeout(5):
                    resp = await session.get(url)
                    doc = await resp.json()
                line = summary_line(doc, demo, now)
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as exc:
                line = f"[{now - demo.started:6.0f}s] collector not answering yet ({type(exc).__name__})"
            _print(out, line)


def summary_line(overview: Mapping[str, Any], demo: Demo, now: float) -> str:
    """The live one-line summary from the API's overview document."""
    prov = overview["province"]["counts"]
    by = prov["by_state"]
    connected, total = demo.truth.coverage(now)
    return (
        f"[{now - demo.started:6.0f}s] communes {prov['communes']}: connected {prov['connected']}, "
        f"down {by.get('down', 0)}, unreachable {by.get('unreachable', 0)}, unknown {by.get('unknown', 0)}, "
        f"maintenance {by.get('maintenance', 0)} | coverage {100 * prov['coverage_ratio']:.1f}% "
        f"(truth {100 * connected / max(total, 1):.1f}%) | snmp requests {demo.sim.stats.requests}"
    )


async def run_demo(
    opts: DemoOptions,
    *,
    stop: asyncio.Event | None = None,
    ready: asyncio.Event | None = None,
    out: TextIO = sys.stdout,
) -> int:
    """Run the demo until ``opts.duration_s`` passes or ``stop`` is set.

    Raises:
        DemoError: Something it needs cannot start (message says what to do).
    """
    stop = stop or asyncio.Event()
    t_cmd = time.time()
    tmp = None
    if opts.workdir is None:
        tmp = tempfile.mkdtemp(prefix="netmon-demo-")
    workdir = Path(opts.workdir or tmp or ".")
    workdir.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, before anything runs
    try:
        return await _run(opts, workdir, stop, ready, out=out, t_cmd=t_cmd)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


async def _run(
    opts: DemoOptions, workdir: Path, stop: asyncio.Event, ready: asyncio.Event | None, *, out: TextIO, t_cmd: float
) -> int:
    raw = build_inventory(opts)
    inv = Inventory.model_validate(raw)
    inv_path = workdir / "inventory.yaml"
    cred_path = workdir / "credentials.yaml"
    port = opts.snmp_port or (161 if hasattr(os, "geteuid") and os.geteuid() == 0 else 16161)
    _dump(inv_path, raw, "netmon demo: the simulated inventory (loopback addresses, SNMP only)")
    _dump(cred_path, credentials_doc(port), "netmon demo: credentials of the simulated devices")

    per_agent = opts.districts_per_agent or (12 if opts.scale == "national" else 1)
    scopes = scenario.agent_scopes(inv, districts_per_agent=per_agent)
    sc = scenario.load(opts.scenario)
    specs = [
        simulator.DeviceSpec(d.id, d.address, recording.load(recording.ROLE_RECORDING[d.role.value]), d.parent)
        for d in inv.index.devices.values()
    ]
    sim = simulator.Simulator(specs, community=DEMO_COMMUNITY, port=port, seed=opts.seed)
    try:
        await sim.start()
    except simulator.SimulatorError as exc:
        raise DemoError(str(exc)) from None
    try:
        start = time.time()
        plan = scenario.plan(
            sc, inv, seed=opts.seed, start=start, horizon_s=opts.duration_s, time_scale=opts.time_scale, agents=scopes
        )
        end = None if opts.duration_s is None else start + opts.duration_s
        gt = truth.compute(plan, inv, interval_s=opts.interval_s, end=end)
        truth_path = Path(opts.truth) if opts.truth else workdir / "truth.json"
        gt.write(truth_path)
        demo = Demo(
            opts,
            workdir,
            inv,
            sim,
            plan,
            gt,
            started=start,
            t_cmd=t_cmd,
            out=out,
            raw=raw,
            scopes=scopes,
            inv_path=inv_path,
            cred_path=cred_path,
            truth_path=truth_path,
        )
        for note in plan.notes:
            log.warning("scenario %s: %s", sc.name, note)
        return await _serve(demo, stop, ready)
    finally:
        sim.close()


async def _serve(demo: Demo, stop: asyncio.Event, ready: asyncio.Event | None) -> int:
    opts = demo.opts
    from netmon.agent.service import run_agent
    from netmon.collectord import run_collector

    embedded: EmbeddedBroker | None = None
    if opts.broker and opts.broker != "embedded":
        broker = BrokerSettings(url=opts.broker)
        demo.broker_kind = "given"
    elif opts.broker != "embedded" and await _answers("127.0.0.1", 1883):
        broker = BrokerSettings(url="mqtt://127.0.0.1:1883")
        demo.broker_kind = "already running on localhost:1883"
    else:
        embedded = EmbeddedBroker()
        await embedded.start()
        broker = BrokerSettings(url=f"mqtt://127.0.0.1:{embedded.port}", protocol="3.1.1")
        demo.broker_kind = "embedded amqtt"
    demo.broker_url = broker.url
    try:
        silenced = {a.target for a in demo.plan.actions if a.op == "agent_down"}
        for agent_id in silenced:
            relay = Relay(broker.host, broker.port)
            await relay.start()
            demo.relays[agent_id] = relay
        return await _run_parts(demo, broker, run_collector, run_agent, stop=stop, ready=ready)
    finally:
        for relay in demo.relays.values():
            await relay.close()
        if embedded is not None:
            await embedded.close()


async def _run_parts(
    demo: Demo,
    broker: BrokerSettings,
    run_collector: Runner,
    run_agent: Runner,
    *,
    stop: asyncio.Event,
    ready: asyncio.Event | None,
) -> int:
    opts, out, t_cmd, truth_path = demo.opts, demo.out, demo.t_cmd, demo.truth_path
    inv_path, cred_path = demo.inv_path, demo.cred_path
    interval = opts.interval_s
    log_settings = LogSettings(level="WARNING")
    collector_settings = CollectorSettings(
        collector_id="demo-collector",
        inventory=str(inv_path),
        broker=broker,
        agents=dict(demo.scopes),  # each agent speaks only for the devices it polls
        store=StoreSettings(path=str(demo.workdir / "netmon.sqlite")),
        # Demo intervals are seconds, not minutes: a failed poll's timeouts and the batch
        # delay are a larger share of them, so allow five silent intervals, not three.
        state=StateSettings(
            default_interval_s=interval, stale_after_intervals=5.0, reorder_window_s=max(600.0, 60 * interval)
        ),
        maintenance=tuple(demo.plan.maintenance),
        http=HttpSettings(listen=opts.http),  # the product's language: Vietnamese
        credentials=str(cred_path),
        log=log_settings,
    )
    poll = PollSettings(
        interval_s=interval,
        timeout_s=min(1.0, max(0.25, interval * 0.3)),
        retries=1,
        icmp_mode="off",
        concurrency=256,
        batch_max_delay_s=min(2.0, max(0.2, interval / 4)),
    )
    agents: dict[str, AgentSettings] = {}
    for agent_id, scope in demo.scopes.items():
        path = demo.workdir / f"inventory-{agent_id}.yaml"
        _dump(path, agent_inventory(demo.raw, scope), f"netmon demo: the part of the inventory {agent_id} polls")
        relay = demo.relays.get(agent_id)
        agent_broker = broker if relay is None else broker.model_copy(update={"url": f"mqtt://127.0.0.1:{relay.port}"})
        agents[agent_id] = AgentSettings(
            agent_id=agent_id,
            inventory=str(path),
            credentials=str(cred_path),
            scope=scope,
            broker=agent_broker,
            poll=poll,
            outbox=OutboxSettings(path=str(demo.workdir / f"outbox-{agent_id}.sqlite")),
            log=log_settings,
        )

    collector_ready = asyncio.Event()
    agent_ready = {a: asyncio.Event() for a in agents}
    inner_stop = asyncio.Event()
    _print(out, f"netmon demo: scenario '{demo.plan.scenario}' (seed {demo.plan.seed}), {_size(demo.inventory)}")
    _print(out, "  reachability comes from SNMP: every simulated device shares the loopback interface, so ICMP is off")
    _print(out, f"  simulated devices: {len(demo.sim.devices)} SNMP v2c responders on 127.1.x.y:{demo.sim.port}")
    _print(out, f"  MQTT broker: {demo.broker_url} ({demo.broker_kind})")
    _print(out, f"  agents: {len(agents)}; work directory: {demo.workdir}; ground truth: {truth_path}")

    async def watch_stop() -> None:
        deadline = None if opts.duration_s is None else demo.started + opts.duration_s
        if deadline is None:
            await stop.wait()
        else:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, deadline - time.time())):
                    await stop.wait()
        # Devices fall silent first, so no answer arrives at a poller that is closing.
        demo.sim.close()
        inner_stop.set()

    async def announce() -> None:
        await collector_ready.wait()
        for ev in agent_ready.values():
            await ev.wait()
        base = f"http://{opts.http}"
        _print(out, f"  ready in {time.time() - t_cmd:.1f} s:")
        _print(out, f"    status page  {base}/")
        _print(out, f"    metrics      {base}/metrics")
        _print(out, f"    API          {base}/api/v1/overview  (OpenAPI: {base}/api/v1/openapi.json)")
        _print(
            out, "  Ctrl-C stops everything." if opts.duration_s is None else f"  stopping after {opts.duration_s:g} s."
        )
        if ready is not None:
            ready.set()

    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    every = demo.opts.summary_every_s or max(2.0, min(interval, 10.0))
    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(watch_stop(), name="demo.stop")
            tg.create_task(
                run_collector(collector_settings, stop=inner_stop, ready=collector_ready), name="demo.collector"
            )
            await collector_ready.wait()
            for agent_id, settings in agents.items():
                tg.create_task(
                    run_agent(settings, stop=inner_stop, ready=agent_ready[agent_id]), name=f"demo.agent[{agent_id}]"
                )
            tg.create_task(play(demo.plan, demo.sim, demo.relays, inner_stop), name="demo.scenario")
            tg.create_task(announce(), name="demo.announce")
            tg.create_task(_summary(demo, inner_stop, out, every), name="demo.summary")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        end = time.time()
        final = truth.compute(demo.plan, demo.inventory, interval_s=interval, end=end)
        final.write(truth_path)
        _print(out, f"netmon demo: stopped after {end - demo.started:.0f} s; ground truth in {truth_path}")
    return 0


def _size(inv: Inventory) -> str:
    idx = inv.index
    return (
        f"{inv.province.name}: {len(idx.districts)} districts, {len(idx.communes)} communes, {len(idx.devices)} devices"
    )


def cli_main(args: argparse.Namespace) -> int:
    """``netmon demo``: parse options, run, map errors to exit codes."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # The demo narrates on stdout; the parts' own logs show warnings and errors only.
    logging.getLogger("netmon.demo").setLevel(logging.INFO)
    # amqtt warns at shutdown about messages to subscribers that already left: noise here.
    for name in ("amqtt", "transitions"):
        logging.getLogger(name).setLevel(logging.ERROR)
    opts = DemoOptions.from_args(args)
    try:
        return asyncio.run(run_demo(opts))
    except (DemoError, scenario.ScenarioError) as exc:
        print(f"netmon demo: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
