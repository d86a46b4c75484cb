"""Declared maintenance windows: which devices they cover and when (pure).

A window targets a device, a commune (all devices at its site) or a district (its own
devices and those of all its communes). It is one-off (``start``..``end``) or recurs daily
or weekly from ``start`` for ``duration_s``, until ``until`` if given. Recurrence uses
fixed periods of 86,400 and 604,800 seconds: Vietnam keeps no daylight saving time, so a
22:00 window stays at 22:00.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from netmon.config.inventory import InventoryIndex
from netmon.config.settings import MaintenanceWindow

_PERIOD = {"daily": 86400.0, "weekly": 7 * 86400.0}


def covers(window: MaintenanceWindow, device: str, index: InventoryIndex) -> bool:
    """Whether ``window`` targets ``device`` (directly, through its commune or its district)."""
    if window.device is not None:
        return window.device == device
    place = index.placement.get(device)
    if place is None:
        return False
    if window.commune is not None:
        return place.commune is not None and place.commune.code == window.commune
    return place.district is not None and place.district.code == window.district


def windows_by_device(
    windows: Sequence[MaintenanceWindow], index: InventoryIndex
) -> dict[str, tuple[MaintenanceWindow, ...]]:
    """The windows of each device that has any."""
    out: dict[str, list[MaintenanceWindow]] = {}
    for w in windows:
        for dev in index.devices:
            if covers(w, dev, index):
                out.setdefault(dev, []).append(w)
    return {k: tuple(v) for k, v in out.items()}


def _occurrence(window: MaintenanceWindow, t: float) -> tuple[float, float] | None:
    """The occurrence ``[start, end)`` of ``window`` that is the latest to start at or before ``t``."""
    start = window.start.timestamp()
    if t < start:
        return None
    if window.every is None:
        assert window.end is not None  # checked by the settings model
        return start, window.end.timestamp()
    period = _PERIOD[window.every]
    duration = window.duration_s or 0.0
    k = math.floor((t - start) / period)
    occ = start + k * period
    if window.until is not None:
        until = window.until.timestamp()
        if occ >= until:  # no occurrence starts at or after ``until``
            k = math.ceil((until - start) / period) - 1
            if k < 0:
                return None
            occ = start + k * period
    return occ, occ + duration


def active(window: MaintenanceWindow, t: float) -> bool:
    """Whether ``window`` is in force at ``t`` (start inclusive, end exclusive)."""
    if window.every is not None and window.duration_s is not None and window.duration_s >= _PERIOD[window.every]:
        occ = _occurrence(window, t)
        last_end = _last_end(window)
        return occ is not None and (last_end is None or t < last_end)
    occ = _occurrence(window, t)
    return occ is not None and occ[0] <= t < occ[1]


def _last_end(window: MaintenanceWindow) -> float | None:
    if window.every is None or window.until is None:
        return None
    last = _occurrence(window, window.until.timestamp() - 1e-6)
    return last[1] if last is not None else None


def next_boundary(window: MaintenanceWindow, t: float) -> float | None:
    """The first time after ``t`` at which ``window`` starts or ends; None if never again."""
    start = window.start.timestamp()
    if t < start:
        return start
    occ = _occurrence(window, t)
    if occ is None:
        return None
    if t < occ[1]:
        return occ[1]
    if window.every is None:
        return None
    nxt = occ[0] + _PERIOD[window.every]
    if window.until is not None and nxt >= window.until.timestamp():
        return None
    return nxt


def in_maintenance(windows: Iterable[MaintenanceWindow], t: float) -> MaintenanceWindow | None:
    """The first window in force at ``t``, or None."""
    for w in windows:
        if active(w, t):
            return w
    return None


def changes(windows: Sequence[MaintenanceWindow], t0: float, t1: float) -> list[tuple[float, bool, str]]:
    """Changes of "in maintenance" in ``(t0, t1]``: ``(time, now_in, reason)``, in order.

    Boundaries are walked one by one, so overlapping windows give the exact times at
    which their union begins and ends.
    """
    if not windows or t1 <= t0:
        return []
    out: list[tuple[float, bool, str]] = []
    state = in_maintenance(windows, t0) is not None
    t = t0
    while True:
        nexts = [b for b in (next_boundary(w, t) for w in windows) if b is not None]
        if not nexts:
            return out
        t = min(nexts)
        if t > t1:
            return out
        w = in_maintenance(windows, t)
        if (w is not None) != state:
            state = w is not None
            out.append((t, state, (w.reason or "maintenance") if w is not None else "maintenance ended"))


def next_change(windows: Sequence[MaintenanceWindow], t: float) -> float | None:
    """The first boundary of any of ``windows`` after ``t``."""
    nexts = [b for b in (next_boundary(w, t) for w in windows) if b is not None]
    return min(nexts) if nexts else None
