"""The write path: samples, agent statuses and the tick turned into device states,
transitions and outages, persisted one transaction per batch.

It groups samples into probe rounds, feeds :func:`collector.state.apply` in measurement
time order, propagates a device's change to its dependants, re-plays devices that late
samples concern (:mod:`collector.replay`), appends transitions to the recent log
(:mod:`collector.readmodel`) and writes every batch's effects with the batch's
``(agent, seq)`` in one store transaction. If the commit fails (disk full, I/O error), a
journal puts the memory back as it was before the batch, so that its redelivery is
applied as if for the first time.

Every judgement is made at an explicit :class:`~collector.replay.Moment` (a live sample,
an ancestor's message, the tick, or a re-play) passed down the calls; every change is
made inside an explicit :class:`Txn` that journals it.

**Silences.** If a device went UNKNOWN because nothing arrived (the tick's staleness or
the agent's last will) and its samples continue without a real gap (an outbox replay
after a broker outage), the UNKNOWN is retracted: the stored transitions from then on are
rewritten with what the samples say really happened.

**Late samples.** Within ``reorder_window_s`` a device is re-played from a checkpoint with
the late sample merged in; older than the window (or from before a collector restart),
the sample updates the measurements shown but not the state, and is counted in
``late_samples``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from operator import attrgetter

import msgspec

from netmon.agent import wire
from netmon.collector import maintenance as mnt
from netmon.collector import reboots as rb
from netmon.collector.devices import (
    DeviceFacts,
    Live,
    LiveTail,
    Topology,
    encode_saved,
    encode_tails,
)
from netmon.collector.journal import Txn
from netmon.collector.measure import measure
from netmon.collector.model import AgentView, Outage, Reboot, State, Transition
from netmon.collector.readmodel import RecentLog
from netmon.collector.records import load_records
from netmon.collector.replay import NO_KEY, Moment, Replayer
from netmon.collector.silence import Silences
from netmon.collector.state import (
    IMPAIRED,
    AncestorChanged,
    Confirmed,
    Context,
    DeviceState,
    Event,
    Maintenance,
    Round,
    apply,
    initial,
    steady,
)
from netmon.collector.store import Commit, Store
from netmon.collector.timeline import Point, Timeline
from netmon.config.settings import StateSettings

log = logging.getLogger(__name__)

_by_ts = attrgetter("ts")
_encoder = msgspec.json.Encoder()


@dataclass(slots=True)
class WriteCounters:
    """What the write path counts (monotonic)."""

    batches: int = 0
    samples: int = 0
    duplicates: int = 0
    late_samples: int = 0
    late_replayed: int = 0
    unknown_samples: int = 0


class Writer(Silences):
    """Device states of one inventory, changed by batches, agent statuses and the tick.

    Args:
        topology: The inventory, indexed.
        settings: The state rules.
        store: Where effects are persisted.
        recent: The recent transition log, appended to.
        now: The time the engine starts (the "since" of devices never heard of).
        history_step_s: One latency point per device per this many seconds for the charts.
    """

    def __init__(
        self,
        topology: Topology,
        settings: StateSettings,
        store: Store,
        recent: RecentLog,
        *,
        now: float,
        history_step_s: float,
    ) -> None:
        self.topology = topology
        self._sset = settings
        self._store = store
        self.recent = recent
        self._history_step_s = history_step_s
        self.started = now
        self.counters = WriteCounters()
        self.records = load_records(store, topology, now)
        self.replayer = Replayer(topology, settings, self.records)
        #: Devices whose view changed since the snapshot last looked.
        self.dirty_views: set[str] = set(topology.facts)
        #: Whether anything the snapshot shows changed since it last looked.
        self.changed = True

    def retopologise(self, topology: Topology, now: float) -> None:
        """A new inventory: new devices start UNKNOWN, removed ones are forgotten (their
        stored transitions and outages stay)."""
        self.topology = topology
        self.replayer.topology = topology
        rec = self.records
        for dev_id in topology.facts:
            if dev_id not in rec.core:
                rec.core[dev_id] = initial(now)
                rec.live[dev_id] = Live()
        for gone in [d for d in rec.core if d not in topology.facts]:
            rec.forget(gone)
            self.replayer.forget(gone)
        self.dirty_views.update(topology.facts)
        self.changed = True

    # --- transactions ---------------------------------------------------------------------

    def run(self, commit: Commit, work: Callable[[Txn], None]) -> bool:
        """Do ``work`` in a transaction and persist it; if anything fails (the commit
        included), the memory is put back as it was and the error propagates.

        Returns:
            Whether anything was written (a store that took no write proved nothing).
        """
        tx = Txn(commit)
        agents = dict(self.records.agents)
        counters = replace(self.counters)
        try:
            work(tx)
            self.replayer.drain(tx, self)
            return self._finish(tx)
        except BaseException:
            tx.rollback(self.records, self.recent, self.replayer.views)
            for dev_id in tx.devices:
                # Re-play logs are not journaled: give them up (late samples wait for the next checkpoint).
                self.replayer.logs.pop(dev_id, None)
                self.dirty_views.add(dev_id)
            self.records.agents = agents
            self.counters = counters
            self.replayer.pending.clear()
            self.changed = True
            raise

    def journal(self, dev_id: str, tx: Txn) -> None:
        """Journal a device before its first change in the transaction."""
        tx.touch(dev_id, self.records)

    def _finish(self, tx: Txn) -> bool:
        commit = tx.commit
        tails = [
            LiveTail.of(d, self.records.live[d]) for d in tx.moved if d not in commit.devices and d in self.records.live
        ]
        if tails:
            commit.tails = encode_tails(tails)
        saving = self.records.tails.plan(commit, self.topology.facts)
        if not commit.has_effects():
            return False
        gen = self.records.gen + 1
        commit.gen = gen
        for dev_id in commit.devices:
            commit.devices[dev_id] = encode_saved(self.records.core[dev_id], self.records.live[dev_id], gen)
        self._store.commit(commit)
        self.records.gen = gen
        self.records.tails.committed(commit, saving)
        if commit.transitions or commit.devices or commit.agents:
            self.changed = True
        return True

    # --- batches --------------------------------------------------------------------------

    def apply_batch(self, batch: wire.SampleBatch, received_at: float) -> bool:
        """Apply an agent's batch and persist its effects with ``(agent, seq)`` atomically;
        returns whether anything was written (not for a duplicate)."""
        if self._store.is_duplicate(batch.agent, batch.seq):
            self.counters.duplicates += 1
            return False
        return self.run(Commit(ledger=(batch.agent, batch.seq)), lambda tx: self._batch(batch, received_at, tx))

    def _batch(self, batch: wire.SampleBatch, received_at: float, tx: Txn) -> None:
        self.counters.batches += 1
        self.counters.samples += len(batch.samples)
        facts = self.topology.facts
        for s in sorted(batch.samples, key=_by_ts):
            f = facts.get(s.device)
            if f is None:
                self.counters.unknown_samples += 1
                continue
            self._sample(s, f, batch.agent, tx)
        view = self.records.agents.get(batch.agent)
        self.records.agents[batch.agent] = AgentView(
            id=batch.agent,
            online=True,
            last_seen=max(received_at, view.last_seen or 0.0) if view else received_at,
            version=view.version if view else "",
            devices=view.devices if view else 0,
            last_seq=batch.seq if view is None or view.last_seq is None else max(view.last_seq, batch.seq),
        )
        tx.commit.agents[batch.agent] = _encoder.encode(self.records.agents[batch.agent])

    def _sample(self, s: wire.Sample, f: DeviceFacts, agent: str, tx: Txn) -> None:
        # The hot path (50,000 samples/s): local names, and the common case of a good
        # sample of an UP device decided here without calling the core, which would
        # return the same state (see ``state.apply``: UP with no failure streak).
        dev_id = s.device
        ts = s.ts
        rec = self.records
        replayer = self.replayer
        if dev_id not in tx.devices:
            tx.touch(dev_id, rec)
        tx.moved.add(dev_id)
        live = rec.live[dev_id]
        live.agent = agent
        self.dirty_views.add(dev_id)
        wm = rec.watermark.get(dev_id)
        if s.rebooted:
            self._reboot(s, agent, live, tx, late=wm is not None and ts < wm)
        if s.trigger is not None:
            self._triggered(s, s.trigger, live, tx, Moment.live(ts))
            return
        if wm is not None and ts < wm:
            self._late(s, live, tx, Moment.live(ts))
            return
        # An ancestor that changed after this sample's time, heard of first: the sample is
        # applied live now, and if its ancestors mattered to it (see below) the device is
        # re-played in order before the batch commits. Scheduled now, so that no checkpoint
        # is taken from a judgement made against the wrong view.
        views = replayer.views
        moved = ts < views.max_key and bool(f.ancestors) and views.moved_after(f.ancestors, ts)
        if moved:
            was_pending = replayer.pending.get(dev_id)
            replayer.schedule(dev_id, ts)
        if wm is None and live.last_seen is None:
            replayer.first_sample(dev_id, ts, live)
        rec.watermark[dev_id] = ts
        last_seen = live.last_seen
        if live.pre_stale is not None or (last_seen is not None and ts - last_seen > f.stale_after_s):
            self._resume(dev_id, ts, f=f, live=live, tx=tx, moment=Moment.live(ts))
        rs = live.round_start
        core = rec.core[dev_id]
        if (
            s.ok
            and not f.windows
            and rs is not None
            and ts < rs + f.interval_s / 2
            and (live.round_ok or steady(core))
        ):
            live.round_ok = True  # same round, nothing for the core to decide
        else:
            self.step(ts, s.ok, s.reason, dev_id=dev_id, f=f, live=live, tx=tx, moment=Moment.live(ts))
        if moved and replayer.judged.get(dev_id, NO_KEY) < ts and not rec.core[dev_id].fail_streak:
            # Its ancestors did not matter to this sample: nothing to re-play for it.
            replayer.pending.put_back(dev_id, was_pending)
        replayer.log(dev_id, ts, s.ok, s.reason)
        if last_seen is None or ts > last_seen:
            live.last_seen = ts
        if s.ok:
            live.last_ok = ts
        measure(rec.measured, s, live, tx.commit.history, self._history_step_s)

    def step(
        self, ts: float, ok: bool, reason: str, *, dev_id: str, f: DeviceFacts, live: Live, tx: Txn, moment: Moment
    ) -> None:
        """Maintenance boundaries up to ``ts``, then the sample's part in its round."""
        if f.windows:
            self.maintenance(dev_id, f, live, never_before=ts - 1e-9, first_at=ts, upto=ts, tx=tx, moment=moment)
        if live.round_start is not None and ts >= live.round_start + f.interval_s / 2:
            self.close_round(dev_id, f, live, tx, moment, boundary=ts)
        if live.round_start is None:
            live.round_start, live.round_ok, live.round_reason = ts, False, ""
        if ok:
            if not live.round_ok:
                live.round_ok = True
                self._good_round(dev_id, ts, tx, moment)
        elif not live.round_reason:
            live.round_reason = reason

    def _good_round(self, dev_id: str, ts: float, tx: Txn, moment: Moment) -> None:
        """A round that answered: the core decides it, unless the device is steady (nothing
        would change)."""
        if not steady(self.records.core[dev_id]):
            self.feed(dev_id, Round(ts, True), tx, moment)

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
        """Apply a device's maintenance boundaries up to ``upto``. If it was never looked at,
        from ``never_before`` on, with the window in force at ``first_at`` (if any) first."""
        t0 = live.maint_checked
        if t0 is None:
            t0 = never_before
            w = mnt.in_maintenance(f.windows, first_at)
            if w is not None:
                self.feed(dev_id, Maintenance(first_at, True, w.reason or "maintenance"), tx, moment)
        for t, on, why in mnt.changes(f.windows, t0, upto):
            self.feed(dev_id, Maintenance(t, on, why), tx, moment)
        live.maint_checked = max(upto, t0)

    def close_round(
        self, dev_id: str, f: DeviceFacts, live: Live, tx: Txn, moment: Moment, *, boundary: float | None = None
    ) -> None:
        """Decide the open round; ``boundary`` is the time of the sample that opens the next
        one (everything before it is applied: a moment to checkpoint)."""
        tx.touch(dev_id, self.records)
        if live.round_start is None:
            return
        if not live.round_ok:
            self.feed(dev_id, Round(live.round_start, False, live.round_reason), tx, moment)
        live.round_start, live.round_ok, live.round_reason = None, False, ""
        if boundary is not None and not moment.replaying:
            self.replayer.maybe_checkpoint(dev_id, live, boundary)

    def _triggered(self, s: wire.Sample, trigger: wire.Trigger, live: Live, tx: Txn, moment: Moment) -> None:
        """A probe an SNMP notification set off (a linkDown from the uplink, a coldStart):
        outside the rounds, so it neither opens nor closes one. Failed, it is a confirmed
        failure (DOWN at once, or UNREACHABLE/held as its ancestors say); answered, a good
        round for a device that was failing. Not logged for re-play: a re-play judges the
        device on its rounds alone, which confirm the failure a few rounds later."""
        dev_id = s.device
        if s.ok:
            self._good_round(dev_id, s.ts, tx, moment)
            live.last_ok = s.ts if live.last_ok is None else max(live.last_ok, s.ts)
        else:
            # The failure began no later than the notification that told of it.
            self.feed(dev_id, Confirmed(min(trigger.received_at, s.ts), trigger.trap, s.reason), tx, moment)
        if live.last_seen is None or s.ts > live.last_seen:
            live.last_seen = s.ts
        measure(self.records.measured, s, live, tx.commit.history, self._history_step_s)

    def _reboot(self, s: wire.Sample, agent: str, live: Live, tx: Txn, *, late: bool) -> None:
        """Record the reboot a sample reports, once (:mod:`collector.reboots`); a late
        sample's is dated without the previous reading (which is not the one before it)."""
        previous = None if late else rb.UptimeReading.of(live.uptime_at, live.sys_uptime_s)
        # The agent's own estimate when it sends one (from hrSystemUptime or snmpEngineTime,
        # which do not wrap as sysUpTime does after 497 days), else the sysUpTime it read.
        uptime = s.ts - s.rebooted_at if s.rebooted_at is not None else s.sys_uptime_s
        at = rb.came_back_at(s.ts, uptime, previous)
        tx.touch_recent(s.device, self.recent)
        if self.recent.add_reboot(s.device, at):
            tx.commit.reboots.append(Reboot(s.device, at, s.ts, agent, s.sys_uptime_s))
            self.changed = True

    # --- the core, and what follows from a transition -------------------------------------

    def _context(self, f: DeviceFacts, moment: Moment) -> Context:
        """The ancestors' situation at ``moment``: live, their states now; in a re-play,
        what each one's view log says it was then."""
        suspect = False
        for a in f.ancestors:
            ac = self.records.core.get(a)
            if ac is None:
                continue
            view = self.replayer.views.at(a, moment.bound) if moment.replaying else None
            if view is not None:
                base, root, streak = view.base, view.root_cause, view.streak
            else:
                base, root, streak = ac.base, ac.root_cause, ac.fail_streak > 0
            if base == State.DOWN:
                return Context(impaired_root=a, suspect=suspect)
            if base == State.UNREACHABLE:
                return Context(impaired_root=root or a, suspect=suspect)
            if streak:
                suspect = True
        return Context(suspect=suspect)

    def feed(self, dev_id: str, event: Event, tx: Txn, moment: Moment) -> None:
        self.journal(dev_id, tx)
        f = self.topology.facts[dev_id]
        old = self.records.core[dev_id]
        if f.ancestors and not (isinstance(event, Round) and event.ok):
            ctx = self._context(f, moment)
            self.replayer.judged[dev_id] = moment.key
        else:
            ctx = Context()
            if old.fail_streak and f.ancestors:
                self.replayer.judged[dev_id] = moment.key  # a streak was under way until now
        new, transitions = apply(old, event, event.ts, device=dev_id, rules=f.rules, ctx=ctx)
        if new is old:
            return
        self.records.core[dev_id] = new
        tx.commit.devices[dev_id] = b""  # serialized in _finish
        self.dirty_views.add(dev_id)
        for tr in transitions:
            self._record(tr, f, tx)
        if not f.descendants:
            return
        streak_changed = (old.fail_streak > 0) != (new.fail_streak > 0)
        notify = (old.base in IMPAIRED) != (new.base in IMPAIRED) or old.root_cause != new.root_cause or streak_changed
        if not (notify or old.base != new.base):
            return  # nothing its dependants see
        notify_ts = (transitions[-1].ts if transitions else event.ts) if notify else None
        tx.edit_views(dev_id, self.replayer.views)
        stamp = self.replayer.views.record(dev_id, moment, old, new, notify_ts)
        if moment.replaying:
            return  # the dependants are re-played after this device
        key = moment.key
        told = moment.delivering(stamp)
        for d in f.descendants:
            if self.replayer.last_key(d) > key:
                # It has already been judged past this moment, against the old view.
                self.replayer.schedule_dependant(d, key)
            elif notify_ts is not None and self.records.core[d].fail_streak > 0:
                self.replayer.notified[d] = key
                self.feed(d, AncestorChanged(notify_ts), tx, told)

    def _record(self, tr: Transition, f: DeviceFacts, tx: Txn) -> None:
        """Append a transition to the recent log and the commit (an outage opens with it)."""
        commit = tx.commit
        recent = self.recent
        tx.touch_recent(tr.device, recent)
        tl = recent.device.get(tr.device)
        if tl is None:
            tl = recent.device[tr.device] = Timeline()
        if tl and tl[-1][0] == tr.ts:
            # A state that lasted no time (e.g. UNREACHABLE then DOWN at the same instant
            # during a re-play): the later one replaces it, in memory and in the store.
            superseded = tl.pop()
            if superseded[1] in IMPAIRED and (len(tl) == 0 or tl[-1][1] not in IMPAIRED):
                recent.outage_counts[tr.device] = max(0, recent.outage_counts.get(tr.device, 0) - 1)
            pending = [t for t in commit.transitions if t.device == tr.device and t.ts == tr.ts]
            if pending:
                commit.transitions = [t for t in commit.transitions if not (t.device == tr.device and t.ts == tr.ts)]
                commit.opened = [o for o in commit.opened if not (o.device == tr.device and o.start == tr.ts)]
            else:
                prev = commit.rewrite_from.get(tr.device)
                commit.rewrite_from[tr.device] = tr.ts if prev is None else min(prev, tr.ts)
            before = tl[-1][1] if tl else State.UNKNOWN
            if tr.new == before and tr.old != tr.new:
                self._touched(tr.device)
                return  # back where it was: no transition at all (a change of root cause stays)
            tr = replace(tr, old=before)
        commit.transitions.append(tr)
        was = tl[-1][1] if tl else State.UNKNOWN
        tl.append(Point(tr.ts, tr.new))
        if tr.new in IMPAIRED:
            if was not in IMPAIRED:
                recent.outage_counts[tr.device] = recent.outage_counts.get(tr.device, 0) + 1
            commit.opened.append(
                Outage(
                    device=tr.device,
                    commune=f.commune,
                    district=f.district,
                    state=tr.new,
                    start=tr.ts,
                    end=None,
                    cause=tr.cause,
                    root_cause=tr.root_cause,
                )
            )
        self._touched(tr.device)

    def _touched(self, dev_id: str) -> None:
        self.recent.touched(dev_id)
        self.changed = True

    def rewrite(self, dev_id: str, since: float, core: DeviceState, tx: Txn) -> None:
        """Forget a device's transitions from ``since`` on and restore ``core``; the log then
        ends in ``core``'s state (its transition may have been among those forgotten: a
        state clamped to the engine's start, dated after the checkpoint it is restored from,
        or superseded by an UNKNOWN clamped to the same instant)."""
        commit = tx.commit
        recent = self.recent
        tx.touch_recent(dev_id, recent)
        tl = recent.device.get(dev_id, Timeline())
        keep = Timeline(p for p in tl if p.ts < since)
        removed = [p for p in tl if p.ts >= since]
        recent.device[dev_id] = keep
        # An outage is a stretch of impaired states: count the ones that began in what is removed.
        prev = keep[-1][1] if keep else State.UNKNOWN
        n_out = 0
        for _, s in removed:
            if s in IMPAIRED and prev not in IMPAIRED:
                n_out += 1
            prev = s
        if n_out:
            recent.outage_counts[dev_id] = max(0, recent.outage_counts.get(dev_id, 0) - n_out)
        commit.transitions = [t for t in commit.transitions if not (t.device == dev_id and t.ts >= since)]
        commit.opened = [o for o in commit.opened if not (o.device == dev_id and o.start >= since)]
        prev_from = commit.rewrite_from.get(dev_id)
        commit.rewrite_from[dev_id] = since if prev_from is None else min(prev_from, since)
        self.records.core[dev_id] = core
        commit.devices[dev_id] = b""
        self._touched(dev_id)
        before = keep[-1][1] if keep else State.UNKNOWN
        if before != core.state:
            ts = max(core.since, keep[-1][0]) if keep else core.since
            tr = Transition(dev_id, ts, before, core.state, core.cause, core.root_cause)
            self._record(tr, self.topology.facts[dev_id], tx)

    # --- late samples and re-plays ------------------------------------------------------------

    def _late(self, s: wire.Sample, live: Live, tx: Txn, moment: Moment) -> None:
        self.counters.late_samples += 1
        if self.replayer.late(s.device, s.ts, s.ok, s.reason):
            self.counters.late_replayed += 1
            return
        # Too late to re-play: the measurements are shown, the state stays.
        if live.round_start is not None and s.ts >= live.round_start and s.ok and not live.round_ok:
            live.round_ok = True
            self.feed(s.device, Round(s.ts, True), tx, moment)
