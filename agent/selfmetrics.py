"""The agent's own metrics: what polling costs and how it goes.

:class:`PollStats` is plain mutable state the poller updates (no locks: one event loop);
:class:`PollStatsCollector` is a prometheus_client custom collector that reads it at
scrape time, registered on a registry the caller injects (tests never touch the global
one).

Every family of the agent's ``/metrics`` is one :class:`~config.metricspec.MetricSpec`
line below, emitted through it, and the README's table is generated from them
(``python -m netmon.metrics_doc``). To add a one-series family: a field on its stats
object and one ``TABLE.stat(...)`` line; then ``python -m netmon.metrics_doc --write``.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from netmon.config.metricspec import MetricTable

#: Histogram buckets (seconds) for poll duration and schedule lag.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class Histogram:
    """A cumulative-on-export histogram with fixed buckets."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    n: int = 0
    max: float = 0.0

    def observe(self, value: float) -> None:
        """Record one value."""
        self.counts[bisect.bisect_left(BUCKETS, value)] += 1
        self.total += value
        self.n += 1
        self.max = max(self.max, value)

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative ``(le, count)`` pairs, ``+Inf`` last."""
        out: list[tuple[str, float]] = []
        acc = 0
        for le, c in zip((*map(str, BUCKETS), "+Inf"), self.counts, strict=True):
            acc += c
            out.append((le, float(acc)))
        return out

    def quantile(self, q: float) -> float:
        """Upper bucket bound below which a fraction ``q`` of values fall (coarse)."""
        if self.n == 0:
            return 0.0
        need = q * self.n
        acc = 0
        for i, c in enumerate(self.counts):
            acc += c
            if acc >= need:
                return BUCKETS[i] if i < len(BUCKETS) else self.max
        return self.max


@dataclass
class PollStats:
    """Counters of one poller.

    Attributes:
        polls: Completed probes by ``(probe, "ok"|"fail")``.
        errors: Failed probes by ``(probe, reason)``.
        duration: Wall time of whole device polls.
        lag: Schedule lag: start of a poll minus its due time.
        overruns: Polls still running when their next one was due.
        skipped: Polls not started because the previous one of the device was still running.
        queue_depth: Polls due and waiting for a concurrency slot, now.
        in_flight: Polls running now.
        devices: Devices scheduled.
        malformed: SNMP messages the engine could not decode.
        internal_errors: Bugs caught at the poll boundary (should stay 0).
        icmp_mode: The ICMP mode in use.
        unread: SNMP polls that answered but left a table unread, by ``(table, reason)``.
        rejected_values: Impossible values devices sent (dropped), by field.
        usm_errors: SNMPv3 refusals by ``(UsmError value, origin)``: origin ``report``
            when the device refused our request, ``local`` when we refused its reply.
        reboots: Device restarts seen.
        uptime_anomalies: Polls whose uptime was neither normal nor a restart, by kind.
        traps: SNMP notifications received, by ``(version, result)``: ``accepted`` or why
            not (``unknown_source``, ``bad_community``, a USM error, ``malformed``,
            ``ignored`` for a kind the agent does not act on, ``dropped`` when the queue
            was full).
        trap_polls: Out-of-schedule probes made because of a notification, by trap.
        trap_latency: Notification received -> its probe's samples handed to the sink.
    """

    polls: Counter[tuple[str, str]] = field(default_factory=Counter)
    errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    duration: Histogram = field(default_factory=Histogram)
    lag: Histogram = field(default_factory=Histogram)
    overruns: int = 0
    skipped: int = 0
    queue_depth: int = 0
    in_flight: int = 0
    devices: int = 0
    malformed: int = 0
    internal_errors: int = 0
    icmp_mode: str = ""
    unread: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejected_values: Counter[str] = field(default_factory=Counter)
    usm_errors: Counter[tuple[str, str]] = field(default_factory=Counter)
    reboots: int = 0
    uptime_anomalies: Counter[str] = field(default_factory=Counter)
    traps: Counter[tuple[str, str]] = field(default_factory=Counter)
    trap_polls: Counter[str] = field(default_factory=Counter)
    trap_latency: Histogram = field(default_factory=Histogram)

    def record(self, probe: str, ok: bool, reason: str = "") -> None:
        """Count one probe outcome."""
        self.polls[(probe, "ok" if ok else "fail")] += 1
        if not ok:
            self.errors[(probe, reason or "unknown")] += 1


AGENT = ("agent",)

#: Every family of the agent's /metrics, in exposition order (the README's table is made of it).
TABLE = MetricTable()
FAMILIES = TABLE.families

# One line per family; `fmt: off` keeps each on its line (a merge adds or drops a line).
# fmt: off
POLLS = TABLE.family("netmon_agent_polls", "counter", "Probes completed.", (*AGENT, "probe", "result"))
POLL_ERRORS = TABLE.family("netmon_agent_poll_errors", "counter", "Failed probes by kind.", (*AGENT, "probe", "reason"))
UNREAD_TABLES = TABLE.family("netmon_agent_snmp_unread_tables", "counter", "SNMP polls that answered but left a table unread.", (*AGENT, "table", "reason"))
REJECTED_VALUES = TABLE.family("netmon_agent_snmp_rejected_values", "counter", "Impossible values devices sent, dropped before any sample.", (*AGENT, "field"))
USM_ERRORS = TABLE.family("netmon_agent_snmp_usm_errors", "counter", "SNMPv3 refusals by USM/MPD counter (origin report: the device refused us; local: we refused it).", (*AGENT, "error", "origin"))
UPTIME_ANOMALIES = TABLE.family("netmon_agent_uptime_anomalies", "counter", "Uptimes neither normal nor a restart (frozen, drifting).", (*AGENT, "kind"))
TRAPS_RECEIVED = TABLE.family("netmon_agent_traps_received", "counter", "SNMP notifications received, by version and result.", (*AGENT, "version", "result"))
TRAP_POLLS = TABLE.family("netmon_agent_trap_polls", "counter", "Out-of-schedule probes made because of an SNMP notification.", (*AGENT, "trap"))
TABLE.stat("netmon_agent_poll_duration_seconds", "histogram", "Wall time of one device poll.", AGENT, "poll", "duration")
TABLE.stat("netmon_agent_trap_poll_latency_seconds", "histogram", "SNMP notification received to its probe's samples handed over for publishing.", AGENT, "poll", "trap_latency")
TABLE.stat("netmon_agent_schedule_lag_seconds", "histogram", "Start of a poll minus its due time.", AGENT, "poll", "lag")
TABLE.stat("netmon_agent_overruns", "counter", "Polls still running when the next one was due.", AGENT, "poll", "overruns")
TABLE.stat("netmon_agent_skipped_polls", "counter", "Polls skipped because the previous one was running.", AGENT, "poll", "skipped")
TABLE.stat("netmon_agent_snmp_malformed_messages", "counter", "SNMP messages that could not be decoded.", AGENT, "poll", "malformed")
TABLE.stat("netmon_agent_internal_errors", "counter", "Unexpected errors caught at the poll boundary.", AGENT, "poll", "internal_errors")
TABLE.stat("netmon_agent_device_reboots", "counter", "Device restarts the agent saw.", AGENT, "poll", "reboots")
TABLE.stat("netmon_agent_queue_depth", "gauge", "Polls due and waiting for a concurrency slot.", AGENT, "poll", "queue_depth")
TABLE.stat("netmon_agent_polls_in_flight", "gauge", "Polls running now.", AGENT, "poll", "in_flight")
TABLE.stat("netmon_agent_devices", "gauge", "Devices scheduled.", AGENT, "poll", "devices")
ICMP = TABLE.family("netmon_agent_icmp", "info", "How reachability is probed.", (*AGENT, "mode"))
TABLE.stat("netmon_agent_outbox_batches", "gauge", "Batches waiting for the broker's PUBACK.", AGENT, "outbox", "depth")
TABLE.stat("netmon_agent_outbox_bytes", "gauge", "Encoded size of the waiting batches.", AGENT, "outbox", "bytes")
TABLE.stat("netmon_agent_outbox_oldest_age_seconds", "gauge", "Age of the oldest waiting batch.", AGENT, "outbox", "oldest_age_s")
TABLE.stat("netmon_agent_broker_connected", "gauge", "1 while connected to the broker.", AGENT, "publisher", "connected")
TABLE.stat("netmon_agent_outbox_dropped_batches", "counter", "Batches dropped by the outbox bounds.", AGENT, "outbox", "dropped_batches")
TABLE.stat("netmon_agent_outbox_dropped_samples", "counter", "Samples in the dropped batches.", AGENT, "outbox", "dropped_samples")
TABLE.stat("netmon_agent_published_batches", "counter", "Batches acknowledged by the broker.", AGENT, "publisher", "published_batches")
TABLE.stat("netmon_agent_broker_connect_failures", "counter", "Failed connection attempts.", AGENT, "publisher", "connect_failures")
TABLE.stat("netmon_agent_lost_samples", "counter", "Samples lost to outbox write errors.", AGENT, "batcher", "lost_samples")
# fmt: on


class PollStatsCollector(Collector):
    """Exposes a :class:`PollStats` as ``netmon_agent_*`` metrics.

    Args:
        stats: The stats to read at each scrape.
        agent: Agent id, a constant label.
    """

    def __init__(self, stats: PollStats, agent: str = "") -> None:
        self._stats = stats
        self._agent = agent

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families (called by the registry at scrape time)."""
        s = self._stats
        a = self._agent
        polls = CounterMetricFamily(POLLS.name, POLLS.help, labels=list(POLLS.labels))
        for (probe, result), n in sorted(s.polls.items()):
            polls.add_metric([a, probe, result], n)
        yield polls
        errors = CounterMetricFamily(POLL_ERRORS.name, POLL_ERRORS.help, labels=list(POLL_ERRORS.labels))
        for (probe, reason), n in sorted(s.errors.items()):
            errors.add_metric([a, probe, reason], n)
        yield errors
        for spec, values in (
            (UNREAD_TABLES, s.unread),
            (REJECTED_VALUES, {(k,): v for k, v in s.rejected_values.items()}),
            (USM_ERRORS, s.usm_errors),
            (UPTIME_ANOMALIES, {(k,): v for k, v in s.uptime_anomalies.items()}),
            (TRAPS_RECEIVED, s.traps),
            (TRAP_POLLS, {(k,): v for k, v in s.trap_polls.items()}),
        ):
            counter = CounterMetricFamily(spec.name, spec.help, labels=list(spec.labels))
            for key, n in sorted(values.items()):
                counter.add_metric([a, *key], n)
            yield counter
        yield from TABLE.stat_families({"poll": s}, a)
        info = InfoMetricFamily(ICMP.name, ICMP.help, labels=list(AGENT))
        info.add_metric([a], {"mode": s.icmp_mode or "unknown"})
        yield info


def register(stats: PollStats, registry: CollectorRegistry, agent: str = "") -> PollStatsCollector:
    """Register a collector for ``stats`` on ``registry`` and return it."""
    col = PollStatsCollector(stats, agent)
    registry.register(col)
    return col
