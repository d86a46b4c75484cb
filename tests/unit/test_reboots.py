"""Reboots as facts: dated when the device came back, recorded once (a redelivered batch, a
second agent, a collector restart), judged against the device's states, kept in the store
and counted in the snapshot."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.model import State
from netmon.collector.reboots import SAME_REBOOT_S, UptimeReading, already_known, came_back_at, counted_as
from netmon.collector.store import Commit, SqliteStore, StoreReader
from tests.unit.test_engine import IV, T0, collector_settings, small_inventory

# --------------------------------------------------------------------------- dating


@pytest.mark.parametrize(
    ("ts", "uptime", "previous", "expected"),
    [
        # The sample's time minus its uptime: the device came back 40 s before.
        (1000.0, 40.0, UptimeReading(940.0, 0.0), 960.0),
        (1000.0, 40.0, None, 960.0),
        # An uptime older than the previous reading (which saw the older boot): kept after it.
        (1000.0, 100.0, UptimeReading(960.0, 0.0), 960.0),
        # The previous reading was of this boot already (another agent read it first): no bound.
        (1000.0, 44.0, UptimeReading(980.0, 955.0), 956.0),
        # A negative uptime (a broken agent) is no reboot in the future.
        (1000.0, -5.0, None, 1000.0),
        # No uptime: the middle of what is known, or the sample itself.
        (1000.0, None, UptimeReading(940.0, 0.0), 970.0),
        (1000.0, None, None, 1000.0),
        # A previous reading after the sample bounds nothing.
        (1000.0, 40.0, UptimeReading(1010.0, 0.0), 960.0),
    ],
)
def test_a_reboot_is_dated_when_the_device_came_back(
    ts: float, uptime: float | None, previous: UptimeReading | None, expected: float
) -> None:
    assert came_back_at(ts, uptime, previous) == expected


@given(
    prev_at=st.floats(0, 10_000),
    prev_uptime=st.floats(0, 10_000),
    elapsed=st.floats(0.001, 10_000),
    uptime=st.none() | st.floats(-100, 20_000),
)
def test_a_reboot_after_an_older_boot_is_dated_between_the_two_readings(
    prev_at: float, prev_uptime: float, elapsed: float, uptime: float | None
) -> None:
    ts = prev_at + elapsed
    previous = UptimeReading.of(prev_at, prev_uptime)
    assert previous is not None
    at = came_back_at(ts, uptime, previous)
    assert at <= ts
    naive = ts if uptime is None else ts - uptime
    if previous.booted < naive - SAME_REBOOT_S:  # the previous reading saw an older boot
        assert at >= prev_at


def test_reboots_are_one_when_dated_within_the_tolerance() -> None:
    assert already_known([100.0, 500.0], 100.0 + SAME_REBOOT_S)
    assert already_known([100.0, 500.0], 500.0 - SAME_REBOOT_S)
    assert not already_known([100.0, 500.0], 100.0 + SAME_REBOOT_S + 1)
    assert not already_known([], 100.0)


UP, DOWN, UNR, UNK, MAINT = State.UP, State.DOWN, State.UNREACHABLE, State.UNKNOWN, State.MAINTENANCE


@pytest.mark.parametrize(
    ("timeline", "expected"),
    [
        ([(0.0, UP)], UP),  # up throughout: too short to be counted as an outage
        ([(0.0, UP), (950.0, DOWN), (1030.0, UP)], DOWN),  # part of an outage
        ([(0.0, UP), (900.0, DOWN), (990.0, UP)], DOWN),  # an outage that ended within a round of it
        ([(0.0, UP), (800.0, DOWN), (850.0, UP)], UP),  # an outage long before it: not this one
        ([(0.0, UNR), (1050.0, UP)], UNR),
        ([(0.0, UNK), (1020.0, UP)], UNK),  # nothing heard then
        ([(0.0, MAINT), (1020.0, UP)], MAINT),
        ([(0.0, UNK), (960.0, MAINT), (980.0, DOWN), (1020.0, UP)], DOWN),
        ([], UNK),
        ([(0.0, UP), (1060.0, DOWN)], UP),  # a later outage: not this one
    ],
)
def test_what_the_states_made_of_a_reboot(timeline: list[tuple[float, State]], expected: State) -> None:
    assert counted_as(timeline, 1000.0, 60.0) is expected


# --------------------------------------------------------------------------- the engine


def snmp(dev: str, t: float, booted: float, *, rebooted: bool = False, ok: bool = True) -> wire.Sample:
    if not ok:
        return wire.Sample(device=dev, probe="snmp", ts=t, ok=False, reason="timeout")
    return wire.Sample(device=dev, probe="snmp", ts=t, ok=True, sys_uptime_s=t - booted, rebooted=rebooted)


class Agent:
    """One agent's batches, numbered; sending one moves the engine's clock to its arrival."""

    def __init__(self, engine: Engine, name: str = "ag") -> None:
        self.engine, self.name, self.seq = engine, name, 0

    def batch(self, *samples: wire.Sample) -> wire.SampleBatch:
        self.seq += 1
        return wire.SampleBatch(v=1, agent=self.name, seq=self.seq, sent_at=samples[0].ts, samples=list(samples))

    def send(self, *samples: wire.Sample) -> wire.SampleBatch:
        b = self.batch(*samples)
        NOW[0] = max(NOW[0], samples[-1].ts + 1)
        self.engine.apply_batch(b, NOW[0])
        return b


def polls(agent: Agent, dev: str, rounds: range, booted: float, *, phase: float = 0.0) -> None:
    for k in rounds:
        agent.send(snmp(dev, T0 + k * IV + phase, booted))


#: The engines' clock.
NOW = [T0]


def engine(store: SqliteStore | None = None, **state: object) -> Engine:
    NOW[0] = T0 - 1
    return Engine(small_inventory(), collector_settings(**state), store, clock=lambda: NOW[0])


def test_a_short_reboot_is_recorded_once_and_counted_though_the_device_stays_up() -> None:
    e = engine(down_after=3)
    ag = Agent(e)
    polls(ag, "a", range(5), booted=T0 - 1000)
    # Off for one round (a short power cut): the next poll finds it up for 25 s.
    ag.send(snmp("a", T0 + 5 * IV, 0, ok=False))
    came_back = T0 + 6 * IV - 25
    batch = ag.send(snmp("a", T0 + 6 * IV, came_back, rebooted=True))
    polls(ag, "a", range(7, 9), booted=came_back)
    e.apply_batch(batch, T0 + 9 * IV)  # redelivered: the ledger drops it whole
    assert e.device_state("a").state is State.UP  # type: ignore[union-attr]
    (r,) = e.reboots(T0, T0 + 10 * IV)
    assert (r.device, r.ts, r.reported_at, r.agent, r.uptime_s) == ("a", came_back, T0 + 6 * IV, "ag", 25.0)
    assert r.counted_as is State.UP
    assert not r.outage
    snap = e.snapshot()
    assert snap.reboot_counts == {"a": 1}
    assert (snap.devices["a"].reboots, snap.devices["a"].last_reboot) == (1, came_back)
    assert snap.devices["b"].reboots == 0
    assert snap.devices["b"].last_reboot is None
    assert e.duplicates == 1


def test_a_reboot_seen_by_two_agents_is_one_reboot() -> None:
    e = engine()
    one, two = Agent(e, "one"), Agent(e, "two")
    for k in range(4):
        one.send(snmp("a", T0 + k * IV, T0 - 1000))
        two.send(snmp("a", T0 + k * IV + 30, T0 - 1000))
    came_back = T0 + 4 * IV - 10
    one.send(snmp("a", T0 + 4 * IV, came_back, rebooted=True))
    # The second agent's poll 30 s later reads the same boot, its clock 2 s off.
    two.send(snmp("a", T0 + 4 * IV + 30, came_back + 2, rebooted=True))
    assert [r.agent for r in e.reboots(T0, T0 + 10 * IV)] == ["one"]
    # A second reboot a few minutes later is another one, whoever reports it.
    again = T0 + 8 * IV - 5
    two.send(snmp("a", T0 + 8 * IV + 30, again, rebooted=True))
    one.send(snmp("a", T0 + 9 * IV, again, rebooted=True))
    assert [(r.agent, r.ts) for r in e.reboots(T0, T0 + 10 * IV)] == [("two", again), ("one", came_back)]
    assert e.snapshot().reboot_counts == {"a": 2}


def test_a_reboot_that_made_an_outage_says_so() -> None:
    e = engine(down_after=2)
    ag = Agent(e)
    polls(ag, "a", range(3), booted=T0 - 1000)
    for k in range(3, 8):  # off for five rounds: DOWN
        ag.send(snmp("a", T0 + k * IV, 0, ok=False))
    came_back = T0 + 8 * IV - 20
    ag.send(snmp("a", T0 + 8 * IV, came_back, rebooted=True))
    (r,) = e.reboots(T0, T0 + 10 * IV)
    assert r.counted_as is State.DOWN
    assert r.outage
    assert e.reboots(T0, T0 + 10 * IV, commune="00001") == [r]
    assert e.reboots(T0, T0 + 10 * IV, district="001") == [r]
    assert e.reboots(T0, T0 + 10 * IV, commune="00002") == []
    assert e.reboots(T0, T0 + 10 * IV, device="b") == []
    assert e.reboots(came_back + 1, T0 + 10 * IV) == []


def test_a_late_sample_s_reboot_is_recorded_and_dated_by_its_own_uptime() -> None:
    e = engine()
    ag = Agent(e)
    polls(ag, "a", range(5), booted=T0 - 1000)
    polls(ag, "a", range(6, 8), booted=T0 + 5 * IV - 30)
    # Round 5, delivered late: it saw the reboot first.
    ag.send(snmp("a", T0 + 5 * IV, T0 + 5 * IV - 30, rebooted=True))
    assert [r.ts for r in e.reboots(T0, T0 + 10 * IV)] == [T0 + 5 * IV - 30]


def test_reboots_survive_a_restart_and_are_not_counted_again(tmp_path: Path) -> None:
    path = tmp_path / "netmon.sqlite"
    e = engine(SqliteStore.open(path))
    one = Agent(e, "one")
    polls(one, "a", range(3), booted=T0 - 1000)
    came_back = T0 + 3 * IV - 10
    one.send(snmp("a", T0 + 3 * IV, came_back, rebooted=True))
    e.close()
    e2 = engine(SqliteStore.open(path))
    assert e2.snapshot().reboot_counts == {"a": 1}
    assert e2.snapshot().devices["a"].last_reboot == came_back
    # Another agent's report of the same reboot, from its outbox after the restart.
    two = Agent(e2, "two")
    two.send(snmp("a", T0 + 3 * IV + 20, came_back, rebooted=True))
    assert len(e2.reboots(T0, T0 + 10 * IV)) == 1
    assert e2.snapshot().reboot_counts == {"a": 1}
    e2.close()


class FailingStore(SqliteStore):
    """A real store whose next commit fails as on a full disk."""

    fail_next = False

    def commit(self, commit: Commit) -> None:
        if self.fail_next:
            self.fail_next = False
            raise sqlite3.OperationalError("database or disk is full")
        super().commit(commit)


def test_a_reboot_whose_batch_could_not_be_stored_is_recorded_by_its_redelivery(tmp_path: Path) -> None:
    store = FailingStore.open(tmp_path / "netmon.sqlite")
    assert isinstance(store, FailingStore)
    e = engine(store)
    ag = Agent(e)
    polls(ag, "a", range(3), booted=T0 - 1000)
    batch = ag.batch(snmp("a", T0 + 3 * IV, T0 + 3 * IV - 10, rebooted=True))
    store.fail_next = True
    with pytest.raises(sqlite3.OperationalError):
        e.apply_batch(batch, T0 + 3 * IV + 1)
    assert e.snapshot().reboot_counts == {}
    NOW[0] += 5
    e.apply_batch(batch, NOW[0])  # the broker redelivers it
    assert [r.ts for r in e.reboots(T0, T0 + 10 * IV)] == [T0 + 3 * IV - 10]
    assert e.snapshot().reboot_counts == {"a": 1}
    e.close()


def test_a_store_of_an_older_collector_opens_and_gains_the_reboots_table(tmp_path: Path) -> None:
    path = tmp_path / "netmon.sqlite"
    # A store as this collector's predecessor wrote it: the same schema without reboots.
    store = SqliteStore.open(path)
    store.commit(Commit(ledger=("ag", 1)))
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TABLE reboots")
    conn.close()
    reader = StoreReader.open(path, schema="1")  # ``netmon report`` reads it as it is
    assert reader.reboots(0, 1e10) == []
    assert reader.reboot_counts() == {}
    assert reader.reboot_times(0) == {}
    reader.close()
    e = engine(SqliteStore.open(path))  # the collector opens it: the table is added
    ag = Agent(e)
    ag.seq = 1  # its batch 1 was applied before
    polls(ag, "a", range(2), booted=T0 - 1000)
    ag.send(snmp("a", T0 + 2 * IV, T0 + 2 * IV - 5, rebooted=True))
    assert len(e.reboots(T0, T0 + 10 * IV)) == 1
    e.close()
