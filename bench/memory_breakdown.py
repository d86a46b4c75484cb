"""Where a collector engine's memory goes: the deep size of each of its parts.

Each part is walked through ``gc.get_referents`` and its objects' ``sys.getsizeof`` are
summed; an object is counted in the first part that reaches it (the parts are listed from
the most specific to the most shared). Types, modules and functions are not counted.
"""

from __future__ import annotations

import gc
import sys
import types
from collections.abc import Iterable

from netmon.collector.engine import Engine

_SKIP = (type, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, types.MethodType)


def deep_size(roots: Iterable[object], seen: set[int]) -> int:
    """Bytes of everything reachable from ``roots`` not already in ``seen`` (which grows)."""
    total = 0
    stack = list(roots)
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, _SKIP):
            continue
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        stack.extend(gc.get_referents(obj))
    return total


def breakdown(engine: Engine) -> list[tuple[str, int]]:
    """The engine's parts and their sizes in bytes."""
    w = engine._writer
    rp = w.replayer
    rec = w.records
    mem = engine._memory
    seen: set[int] = set()
    # The inventory and its index are shared by everything: counted first, apart.
    parts = [
        ("inventory + topology", [engine.topology]),
        ("core states", [rec.core]),
        ("live records", [rec.live]),
        ("re-play checkpoints", [cp for rl in rp.logs.values() for cp in (rl.old, rl.new) if cp is not None]),
        ("re-play sample logs (packed)", [rl.samples for rl in rp.logs.values()]),
        ("re-play logs: the rest (one per device, failure reasons)", [rp.logs]),
        ("ancestors' view logs", [rp.views]),
        ("re-play bookkeeping (judged, notified, pending)", [rp.judged, rp.notified, rp.pending]),
        ("device timelines (recent transition log)", [mem.device]),
        ("commune timelines", [mem._commune]),
        ("measurements", [rec.measured]),
        ("watermarks", [rec.watermark]),
        ("snapshot: what the device views are made of (copies)", [engine._views]),
        ("snapshot: standard availability", [engine._availability]),
        ("snapshot: the rest", [engine._snapshot]),
    ]
    return [(name, deep_size(roots, seen)) for name, roots in parts]
