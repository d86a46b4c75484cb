"""Hypothesis strategies for valid wire messages, shared by the round-trip and fuzz tests."""

from __future__ import annotations

from hypothesis import strategies as st

from netmon.agent import wire

_t = st.floats(0, 10, allow_nan=False)
rtts = st.builds(wire.Rtt, _t, _t, _t, _t)
interfaces = st.builds(
    wire.Interface,
    index=st.integers(1, 2**31),
    name=st.text(max_size=20),
    oper_status=st.sampled_from([1, 2, 3, 5, 6, 7]),
    in_octets=st.none() | st.integers(0, 2**64 - 1),
    in_bps=st.none() | st.floats(0, 1e11),
)


def triggers(now: float) -> st.SearchStrategy[wire.Trigger]:
    """What made the agent probe out of schedule."""
    return st.builds(
        wire.Trigger,
        trap=st.sampled_from(["linkDown", "linkUp", "coldStart", "warmStart"]),
        sender=st.text(min_size=1, max_size=30),
        received_at=st.floats(wire.MIN_TIMESTAMP, now),
        if_index=st.none() | st.integers(1, 2**31 - 1),
    )


def samples(now: float) -> st.SearchStrategy[wire.Sample]:
    """Valid samples measured up to the decoder's allowed skew past ``now``."""
    return st.builds(
        wire.Sample,
        device=st.text(min_size=1, max_size=30),
        probe=st.sampled_from(["icmp", "snmp", "tcp"]),
        ts=st.floats(wire.MIN_TIMESTAMP, now + wire.MAX_FUTURE_SKEW_S),
        ok=st.booleans(),
        reason=st.text(max_size=10),
        rtt=st.none() | rtts,
        loss=st.none() | st.floats(0, 1),
        sent=st.none() | st.integers(0, 100),
        response_s=st.none() | st.floats(0, 60),
        sys_uptime_s=st.none() | st.floats(0, 1e9),
        rebooted=st.booleans(),
        sys_name=st.none() | st.text(max_size=30),
        sys_descr=st.none() | st.text(max_size=50),
        interfaces=st.none() | st.lists(interfaces, max_size=3),
        rebooted_at=st.none() | st.floats(wire.MIN_TIMESTAMP, now),
        unread=st.none()
        | st.dictionaries(st.sampled_from(["ifTable", "ifXTable"]), st.sampled_from(["timeout", "truncated"])),
        trigger=st.none() | triggers(now),
    )
