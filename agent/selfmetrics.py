"""The agent's own metrics: what polling costs and how it goes.

:class:`PollStats` is plain mutable state the poller updates (no locks: one event loop);
:class:`PollStatsCollector` is a prometheus_client custom collector that reads it at
scrape time, registered on a registry the caller injects (tests never touch the global
one).
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

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
        polls = CounterMetricFamily("netmon_agent_polls", "Probes completed.", labels=["agent", "probe", "result"])
        for (probe, result), n in sorted(s.polls.items()):
            polls.add_metric([a, probe, result], n)
        yield polls
        errors = CounterMetricFamily(
            "netmon_agent_poll_errors", "Failed probes by kind.", labels=["agent", "probe", "reason"]
        )
        for (probe, reason), n in sorted(s.errors.items()):
            errors.add_metric([a, probe, reason], n)
        yield errors
        one = {(k,): v for k, v in s.rejected_values.items()}
        kinds = {(k,): v for k, v in s.uptime_anomalies.items()}
        traps = {(k,): v for k, v in s.trap_polls.items()}
        labelled: tuple[tuple[str, str, list[str], Mapping[Any, int]], ...] = (
            (
                "netmon_agent_snmp_unread_tables",
                "SNMP polls that answered but left a table unread.",
                ["table", "reason"],
                s.unread,
            ),
            (
                "netmon_agent_snmp_rejected_values",
                "Impossible values devices sent, dropped before any sample.",
                ["field"],
                one,
            ),
            (
                "netmon_agent_snmp_usm_errors",
                "SNMPv3 refusals by USM/MPD counter (origin report: the device refused us; local: we refused it).",
                ["error", "origin"],
                s.usm_errors,
            ),
            (
                "netmon_agent_uptime_anomalies",
                "Uptimes neither normal nor a restart (frozen, drifting).",
                ["kind"],
                kinds,
            ),
            (
                "netmon_agent_traps_received",
                "SNMP notifications received, by version and result.",
                ["version", "result"],
                s.traps,
            ),
            (
                "netmon_agent_trap_polls",
                "Out-of-schedule probes made because of an SNMP notification.",
                ["trap"],
                traps,
            ),
        )
        for name, doc, labels, values in labelled:
            counter = CounterMetricFamily(name, doc, labels=["agent", *labels])
            for key, n in sorted(values.items()):
                counter.add_metric([a, *key], n)
            yield counter
        for name, doc, h in (
            ("netmon_agent_poll_duration_seconds", "Wall time of one device poll.", s.duration),
            ("netmon_agent_schedule_lag_seconds", "Start of a poll minus its due time.", s.lag),
            (
                "netmon_agent_trap_poll_latency_seconds",
                "SNMP notification received to its probe's samples handed over for publishing.",
                s.trap_latency,
            ),
        ):
            fam = HistogramMetricFamily(name, doc, labels=["agent"])
            fam.add_metric([a], h.buckets(), h.total)
            yield fam
        for name, doc, value in (
            ("netmon_agent_overruns", "Polls still running when the next one was due.", s.overruns),
            ("netmon_agent_skipped_polls", "Polls skipped because the previous one was running.", s.skipped),
            ("netmon_agent_snmp_malformed_messages", "SNMP messages that could not be decoded.", s.malformed),
            ("netmon_agent_internal_errors", "Unexpected errors caught at the poll boundary.", s.internal_errors),
            ("netmon_agent_device_reboots", "Device restarts the agent saw.", s.reboots),
        ):
            c = CounterMetricFamily(name, doc, labels=["agent"])
            c.add_metric([a], value)
            yield c
        for name, doc, value in (
            ("netmon_agent_queue_depth", "Polls due and waiting for a concurrency slot.", s.queue_depth),
            ("netmon_agent_polls_in_flight", "Polls running now.", s.in_flight),
            ("netmon_agent_devices", "Devices scheduled.", s.devices),
        ):
            g = GaugeMetricFamily(name, doc, labels=["agent"])
            g.add_metric([a], value)
            yield g
        info = InfoMetricFamily("netmon_agent_icmp", "How reachability is probed.", labels=["agent"])
        info.add_metric([a], {"mode": s.icmp_mode or "unknown"})
        yield info


def register(stats: PollStats, registry: CollectorRegistry, agent: str = "") -> PollStatsCollector:
    """Register a collector for ``stats`` on ``registry`` and return it."""
    col = PollStatsCollector(stats, agent)
    registry.register(col)
    return col
