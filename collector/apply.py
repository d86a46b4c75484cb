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
from dataclasses import dataclass, field, replace
from operator import attrgetter

import msgspec

from netmon.agent import wire
from netmon.collector import maintenance as mnt
from netmon.collector.devices import (
    DeviceFacts,
    Live,
    LiveTail,
    Measured,
    Topology,
    decode_saved,
    decode_tails,
    encode_saved,
    encode_tails,
)
from netmon.collector.model import AgentView, Outage, State, Transition
from netmon.collector.readmodel import Point, RecentLog, Timeline
from netmon.collector.replay import (
    NO_KEY,
    Checkpoint,
    Moment,
    Pending,
    ReplayLog,
    View,
    ViewLogs,
    changed_views,
)
from netmon.collector.state import (
    IMPAIRED,
    AncestorChanged,
    Context,
    DeviceState,
    Event,
    Maintenance,
    Round,
    Stale,
    apply,
    initial,
)
from netmon.collector.store import Commit, HistoryRow, Store
from netmon.config.settings import StateSettings

log = logging.getLogger(__name__)

#: How long after a device's last sample an UNKNOWN from its agent's last will begins.
STALE_EPSILON_S = 0.001
#: The live tails saved since the last whole save are bounded by about this many bytes per
#: device (about one whole save): past it, the batch saves every device whole instead.
TAIL_BYTES_PER_DEVICE = 200

_by_ts = attrgetter("ts")
_agent_decoder = msgspec.json.Decoder(AgentView)
_encoder = msgspec.json.Encoder()


@dataclass(slots=True)
class DeviceBefore:
    """A device as it was before the transaction first changed it."""

    core: DeviceState
    live: Live
    watermark: float | None
    timeline: Timeline | None
    timeline_len: int
    timeline_last: tuple[float, State] | None
    outages: int | None


@dataclass(slots=True)
class Txn:
    """One transaction: what it will write, and how to undo what it changed in memory."""

    commit: Commit
    devices: dict[str, DeviceBefore] = field(default_factory=dict)
    views: dict[str, list[View] | None] = field(default_factory=dict)
    #: Devices whose live record the batch moved (saved as live tails).
    moved: set[str] = field(default_factory=set)


@dataclass(slots=True)
class WriteCounters:
    """What the write path counts (monotonic)."""

    batches: int = 0
    samples: int = 0
    duplicates: int = 0
    late_samples: int = 0
    late_replayed: int = 0
    replays: int = 0
    unknown_samples: int = 0


