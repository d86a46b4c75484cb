"""A garbage flood from one login loses no real batch and does not blow up the collector.

Measured before the fix: 20,000 messages a second of garbage from one login made
Mosquitto drop 720 real batches and the collector's resident memory go from 71 to 627 MB.
Here the shipped Mosquitto configuration, a `netmon collector` process, the real agent
(outbox and publisher) sending a batch every 50 ms, and a flooder sending 20,000 garbage
messages a second at QoS 1 from a legitimate agent's login (so the collector must decode
every one of them). Required: every real batch the broker acknowledged is applied, the
broker drops nothing, every garbage message is counted (and logged and kept at a bounded
rate), and the collector's peak resident memory stays under twice what it was before.

The full-size run (a minute; QoS 0 or 1; MQTT 5 or 3.1.1) is ``bench/bench_flood.py``.
"""

from __future__ import annotations

import time
from pathlib import Path

from netmon.collector.ingest import LOG_EVERY_S
from tests.services_flood import flood_rig, metric, run_flood

RATE = 20_000
FLOOD_S = 6.0


async def test_garbage_flood_loses_no_real_batch_and_keeps_the_collector_small(tmp_path: Path) -> None:
    started = time.monotonic()
    with flood_rig(tmp_path) as rig:
        out = await run_flood(rig, rate=RATE, duration=FLOOD_S, qos=1)
        text = rig.metrics()
        assert out.offered >= RATE * FLOOD_S * 0.9, out  # the flood was the size intended
        assert out.real_applied == out.real_sent, out  # not one real batch lost
        assert metric(text, "netmon_collector_duplicate_batches_total") == 0
        assert not out.broker_dropped
        assert out.garbage_counted == out.offered, out  # every garbage message seen and counted
        assert out.rss_peak_mib < 2 * out.rss_before_mib, out
        assert metric(text, "netmon_collector_dead_letters_total") < 200  # kept at a bounded rate
        # one log line per reason every LOG_EVERY_S, not one per message
        assert rig.log.read_text().count("reason=json") <= 2 + (time.monotonic() - started) / LOG_EVERY_S
