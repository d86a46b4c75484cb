"""Ground truth for testing the core: sample streams generated from a known outage schedule.

A :class:`Schedule` says which device really failed when (a failed district router takes
its communes with it), when an agent was silent, and how lossy the links are. From it
:func:`rounds` generates what agents would have measured, round by round, and
:func:`true_timeline` gives each device's true state over time, to compare the core's
availability, outages and root causes against. Deterministic for a given seed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from netmon.agent import wire
from netmon.collector.model import State
from netmon.config.inventory import Inventory


@dataclass(frozen=True, slots=True)
class Failure:
    """A device really down over ``[start, end)``."""

    device: str
    start: float
    end: float


@dataclass(frozen=True, slots=True)
class Silence:
    """No samples from any device over ``[start, end)`` (the agent was dead)."""

    start: float
    end: float


@dataclass(frozen=True)
class Schedule:
    """What really happened to the network.

    Attributes:
        start: First round.
        end: End of the simulated period.
        interval_s: Polling interval.
        failures: Devices really down.
        silences: Periods without any samples.
        loss: Packet loss probability of every link (each of ``pings`` packets independently).
        pings: ICMP packets per round.
        seed: For the random loss and the spread of polls over the interval.
    """

    start: float
    end: float
    interval_s: float
    failures: Sequence[Failure] = ()
    silences: Sequence[Silence] = ()
    loss: float = 0.0
    pings: int = 5
    seed: int = 1
    _by_device: dict[str, list[Failure]] = field(default_factory=dict, init=False, repr=False, compare=False)


def failed_at(
    schedule: Schedule, inv: Inventory, device: str, t: float, path: Sequence[str] | None = None
) -> str | None:
    """The device whose failure makes ``device`` unreachable at ``t`` (the one nearest the
    root of its path, as an operator would name the cause), or None."""
    by_dev = schedule._by_device
    if not by_dev and schedule.failures:
        for f in schedule.failures:
            by_dev.setdefault(f.device, []).append(f)
    found = None
    for d in path if path is not None else (device, *inv.index.ancestors(device)):
        for f in by_dev.get(d, ()):
            if f.start <= t < f.end:
                found = d
    return found


def rounds(schedule: Schedule, inv: Inventory, agent: str = "agent-1") -> Iterator[wire.SampleBatch]:
    """One batch per round, with an ICMP and an SNMP sample of every device."""
    rng = random.Random(schedule.seed)
    devices = list(inv.index.devices)
    offsets = {d: rng.uniform(0, schedule.interval_s * 0.4) for d in devices}
    paths = {d: (d, *inv.index.ancestors(d)) for d in devices}
    seq = 0
    t = schedule.start
    while t < schedule.end:
        if any(s.start <= t < s.end for s in schedule.silences):
            t += schedule.interval_s
            continue
        samples: list[wire.Sample] = []
        for d in devices:
            ts = t + offsets[d]
            dead = failed_at(schedule, inv, d, ts, paths[d]) is not None
            if dead:
                samples.append(
                    wire.Sample(
                        device=d, probe="icmp", ts=ts, ok=False, reason="timeout", loss=1.0, sent=schedule.pings
                    )
                )
                samples.append(wire.Sample(device=d, probe="snmp", ts=ts + 0.5, ok=False, reason="timeout"))
                continue
            lost = sum(rng.random() < schedule.loss for _ in range(schedule.pings))
            ok = lost < schedule.pings
            rtt = wire.Rtt(0.004, 0.005, 0.007, 0.001) if ok else None
            samples.append(
                wire.Sample(
                    device=d,
                    probe="icmp",
                    ts=ts,
                    ok=ok,
                    reason="" if ok else "timeout",
                    rtt=rtt,
                    loss=lost / schedule.pings,
                    sent=schedule.pings,
                )
            )
            snmp_ok = rng.random() >= schedule.loss
            samples.append(
                wire.Sample(
                    device=d,
                    probe="snmp",
                    ts=ts + 0.5,
                    ok=snmp_ok,
                    reason="" if snmp_ok else "timeout",
                    response_s=0.01 if snmp_ok else None,
                )
            )
        yield wire.SampleBatch(v=1, agent=agent, seq=seq, sent_at=t + schedule.interval_s * 0.5, samples=samples)
        seq += 1
        t += schedule.interval_s


def true_timeline(schedule: Schedule, inv: Inventory, device: str) -> list[tuple[float, State]]:
    """The device's true state from ``schedule.start``: UP, DOWN (itself) or UNREACHABLE (an ancestor)."""
    cuts = {schedule.start, schedule.end}
    for d in (device, *inv.index.ancestors(device)):
        for f in schedule.failures:
            if f.device == d:
                cuts.update((f.start, f.end))
    out: list[tuple[float, State]] = []
    for t in sorted(c for c in cuts if schedule.start <= c < schedule.end):
        who = failed_at(schedule, inv, device, t)
        st = State.UP if who is None else State.DOWN if who == device else State.UNREACHABLE
        if not out or out[-1][1] != st:
            out.append((t, st))
    return out
