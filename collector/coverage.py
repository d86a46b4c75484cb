"""Commune coverage (pure): connected communes over communes in the inventory.

A commune is *connected* when at least one of its access devices is UP; a commune with
no access device (not provisioned) or whose devices nobody watches (UNKNOWN) is not
connected, and still counts in the denominator. Works for the 2021 structure (province →
district → commune) and the 2025 one (province → commune): districts are simply absent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from netmon.collector.availability import Points, device_availability
from netmon.collector.model import Counts, CoveragePoint, State
from netmon.collector.timeline import STATES, Timeline
from netmon.config.inventory import InventoryIndex


def access_devices(index: InventoryIndex) -> dict[str, tuple[str, ...]]:
    """The access devices of every commune (empty tuple for an unprovisioned one)."""
    out: dict[str, list[str]] = {code: [] for code in index.communes}
    for dev_id, place in index.placement.items():
        if place.commune is not None and index.devices[dev_id].is_access:
            out.setdefault(place.commune.code, []).append(dev_id)
    return {k: tuple(v) for k, v in out.items()}


def communes_by_district(index: InventoryIndex) -> dict[str, tuple[str, ...]]:
    """Commune codes of each district (2021 structure; empty in 2025)."""
    return {code: tuple(c.code for c in d.communes) for code, d in index.districts.items()}


def counts(communes: Iterable[str], states: Mapping[str, State], provisioned: Mapping[str, bool]) -> Counts:
    """Counts of a unit's communes from their current states."""
    by_state = dict.fromkeys(State, 0)
    n = prov = conn = 0
    for code in communes:
        n += 1
        st = states.get(code, State.UNKNOWN)
        by_state[st] += 1
        if provisioned.get(code, False):
            prov += 1
        if st == State.UP:
            conn += 1
    return Counts(communes=n, provisioned=prov, connected=conn, by_state=by_state)


_UP = STATES.index(State.UP)


def time_weighted(timelines: Mapping[str, Points], communes: Sequence[str], start: float, end: float) -> float:
    """Average share of ``communes`` connected over ``[start, end)`` (0 for none or an empty window)."""
    if not communes or end <= start:
        return 0.0
    up = 0.0
    for code in communes:
        tl = timelines.get(code)
        if tl:
            up += device_availability(tl, start, end).up_s
    return up / (len(communes) * (end - start))


def series(
    timelines: Mapping[str, Points], communes: Sequence[str], start: float, end: float, step_s: float
) -> list[CoveragePoint]:
    """Connected communes at ``start``, ``start + step_s``, ... up to ``end`` (inclusive)."""
    if step_s <= 0 or end < start:
        return []
    times: list[float] = []
    t = start
    while t <= end:
        times.append(t)
        t += step_s
    connected = [0] * len(times)
    for code in communes:
        tl = timelines.get(code)
        if not tl:
            continue
        # Walk the timeline and the sample times together: O(len(tl) + len(times)).
        packed = Timeline.of(tl)
        tl_times, codes, n = packed.times, packed.codes, len(packed)
        j = 0
        up = False
        for i, ti in enumerate(times):
            while j < n and tl_times[j] <= ti:
                up = codes[j] == _UP
                j += 1
            if up:
                connected[i] += 1
    return [CoveragePoint(ts=t, connected=c, communes=len(communes)) for t, c in zip(times, connected, strict=True)]
