"""Counter arithmetic (agent.counters): wraps, resets, reboots, rates above the interface
speed. Table-driven and property-based; no event loop. (Uptime rules: test_uptime.py.)"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from netmon.agent.counters import (
    DeviceCounters,
    IfCounters,
    RawInterface,
    advance,
    counter_delta,
    octet_rate,
)
from netmon.agent.uptime import UptimeReading

U32 = 1 << 32
U64 = 1 << 64


@given(prev=st.integers(0, U32 - 1), inc=st.integers(0, U32 - 1))
def test_counter32_single_wrap_recovers_the_increase(prev: int, inc: int) -> None:
    cur = (prev + inc) % U32
    assert counter_delta(prev, cur, 32) == inc


@given(prev=st.integers(0, U64 - 1), inc=st.integers(0, U64 - 1))
def test_counter64_increase_or_reset(prev: int, inc: int) -> None:
    cur = (prev + inc) % U64
    got = counter_delta(prev, cur, 64)
    # A 64-bit counter that went down was reset: no delta, never a huge "wrap" spike.
    assert got == (inc if prev + inc < U64 else None)


@given(
    prev=st.integers(0, U32 - 1),
    bps=st.floats(0, 1e9, allow_nan=False),
    elapsed=st.floats(1, 600, allow_nan=False),
)
def test_rate_within_speed_is_exact_across_a_wrap(prev: int, bps: float, elapsed: float) -> None:
    inc = int(bps * elapsed / 8)
    if inc >= U32:  # more than one wrap in an interval cannot be seen with 32 bits
        return
    rate = octet_rate(prev, (prev + inc) % U32, 32, elapsed, 10_000_000_000)
    assert rate.invalid == ""
    assert rate.bps == pytest.approx(inc * 8 / elapsed)


@given(speed=st.integers(1_000, 10**11), factor=st.floats(1.2, 100), elapsed=st.floats(1, 300))
def test_rate_above_interface_speed_is_flagged_not_emitted(speed: int, factor: float, elapsed: float) -> None:
    inc = int(speed * factor * elapsed / 8) + 1
    rate = octet_rate(0, inc, 64, elapsed, speed)
    assert rate.bps is None
    assert rate.invalid == "above_speed"


def ticks(sys_uptime_cs: int) -> UptimeReading:
    return UptimeReading(sys_uptime_cs=sys_uptime_cs)


def row(
    index: int = 1, in_o: int = 0, out_o: int = 0, bits: int = 64, speed: int | None = 1_000_000_000
) -> RawInterface:
    return RawInterface(
        index=index,
        name=f"ge-0/0/{index}",
        oper_status=1,
        speed_bps=speed,
        in_octets=in_o,
        out_octets=out_o,
        counter_bits=bits,
    )


def test_advance_first_poll_has_no_rate_then_rates() -> None:
    state, ifs, up = advance(None, 1000.0, ticks(10_000), [row(in_o=1000, out_o=2000)])
    assert ifs is not None
    assert ifs[0].in_bps is None
    assert ifs[0].rate_invalid == ""
    assert not up.rebooted
    state, ifs, up = advance(state, 1060.0, ticks(16_000), [row(in_o=1000 + 7_500_000, out_o=2000)])
    assert ifs is not None
    assert ifs[0].in_bps == pytest.approx(1_000_000.0)
    assert ifs[0].out_bps == 0.0
    assert state.interfaces[1] == IfCounters(1000 + 7_500_000, 2000, 64)


def test_advance_reboot_reports_and_emits_no_rate() -> None:
    prev = DeviceCounters(1000.0, ticks(500_000), {1: IfCounters(10**9, 10**9, 64)})
    _, ifs, up = advance(prev, 1060.0, ticks(3_000), [row(in_o=5, out_o=5)])
    assert up.rebooted
    assert ifs is not None
    assert (ifs[0].in_bps, ifs[0].out_bps, ifs[0].rate_invalid) == (None, None, "reboot")


def test_advance_counter_reset_and_width_change_are_discontinuities() -> None:
    prev = DeviceCounters(1000.0, ticks(10_000), {1: IfCounters(10**9, 10**9, 64), 2: IfCounters(5, 5, 32)})
    _, ifs, up = advance(
        prev, 1060.0, ticks(16_000), [row(1, in_o=10, out_o=10**9 + 10), row(2, in_o=10, out_o=10, bits=64)]
    )
    assert not up.rebooted
    assert ifs is not None
    assert (ifs[0].in_bps, ifs[0].out_bps, ifs[0].rate_invalid) == (None, None, "counter_reset")
    assert (ifs[1].in_bps, ifs[1].rate_invalid) == (None, "counter_width_changed")


def test_advance_above_speed_flags_the_interface() -> None:
    prev = DeviceCounters(1000.0, ticks(10_000), {1: IfCounters(0, 0, 64)})
    # 100 Mbit/s port that "moved" 10 Gbit in 60 s: a counter glitch, not traffic.
    _, ifs, _ = advance(prev, 1060.0, ticks(16_000), [row(in_o=75_000_000_000, out_o=0, speed=100_000_000)])
    assert ifs is not None
    assert (ifs[0].in_bps, ifs[0].rate_invalid) == (None, "above_speed")


def test_advance_without_interfaces_keeps_counters_unless_rebooted() -> None:
    prev = DeviceCounters(1000.0, ticks(10_000), {1: IfCounters(0, 0, 64)})
    kept, ifs, _ = advance(prev, 1060.0, ticks(16_000), None)
    assert ifs is None
    assert kept.interfaces == prev.interfaces
    dropped, _, up = advance(prev, 1060.0, ticks(100), None)
    assert up.rebooted
    assert dropped.interfaces == {}
