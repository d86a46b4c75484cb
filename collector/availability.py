"""Availability from the transition log (pure).

A *timeline* is a device's transitions as ``(ts, state)`` pairs in time order (packed, see
:mod:`collector.timeline`): the device is in ``state`` from ``ts`` until the next pair.
Before its first pair a device was not observed, which counts as UNKNOWN. Availability
over a window is exact to the floating point second, and because it is computed from the
stored log alone it is the same whether or not the collector restarted in between.

A commune is UP while at least one of its access devices is UP (connected). Otherwise it
takes, in this order of precedence, MAINTENANCE (planned work on one of them), DOWN,
UNREACHABLE, UNKNOWN. A district or the province sums the time of its communes.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from itertools import repeat

from netmon.collector.model import Availability, State
from netmon.collector.timeline import STATES, Timeline

#: A timeline as the functions here take it: packed, or a sequence of ``(ts, state)`` pairs
#: (packed on the way in).
Points = Sequence[tuple[float, State]]

_PRECEDENCE = (State.UP, State.MAINTENANCE, State.DOWN, State.UNREACHABLE, State.UNKNOWN)
_RANK = {s: i for i, s in enumerate(_PRECEDENCE)}
#: Per packed state code, its rank in the precedence.
_RANK_OF_CODE = tuple(_RANK[s] for s in STATES)
_UNKNOWN_CODE = STATES.index(State.UNKNOWN)


def state_at(timeline: Points, t: float) -> State:
    """The state at ``t`` (UNKNOWN before the first transition)."""
    tl = Timeline.of(timeline)
    i = bisect_right(tl.times, t)
    return tl.state(i - 1) if i else State.UNKNOWN


def seconds_in_states(timeline: Points, start: float, end: float) -> dict[State, float]:
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
#: Per packed state code, its slot in :func:`device_availability`'s accumulator.
_SLOT_OF_CODE = tuple(_SLOT[s] for s in STATES)


def device_availability(timeline: Points, start: float, end: float) -> Availability:
    """Availability of one device (or one commune's timeline) over ``[start, end)``."""
    acc = [0.0, 0.0, 0.0, 0.0, 0.0]
    if end > start:
        tl = Timeline.of(timeline)
        times, codes = tl.times, tl.codes
        n = len(times)
        if n == 0 or times[0] >= end:
            acc[3] = end - start
        elif times[-1] <= start:
            acc[_SLOT_OF_CODE[codes[-1]]] = end - start  # the common case: no change in the window
        else:
            i = bisect_right(times, start)
            cur = _SLOT_OF_CODE[codes[i - 1]] if i else 3
            t = start
            while i < n:
                ts = times[i]
                if ts >= end:
                    break
                acc[cur] += ts - t
                t, cur = ts, _SLOT_OF_CODE[codes[i]]
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


def commune_timeline(timelines: Sequence[Points]) -> Timeline:
    """Merge the timelines of a commune's access devices into the commune's timeline.

    A commune with one access device has that device's timeline: when it is packed, the
    same object is returned (a read-only view: the commune's is rebuilt when it changes).
    """
    if not timelines:
        return Timeline()
    if len(timelines) == 1:
        return Timeline.of(timelines[0])
    packed = [Timeline.of(tl) for tl in timelines]
    current = [_UNKNOWN_CODE] * len(packed)
    out = Timeline()
    times, codes = out.times, out.codes
    rank = _RANK_OF_CODE.__getitem__
    merged = heapq.merge(*(zip(tl.times, repeat(k), tl.codes) for k, tl in enumerate(packed)))
    for ts, k, code in merged:
        current[k] = code
        cs = min(current, key=rank)
        if times and times[-1] == ts:
            codes[-1] = cs
            if len(codes) > 1 and codes[-2] == cs:
                del times[-1]
                del codes[-1]
        elif not codes or codes[-1] != cs:
            times.append(ts)
            codes.append(cs)
    return out


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
