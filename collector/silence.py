"""Silences: a device nothing is heard of, an agent that says it is offline, the tick that
closes rounds nobody answered; and the retraction of a silence that was the transport's.

A mixin of :class:`collector.apply.Writer` (its write path), kept apart because it is
another concern: what the absence of samples means, rather than what a sample says.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import msgspec

from netmon.agent import wire
from netmon.collector.devices import DeviceFacts, Live, Topology
from netmon.collector.journal import Txn
from netmon.collector.model import AgentView, State
from netmon.collector.records import DeviceRecords
from netmon.collector.replay import Moment, Replayer, Steps
from netmon.collector.state import Stale
from netmon.collector.store import Commit

#: How long after a device's last sample an UNKNOWN from its agent's last will begins.
STALE_EPSILON_S = 0.001

_encoder = msgspec.json.Encoder()


class Writes(Steps, Protocol):
    """What the silences need of the write path."""

    records: DeviceRecords
    topology: Topology
    replayer: Replayer
    started: float

    def run(self, commit: Commit, work: Callable[[Txn], None]) -> bool:
        """Do ``work`` in a transaction and persist it."""
        ...

    def maintenance(
        self,
        dev_id: str,
        f: DeviceFacts,
        live: Live,
        *,
        never_before: float,
        first_at: float,
        upto: float,
        tx: Txn,
        moment: Moment,
    ) -> None:
        """Apply a device's maintenance boundaries up to ``upto``."""
        ...

    def _go_stale(self, dev_id: str, ts: float, cause: str, tx: Txn, moment: Moment) -> None: ...

    def _agent_status(self, status: wire.AgentStatus, received_at: float, tx: Txn) -> None: ...

    def _tick(self, now: float, tx: Txn) -> None: ...


class Silences:
    """The write path's handling of silences (a mixin: its methods take the writer as ``self``)."""

    def _resume(self: Writes, dev_id: str, ts: float, *, f: DeviceFacts, live: Live, tx: Txn, moment: Moment) -> None:
        """A sample after a silence: retract an UNKNOWN the transport caused, or record a real gap."""
        core = self.records.core[dev_id]
        gap = live.last_seen is not None and ts - live.last_seen > f.stale_after_s
        if live.pre_stale is not None:
            if core.base == State.UNKNOWN and not gap:
                # The silence was the transport's, not the network's: what the samples
                # say replaces the UNKNOWN that the tick or the last will had declared.
                since = core.since
                self.rewrite(dev_id, since, live.pre_stale, tx)
                if f.descendants:
                    # What its dependants saw of the UNKNOWN is retracted too.
                    tx.edit_views(dev_id, self.replayer.views)
                    self.replayer.views.cut(dev_id, since)
                    for d in f.descendants:
                        self.replayer.schedule_dependant(d, since)
            live.pre_stale = None
        if gap and live.last_seen is not None:
            self.close_round(dev_id, f, live, tx, moment)
            self.feed(dev_id, Stale(live.last_seen + f.interval_s, "no data"), tx, moment)

    def agent_status(self: Writes, status: wire.AgentStatus, received_at: float) -> bool:
        """An agent's birth message or last will; offline makes its devices UNKNOWN at once;
        returns whether anything was written."""
        return self.run(Commit(), lambda tx: self._agent_status(status, received_at, tx))

    def _agent_status(self: Writes, status: wire.AgentStatus, received_at: float, tx: Txn) -> None:
        prev = self.records.agents.get(status.agent)
        online = status.state == "online"
        self.records.agents[status.agent] = AgentView(
            id=status.agent,
            online=online,
            last_seen=received_at if online else (prev.last_seen if prev else None),
            version=status.version or (prev.version if prev else ""),
            devices=status.devices or (prev.devices if prev else 0),
            last_seq=prev.last_seq if prev else None,
        )
        tx.commit.agents[status.agent] = _encoder.encode(self.records.agents[status.agent])
        if online:
            return
        moment = Moment.live(received_at)
        ts = status.ts or received_at
        for dev_id, live in self.records.live.items():
            if live.agent == status.agent:
                # A last will carries the time the agent connected, often before its last
                # sample: the device was seen then, so UNKNOWN starts just after. Dated at
                # the sample itself, it would supersede the UP that sample may have made,
                # and retracting the UNKNOWN later could not bring that UP back.
                since = ts if live.last_seen is None else max(ts, live.last_seen + STALE_EPSILON_S)
                self._go_stale(dev_id, since, f"agent {status.agent} offline", tx, moment)

    def _go_stale(self: Writes, dev_id: str, ts: float, cause: str, tx: Txn, moment: Moment) -> None:
        core = self.records.core[dev_id]
        if core.base == State.UNKNOWN:
            return
        live = self.records.live[dev_id]
        self.close_round(dev_id, self.topology.facts[dev_id], live, tx, moment)
        before = self.records.core[dev_id]
        self.feed(dev_id, Stale(ts, cause), tx, moment)
        if self.records.core[dev_id] is not before:
            live.pre_stale = before

    def tick(self: Writes, now: float, *, checkpoint: bool) -> bool:
        """Close rounds that nobody answered, declare staleness, apply maintenance
        boundaries; ``checkpoint`` begins saving every device whole (a slice per commit at
        national scale: :mod:`collector.tails`). Returns whether anything was written."""
        if checkpoint:
            self.records.tails.due = True
        return self.run(Commit(), lambda tx: self._tick(now, tx))

    def _tick(self: Writes, now: float, tx: Txn) -> None:
        for dev_id, f in self.topology.facts.items():
            live = self.records.live[dev_id]
            # Processing keys in measurement time: when the next round's sample would have
            # decided it, not the tick's own time (which is later than samples still in
            # flight, and would make their devices look as if heard out of order).
            if live.round_start is not None and now - live.round_start >= f.interval_s:
                self.close_round(dev_id, f, live, tx, Moment.live(live.round_start + f.interval_s))
                tx.moved.add(dev_id)
            if live.last_seen is not None and now - live.last_seen > f.stale_after_s:
                self._go_stale(
                    dev_id, live.last_seen + f.interval_s, "no data", tx, Moment.live(live.last_seen + f.stale_after_s)
                )
            if f.windows:
                self.journal(dev_id, tx)
                start = self.started
                self.maintenance(
                    dev_id, f, live, never_before=start, first_at=start, upto=now, tx=tx, moment=Moment.live(now)
                )
                tx.moved.add(dev_id)

    def save_all(self: Writes) -> None:
        """Save every device (on a clean stop)."""
        commit = Commit(drop_tails=True)
        for dev_id in self.topology.facts:
            commit.devices[dev_id] = b""
        self.run(commit, lambda tx: None)
