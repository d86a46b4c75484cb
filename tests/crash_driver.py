"""A collector fed a deterministic stream, killed (SIGKILL) at a chosen SQL statement.

Run as ``python -m tests.crash_driver STORE KILL_AT``: it opens the store, skips the batches
the store's ledger already holds (the broker redelivers only what was not acknowledged),
and applies the rest, each step being a tick, the batch, a tick, on a simulated clock. At
the ``KILL_AT``-th SQL statement it executes (0: never) it kills itself with SIGKILL, as a
crash or ``kill -9`` would: inside a transaction, between two, anywhere. When the stream
is done it prints the transition log and the availability of closed windows as JSON.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import sqlite3
import sys

from netmon.agent import wire
from netmon.collector.engine import Engine
from netmon.collector.store import SqliteStore
from netmon.config.inventory import Inventory
from netmon.config.settings import CollectorSettings, StateSettings

T0 = 1_800_000_000.0
IV = 60.0
ROUNDS = 45
AGENT = "ag"
DEVICES = ("core", "d1", "a", "b", "b2", "d2", "c", "e")


def inventory() -> Inventory:
    """core -> d1 -> (c1: a; c2: b, b2), core -> d2 -> (c3: c, e)."""

    def dev(i: str, role: str, parent: str | None) -> dict[str, object]:
        d: dict[str, object] = {"id": i, "role": role, "address": "127.0.0.1"}
        if parent:
            d["parent"] = parent
        return d

    return Inventory.model_validate(
        {
            "edition": "2021",
            "province": {"code": "51", "name": "P"},
            "devices": [dev("core", "core_router", None)],
            "districts": [
                {
                    "code": "001",
                    "name": "D1",
                    "devices": [dev("d1", "district_router", "core")],
                    "communes": [
                        {"code": "00001", "name": "C1", "devices": [dev("a", "cpe", "d1")]},
                        {"code": "00002", "name": "C2", "devices": [dev("b", "cpe", "d1"), dev("b2", "cpe", "d1")]},
                    ],
                },
                {
                    "code": "002",
                    "name": "D2",
                    "devices": [dev("d2", "district_router", "core")],
                    "communes": [
                        {"code": "00003", "name": "C3", "devices": [dev("c", "cpe", "d2"), dev("e", "cpe", "d2")]}
                    ],
                },
            ],
        }
    )


def settings() -> CollectorSettings:
    return CollectorSettings(inventory="-", state=StateSettings(default_interval_s=IV))


def stream(seed: int) -> list[wire.SampleBatch]:
    """Rounds of samples: runs of failures, a silent device, a silent district."""
    rnd = random.Random(seed)
    health = {d: [True] * ROUNDS for d in DEVICES}
    for d in DEVICES:
        for _ in range(2):
            start = rnd.randrange(ROUNDS - 6)
            for k in range(start, start + rnd.randint(1, 6)):
                health[d][k] = False
    silent = {d: set() for d in DEVICES}
    for d in rnd.sample(DEVICES, 2):
        start = rnd.randrange(5, ROUNDS - 8)
        silent[d] = set(range(start, start + rnd.randint(4, 8)))  # long enough to go UNKNOWN
    batches = []
    for k in range(ROUNDS):
        t = T0 + k * IV
        samples = [
            wire.Sample(device=d, probe="icmp", ts=t + i, ok=health[d][k], loss=0.0 if health[d][k] else 1.0)
            for i, d in enumerate(DEVICES)
            if k not in silent[d]
        ]
        batches.append(wire.SampleBatch(v=1, agent=AGENT, seq=k, sent_at=t + 10, samples=samples))
    return batches


def closed_windows(engine: Engine) -> dict[str, list[float | None]]:
    """Availability of every unit over every closed ten-minute window and the whole run."""
    out: dict[str, list[float | None]] = {}
    end = T0 + ROUNDS * IV
    edges = [T0 + 600.0 * i for i in range(int((end - T0) // 600) + 1)]
    for scope, ident in [("province", "51"), ("district", "001"), ("district", "002")] + [
        ("device", d) for d in DEVICES
    ]:
        out[f"{scope}:{ident}"] = [
            engine.availability(scope, ident, a, b).ratio  # type: ignore[arg-type]
            for a, b in [*itertools.pairwise(edges), (T0, edges[-1])]
        ]
    return out


def main() -> None:
    path, kill_at, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = SqliteStore.open(path)
    if kill_at:
        count = 0

        def trace(_statement: str) -> None:
            nonlocal count
            count += 1
            if count == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)

        conn: sqlite3.Connection = store._conn  # the one connection every write goes through
        conn.set_trace_callback(trace)
    batches = stream(seed)
    todo = [b for b in batches if not store.is_duplicate(b.agent, b.seq)]
    clock = [todo[0].sent_at if todo else T0]
    engine = Engine(inventory(), settings(), store, clock=lambda: clock[0])
    for b in todo:
        clock[0] = b.sent_at
        engine.tick(clock[0])
        engine.apply_batch(b, clock[0])
        engine.tick(clock[0])
    log = [
        [t.device, t.ts, t.old.value, t.new.value, t.root_cause]
        for d in DEVICES
        for t in engine.transitions(d, 0, 1e11)
    ]
    print(json.dumps({"transitions": log, "windows": closed_windows(engine)}))
    engine.close()


if __name__ == "__main__":
    main()
