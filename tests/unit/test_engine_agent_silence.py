"""An agent's connection comes and goes (last wills dated at its connect time, backlogs
sent behind live data): a commune's state always agrees with its access device's."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.model import State
from netmon.config.loader import load_inventory
from netmon.config.settings import CollectorSettings
from tests.unit.test_config import CONFIG

T0 = 1_800_000_000.0
INVENTORY = load_inventory(CONFIG / "quang-ngai-2021.yaml")
DISTRICT = INVENTORY.districts[0]
DEVICES = [d.id for d in DISTRICT.devices] + [c.devices[0].id for c in DISTRICT.communes]


def _run(seed: int) -> Engine:
    rng = random.Random(seed)
    clock = [T0]
    engine = Engine(
        INVENTORY,
        CollectorSettings(inventory="-", state={"down_after": 2, "default_interval_s": 10}),
        None,
        clock=lambda: clock[0],
    )
    t, seq, connected, connect_ts = T0, 0, True, T0
    outbox: list[wire.SampleBatch] = []
    will: tuple[float, float] | None = None  # (the will's own time, when the broker sends it)

    def status(state: str, ts: float) -> None:
        engine.agent_status(wire.AgentStatus(v=1, agent="a", state=state, ts=ts), t)  # type: ignore[arg-type]

    for _ in range(rng.randint(20, 80)):
        t += rng.choice([1, 2, 5, 10])
        clock[0] = t
        op = rng.random()
        if op < 0.5:  # a poll round
            seq += 1
            samples = [wire.Sample(device=d, probe="snmp", ts=t, ok=rng.random() > 0.1) for d in DEVICES]
            batch = wire.SampleBatch(v=1, agent="a", seq=seq, sent_at=t, samples=samples)
            if connected:
                engine.apply_batch(batch, t)
            else:
                outbox.append(batch)
        elif op < 0.6 and connected:  # the link drops; the broker sends the will later
            connected = False
            will = (connect_ts if rng.random() < 0.5 else t, t + rng.choice([0, 15, 45]))
        elif op < 0.75 and not connected:  # back: (a late will,) birth, live first, backlog
            connected, connect_ts = True, t
            if will is not None and rng.random() < 0.8:
                status("offline", will[0])
            will = None
            status("online", t)
            if outbox and rng.random() < 0.7:
                outbox = [outbox[-1], *outbox[:-1]]
            for batch in outbox:
                engine.apply_batch(batch, t)
            outbox = []
        else:
            if will is not None and t >= will[1]:
                status("offline", will[0])
                will = None
            engine.tick(t)
    engine.tick(t)
    return engine


@settings(max_examples=80, deadline=None)
@given(st.integers(min_value=0, max_value=2**32))
def test_commune_state_follows_its_access_device(seed: int) -> None:
    snap = _run(seed).snapshot()
    for commune in DISTRICT.communes:
        device = snap.devices[commune.devices[0].id]
        assert snap.communes[commune.code].state == device.state, (commune.code, seed)


def test_a_will_dated_before_the_last_sample_does_not_erase_the_up_that_sample_made() -> None:
    clock = [T0]
    engine = Engine(INVENTORY, CollectorSettings(inventory="-"), None, clock=lambda: clock[0])
    dev = DISTRICT.communes[0].devices[0].id
    engine.apply_batch(
        wire.SampleBatch(
            v=1, agent="a", seq=1, sent_at=T0, samples=[wire.Sample(device=dev, probe="snmp", ts=T0 + 13, ok=True)]
        ),
        T0 + 13,
    )
    clock[0] = T0 + 28
    engine.agent_status(wire.AgentStatus(v=1, agent="a", state="offline", ts=T0), T0 + 28)  # dated at connect
    assert engine.snapshot().communes[DISTRICT.communes[0].code].state is State.UNKNOWN
    clock[0] = T0 + 31
    engine.apply_batch(
        wire.SampleBatch(
            v=1, agent="a", seq=2, sent_at=T0 + 31, samples=[wire.Sample(device=dev, probe="snmp", ts=T0 + 31, ok=True)]
        ),
        T0 + 31,
    )
    snap = engine.snapshot()
    assert snap.devices[dev].state is State.UP
    assert snap.communes[DISTRICT.communes[0].code].state is State.UP
