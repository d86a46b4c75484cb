"""Micro-benchmark: decoding sample batches with the wire module, against an earlier revision.

A typical batch (500 samples: ICMP with RTT and loss, SNMP with response time, uptime and
four interfaces) and a batch with one impossible value (the slow path: decoded again
sample by sample) are decoded many times; the fastest and the median of ``--repeat`` runs
are printed (the fastest is the cost without the machine's noise), in microseconds per
batch and nanoseconds per sample. ``--baseline REV`` loads
``agent/wire.py`` from that git revision too and runs both back to back, alternating, so
that a noisy machine affects both alike.

    python bench/bench_wire.py [--baseline main] [--samples 500] [--repeat 7] [--number 200]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netmon.agent import wire  # noqa: E402

NOW = 1_800_000_000.0


def batch(n: int, *, bad: bool = False) -> bytes:
    """``n`` samples, half ICMP and half SNMP with four interfaces; one impossible value if ``bad``."""
    samples = []
    for i in range(n):
        if i % 2:
            ifaces = [
                wire.Interface(
                    index=k,
                    name=f"Gi0/{k}",
                    oper_status=1,
                    speed_bps=1_000_000_000,
                    in_octets=123_456_789 * k,
                    out_octets=987_654_321 * k,
                    in_errors=0,
                    out_errors=0,
                    in_bps=1.5e6,
                    out_bps=2.5e6,
                )
                for k in range(1, 5)
            ]
            s = wire.Sample(
                device=f"c{i:05d}-cpe1",
                probe="snmp",
                ts=NOW - 1,
                ok=True,
                response_s=0.012,
                sys_uptime_s=123456.7,
                interfaces=ifaces,
            )
        else:
            s = wire.Sample(
                device=f"c{i:05d}-cpe1",
                probe="icmp",
                ts=NOW - 1,
                ok=True,
                rtt=wire.Rtt(0.010, 0.012, 0.020, 0.001),
                loss=0.0,
                sent=3,
            )
        samples.append(s)
    payload = wire.encode(wire.SampleBatch(v=1, agent="d522", seq=1, sent_at=NOW, samples=samples))
    if bad:  # one SNMP sample's response time is negative
        payload = payload.replace(b'"response_s":0.012', b'"response_s":-100', 1)
    return payload


def load_wire(rev: str) -> ModuleType:
    """``agent/wire.py`` as it was at ``rev``, as a module of its own."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{rev}:agent/wire.py"], check=True, capture_output=True, text=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / f"wire_{rev.replace('/', '_')}.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # msgspec resolves the annotations through it
    spec.loader.exec_module(module)
    return module


def per_batch_us(decode: object, payload: bytes, number: int) -> float:
    """Microseconds per call of ``decode(payload)``, over ``number`` calls."""
    started = time.perf_counter()
    for _ in range(number):
        with contextlib.suppress(ValueError):  # decode_batch refuses a bad batch whole
            decode(payload, topic_agent="d522", now=NOW)  # type: ignore[operator]
    return (time.perf_counter() - started) / number * 1e6


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--baseline", help="a git revision whose wire.py to compare with")
    ap.add_argument("--samples", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--number", type=int, default=200)
    args = ap.parse_args()
    decoders = {"this": wire.decode_batch, "this (keep valid samples)": wire.decode_samples}
    if args.baseline:
        decoders[args.baseline] = load_wire(args.baseline).decode_batch
    payloads = {"valid": batch(args.samples), "one impossible value": batch(args.samples, bad=True)}
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeat):
        for name, decode in decoders.items():  # alternating: the machine's noise hits all alike
            for kind, payload in payloads.items():
                times.setdefault((name, kind), []).append(per_batch_us(decode, payload, args.number))
    print(f"{args.samples} samples a batch ({len(payloads['valid'])} bytes); {args.repeat} runs of {args.number}")
    print(f"  {'decoder':28} {'batch':22} {'fastest µs/batch':>17} {'ns/sample':>10} {'median µs/batch':>16}")
    for (name, kind), runs in times.items():
        best, med = min(runs), statistics.median(runs)
        print(f"  {name:28} {kind:22} {best:17.0f} {best * 1000 / args.samples:10.0f} {med:16.0f}")


if __name__ == "__main__":
    main()
