"""Did a device restart between two polls? Judged from its uptime readings (pure).

Three readings may say, best first:

1. ``hrSystemUptime`` (HOST-RESOURCES-MIB): how long the host has run. sysUpTime is only
   the SNMP agent's uptime, which restarts with the agent process, not the device.
2. ``snmpEngineBoots``/``snmpEngineTime`` (SNMP-FRAMEWORK-MIB, and the header of every
   authenticated SNMPv3 reply): boots count the engine's restarts, so a change is a
   restart whatever the clocks did.
3. ``sysUpTime``: TimeTicks, the agent's uptime in centiseconds.

The first reading both polls have decides. For the two TimeTicks readings (both are
modulo 2^32 centiseconds and roll over after ~497 days) the rule is:

* it advanced by the elapsed time, modulo 2^32 (within 5 s or 5 %): no restart, and a
  rollover if it went down;
* it did not move at all: the counter is frozen (a broken agent), not a restart;
* it is now shorter than the time since the last poll (plus the slack): the device
  restarted in between — the only way an uptime can be that short;
* anything else (it ran much slower or faster than our clock, or jumped back to a value
  older than the interval): an anomaly, reported, never a restart. Before this rule, a
  device whose sysUpTime stood still or crawled was "rebooted" at every poll.

Nothing here reads a clock: the caller passes the time elapsed between the readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

TIMETICKS_MOD = 1 << 32
#: Uptime may lag the wall clock by this much (timer drift, response delay) before the
#: difference means something.
UPTIME_SLACK_S = 5.0
UPTIME_SLACK_RATIO = 0.05


class Source(StrEnum):
    """Which reading decided."""

    HR_SYSTEM_UPTIME = "hrSystemUptime"
    ENGINE = "snmpEngineBoots"
    SYS_UPTIME = "sysUpTime"


class Anomaly(StrEnum):
    """An uptime that is not a restart and not normal either."""

    FROZEN = "frozen"
    DRIFT = "drift"
    ENGINE_TIME = "engine_time"


@dataclass(frozen=True, slots=True)
class UptimeReading:
    """What one poll read (None: not available)."""

    sys_uptime_cs: int | None = None
    hr_uptime_cs: int | None = None
    engine_boots: int | None = None
    engine_time: int | None = None


@dataclass(frozen=True, slots=True)
class UptimeCheck:
    """What the readings say happened between two polls.

    Attributes:
        rebooted: The device restarted in between.
        rolled_over: A TimeTicks reading wrapped at 2^32 (not a restart).
        source: The reading that decided ("" when none could).
        anomaly: Neither normal nor a restart (frozen or drifting uptime).
        uptime_s: The device's uptime now by that reading (when ``rebooted``: how long
            ago it came back).
    """

    rebooted: bool
    rolled_over: bool = False
    source: Source | None = None
    anomaly: Anomaly | None = None
    uptime_s: float | None = None


NOTHING = UptimeCheck(False)


def _slack(elapsed_s: float) -> float:
    return max(UPTIME_SLACK_S, UPTIME_SLACK_RATIO * elapsed_s)


def check_ticks(
    prev_cs: int | None, cur_cs: int | None, elapsed_s: float, source: Source = Source.SYS_UPTIME
) -> UptimeCheck:
    """Compare two TimeTicks uptimes taken ``elapsed_s`` apart by the agent's clock.

    Args:
        prev_cs: Previous reading (centiseconds), None on the first poll.
        cur_cs: Current reading (centiseconds), None when the device did not say.
        elapsed_s: Agent time between the two readings.
        source: Which reading these are.
    """
    if prev_cs is None or cur_cs is None or elapsed_s <= 0:
        return NOTHING
    slack = _slack(elapsed_s)
    cur_s = cur_cs / 100.0
    advanced_s = ((cur_cs - prev_cs) % TIMETICKS_MOD) / 100.0
    if abs(advanced_s - elapsed_s) <= slack:
        return UptimeCheck(False, rolled_over=cur_cs < prev_cs, source=source, uptime_s=cur_s)
    if cur_cs == prev_cs:
        return UptimeCheck(False, source=source, anomaly=Anomaly.FROZEN, uptime_s=cur_s)
    if cur_s <= elapsed_s + slack:
        return UptimeCheck(True, source=source, uptime_s=cur_s)
    return UptimeCheck(False, source=source, anomaly=Anomaly.DRIFT, uptime_s=cur_s)


def check_engine(
    prev_boots: int | None, prev_time: int | None, boots: int | None, engine_time: int | None, elapsed_s: float
) -> UptimeCheck:
    """Compare two snmpEngineBoots/snmpEngineTime readings taken ``elapsed_s`` apart.

    A change of boots is a restart (RFC 3414 2.2: boots grow at every re-initialisation;
    fewer boots is an engine whose store was reset, or a replaced device: a restart all
    the same). Same boots: engine time should advance with the clock; when it does not,
    that is an anomaly (engine time has no rollover: 2^31 s is 68 years).
    """
    if prev_boots is None or prev_time is None or boots is None or engine_time is None or elapsed_s <= 0:
        return NOTHING
    if boots != prev_boots:
        return UptimeCheck(True, source=Source.ENGINE, uptime_s=float(engine_time))
    if abs((engine_time - prev_time) - elapsed_s) <= _slack(elapsed_s):
        return UptimeCheck(False, source=Source.ENGINE, uptime_s=float(engine_time))
    anomaly = Anomaly.FROZEN if engine_time == prev_time else Anomaly.ENGINE_TIME
    return UptimeCheck(False, source=Source.ENGINE, anomaly=anomaly, uptime_s=float(engine_time))


def judge(prev: UptimeReading | None, cur: UptimeReading, elapsed_s: float) -> UptimeCheck:
    """The verdict of the best reading both polls have (see the module docstring)."""
    if prev is None:
        return NOTHING
    if prev.hr_uptime_cs is not None and cur.hr_uptime_cs is not None:
        return check_ticks(prev.hr_uptime_cs, cur.hr_uptime_cs, elapsed_s, Source.HR_SYSTEM_UPTIME)
    if None not in (prev.engine_boots, prev.engine_time, cur.engine_boots, cur.engine_time):
        return check_engine(prev.engine_boots, prev.engine_time, cur.engine_boots, cur.engine_time, elapsed_s)
    return check_ticks(prev.sys_uptime_cs, cur.sys_uptime_cs, elapsed_s)
