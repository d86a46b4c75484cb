"""Restart detection from uptime readings (agent.uptime): the 497-day rollover, frozen
and drifting uptimes, and the order of the readings. Table-driven and property-based."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from netmon.agent.uptime import (
    TIMETICKS_MOD,
    Anomaly,
    Source,
    UptimeReading,
    check_engine,
    check_ticks,
    judge,
)

U32 = TIMETICKS_MOD
DAY_497 = (U32 - 1) // 100  # seconds of uptime TimeTicks can hold


@pytest.mark.parametrize(
    ("prev_cs", "cur_cs", "elapsed", "rebooted", "rolled", "anomaly"),
    [
        (None, 100, 60.0, False, False, None),  # first poll
        (6000, 12000, 60.0, False, False, None),  # normal
        (U32 - 3000, 3000, 60.0, False, True, None),  # the 497-day rollover
        (U32 - 3000, 500, 60.0, True, False, None),  # dropped, but not by the elapsed time: restarted 5 s ago
        (360_000, 1_000, 60.0, True, False, None),  # went back to 10 s: restarted
        (360_000, 366_000 + 400, 60.0, False, False, None),  # 4 s off over 60 s: within the slack
        (360_000, 366_000 + 1_000, 60.0, False, False, Anomaly.DRIFT),  # 10 s off: drifting, not a restart
        (100_000, 100_000, 60.0, False, False, Anomaly.FROZEN),  # did not move: frozen, not a restart
        (100_000, 101_000, 600.0, False, False, Anomaly.DRIFT),  # crawled 10 s in 600 s, but 1010 s > 600 s
        (100_000, 400_000, 60.0, False, False, Anomaly.DRIFT),  # ran ahead of our clock
        (10_000_000, 500_000, 60.0, False, False, Anomaly.DRIFT),  # back, yet older than the interval
        (100_000, 40_000, 600.0, True, False, None),  # 400 s up after 600 s: restarted in between
        (0, 0, 60.0, False, False, Anomaly.FROZEN),  # stuck at zero is frozen too
    ],
)
def test_ticks_table(  # noqa: PLR0917 - one parameter per table column
    prev_cs: int | None, cur_cs: int, elapsed: float, rebooted: bool, rolled: bool, anomaly: Anomaly | None
) -> None:
    up = check_ticks(prev_cs, cur_cs, elapsed)
    assert (up.rebooted, up.rolled_over, up.anomaly) == (rebooted, rolled, anomaly)


@given(prev_s=st.integers(0, DAY_497), elapsed=st.integers(1, 86_400), jitter=st.integers(-400, 400))
def test_uptime_advancing_with_the_clock_is_never_a_restart(prev_s: int, elapsed: int, jitter: int) -> None:
    prev_cs = prev_s * 100
    jitter = max(jitter, -elapsed * 100)  # a few seconds of timer drift, never backwards
    cur_cs = (prev_cs + elapsed * 100 + jitter) % U32
    up = check_ticks(prev_cs, cur_cs, float(elapsed))
    assert not up.rebooted
    assert up.anomaly is None
    # The 497-day rollover (2^32 centiseconds) is seen as such, not as a restart.
    assert up.rolled_over == (prev_cs + elapsed * 100 + jitter >= U32)


@given(prev_cs=st.integers(0, U32 - 1), elapsed=st.floats(0.5, 86_400, allow_nan=False), polls=st.integers(2, 50))
def test_a_frozen_uptime_is_never_a_restart_however_often_it_is_polled(
    prev_cs: int, elapsed: float, polls: int
) -> None:
    for _ in range(polls):
        up = check_ticks(prev_cs, prev_cs, elapsed)
        assert not up.rebooted
        assert up.anomaly is (None if elapsed <= 5.0 else Anomaly.FROZEN)


@given(prev_s=st.integers(0, DAY_497), elapsed=st.integers(1, 86_400), ran_s=st.integers(0, 86_400))
def test_a_restart_in_the_interval_is_seen(prev_s: int, elapsed: int, ran_s: int) -> None:
    """The device restarted during the interval and has been up ran_s < elapsed seconds."""
    ran_s = min(ran_s, elapsed)
    slack = max(5.0, 0.05 * elapsed)
    advanced = ((ran_s - prev_s) * 100 % U32) / 100
    # Indistinguishable from no restart: the reading is where it would be anyway
    # (a rollover due in this interval, or the restart was moments after the last poll).
    assume(abs(advanced - elapsed) > slack)
    assume(prev_s != ran_s)
    up = check_ticks(prev_s * 100, ran_s * 100, float(elapsed))
    assert up.rebooted
    assert up.uptime_s == ran_s


@given(
    prev_cs=st.integers(0, U32 - 1),
    cur_cs=st.integers(0, U32 - 1),
    elapsed=st.floats(0.01, 10**7, allow_nan=False),
)
def test_a_restart_always_means_an_uptime_shorter_than_the_interval(prev_cs: int, cur_cs: int, elapsed: float) -> None:
    """Whatever the readings, "restarted" is said only when the uptime now is short enough
    for the restart to have happened since the last poll."""
    up = check_ticks(prev_cs, cur_cs, elapsed)
    if up.rebooted:
        assert cur_cs / 100 <= elapsed + max(5.0, 0.05 * elapsed)
    assert not (up.rebooted and up.anomaly)


@pytest.mark.parametrize(
    ("prev", "cur", "elapsed", "rebooted", "anomaly"),
    [
        ((3, 1000), (3, 1060), 60.0, False, None),
        ((3, 1000), (4, 20), 60.0, True, None),  # more boots: restarted
        ((3, 1000), (1, 20), 60.0, True, None),  # fewer boots: a reset engine, a restart all the same
        ((3, 1000), (3, 1000), 60.0, False, Anomaly.FROZEN),
        ((3, 1000), (3, 5), 60.0, False, Anomaly.ENGINE_TIME),  # same boots, time back: not a restart
    ],
)
def test_engine_table(
    prev: tuple[int, int], cur: tuple[int, int], elapsed: float, rebooted: bool, anomaly: Anomaly | None
) -> None:
    up = check_engine(*prev, *cur, elapsed)
    assert (up.rebooted, up.anomaly, up.source) == (rebooted, anomaly, Source.ENGINE)


def test_the_best_reading_both_polls_have_decides() -> None:
    # The SNMP agent restarted (sysUpTime 5 s) but the host did not: not a device restart.
    prev = UptimeReading(sys_uptime_cs=500_000, hr_uptime_cs=9_000_000, engine_boots=4, engine_time=5000)
    agent_restart = UptimeReading(sys_uptime_cs=500, hr_uptime_cs=9_006_000, engine_boots=5, engine_time=5)
    up = judge(prev, agent_restart, 60.0)
    assert (up.rebooted, up.source) == (False, Source.HR_SYSTEM_UPTIME)
    # Without hrSystemUptime, the engine's boots say it restarted.
    no_hr = UptimeReading(sys_uptime_cs=500, engine_boots=5, engine_time=5)
    up = judge(UptimeReading(sys_uptime_cs=500_000, engine_boots=4, engine_time=5000), no_hr, 60.0)
    assert (up.rebooted, up.source, up.uptime_s) == (True, Source.ENGINE, 5.0)
    # sysUpTime wrapped, but the engine says the same boots: no restart.
    wrapped = judge(
        UptimeReading(sys_uptime_cs=U32 - 1000, engine_boots=4, engine_time=5000),
        UptimeReading(sys_uptime_cs=5000, engine_boots=4, engine_time=5060),
        60.0,
    )
    assert (wrapped.rebooted, wrapped.source) == (False, Source.ENGINE)
    # Only sysUpTime on one side: it decides.
    only_sys = judge(UptimeReading(sys_uptime_cs=500_000, hr_uptime_cs=1), UptimeReading(sys_uptime_cs=300), 60.0)
    assert (only_sys.rebooted, only_sys.source) == (True, Source.SYS_UPTIME)
    assert judge(None, UptimeReading(sys_uptime_cs=1), 60.0).source is None
