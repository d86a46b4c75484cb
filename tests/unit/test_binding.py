"""An agent may only speak for the devices of its declared scope (the collector's ``agents:`` map)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netmon.agent import wire
from netmon.collector.binding import Binding
from netmon.collector.engine import Engine
from netmon.collector.ingest import Ingestor
from netmon.collector.model import State
from netmon.collector.store import SqliteStore
from netmon.config.inventory import Inventory
from netmon.config.loader import load_inventory
from netmon.config.settings import CollectorSettings, Scope

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_800_000_000.0
AGENTS = {
    "d522": Scope(districts=("522",), devices=("p51-core",)),
    "d524": Scope(districts=("524",)),
    "c21040": Scope(communes=("21040",)),
}


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(ROOT / "config" / "quang-ngai-2021.yaml")


def sample(device: str, ts: float = NOW - 5, *, ok: bool = True) -> wire.Sample:
    return wire.Sample(device=device, probe="icmp", ts=ts, ok=ok)


@pytest.mark.parametrize(
    ("agent", "device", "allowed"),
    [
        ("d522", "c21010-cpe1", True),  # a commune of its district
        ("d522", "d522-r1", True),  # its district's router
        ("d522", "p51-core", True),  # named in its scope's devices
        ("d524", "c21010-cpe1", False),  # another district's commune
        ("d524", "p51-core", False),
        ("c21040", "c21040-cpe1", True),  # a commune scope
        ("c21040", "d524-r1", False),  # the district router above it is not in it
        ("d524", "c21040-cpe1", True),  # two agents may share a device
        ("d524", "not-in-the-inventory", True),  # left to the engine (an unknown device)
        ("stranger", "c21010-cpe1", False),  # an agent not in the map speaks for nothing
    ],
)
def test_split_keeps_only_the_devices_of_the_agents_scope(
    inventory: Inventory, agent: str, device: str, allowed: bool
) -> None:
    split = Binding.build(AGENTS, inventory.index).split(agent, [sample(device)])
    assert ([s.device for s in split.kept], split.foreign) == (([device], []) if allowed else ([], [device]))


def test_an_empty_scope_speaks_for_every_device(inventory: Inventory) -> None:
    binding = Binding.build({"all": Scope()}, inventory.index)
    assert binding.devices_of["all"] == frozenset(inventory.index.devices)
    assert binding.unbound() == []


def test_unbound_and_shared_devices_are_listed(inventory: Inventory) -> None:
    binding = Binding.build(AGENTS, inventory.index)
    unbound = binding.unbound()
    assert "c21010-cpe1" not in unbound
    assert "d525-r1" in unbound  # no agent declared for district 525
    assert binding.shared() == {"c21040-cpe1": ["c21040", "d524"]}


def rig(inventory: Inventory) -> tuple[Engine, Ingestor, SqliteStore]:
    store = SqliteStore.open(":memory:")
    settings = CollectorSettings(inventory="x", agents=AGENTS)
    engine = Engine(inventory, settings, store, clock=lambda: NOW)
    ingest = Ingestor(engine, store, clock=lambda: NOW, binding=Binding.build(AGENTS, inventory.index))
    return engine, ingest, store


def test_a_foreign_sample_is_dropped_counted_and_kept_as_a_dead_letter(inventory: Inventory) -> None:
    engine, ingest, store = rig(inventory)
    # d524 (its login is good, its topic its own) says a commune of district 522 is up
    forged = wire.SampleBatch(
        v=1, agent="d524", seq=1, sent_at=NOW, samples=[sample("c21010-cpe1"), sample("c21040-cpe1")]
    )
    assert ingest.handle(wire.samples_topic("d524"), wire.encode(forged))
    snap = engine.snapshot()
    assert snap.devices["c21010-cpe1"].state is State.UNKNOWN  # not applied
    assert snap.devices["c21040-cpe1"].state is State.UP  # its own device is
    c = ingest.counters()
    assert (c.batches, c.samples, c.invalid) == (1, 1, {})
    assert c.rejected_samples == {"value": 0, "schema": 0, "foreign_device": 1}
    (letter,) = store.dead_letters(5)
    assert letter.reason == "foreign_device"
    assert "c21010-cpe1" in letter.detail
    assert store.is_duplicate("d524", 1)  # the batch itself was applied


def test_an_agent_not_in_the_map_is_refused_before_decoding(inventory: Inventory) -> None:
    engine, ingest, _ = rig(inventory)
    stranger = wire.SampleBatch(v=1, agent="stranger", seq=1, sent_at=NOW, samples=[sample("c21010-cpe1")])
    ingest.handle(wire.samples_topic("stranger"), wire.encode(stranger))
    ingest.handle(wire.status_topic("stranger"), b"not even json")
    assert ingest.counters().invalid == {"unknown_agent": 2}
    assert engine.snapshot().devices["c21010-cpe1"].state is State.UNKNOWN
    assert "stranger" not in engine.snapshot().agents
