"""Benchmark: a garbage flood from one login against the shipped broker and a collector process.

Mosquitto with the shipped configuration (TLS, passwords, ACL, queue limits), `netmon
collector` in its own process with a declared agents map, the real agent (outbox and
publisher) publishing a batch every 50 ms, and a flooder (``tests/flood.py``) publishing
garbage from a declared agent's login on its own topic. Prints one JSON line per run:
garbage offered and counted, real batches sent and applied (lost = the difference),
whether the broker dropped anything, the collector's resident memory before and at its
peak, its CPU per message, how long it took to catch up after the flood, and the broker's
peak memory.

    python bench/bench_flood.py [--rate 20000] [--duration 60] [--qos 1] [--protocol 5] [--runs 1]

The short version runs in the default test suite (``tests/integration/test_flood.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services_flood import flood_rig, run_flood  # noqa: E402


async def one(args: argparse.Namespace) -> dict[str, object]:
    """One flood on a fresh broker and collector."""
    with (
        tempfile.TemporaryDirectory(prefix="netmon-flood-") as tmp,
        flood_rig(Path(tmp), protocol=args.protocol) as rig,
    ):
        out = await run_flood(rig, rate=args.rate, duration=args.duration, qos=args.qos, catch_up_s=args.catch_up)
    return {
        "rate": args.rate,
        "qos": args.qos,
        "protocol": args.protocol,
        **dataclasses.asdict(out),
        "real_lost": out.real_sent - out.real_applied,
        "rss_ratio": round(out.rss_peak_mib / out.rss_before_mib, 2),
    }


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=20_000, help="garbage messages a second")
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of flood")
    ap.add_argument("--qos", type=int, choices=(0, 1), default=1)
    ap.add_argument("--protocol", choices=("5", "3.1.1"), default="5", help="the collector's MQTT version")
    ap.add_argument("--catch-up", type=float, default=300.0, help="longest wait for the collector after the flood")
    ap.add_argument("--runs", type=int, default=1)
    args = ap.parse_args()
    for _ in range(args.runs):
        print(json.dumps(asyncio.run(one(args))), flush=True)


if __name__ == "__main__":
    main()
