"""A sample's measurements: what the pages and exporters show of a device beside its state
(latency, loss, SNMP response, identity, interfaces, and when each was measured), and the
latency points kept for the charts. Pure: it changes the records it is given."""

from __future__ import annotations

from netmon.agent import wire
from netmon.collector.devices import Live, Measured
from netmon.collector.store import HistoryRow


def measure(
    measured: dict[str, Measured], s: wire.Sample, live: Live, history: list[HistoryRow], history_step_s: float
) -> None:
    """Take a sample's measurements into its device's records; append a latency point to
    ``history`` when the device's last one is ``history_step_s`` old."""
    m = measured.get(s.device)
    if m is None:
        m = measured[s.device] = Measured()
    if s.probe != "snmp":
        m.probe_at = s.ts
        m.loss_ratio = s.loss if s.loss is not None else (0.0 if s.ok else 1.0)
        rtt = s.rtt
        if rtt is not None:
            m.rtt_min_s, m.rtt_avg_s, m.rtt_max_s, m.jitter_s = rtt.min, rtt.avg, rtt.max, rtt.jitter
        elif not s.ok:
            m.rtt_min_s = m.rtt_avg_s = m.rtt_max_s = m.jitter_s = None
        if s.ts - live.hist_last >= history_step_s:
            live.hist_last = s.ts
            avg, jitter = (rtt.avg, rtt.jitter) if rtt is not None else (None, None)
            history.append(HistoryRow(s.device, s.ts, s.ok, avg, m.loss_ratio, jitter))
        return
    if m.probe_at is None and s.ts - live.hist_last >= history_step_s:
        # No ICMP/TCP probe (ICMP off): the SNMP response time is the latency the charts show.
        live.hist_last = s.ts
        history.append(HistoryRow(s.device, s.ts, s.ok, s.response_s if s.ok else None, None, None))
    if s.ok:
        m.snmp_at = s.ts
        m.unread = s.unread  # the tables this answer left unread (None: all read)
    if s.response_s is not None:
        m.response_s = s.response_s
    if s.sys_uptime_s is not None:
        live.sys_uptime_s = s.sys_uptime_s
        live.uptime_at = s.ts
    if s.sys_name is not None:
        live.sys_name = s.sys_name
    if s.sys_descr is not None:
        live.sys_descr = s.sys_descr
    if s.interfaces is not None:
        m.interfaces, m.interfaces_at = s.interfaces, s.ts
