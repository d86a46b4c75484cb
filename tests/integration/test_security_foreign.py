"""Agent B cannot close agent A's outage: the collector binds each device to its agents' scopes.

The broker runs the shipped Mosquitto configuration (TLS with client certificates,
passwords, the ACL): agent d535 may publish only under its own id, and it does. What it
publishes there is ``ok: true`` for a commune of district 522, which agent d522 polls and
sees down. The collector (the real subscriber, ingestor, engine and SQLite store) has the
declared ``agents:`` map: the forged sample is dropped and counted, the outage stays open,
and d535's samples for its own devices are applied. Both agents are the real agent path
(outbox → publisher).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from netmon.agent import wire
from netmon.agent.outbox import Outbox
from netmon.collector.binding import Binding
from netmon.collector.engine import Engine
from netmon.collector.ingest import Ingestor
from netmon.collector.model import State
from netmon.collector.store import SqliteStore
from netmon.collector.subscriber import run_subscriber
from netmon.config.loader import load_inventory
from netmon.config.secrets import Secret
from netmon.config.settings import BrokerSettings, CollectorSettings, Scope
from tests import services
from tests.services_security import Pki, client_broker_settings, make_pki, running_agent, start_secure_mosquitto

ROOT = Path(__file__).resolve().parents[2]
USERS = {"d522": "pw-agent-d522-x7", "d535": "pw-agent-d535-q2", "collector": "pw-collector-z9"}
AGENTS = {"d522": Scope(districts=("522",), devices=("p51-core",)), "d535": Scope(districts=("535",))}
VICTIM = "c21010-cpe1"  # a commune of district 522
TIMEOUT = 15.0


@dataclass
class Broker:
    svc: services.Service
    pki: Pki

    def settings(self, user: str) -> BrokerSettings:
        return client_broker_settings(self.pki, self.svc.port, user)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    pki = make_pki(tmp_path / "pki", tuple(USERS))
    svc = start_secure_mosquitto(tmp_path / "mosquitto", USERS, pki)
    yield Broker(svc, pki)
    svc.stop()


@contextlib.asynccontextmanager
async def agent(broker: Broker, name: str, workdir: Path) -> AsyncIterator[Outbox]:
    """A real agent's outbox and publisher, logged in as ``name``; yields the outbox."""
    path = workdir / f"outbox-{name}.sqlite"
    async with running_agent(broker.settings(name), name, USERS[name], path, drain_s=TIMEOUT) as (outbox, _):
        yield outbox


class Clock:
    """The engine's clock: the time, plus what the test moves it on by."""

    def __init__(self) -> None:
        self.ahead = 0.0

    def __call__(self) -> float:
        return time.time() + self.ahead


def state_of(engine: Engine, clock: Clock, device: str) -> State:
    """The device's state now (the snapshot is rebuilt at most once a second: move on by two)."""
    clock.ahead += 2
    return engine.snapshot().devices[device].state


def sample(device: str, ts: float, *, ok: bool) -> wire.Sample:
    return wire.Sample(device=device, probe="icmp", ts=ts, ok=ok, loss=0.0 if ok else 1.0)


async def test_another_agent_cannot_close_an_outage_it_does_not_watch(broker: Broker, tmp_path: Path) -> None:
    inv = load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")
    store = SqliteStore.open(tmp_path / "netmon.sqlite")
    settings = CollectorSettings(inventory="x", agents=AGENTS)
    clock = Clock()
    engine = Engine(inv, settings, store, clock=clock)
    ingest = Ingestor(engine, store, binding=Binding.build(AGENTS, inv.index))
    applied: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    ingest.listeners.append(lambda b: applied.put_nowait((b.agent, b.seq)))
    ready = asyncio.Event()
    sub = asyncio.create_task(
        run_subscriber(
            broker.settings("collector"),
            ingest,
            client_id="collector-1",
            password=Secret(USERS["collector"]),
            ready=ready,
        ),
        name="collector.subscriber",
    )
    try:
        async with asyncio.timeout(TIMEOUT):
            await ready.wait()
        now = time.time()
        async with agent(broker, "d522", tmp_path) as d522:
            # the CPE answers once, then fails round after round; the core and the district router answer
            for age, ok in ((240, True), (180, False), (120, False), (60, False), (1, False)):
                ts = now - age
                d522.append(
                    [sample("p51-core", ts, ok=True), sample("d522-r1", ts, ok=True), sample(VICTIM, ts, ok=ok)]
                )
        async with asyncio.timeout(TIMEOUT):
            assert [(await applied.get())[0] for _ in range(5)] == ["d522"] * 5
        assert state_of(engine, clock, VICTIM) is State.DOWN
        (outage,) = store.reader.outages(now - 3600, now + 3600, device=VICTIM)
        assert outage.end is None

        async with agent(broker, "d535", tmp_path) as d535:
            # on its own topic (the ACL allows it), for its own router and for d522's CPE
            d535.append([sample("d535-r1", now, ok=True), sample(VICTIM, now, ok=True)])
        async with asyncio.timeout(TIMEOUT):
            assert (await applied.get())[0] == "d535"

        assert state_of(engine, clock, "d535-r1") is State.UP  # d535's own device was applied
        assert state_of(engine, clock, VICTIM) is State.DOWN  # the outage d522 sees stays open
        (outage,) = store.reader.outages(now - 3600, now + 3600, device=VICTIM)
        assert outage.end is None
        assert ingest.counters().rejected_samples["foreign_device"] == 1
        (letter,) = store.dead_letters(5)
        assert (letter.topic, letter.reason) == (wire.samples_topic("d535"), "foreign_device")
        assert VICTIM in letter.detail
    finally:
        sub.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sub
        engine.close()
