"""Counter arithmetic: traffic rates from successive polls, reboots, wraps (pure).

Nothing here awaits, logs or reads a clock: the poller passes the previous
:class:`DeviceCounters` and the time of both polls and gets the new state back.

Rules (the ones monitoring tools most often get wrong):

* A Counter32 that went down wrapped once (it is unsigned modulo 2^32); a Counter64 that
  went down was reset (wrapping 2^64 octets takes centuries at 100 Gbit/s), which is a
  discontinuity, never a rate.
* Whether the device restarted in between is :func:`netmon.agent.uptime.judge`'s call
  (wrap-aware, frozen uptimes are not restarts); across a restart no rate is computed.
* A rate above the interface speed (ifHighSpeed, else ifSpeed) is physically impossible,
  so it is flagged (``rate_invalid="above_speed"``) instead of emitted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from netmon.agent import wire
from netmon.agent.uptime import UptimeCheck, UptimeReading, judge


@dataclass(frozen=True, slots=True)
class RawInterface:
    """One row of ifTable/ifXTable as read by :mod:`agent.snmp` (no rates yet)."""

    index: int
    name: str
    descr: str = ""
    alias: str = ""
    admin_status: int = 1
    oper_status: int = 4  # IF-MIB "unknown" when the agent does not say
    speed_bps: int | None = None
    in_octets: int | None = None
    out_octets: int | None = None
    counter_bits: int = 64
    in_errors: int | None = None
    out_errors: int | None = None
    in_discards: int | None = None
    out_discards: int | None = None


#: Rates up to this factor above the interface speed are sampling jitter (the two
#: counter reads are not exactly ``elapsed`` apart), not errors.
SPEED_TOLERANCE = 1.05


@dataclass(frozen=True, slots=True)
class IfCounters:
    """The counter readings of one interface kept for the next poll."""

    in_octets: int | None
    out_octets: int | None
    bits: int


@dataclass(frozen=True, slots=True)
class DeviceCounters:
    """What the next poll of a device needs from this one."""

    ts: float
    uptime: UptimeReading | None
    interfaces: Mapping[int, IfCounters]


@dataclass(frozen=True, slots=True)
class Rate:
    """A rate in bits per second, or why there is none."""

    bps: float | None
    invalid: str = ""


def counter_delta(prev: int, cur: int, bits: int) -> int | None:
    """Increase of a counter, handling a single Counter32 wrap; None for a 64-bit reset."""
    if cur >= prev:
        return cur - prev
    if bits == 32:
        return cur + (1 << 32) - prev
    return None


def octet_rate(prev: int | None, cur: int | None, bits: int, elapsed_s: float, speed_bps: int | None) -> Rate:
    """Bits per second between two octet-counter readings.

    Returns ``Rate(None, reason)`` with reason ``counter_reset`` (a 64-bit counter went
    down) or ``above_speed``; ``Rate(None)`` when there is nothing to compare.
    """
    if prev is None or cur is None or elapsed_s <= 0:
        return Rate(None)
    delta = counter_delta(prev, cur, bits)
    if delta is None:
        return Rate(None, "counter_reset")
    bps = delta * 8.0 / elapsed_s
    if speed_bps and bps > speed_bps * SPEED_TOLERANCE:
        return Rate(None, "above_speed")
    return Rate(bps)


def advance(
    prev: DeviceCounters | None,
    ts: float,
    uptime: UptimeReading,
    rows: Iterable[RawInterface] | None,
) -> tuple[DeviceCounters, list[wire.Interface] | None, UptimeCheck]:
    """Fold one poll into the device's counter state.

    Args:
        prev: State after the previous successful poll, or None.
        ts: Agent time of this poll.
        uptime: The uptime readings of this poll.
        rows: Interface rows of this poll (None: interfaces not read this time).

    Returns:
        The new state, the wire interfaces with rates (None when ``rows`` is None) and
        what the uptime said.
    """
    elapsed = ts - prev.ts if prev is not None else 0.0
    up = judge(prev.uptime if prev else None, uptime, elapsed)
    if rows is None:
        keep = prev.interfaces if prev is not None and not up.rebooted else {}
        return DeviceCounters(ts, uptime, keep), None, up
    out: list[wire.Interface] = []
    state: dict[int, IfCounters] = {}
    for r in rows:
        state[r.index] = IfCounters(r.in_octets, r.out_octets, r.counter_bits)
        before = prev.interfaces.get(r.index) if prev is not None else None
        in_rate = out_rate = Rate(None)
        invalid = ""
        if before is not None:
            if up.rebooted:
                invalid = "reboot"
            elif before.bits != r.counter_bits:
                invalid = "counter_width_changed"
            else:
                in_rate = octet_rate(before.in_octets, r.in_octets, r.counter_bits, elapsed, r.speed_bps)
                out_rate = octet_rate(before.out_octets, r.out_octets, r.counter_bits, elapsed, r.speed_bps)
                invalid = in_rate.invalid or out_rate.invalid
                if invalid:
                    # One direction impossible makes the pair untrustworthy: emit neither.
                    in_rate = out_rate = Rate(None)
        out.append(
            wire.Interface(
                index=r.index,
                name=r.name,
                oper_status=r.oper_status,
                admin_status=r.admin_status,
                alias=r.alias,
                speed_bps=r.speed_bps,
                in_octets=r.in_octets,
                out_octets=r.out_octets,
                in_errors=r.in_errors,
                out_errors=r.out_errors,
                in_discards=r.in_discards,
                out_discards=r.out_discards,
                counter_bits=r.counter_bits,
                in_bps=in_rate.bps,
                out_bps=out_rate.bps,
                rate_invalid=invalid,
            )
        )
    return DeviceCounters(ts, uptime, state), out, up
