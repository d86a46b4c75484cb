"""Reboots as facts: when a device came back, whether two reports are one reboot, and what
the device's state made of it. Pure: no I/O; times are passed in.

An agent flags a sample ``rebooted`` when the device's sysUpTime went backwards since its
previous poll, and sends the uptime it read (``sys_uptime_s``). The collector records one
:class:`~collector.model.Reboot` per reboot:

* **dated** (:func:`came_back_at`) at the sample's time minus the uptime it read — when the
  device came back — kept between the device's previous uptime reading (which saw the older
  boot) and the sample;
* **once** (:func:`already_known`): a redelivered batch is dropped whole by the ingest
  ledger; two agents polling one device each report its reboot, dated alike to within the
  delays of their polls (their clocks are assumed in sync, as the measurement times already
  require): a report within :data:`SAME_REBOOT_S` of a reboot recorded for the device is
  that reboot. Two real reboots cannot come back closer than a boot takes (tens of seconds
  for the smallest CPE), so the tolerance merges no real pair;
* **judged** (:func:`counted_as`) against the device's states around it: a reboot shorter
  than ``down_after`` rounds leaves the device UP — no outage, the case planners cannot see
  elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netmon.collector.model import State

#: Two reports of one device's reboot dated this close (seconds) are one reboot.
SAME_REBOOT_S = 30.0

#: Which state names a reboot when several were in force around it: an outage first (the
#: reboot was part of it), then a declared window, then a monitoring gap; UP only when the
#: device was UP throughout.
_PRECEDENCE: dict[State, int] = {
    State.DOWN: 0,
    State.UNREACHABLE: 1,
    State.MAINTENANCE: 2,
    State.UNKNOWN: 3,
    State.UP: 4,
}


@dataclass(frozen=True, slots=True)
class UptimeReading:
    """A device's sysUpTime as last read: read at ``at``, up since ``booted``."""

    at: float
    booted: float

    @classmethod
    def of(cls, at: float | None, uptime_s: float | None) -> UptimeReading | None:
        """The reading of an uptime ``uptime_s`` made at ``at`` (None when either is unknown)."""
        if at is None or uptime_s is None:
            return None
        return cls(at, at - uptime_s)


def came_back_at(ts: float, uptime_s: float | None, previous: UptimeReading | None) -> float:
    """When a device that a sample at ``ts`` reports rebooted came back.

    Args:
        ts: Measurement time of the sample that reports the reboot.
        uptime_s: The sysUpTime it read (None: not sent).
        previous: The device's previous uptime reading, from any agent (None: unknown, or the
            sample is late and the previous reading is not the one before it).

    Returns:
        ``ts - uptime_s``, kept between the previous reading and ``ts``: the reboot happened
        after the last reading that saw the older boot, and before the sample. A previous
        reading that already saw this boot (another agent read it first) bounds nothing.
        Without an uptime, the middle of that interval (``ts`` when nothing bounds it).
    """
    lo = previous.at if previous is not None and previous.at < ts else None
    if uptime_s is None:
        return ts if lo is None else (lo + ts) / 2
    at = min(ts, ts - uptime_s)
    if lo is not None and previous is not None and previous.booted < at - SAME_REBOOT_S:
        at = max(at, lo)
    return at


def already_known(recorded: Iterable[float], at: float) -> bool:
    """Whether a reboot coming back at ``at`` is one of the ``recorded`` ones (another
    agent's report of it, or a report sent again)."""
    return any(abs(t - at) <= SAME_REBOOT_S for t in recorded)


def counted_as(timeline: Sequence[tuple[float, State]], at: float, slack: float) -> State:
    """What a device's states made of a reboot that came back at ``at``.

    Args:
        timeline: The device's transition points ``(ts, state)`` in time order, from before
            ``at - slack`` (the point in force then) on.
        at: When the device came back.
        slack: How far around ``at`` to look (a poll interval: the rounds that failed
            before it and the one that found the device back).

    Returns:
        The state in force within ``[at - slack, at + slack)`` that names it (see
        :data:`_PRECEDENCE`): DOWN or UNREACHABLE when it was part of an outage, UP when the
        device stayed UP throughout (too short to be counted as an outage).
    """
    lo, hi = at - slack, at + slack
    current = State.UNKNOWN
    seen: set[State] = set()
    for ts, state in timeline:
        if ts <= lo:
            current = state
        elif ts < hi:
            seen.add(state)
        else:
            break
    seen.add(current)
    return min(seen, key=_PRECEDENCE.__getitem__)