class Writer:
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
        self.core: dict[str, DeviceState] = {}
        self.live: dict[str, Live] = {}
        self.measured: dict[str, Measured] = {}
        self.agents: dict[str, AgentView] = {}
        self._watermark: dict[str, float] = {}
        self._replay: dict[str, ReplayLog] = {}
        self._views = ViewLogs(keep_s=3 * settings.reorder_window_s)
        self._pending = Pending()
        self._notified: dict[str, float] = {}  # the newest key an ancestor's message reached a device
        self._judged: dict[str, float] = {}  # the newest key a device's ancestors mattered to it
        #: Devices whose view changed since the snapshot last looked.
        self.dirty_views: set[str] = set()
        #: Whether anything the snapshot shows changed since it last looked.
        self.changed = True
        self._gen = 0
        self._tail_bytes = 0
        self._load(now)

    # --- loading, inventory ---------------------------------------------------------------

    def _load(self, now: float) -> None:
        saved = self._store.load_devices()
        # One immutable state for all the devices nothing is known of (30,000 at national
        # scale): the first checkpoints of their re-play logs keep it for an hour.
        fresh = initial(now)
        gens: dict[str, int] = {}
        for dev_id in self.topology.facts:
            raw = saved.get(dev_id)
            if raw is not None:
                try:
                    s = decode_saved(raw)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    # A state saved by another version: start this device afresh (UNKNOWN).
                    log.warning("device=%s saved state unreadable, starting UNKNOWN: %s", dev_id, exc)
                else:
                    self.core[dev_id] = s.core
                    self.live[dev_id] = s.live
                    gens[dev_id] = s.gen
                    self._gen = max(self._gen, s.gen)
                    continue
            self.core[dev_id] = fresh
            self.live[dev_id] = Live()
        # The batches committed since each device's record was saved moved its rounds and
        # silences on: bring the records up to the last committed batch.
        for gen, raw in self._store.load_tails():
            self._gen = max(self._gen, gen)
            self._tail_bytes += len(raw)
            try:
                tails = decode_tails(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("saved live tails of commit %d unreadable, skipped: %s", gen, exc)
                continue
            for tail in tails:
                live = self.live.get(tail.device)
                if live is not None and gen > gens.get(tail.device, -1):
                    tail.onto(live)
        for dev_id, live in self.live.items():
            if live.last_seen is not None:
                self._watermark[dev_id] = live.last_seen
        for agent_id, raw in self._store.load_agents().items():
            try:
                self.agents[agent_id] = _agent_decoder.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("agent=%s saved view unreadable, forgotten: %s", agent_id, exc)
        self.dirty_views.update(self.topology.facts)

    def retopologise(self, topology: Topology, now: float) -> None:
        """A new inventory: new devices start UNKNOWN, removed ones are forgotten (their
        stored transitions and outages stay)."""
        self.topology = topology
        for dev_id in topology.facts:
            if dev_id not in self.core:
                self.core[dev_id] = initial(now)
                self.live[dev_id] = Live()
        for gone in [d for d in self.core if d not in topology.facts]:
            del self.core[gone]
            self.live.pop(gone, None)
            self.measured.pop(gone, None)
            self._replay.pop(gone, None)
            self._views.forget(gone)
            self._notified.pop(gone, None)
            self._judged.pop(gone, None)
        self.dirty_views.update(topology.facts)
        self.changed = True

    # --- transactions ---------------------------------------------------------------------

    def run(self, commit: Commit, work: Callable[[Txn], None]) -> None:
        """Do ``work`` in a transaction and persist it; if anything fails (the commit
        included), the memory is put back as it was and the error propagates."""
        tx = Txn(commit)
        agents = dict(self.agents)
        counters = replace(self.counters)
        try:
            work(tx)
            self._drain_pending(tx)
            self._finish(tx)
        except BaseException:
            self._rollback(tx)
            self.agents = agents
            self.counters = counters
            self._pending.clear()
            raise

    def _touch(self, dev_id: str, tx: Txn) -> None:
        """Journal a device before its first change in the transaction."""
        if dev_id in tx.devices:
            return
        tl = self.recent.device.get(dev_id)
        tx.devices[dev_id] = DeviceBefore(
            core=self.core[dev_id],
            live=msgspec.structs.replace(self.live[dev_id]),
            watermark=self._watermark.get(dev_id),
            timeline=tl,
            timeline_len=len(tl) if tl else 0,
            timeline_last=tl[-1] if tl else None,
            outages=self.recent.outage_counts.get(dev_id),
        )

    def _edit_views(self, dev_id: str, tx: Txn) -> None:
        """Journal a device's view log before the transaction changes it."""
        if dev_id not in tx.views:
            tx.views[dev_id] = self._views.get(dev_id)

    def _rollback(self, tx: Txn) -> None:
        recent = self.recent
        for dev_id, b in tx.devices.items():
            self.core[dev_id] = b.core
            self.live[dev_id] = b.live
            if b.watermark is None:
                self._watermark.pop(dev_id, None)
            else:
                self._watermark[dev_id] = b.watermark
            if b.timeline is None:
                recent.device.pop(dev_id, None)
            else:
                del b.timeline[b.timeline_len :]
                if b.timeline_len and b.timeline_last is not None:
                    b.timeline[b.timeline_len - 1] = b.timeline_last
                recent.device[dev_id] = b.timeline
            if b.outages is None:
                recent.outage_counts.pop(dev_id, None)
            else:
                recent.outage_counts[dev_id] = b.outages
            # Re-play logs are not journaled: give them up (late samples wait for the next checkpoint).
            self._replay.pop(dev_id, None)
            recent.touched(dev_id)
            self.dirty_views.add(dev_id)
        for dev_id, vl in tx.views.items():
            self._views.restore(dev_id, vl)
        self.changed = True

    def _finish(self, tx: Txn) -> None:
        commit = tx.commit
        tails = [LiveTail.of(d, self.live[d]) for d in tx.moved if d not in commit.devices and d in self.live]
        if tails:
            commit.tails = encode_tails(tails)
            if self._tail_bytes + len(commit.tails) > TAIL_BYTES_PER_DEVICE * max(1, len(self.topology.facts)):
                # Enough tails: save every device whole instead, and forget them.
                commit.tails = None
                commit.drop_tails = True
                commit.devices.update(dict.fromkeys(self.topology.facts, b""))
        if not commit.has_effects():
            return
        gen = self._gen + 1
        commit.gen = gen
        for dev_id in commit.devices:
            commit.devices[dev_id] = encode_saved(self.core[dev_id], self.live[dev_id], gen)
        self._store.commit(commit)
        self._gen = gen
        if commit.drop_tails:
            self._tail_bytes = 0
        self._tail_bytes += len(commit.tails or b"")
        if commit.transitions or commit.devices or commit.agents:
            self.changed = True

    # --- batches --------------------------------------------------------------------------

    def apply_batch(self, batch: wire.SampleBatch, received_at: float) -> None:
        """Apply an agent's batch and persist its effects with ``(agent, seq)`` atomically."""
        if self._store.is_duplicate(batch.agent, batch.seq):
            self.counters.duplicates += 1
            return
        self.run(Commit(ledger=(batch.agent, batch.seq)), lambda tx: self._batch(batch, received_at, tx))

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
        view = self.agents.get(batch.agent)
        self.agents[batch.agent] = AgentView(
            id=batch.agent,
            online=True,
            last_seen=max(received_at, view.last_seen or 0.0) if view else received_at,
            version=view.version if view else "",
            devices=view.devices if view else 0,
            last_seq=batch.seq if view is None or view.last_seq is None else max(view.last_seq, batch.seq),
        )
        tx.commit.agents[batch.agent] = _encoder.encode(self.agents[batch.agent])

    def _sample(self, s: wire.Sample, f: DeviceFacts, agent: str, tx: Txn) -> None:
        # The hot path (50,000 samples/s): local names, and the common case of a good
        # sample of an UP device decided here without calling the core, which would
        # return the same state (see ``state.apply``: UP with no failure streak).
        dev_id = s.device
        ts = s.ts
        self._touch(dev_id, tx)
        tx.moved.add(dev_id)
        live = self.live[dev_id]
        live.agent = agent
        self.dirty_views.add(dev_id)
        wm = self._watermark.get(dev_id)
        moment = Moment.live(ts)
        if wm is not None and ts < wm:
            self._late(s, f, live, tx, moment)
            return
        # An ancestor that changed after this sample's time, heard of first: the sample is
        # applied live now, and if its ancestors mattered to it (see below) the device is
        # re-played in order before the batch commits. Scheduled now, so that no checkpoint
        # is taken from a judgement made against the wrong view.
        moved = ts < self._views.max_key and bool(f.ancestors) and self._views.moved_after(f.ancestors, ts)
        was_pending = self._pending.get(dev_id)
        if moved:
            self._schedule(dev_id, ts)
        if wm is None and live.last_seen is None and self._sset.reorder_window_s > 0:
            # The first sample ever: nothing applied before it, so the initial state is a
            # checkpoint for samples up to a reorder window older.
            cp = Checkpoint(ts - self._sset.reorder_window_s, self.core[dev_id], None, False, None, live.maint_checked)
            self._replay[dev_id] = ReplayLog(new=cp)
        self._watermark[dev_id] = ts
        last_seen = live.last_seen
        if live.pre_stale is not None or (last_seen is not None and ts - last_seen > f.stale_after_s):
            self._resume(dev_id, ts, f=f, live=live, tx=tx, moment=moment)
        rs = live.round_start
        core = self.core[dev_id]
        if (
            s.ok
            and not f.windows
            and rs is not None
            and ts < rs + f.interval_s / 2
            and (live.round_ok or (core.base is State.UP and not core.fail_streak))
        ):
            live.round_ok = True  # same round, nothing for the core to decide
        else:
            self._step(ts, s.ok, s.reason, dev_id=dev_id, f=f, live=live, tx=tx, moment=moment)
        if moved and self._judged.get(dev_id, NO_KEY) < ts and not self.core[dev_id].fail_streak:
            # Its ancestors did not matter to this sample: nothing to re-play for it.
            self._pending.put_back(dev_id, was_pending)
        rl = self._replay.get(dev_id)
        if rl is not None and rl.new is not None and not rl.log(ts, s.ok):
            del self._replay[dev_id]
        if last_seen is None or ts > last_seen:
            live.last_seen = ts
        if s.ok:
            live.last_ok = ts
        self._measure(s, live, tx.commit)

    def _resume(self, dev_id: str, ts: float, *, f: DeviceFacts, live: Live, tx: Txn, moment: Moment) -> None:
        """A sample after a silence: retract an UNKNOWN the transport caused, or record a real gap."""
        core = self.core[dev_id]
        gap = live.last_seen is not None and ts - live.last_seen > f.stale_after_s
        if live.pre_stale is not None:
            if core.base == State.UNKNOWN and not gap:
                # The silence was the transport's, not the network's: what the samples
                # say replaces the UNKNOWN that the tick or the last will had declared.
                since = core.since
                self._rewrite(dev_id, since, live.pre_stale, tx)
                self._restate(dev_id, live.pre_stale, f, tx)
                if f.descendants:
                    # What its dependants saw of the UNKNOWN is retracted too.
                    self._edit_views(dev_id, tx)
                    self._views.cut(dev_id, since)
                    for d in f.descendants:
                        self._schedule_dependant(d, since)
            live.pre_stale = None
        if gap and live.last_seen is not None:
            self._close_round(dev_id, f, live, tx, moment)
            self._feed(dev_id, Stale(live.last_seen + f.interval_s, "no data"), tx, moment)

    def _step(
        self, ts: float, ok: bool, reason: str, *, dev_id: str, f: DeviceFacts, live: Live, tx: Txn, moment: Moment
    ) -> None:
        """Maintenance boundaries up to ``ts``, then the sample's part in its round."""
        if f.windows:
            t0 = live.maint_checked if live.maint_checked is not None else ts - 1e-9
            if live.maint_checked is None:
                w = mnt.in_maintenance(f.windows, ts)
                if w is not None:
                    self._feed(dev_id, Maintenance(ts, True, w.reason or "maintenance"), tx, moment)
            for t, on, why in mnt.changes(f.windows, t0, ts):
                self._feed(dev_id, Maintenance(t, on, why), tx, moment)
            live.maint_checked = ts
        if live.round_start is not None and ts >= live.round_start + f.interval_s / 2:
            self._close_round(dev_id, f, live, tx, moment, boundary=ts)
        if live.round_start is None:
            live.round_start, live.round_ok, live.round_reason = ts, False, ""
        if ok:
            if not live.round_ok:
                live.round_ok = True
                self._feed(dev_id, Round(ts, True), tx, moment)
        elif not live.round_reason:
            live.round_reason = reason

    def _close_round(
        self, dev_id: str, f: DeviceFacts, live: Live, tx: Txn, moment: Moment, *, boundary: float | None = None
    ) -> None:
        """Decide the open round; ``boundary`` is the time of the sample that opens the next
        one (everything before it is applied: a moment to checkpoint)."""
        self._touch(dev_id, tx)
        if live.round_start is None:
            return
        if not live.round_ok:
            self._feed(dev_id, Round(live.round_start, False, live.round_reason), tx, moment)
        live.round_start, live.round_ok, live.round_reason = None, False, ""
        if boundary is not None and not moment.replaying:
            self._maybe_checkpoint(dev_id, live, boundary)

    def _measure(self, s: wire.Sample, live: Live, commit: Commit) -> None:
        m = self.measured.get(s.device)
        if m is None:
            m = self.measured[s.device] = Measured()
        if s.probe != "snmp":
            m.loss_ratio = s.loss if s.loss is not None else (0.0 if s.ok else 1.0)
            rtt = s.rtt
            if rtt is not None:
                m.rtt_min_s, m.rtt_avg_s, m.rtt_max_s, m.jitter_s = rtt.min, rtt.avg, rtt.max, rtt.jitter
            elif not s.ok:
                m.rtt_min_s = m.rtt_avg_s = m.rtt_max_s = m.jitter_s = None
            if s.ts - live.hist_last >= self._history_step_s:
                live.hist_last = s.ts
                commit.history.append(
                    HistoryRow(
                        s.device, s.ts, s.ok, rtt.avg if rtt else None, m.loss_ratio, rtt.jitter if rtt else None
                    )
                )
            return
        if s.response_s is not None:
            m.response_s = s.response_s
        if s.sys_uptime_s is not None:
            live.sys_uptime_s = s.sys_uptime_s
        if s.sys_name is not None:
            live.sys_name = s.sys_name
        if s.sys_descr is not None:
            live.sys_descr = s.sys_descr
        if s.interfaces is not None:
            m.interfaces = s.interfaces

    # --- the core, and what follows from a transition -------------------------------------

    def _context(self, f: DeviceFacts, moment: Moment) -> Context:
        """The ancestors' situation at ``moment``: live, their states now; in a re-play,
        what each one's view log says it was then."""
        suspect = False
        for a in f.ancestors:
            ac = self.core.get(a)
            if ac is None:
                continue
            view = self._views.at(a, moment.bound) if moment.replaying else None
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

    def _feed(self, dev_id: str, event: Event, tx: Txn, moment: Moment) -> None:
        self._touch(dev_id, tx)
        f = self.topology.facts[dev_id]
        old = self.core[dev_id]
        if f.ancestors and not (isinstance(event, Round) and event.ok):
            ctx = self._context(f, moment)
            self._judged[dev_id] = moment.key
        else:
            ctx = Context()
            if old.fail_streak and f.ancestors:
                self._judged[dev_id] = moment.key  # a streak was under way until now
        new, transitions = apply(old, event, event.ts, device=dev_id, rules=f.rules, ctx=ctx)
        if new is old:
            return
        self.core[dev_id] = new
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
        self._edit_views(dev_id, tx)
        stamp = self._views.record(dev_id, moment, old, new, notify_ts)
        if moment.replaying:
            return  # the dependants are re-played after this device
        key = moment.key
        told = moment.delivering(stamp)
        for d in f.descendants:
            if self._last_key(d) > key:
                # It has already been judged past this moment, against the old view.
                self._schedule_dependant(d, key)
            elif notify_ts is not None and self.core[d].fail_streak > 0:
                self._notified[d] = key
                self._feed(d, AncestorChanged(notify_ts), tx, told)

    def _record(self, tr: Transition, f: DeviceFacts, tx: Txn) -> None:
        """Append a transition to the recent log and the commit (an outage opens with it)."""
        commit = tx.commit
        recent = self.recent
        tl = recent.device.setdefault(tr.device, [])
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

    def _rewrite(self, dev_id: str, since: float, core: DeviceState, tx: Txn) -> None:
        """Forget a device's transitions from ``since`` on and restore ``core``."""
        commit = tx.commit
        recent = self.recent
        tl = recent.device.get(dev_id, [])
        keep = [p for p in tl if p[0] < since]
        removed = [p for p in tl if p[0] >= since]
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
        self.core[dev_id] = core
        commit.devices[dev_id] = b""
        self._touched(dev_id)

    def _restate(self, dev_id: str, core: DeviceState, f: DeviceFacts, tx: Txn) -> None:
        """After a rewrite, make the log end in ``core``'s state: the transition into it may
        have been among those removed (a state clamped to the engine's start, then an
        UNKNOWN at the same instant that superseded it)."""
        tl = self.recent.device.get(dev_id, [])
        if (tl[-1][1] if tl else State.UNKNOWN) != core.state:
            before = tl[-1][1] if tl else State.UNKNOWN
            ts = max(core.since, tl[-1][0]) if tl else core.since
            self._record(Transition(dev_id, ts, before, core.state, core.cause, core.root_cause), f, tx)

    # --- late samples and re-plays ------------------------------------------------------------

    def _last_key(self, dev_id: str) -> float:
        """The newest processing key that changed or judged a device."""
        return max(self._watermark.get(dev_id, NO_KEY), self._notified.get(dev_id, NO_KEY))

    def _schedule(self, dev_id: str, key: float) -> None:
        """Re-play a device from ``key`` on, before the batch is committed."""
        self._pending.add(dev_id, key, len(self.topology.facts[dev_id].ancestors))

    def _schedule_dependant(self, dev_id: str, key: float) -> None:
        """Re-play a dependant whose ancestor's view changed at ``key``, unless nothing it did
        since could have depended on it: its ancestors matter to a device only while it is
        failing (its failed rounds are judged against them, their messages reach it)."""
        if self.core[dev_id].fail_streak > 0 or self._judged.get(dev_id, NO_KEY) >= key:
            self._schedule(dev_id, key)

    def _drain_pending(self, tx: Txn) -> None:
        for dev_id, key in self._pending.drain():
            self._replay_device(dev_id, key, tx)

    def _maybe_checkpoint(self, dev_id: str, live: Live, boundary: float) -> None:
        """Remember a settled moment (no streak under way, no round open) to re-play from:
        the state with every sample before ``boundary`` applied, none from it on."""
        window = self._sset.reorder_window_s
        rl = self._replay.get(dev_id)
        if window <= 0 or (rl is not None and rl.new is not None and boundary - rl.new.ts < window):
            return  # the common case: the newer checkpoint is recent enough
        if dev_id in self._pending:
            return  # a re-play is due from a checkpoint this one would retire
        core = self.core[dev_id]
        if core.fail_streak or (core.ok_streak and core.base != State.UP) or live.round_start is not None:
            return
        if rl is None:
            rl = self._replay[dev_id] = ReplayLog()
        rl.advance(Checkpoint(boundary, core, None, False, live.last_seen, live.maint_checked))

    def _late(self, s: wire.Sample, f: DeviceFacts, live: Live, tx: Txn, moment: Moment) -> None:
        dev_id = s.device
        self.counters.late_samples += 1
        rl = self._replay.get(dev_id)
        cp = None
        if rl is not None and self._watermark[dev_id] - s.ts <= self._sset.reorder_window_s:
            cp = rl.before(s.ts)
        if cp is None or rl is None:
            # Too late to re-play: the measurements are shown, the state stays.
            if live.round_start is not None and s.ts >= live.round_start and s.ok and not live.round_ok:
                live.round_ok = True
                self._feed(dev_id, Round(s.ts, True), tx, moment)
            return
        self.counters.late_replayed += 1
        # In the log, in time order; the device is re-played once per batch, however many
        # of its samples came late.
        rl.samples.insert(s.ts, s.ok)
        self._schedule(dev_id, s.ts)

    def _replay_device(self, dev_id: str, key: float, tx: Txn) -> None:
        """Re-play a device from its newest checkpoint before ``key``; if what its
        dependants see of it changed, re-play them too."""
        rl = self._replay.get(dev_id)
        if rl is None:
            return
        cp = rl.before(key)
        if cp is None:
            return  # nothing to re-play from: what was decided stays
        self.counters.replays += 1
        self._touch(dev_id, tx)
        f = self.topology.facts[dev_id]
        before: list[View] = []
        if f.descendants:
            self._edit_views(dev_id, tx)
            before = self._views.cut(dev_id, cp.ts)
        self._replay_from(dev_id, f=f, live=self.live[dev_id], rl=rl, cp=cp, tx=tx)
        if f.descendants:
            changed = changed_views(before, self._views.since(dev_id, cp.ts))
            if changed is not None:
                for d in f.descendants:
                    self._schedule_dependant(d, changed)

    def _replay_from(self, dev_id: str, *, f: DeviceFacts, live: Live, rl: ReplayLog, cp: Checkpoint, tx: Txn) -> None:
        """Re-play a device's logged samples from checkpoint ``cp``, in processing-key order
        with what its ancestors told it (their view logs), as live in-order processing would."""
        wm = self._watermark.get(dev_id, cp.ts)
        self._rewrite(dev_id, cp.ts, cp.core, tx)
        live.round_start, live.round_ok, live.round_reason = cp.round_start, cp.round_ok, ""
        live.last_seen, live.maint_checked = cp.last_seen, cp.maint_checked
        messages = self._views.messages(f.ancestors, cp.ts)
        k = 0

        def tell(upto: tuple[float, ...]) -> None:
            # The ancestors' messages up to this point, as the live cascade delivered them.
            nonlocal k
            while k < len(messages) and messages[k].after <= upto:
                msg = messages[k]
                k += 1
                if self.core[dev_id].fail_streak > 0:
                    self._notified[dev_id] = max(self._notified.get(dev_id, NO_KEY), msg.stamp[0])
                    at = Moment(msg.stamp[0], msg.stamp, msg.after, replaying=True)
                    self._feed(dev_id, AncestorChanged(msg.ts), tx, at)

        for ts, ok in list(rl.samples):
            if ts < cp.ts:
                continue
            upto = (ts, float("inf"))
            tell(upto)
            moment = Moment(ts, None, upto, replaying=True)
            if live.last_seen is not None and ts - live.last_seen > f.stale_after_s:
                self._close_round(dev_id, f, live, tx, moment)
                self._feed(dev_id, Stale(live.last_seen + f.interval_s, "no data"), tx, moment)
            self._step(ts, ok, "no answer", dev_id=dev_id, f=f, live=live, tx=tx, moment=moment)
            live.last_seen = ts if live.last_seen is None else max(live.last_seen, ts)
        tell((float("inf"),))
        if cp is rl.old:
            # The newer checkpoint did not know the late sample: the older one takes its place.
            rl.new, rl.old = cp, None
        self._watermark[dev_id] = max(wm, live.last_seen or wm)

    # --- agent statuses, the tick -----------------------------------------------------------

    def agent_status(self, status: wire.AgentStatus, received_at: float) -> None:
        """An agent's birth message or last will; offline makes its devices UNKNOWN at once."""
        self.run(Commit(), lambda tx: self._agent_status(status, received_at, tx))

    def _agent_status(self, status: wire.AgentStatus, received_at: float, tx: Txn) -> None:
        prev = self.agents.get(status.agent)
        online = status.state == "online"
        self.agents[status.agent] = AgentView(
            id=status.agent,
            online=online,
            last_seen=received_at if online else (prev.last_seen if prev else None),
            version=status.version or (prev.version if prev else ""),
            devices=status.devices or (prev.devices if prev else 0),
            last_seq=prev.last_seq if prev else None,
        )
        tx.commit.agents[status.agent] = _encoder.encode(self.agents[status.agent])
        if online:
            return
        moment = Moment.live(received_at)
        ts = status.ts or received_at
        for dev_id, live in self.live.items():
            if live.agent == status.agent:
                # A last will carries the time the agent connected, often before its last
                # sample: the device was seen then, so UNKNOWN starts just after. Dated at
                # the sample itself, it would supersede the UP that sample may have made,
                # and retracting the UNKNOWN later could not bring that UP back.
                since = ts if live.last_seen is None else max(ts, live.last_seen + STALE_EPSILON_S)
                self._go_stale(dev_id, since, f"agent {status.agent} offline", tx, moment)

    def _go_stale(self, dev_id: str, ts: float, cause: str, tx: Txn, moment: Moment) -> None:
        core = self.core[dev_id]
        if core.base == State.UNKNOWN:
            return
        live = self.live[dev_id]
        self._close_round(dev_id, self.topology.facts[dev_id], live, tx, moment)
        before = self.core[dev_id]
        self._feed(dev_id, Stale(ts, cause), tx, moment)
        if self.core[dev_id] is not before:
            live.pre_stale = before

    def tick(self, now: float, *, save_all: bool) -> None:
        """Close rounds that nobody answered, declare staleness, apply maintenance
        boundaries; ``save_all`` saves every device (a checkpoint)."""
        commit = Commit()
        if save_all:
            for dev_id in self.topology.facts:
                commit.devices[dev_id] = b""
            commit.drop_tails = True
        self.run(commit, lambda tx: self._tick(now, tx))

    def _tick(self, now: float, tx: Txn) -> None:
        for dev_id, f in self.topology.facts.items():
            live = self.live[dev_id]
            # Processing keys in measurement time: when the next round's sample would have
            # decided it, not the tick's own time (which is later than samples still in
            # flight, and would make their devices look as if heard out of order).
            if live.round_start is not None and now - live.round_start >= f.interval_s:
                self._close_round(dev_id, f, live, tx, Moment.live(live.round_start + f.interval_s))
                tx.moved.add(dev_id)
            if live.last_seen is not None and now - live.last_seen > f.stale_after_s:
                self._go_stale(
                    dev_id, live.last_seen + f.interval_s, "no data", tx, Moment.live(live.last_seen + f.stale_after_s)
                )
            if f.windows:
                moment = Moment.live(now)
                t0 = live.maint_checked if live.maint_checked is not None else self.started
                if live.maint_checked is None:
                    w = mnt.in_maintenance(f.windows, t0)
                    if w is not None:
                        self._feed(dev_id, Maintenance(t0, True, w.reason or "maintenance"), tx, moment)
                for t, on, why in mnt.changes(f.windows, t0, now):
                    self._feed(dev_id, Maintenance(t, on, why), tx, moment)
                self._touch(dev_id, tx)
                live.maint_checked = max(now, t0)
                tx.moved.add(dev_id)

    def save_all(self) -> None:
        """Save every device (on a clean stop)."""
        commit = Commit(drop_tails=True)
        for dev_id in self.topology.facts:
            commit.devices[dev_id] = b""
        self.run(commit, lambda tx: None)
