"""Availability from the transition log (pure).

A *timeline* is a device's transitions as ``(ts, state)`` pairs in time order: the device
is in ``state`` from ``ts`` until the next pair. Before its first pair a device was not
observed, which counts as UNKNOWN. Availability over a window is exact to the floating
point second, and because it is computed from the stored log alone it is the same whether
or not the collector restarted in between.

A commune is UP while at least one of its access devices is UP (connected). Otherwise it
takes, in this order of precedence, MAINTENANCE (planned work on one of them), DOWN,
UNREACHABLE, UNKNOWN. A district or the province sums the time of its communes.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence

from netmon.collector.model import Availability, State

Timeline = Sequence[tuple[float, State]]

_PRECEDENCE = (State.UP, State.MAINTENANCE, State.DOWN, State.UNREACHABLE, State.UNKNOWN)
_RANK = {s: i for i, s in enumerate(_PRECEDENCE)}


def _ts(p: tuple[float, State]) -> float:
    return p[0]


def state_at(timeline: Timeline, t: float) -> State:
    """The state at ``t`` (UNKNOWN before the first transition)."""
    i = bisect_right(timeline, t, key=_ts)
    return timeline[i - 1][1] if i else State.UNKNOWN


def seconds_in_states(timeline: Timeline, start: float, end: float) -> dict[State, float]:
    """Seconds spent in each state over ``[start, end)``; they sum to ``end - start``."""
    a = device_availability(timeline, start, end)
    return {
        State.UP: a.up_s,
        State.DOWN: a.down_s,
        State.UNREACHABLE: a.unreachable_s,
        State.UNKNOWN: a.unknown_s,
        State.MAINTENANCE: a.maintenance_s,
    }


_SLOT = {State.UP: 0, State.DOWN: 1, State.UNREACHABLE: 2, State.UNKNOWN: 3, State.MAINTENANCE: 4}


def device_availability(timeline: Timeline, start: float, end: float) -> Availability:
    """Availability of one device (or one commune's timeline) over ``[start, end)``."""
    acc = [0.0, 0.0, 0.0, 0.0, 0.0]
    if end > start:
        n = len(timeline)
        if n == 0 or timeline[0][0] >= end:
            acc[3] = end - start
        elif timeline[-1][0] <= start:
            acc[_SLOT[timeline[-1][1]]] = end - start  # the common case: no change in the window
        else:
            i = bisect_right(timeline, start, key=_ts)
            cur = _SLOT[timeline[i - 1][1]] if i else 3
            t = start
            while i < n:
                ts, st = timeline[i]
                if ts >= end:
                    break
                acc[cur] += ts - t
                t, cur = ts, _SLOT[st]
                i += 1
            acc[cur] += end - t
    return Availability(up_s=acc[0], down_s=acc[1], unreachable_s=acc[2], unknown_s=acc[3], maintenance_s=acc[4])


def commune_state(states: Iterable[State]) -> State:
    """The state of a commune from the states of its access devices (UNKNOWN if none)."""
    best = State.UNKNOWN
    rank = _RANK[best]
    for s in states:
        r = _RANK[s]
        if r < rank:
            best, rank = s, r
            if r == 0:
                break
    return best


def commune_timeline(timelines: Sequence[Timeline]) -> list[tuple[float, State]]:
    """Merge the timelines of a commune's access devices into the commune's timeline."""
    if not timelines:
        return []
    if len(timelines) == 1:
        return list(timelines[0])
    current = [State.UNKNOWN] * len(timelines)
    out: list[tuple[float, State]] = []
    merged = heapq.merge(*(_tagged(k, tl) for k, tl in enumerate(timelines)))
    for ts, k, point in merged:
        current[k] = point[1]
        cs = commune_state(current)
        # The device's own point where it says the same: the engine keeps 10,000 communes'
        # timelines, and a tuple of their own for each point cost megabytes.
        p = point if point[1] is cs else (ts, cs)
        if out and out[-1][0] == ts:
            out[-1] = p
            if len(out) > 1 and out[-2][1] == cs:
                out.pop()
        elif not out or out[-1][1] != cs:
            out.append(p)
    return out


def _tagged(k: int, tl: Timeline) -> Iterator[tuple[float, int, tuple[float, State]]]:
    # A function, not a nested generator expression: each needs its own ``k``.
    for point in tl:
        yield point[0], k, point


def add(a: Availability, b: Availability) -> Availability:
    """The sum of two availabilities (for districts and the province)."""
    return Availability(
        up_s=a.up_s + b.up_s,
        down_s=a.down_s + b.down_s,
        unreachable_s=a.unreachable_s + b.unreachable_s,
        unknown_s=a.unknown_s + b.unknown_s,
        maintenance_s=a.maintenance_s + b.maintenance_s,
    )


def total(items: Iterable[Availability]) -> Availability:
    """The sum of many availabilities."""
    up = down = unr = unk = mnt = 0.0
    for a in items:
        up += a.up_s
        down += a.down_s
        unr += a.unreachable_s
        unk += a.unknown_s
        mnt += a.maintenance_s
    return Availability(up, down, unr, unk, mnt)
