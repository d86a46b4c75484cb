"""The collector's engine: the imperative shell around the pure state core.

It groups samples into probe rounds, feeds :func:`collector.state.apply` in measurement
time order, propagates a device's change to its dependants, persists every batch's
effects with the batch's ``(agent, seq)`` in one store transaction, and answers the read
API (:class:`collector.model.Reader`) from memory: the recent transition log of every
device and commune is kept in memory, older windows are read from the store.

No asyncio and no MQTT here: the ingest calls :meth:`Engine.apply_batch` and
:meth:`Engine.agent_status`, a periodic task calls :meth:`Engine.tick`. The methods are not
re-entrant; call them from one thread (the read methods may be called from any thread
between two writes: they only read immutable values or lock the store).

**Late samples.** Samples are applied in measurement-time order. A sample older than
the device's newest applied sample is *late*:

* If the device went UNKNOWN because nothing arrived (the tick's staleness or the agent's
  last will) and the new samples continue without a real gap (an outbox replay after a
  broker outage), the UNKNOWN is retracted: the stored transitions from then on are
  rewritten with what the samples say really happened.
* Within ``reorder_window_s`` the device is re-played from a checkpoint taken at a
  settled moment (no streak under way) with the late sample merged in, and its stored
  transitions from the checkpoint on are rewritten; a device is re-played once per batch
  however many of its samples came late.
* A device's judgement depends on what its ancestors were *at the moment it was made*
  (a child whose own threshold is reached while its uplink is failing but not yet
  confirmed is held until the uplink's verdict). So every device with dependants
  logs each change of what they see of it (base state, root cause, streak under way, and
  the message it sent them), stamped with where it happened in processing order. A re-play
  reads its ancestors' views from those logs and gets their messages in the order the live
  cascade delivered them; when a re-play changes what a device's dependants saw, they are
  re-played too. A sample that arrives after its ancestor already changed at a later
  time, or an ancestor change that arrives after its dependant was judged past it, is
  re-played the same way. The result equals in-order processing of the same samples,
  parents and children included (property-tested on adversarial shuffles).
* Older than the window (or from before a collector restart): the sample updates the
  measurements shown but not the state; it is counted in ``late_samples``.
"""

from __future__ import annotations

import bisect
import contextlib
import heapq
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from operator import attrgetter, itemgetter

import msgspec

from netmon.agent import wire
from netmon.collector import availability as av
from netmon.collector import coverage as cov
from netmon.collector import maintenance as mnt
from netmon.collector.model import (
    STANDARD_WINDOWS_S,
    AgentView,
    Availability,
    CommuneView,
    Counts,
    CoveragePoint,
    DeviceView,
    DistrictView,
    HistoryPoint,
    IngestCounters,
    InterfaceView,
    Outage,
    Scope,
    Snapshot,
    StandardAvailability,
    State,
    Transition,
)
from netmon.collector.samplelog import SampleLog
from netmon.collector.state import (
    IMPAIRED,
    AncestorChanged,
    Context,
    DeviceState,
    Event,
    Maintenance,
    Round,
    Rules,
    Stale,
    apply,
    initial,
    rules_for,
)
from netmon.collector.store import Commit, SqliteStore, Store
from netmon.config.inventory import Device, Inventory
from netmon.config.settings import CollectorSettings, MaintenanceWindow

log = logging.getLogger(__name__)

#: How far back the transition log is kept in memory (the longest standard window + a day).
MEMORY_S = max(STANDARD_WINDOWS_S) + 86400.0
#: How often the snapshot's availability figures are recomputed (they are for windows of an hour and more).
AVAILABILITY_REFRESH_S = 60.0
#: How often devices' measurements (last seen, open rounds) are saved; states are saved per batch.
CHECKPOINT_S = 300.0
#: One latency point per device per this many seconds goes to the store for the charts
#: (a province: one a minute); a large inventory is thinned so that the store receives
#: about this many points per second at most...
HISTORY_STEP_S = 60.0
HISTORY_POINTS_PER_S = 100.0
#: ...and they are kept this long.
HISTORY_KEEP_S = 86400.0
#: A snapshot younger than this is served again even if samples arrived since.
SNAPSHOT_MAX_AGE_S = 1.0
#: A device's recent samples kept for re-play, at most (per device).
REPLAY_LOG_MAX = 512


class Live(msgspec.Struct, array_like=True):
    """What the shell tracks of a device beside its core state (saved at checkpoints)."""

    agent: str | None = None
    last_seen: float | None = None
    last_ok: float | None = None
    round_start: float | None = None
    round_ok: bool = False
    round_reason: str = ""
    maint_checked: float | None = None
    pre_stale: DeviceState | None = None
    hist_last: float = 0.0
    sys_uptime_s: float | None = None
    sys_name: str | None = None
    sys_descr: str | None = None


#: How long after a device's last sample an UNKNOWN from its agent's last will begins.
STALE_EPSILON_S = 0.001


class Measured(msgspec.Struct):
    """A device's latest measurements, for display only (not saved: the next round refills them)."""

    rtt_min_s: float | None = None
    rtt_avg_s: float | None = None
    rtt_max_s: float | None = None
    jitter_s: float | None = None
    loss_ratio: float | None = None
    response_s: float | None = None
    interfaces: list[wire.Interface] | None = None
    unread: dict[str, str] | None = None


class _Saved(msgspec.Struct, array_like=True):
    core: DeviceState
    live: Live


@dataclass(slots=True)
class _Checkpoint:
    """A settled moment of a device, from which its recent samples can be re-played."""

    ts: float
    core: DeviceState
    round_start: float | None
    round_ok: bool
    last_seen: float | None
    maint_checked: float | None


@dataclass(slots=True)
class _ReplayLog:
    """A device's samples since its older checkpoint: times and verdicts, packed."""

    old: _Checkpoint | None = None
    new: _Checkpoint | None = None
    samples: SampleLog | None = None


@dataclass(frozen=True, slots=True)
class _Static:
    """What the inventory says of a device, indexed once."""

    device: Device
    rules: Rules
    interval_s: float
    ancestors: tuple[str, ...]
    descendants: tuple[str, ...]
    commune: str | None
    district: str | None
    windows: tuple[MaintenanceWindow, ...]


#: Where a change happened in processing order: the processing key (the time of the sample
#: being applied), then a counter; a change caused by an ancestor's message extends that
#: message's stamp, so that stamps order changes as the live cascade made them.
_Stamp = tuple[float, ...]
#: A change of what a device's dependants see of it: its stamp, base state, root cause,
#: whether a failure streak is under way, and the time of the :class:`AncestorChanged` it
#: sent them (None: it sent none).
_View = tuple[_Stamp, State, str | None, bool, float | None]
_NO_KEY = float("-inf")
_INF = float("inf")


#: What :meth:`Engine._touch` journals of a device: core, live copy, watermark, timeline
#: list, its length and last point, outage count.
_Undo = tuple[
    DeviceState, "Live", float | None, list[tuple[float, State]] | None, int, tuple[float, State] | None, int | None
]
_by_ts = attrgetter("ts")
_view_key = itemgetter(0)
_saved_decoder = msgspec.msgpack.Decoder(_Saved)
_saved_encoder = msgspec.msgpack.Encoder()
_agent_decoder = msgspec.json.Decoder(AgentView)
_encoder = msgspec.json.Encoder()


class Engine:
    """Device states, outages, availability and coverage of one inventory.

    Args:
        inventory: The network.
        settings: The collector's settings (state rules, maintenance windows, store).
        store: Where effects are persisted; None keeps everything in memory only.
        clock: The time source (tests and the demo inject a simulated clock).
        ingest_counters: The ingestor's counters, shown in the snapshot.
        history_step_s: One latency point per device per this many seconds for the charts
            (default: a minute, thinned for large inventories; ``math.inf``: none).
        checkpoint_s: How often every device's measurements are saved (states are saved
            with every batch that changes them).
    """

    def __init__(
        self,
        inventory: Inventory,
        settings: CollectorSettings,
        store: SqliteStore | Store | None = None,
        *,
        clock: Callable[[], float] = time.time,
        ingest_counters: Callable[[], IngestCounters] | None = None,
        history_step_s: float | None = None,
        checkpoint_s: float = CHECKPOINT_S,
    ) -> None:
        self._settings = settings
        self._history_step_override = history_step_s
        self._checkpoint_s = checkpoint_s
        self._sset = settings.state
        # Without a store, an in-memory SQLite one: one code path, outages queryable all the same.
        self._store: SqliteStore | Store = store if store is not None else SqliteStore.open(":memory:")
        self._clock = clock
        self._ingest_counters = ingest_counters
        self.late_samples = 0
        self.late_replayed = 0
        self.replays = 0
        self.unknown_samples = 0
        self.batches = 0
        self.samples = 0
        self.duplicates = 0
        now = clock()
        self._started = now
        self._core: dict[str, DeviceState] = {}
        self._live: dict[str, Live] = {}
        self._measured: dict[str, Measured] = {}
        self._stale_intervals = self._sset.stale_after_intervals
        self._watermark: dict[str, float] = {}
        self._replay: dict[str, _ReplayLog] = {}
        self._timelines: dict[str, list[tuple[float, State]]] = {}
        self._commune_tl: dict[str, list[tuple[float, State]]] = {}
        self._commune_dirty: set[str] = set()
        self._outage_counts: dict[str, int] = {}
        self._agents: dict[str, AgentView] = {}
        self._dirty_views: set[str] = set()
        self._views: dict[str, DeviceView] = {}
        self._snapshot: Snapshot | None = None
        self._snapshot_dirty = True
        self._availability: Mapping[tuple[str, str, int], Availability] = {}
        self._avail_at = float("-inf")
        self._snapshot_read = False
        self._undo: dict[str, _Undo] | None = None
        self._historical = False
        # Ancestors' views, so that a re-play sees each one as it was at each moment.
        self._vlog: dict[str, list[_View]] = {}
        self._vlog_max = _NO_KEY  # no view log has a change after this key
        self._vundo: dict[str, tuple[list[_View] | None, int]] | None = None
        self._notified: dict[str, float] = {}
        self._pending: dict[str, float] = {}
        self._pending_order: list[tuple[int, str]] = []  # a heap: ancestors first
        self._judged: dict[str, float] = {}  # the newest key a device's ancestors mattered to it
        self._key = _NO_KEY
        self._cause: _Stamp | None = None  # the message being delivered, live or re-played
        self._bound: _Stamp = (_INF,)  # in a re-play: the changes seen are those up to here
        self._stamps = 0
        self._checkpoint_at = now
        self._pruned_at = float("-inf")
        self._mem_since = now - MEMORY_S
        self._index(inventory)
        self._load(now)

    # --- inventory ---------------------------------------------------------------------

    def _index(self, inventory: Inventory) -> None:
        self._inventory = inventory
        idx = inventory.index
        children = idx.children()
        windows = mnt.windows_by_device(self._settings.maintenance, idx)
        static: dict[str, _Static] = {}
        for dev_id, dev in idx.devices.items():
            place = idx.placement[dev_id]
            desc: list[str] = []
            stack = list(children.get(dev_id, ()))
            seen = {dev_id}
            while stack:  # breadth-first, so ancestors come before their descendants
                cur = stack.pop(0)
                if cur in seen:
                    continue
                seen.add(cur)
                desc.append(cur)
                stack.extend(children.get(cur, ()))
            static[dev_id] = _Static(
                device=dev,
                rules=rules_for(self._sset, dev.role.value),
                interval_s=dev.interval_s or self._sset.default_interval_s,
                ancestors=tuple(idx.ancestors(dev_id)),
                descendants=tuple(desc),
                commune=place.commune.code if place.commune else None,
                district=place.district.code if place.district else None,
                windows=windows.get(dev_id, ()),
            )
        self._static = static
        self._history_step_s = self._history_step_override or max(HISTORY_STEP_S, len(static) / HISTORY_POINTS_PER_S)
        self._access = cov.access_devices(idx)
        self._district_communes = cov.communes_by_district(idx)
        self._all_communes = tuple(idx.communes)
        self._commune_of_access = {d: c for c, devs in self._access.items() for d in devs}
        self._commune_dirty.update(self._all_communes)

    def reload(self, inventory: Inventory) -> None:
        """Take a new inventory: new devices start UNKNOWN, removed ones are forgotten
        (their stored transitions and outages stay)."""
        now = self._clock()
        self._index(inventory)
        for dev_id in self._static:
            if dev_id not in self._core:
                self._core[dev_id] = initial(now)
                self._live[dev_id] = Live()
        for gone in [d for d in self._core if d not in self._static]:
            del self._core[gone]
            self._live.pop(gone, None)
            self._views.pop(gone, None)
            self._replay.pop(gone, None)
            self._vlog.pop(gone, None)
            self._notified.pop(gone, None)
            self._judged.pop(gone, None)
        if isinstance(self._store, SqliteStore):
            self._store.forget_devices(self._static)
        self._dirty_views.update(self._static)
        self._snapshot_dirty = True
        self._avail_at = float("-inf")

    def _load(self, now: float) -> None:
        saved: dict[str, bytes] = self._store.load_devices()
        # One immutable state for all the devices nothing is known of (30,000 at national
        # scale): the first checkpoints of their re-play logs keep it for an hour.
        fresh = initial(now)
        for dev_id in self._static:
            raw = saved.get(dev_id)
            s: _Saved | None = None
            if raw is not None:
                try:
                    s = _saved_decoder.decode(raw)
                except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                    # A state saved by another version: start this device afresh (UNKNOWN).
                    log.warning("device=%s saved state unreadable, starting UNKNOWN: %s", dev_id, exc)
            if s is not None:
                self._core[dev_id] = s.core
                self._live[dev_id] = s.live
                if s.live.last_seen is not None:
                    self._watermark[dev_id] = s.live.last_seen
            else:
                self._core[dev_id] = fresh
                self._live[dev_id] = Live()
        self._timelines = self._store.timelines(self._mem_since)
        self._outage_counts = self._store.outage_counts()
        for agent_id, raw in self._store.load_agents().items():
            try:
                self._agents[agent_id] = _agent_decoder.decode(raw)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.warning("agent=%s saved view unreadable, forgotten: %s", agent_id, exc)
        self._dirty_views.update(self._static)

    # --- the write path ----------------------------------------------------------------

    def apply_batch(self, batch: wire.SampleBatch, received_at: float) -> None:
        """Apply an agent's batch and persist its effects with ``(agent, seq)`` atomically.

        If the store fails (disk full, I/O error), the error propagates and the engine's
        memory is rolled back to before the batch, so that its redelivery is applied as if
        for the first time.
        """
        if self._store.is_duplicate(batch.agent, batch.seq):
            self.duplicates += 1
            return
        with self._transaction():
            self._apply_batch(batch, received_at)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        """Journal what the enclosed work changes; undo it if the work (its commit) fails."""
        self._undo = {}
        self._vundo = {}
        agents = dict(self._agents)
        counters = (self.batches, self.samples)
        try:
            yield
        except BaseException:
            self._rollback(self._undo, agents, counters)
            for dev_id, (vl, n) in self._vundo.items():
                if vl is None:
                    self._vlog.pop(dev_id, None)
                else:
                    del vl[n:]
                    self._vlog[dev_id] = vl
            self._pending.clear()
            self._pending_order.clear()
            raise
        finally:
            self._vundo = None
            self._undo = None

    def _touch(self, dev_id: str) -> None:
        """Journal a device's state before its first change in the current transaction."""
        undo = self._undo
        if undo is not None and dev_id not in undo:
            tl = self._timelines.get(dev_id)
            undo[dev_id] = (
                self._core[dev_id],
                msgspec.structs.replace(self._live[dev_id]),
                self._watermark.get(dev_id),
                tl,
                len(tl) if tl else 0,
                tl[-1] if tl else None,
                self._outage_counts.get(dev_id),
            )

    def _rollback(self, undo: dict[str, _Undo], agents: dict[str, AgentView], counters: tuple[int, int]) -> None:
        for dev_id, (core, live, wm, tl, n, last, outages) in undo.items():
            self._core[dev_id] = core
            self._live[dev_id] = live
            if wm is None:
                self._watermark.pop(dev_id, None)
            else:
                self._watermark[dev_id] = wm
            if tl is None:
                self._timelines.pop(dev_id, None)
            else:
                del tl[n:]
                if n and last is not None:
                    tl[n - 1] = last
                self._timelines[dev_id] = tl
            if outages is None:
                self._outage_counts.pop(dev_id, None)
            else:
                self._outage_counts[dev_id] = outages
            # Re-play logs are not journaled: give them up (late samples wait for the next checkpoint).
            self._replay.pop(dev_id, None)
            c = self._commune_of_access.get(dev_id)
            if c is not None:
                self._commune_dirty.add(c)
            self._dirty_views.add(dev_id)
        self._agents = agents
        self.batches, self.samples = counters
        self._snapshot_dirty = True

    def _apply_batch(self, batch: wire.SampleBatch, received_at: float) -> None:
        commit = Commit(ledger=(batch.agent, batch.seq))
        self.batches += 1
        self.samples += len(batch.samples)
        static = self._static
        samples = sorted(batch.samples, key=_by_ts)
        for s in samples:
            st = static.get(s.device)
            if st is None:
                self.unknown_samples += 1
                continue
            self._sample(s, st, batch.agent, commit)
        view = self._agents.get(batch.agent)
        self._agents[batch.agent] = AgentView(
            id=batch.agent,
            online=True,
            last_seen=max(received_at, view.last_seen or 0.0) if view else received_at,
            version=view.version if view else "",
            devices=view.devices if view else 0,
            last_seq=batch.seq if view is None or view.last_seq is None else max(view.last_seq, batch.seq),
        )
        commit.agents[batch.agent] = _encoder.encode(self._agents[batch.agent])
        self._run_pending(commit)
        self._finish(commit)

    def _sample(self, s: wire.Sample, st: _Static, agent: str, commit: Commit) -> None:
        # The hot path (50,000 samples/s): local names, and the common case of a good
        # sample of an UP device decided here without calling the core, which would
        # return the same state (see ``state.apply``: UP with no failure streak).
        dev_id = s.device
        ts = s.ts
        self._touch(dev_id)
        live = self._live[dev_id]
        live.agent = agent
        self._dirty_views.add(dev_id)
        wm = self._watermark.get(dev_id)
        self._key = ts
        if wm is not None and ts < wm:
            self._late(s, st, live, commit)
            return
        # An ancestor that changed after this sample's time, heard of first: the sample is
        # applied live now, and if its ancestors mattered to it (see below) the device is
        # re-played in order before the batch commits. Scheduled now, so that no checkpoint
        # is taken from a judgement made against the wrong view.
        moved = ts < self._vlog_max and bool(st.ancestors) and self._moved_after(st, ts)
        if moved:
            was_pending = self._pending.get(dev_id)
            self._schedule(dev_id, ts)
        if wm is None and live.last_seen is None and self._sset.reorder_window_s > 0:
            # The first sample ever: nothing applied before it, so the initial state is a
            # checkpoint for samples up to a reorder window older.
            cp = _Checkpoint(
                ts - self._sset.reorder_window_s, self._core[dev_id], None, False, None, live.maint_checked
            )
            self._replay[dev_id] = _ReplayLog(new=cp, samples=SampleLog())
        self._watermark[dev_id] = ts
        last_seen = live.last_seen
        if live.pre_stale is not None or (
            last_seen is not None and ts - last_seen > self._stale_intervals * st.interval_s
        ):
            self._resume(dev_id, ts, st, live, commit)
        rs = live.round_start
        if (
            s.ok
            and not st.windows
            and rs is not None
            and ts < rs + st.interval_s / 2
            and (live.round_ok or (self._core[dev_id].base is State.UP and not self._core[dev_id].fail_streak))
        ):
            live.round_ok = True  # same round, nothing for the core to decide
        else:
            self._step(ts, s.ok, s.reason, dev_id=dev_id, st=st, live=live, commit=commit)
        if moved and self._judged.get(dev_id, _NO_KEY) < ts and not self._core[dev_id].fail_streak:
            # Its ancestors did not matter to this sample: nothing to re-play for it.
            if was_pending is None:
                del self._pending[dev_id]
            else:
                self._pending[dev_id] = was_pending
        rl = self._replay.get(dev_id)
        if rl is not None and rl.new is not None:
            self._log_sample(rl, dev_id, ts, s.ok)
        if last_seen is None or ts > last_seen:
            live.last_seen = ts
        if s.ok:
            live.last_ok = ts
        self._measure(s, live, commit)

    def _resume(self, dev_id: str, ts: float, st: _Static, live: Live, commit: Commit) -> None:
        """A sample after a silence: retract an UNKNOWN the transport caused, or record a real gap."""
        stale_after = self._stale_intervals * st.interval_s
        core = self._core[dev_id]
        gap = live.last_seen is not None and ts - live.last_seen > stale_after
        if live.pre_stale is not None:
            if core.base == State.UNKNOWN and not gap:
                # The silence was the transport's, not the network's: what the samples
                # say replaces the UNKNOWN that the tick or the last will had declared.
                since = core.since
                self._rewrite(dev_id, since, live.pre_stale, commit)
                if st.descendants:
                    # What its dependants saw of the UNKNOWN is retracted too.
                    self._vlog_cut(dev_id, since)
                    for d in st.descendants:
                        self._schedule_dependant(d, since)
            live.pre_stale = None
        if gap and live.last_seen is not None:
            self._close_round(dev_id, st, live, commit)
            self._feed(dev_id, Stale(live.last_seen + st.interval_s, "no data"), commit)

    def _step(self, ts: float, ok: bool, reason: str, *, dev_id: str, st: _Static, live: Live, commit: Commit) -> None:
        """Maintenance boundaries up to ``ts``, then the sample's part in its round."""
        if st.windows:
            t0 = live.maint_checked if live.maint_checked is not None else ts - 1e-9
            if live.maint_checked is None:
                w = mnt.in_maintenance(st.windows, ts)
                if w is not None:
                    self._feed(dev_id, Maintenance(ts, True, w.reason or "maintenance"), commit)
            for t, on, why in mnt.changes(st.windows, t0, ts):
                self._feed(dev_id, Maintenance(t, on, why), commit)
            live.maint_checked = ts
        if live.round_start is not None and ts >= live.round_start + st.interval_s / 2:
            self._close_round(dev_id, st, live, commit, boundary=ts)
        if live.round_start is None:
            live.round_start, live.round_ok, live.round_reason = ts, False, ""
        if ok:
            if not live.round_ok:
                live.round_ok = True
                self._feed(dev_id, Round(ts, True), commit)
        elif not live.round_reason:
            live.round_reason = reason

    def _close_round(
        self, dev_id: str, st: _Static, live: Live, commit: Commit, *, boundary: float | None = None
    ) -> None:
        """Decide the open round; ``boundary`` is the time of the sample that opens the next
        one (everything before it is applied: a moment to checkpoint)."""
        self._touch(dev_id)
        if live.round_start is None:
            return
        if not live.round_ok:
            self._feed(dev_id, Round(live.round_start, False, live.round_reason), commit)
        live.round_start, live.round_ok, live.round_reason = None, False, ""
        if boundary is not None:
            self._maybe_checkpoint(dev_id, live, boundary)

    def _measure(self, s: wire.Sample, live: Live, commit: Commit) -> None:
        m = self._measured.get(s.device)
        if m is None:
            m = self._measured[s.device] = Measured()
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
                    (s.device, s.ts, s.ok, rtt.avg if rtt else None, m.loss_ratio, rtt.jitter if rtt else None)
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
        if s.ok:
            m.unread = s.unread

    # --- the core, and what follows from a transition ------------------------------------

    def _context(self, st: _Static) -> Context:
        """The ancestors' situation at the current processing key: live, their states now;
        in a re-play, what each one's view log says it was then."""
        suspect = False
        historical = self._historical
        for a in st.ancestors:
            ac = self._core.get(a)
            if ac is None:
                continue
            base, root, streak = (
                self._view_at(a, self._bound) if historical else (ac.base, ac.root_cause, ac.fail_streak > 0)
            )
            if base == State.DOWN:
                return Context(impaired_root=a, suspect=suspect)
            if base == State.UNREACHABLE:
                return Context(impaired_root=root or a, suspect=suspect)
            if streak:
                suspect = True
        return Context(suspect=suspect)

    def _feed(self, dev_id: str, event: Event, commit: Commit) -> None:
        self._touch(dev_id)
        st = self._static[dev_id]
        old = self._core[dev_id]
        if st.ancestors and not (isinstance(event, Round) and event.ok):
            ctx = self._context(st)
            self._judged[dev_id] = self._key
        else:
            ctx = Context()
            if old.fail_streak and st.ancestors:
                self._judged[dev_id] = self._key  # a streak was under way until now
        new, transitions = apply(old, event, event.ts, device=dev_id, rules=st.rules, ctx=ctx)
        if new is old:
            return
        self._core[dev_id] = new
        commit.devices[dev_id] = b""  # serialized in _finish
        self._dirty_views.add(dev_id)
        for tr in transitions:
            self._record(tr, st, commit)
        if not st.descendants:
            return
        streak_changed = (old.fail_streak > 0) != (new.fail_streak > 0)
        notify = (old.base in IMPAIRED) != (new.base in IMPAIRED) or old.root_cause != new.root_cause or streak_changed
        if not (notify or old.base != new.base):
            return  # nothing its dependants see
        notify_ts = (transitions[-1].ts if transitions else event.ts) if notify else None
        stamp = self._record_view(dev_id, new, notify_ts, old)
        if self._historical:
            return  # the dependants are re-played after this device
        key = self._key
        cause = self._cause
        try:
            for d in st.descendants:
                if self._last_key(d) > key:
                    # It has already been judged past this moment, against the old view.
                    self._schedule_dependant(d, key)
                elif notify_ts is not None and self._core[d].fail_streak > 0:
                    self._notified[d] = key
                    self._cause = stamp
                    self._feed(d, AncestorChanged(notify_ts), commit)
        finally:
            self._cause = cause

    # --- what dependants see of a device, moment by moment -----------------------------

    def _view_at(self, dev_id: str, bound: _Stamp) -> tuple[State, str | None, bool]:
        """A device's base state, root cause and failure streak as its dependants saw them
        after the changes stamped up to ``bound``."""
        vl = self._vlog.get(dev_id)
        if vl is None:
            c = self._core[dev_id]
            return c.base, c.root_cause, c.fail_streak > 0
        e = vl[max(0, bisect.bisect_right(vl, bound, key=_view_key) - 1)]
        return e[1], e[2], e[3]

    def _vlog_for_edit(self, dev_id: str) -> list[_View] | None:
        vl = self._vlog.get(dev_id)
        vundo = self._vundo
        if vundo is not None and dev_id not in vundo:
            vundo[dev_id] = (vl, len(vl) if vl is not None else 0)
        return vl

    def _record_view(self, dev_id: str, new: DeviceState, notify_ts: float | None, old: DeviceState) -> _Stamp:
        """Log a change of what the dependants see, in stamp order; returns its stamp."""
        self._stamps += 1
        stamp = (*(self._cause or (self._key,)), float(self._stamps))
        vl = self._vlog_for_edit(dev_id)
        if vl is None:
            vl = self._vlog[dev_id] = [((_NO_KEY,), old.base, old.root_cause, old.fail_streak > 0, None)]
        entry = (stamp, new.base, new.root_cause, new.fail_streak > 0, notify_ts)
        self._vlog_max = max(self._vlog_max, stamp[0])
        if stamp >= vl[-1][0]:
            vl.append(entry)
        else:
            vl.insert(bisect.bisect_right(vl, stamp, key=_view_key), entry)
        keep = (stamp[0] - 3 * self._sset.reorder_window_s,)
        if len(vl) > 32 and vl[1][0] < keep:
            # Older than any checkpoint can be: the last of those becomes the base view.
            i = bisect.bisect_left(vl, keep, key=_view_key)
            self._vlog[dev_id] = [((_NO_KEY,), *vl[i - 1][1:4], None), *vl[i:]]
        return stamp

    def _vlog_cut(self, dev_id: str, key: float) -> list[_View]:
        """Forget a device's view changes from ``key`` on (to be re-told); returns them."""
        vl = self._vlog_for_edit(dev_id)
        if vl is None:
            return []
        i = bisect.bisect_left(vl, (key,), key=_view_key)
        i = max(i, 1)  # the base view stays
        self._vlog[dev_id] = vl[:i]
        return vl[i:]

    def _moved_after(self, st: _Static, ts: float) -> bool:
        """Whether an ancestor's view changed at a processing key after ``ts``."""
        vlog = self._vlog
        for a in st.ancestors:
            vl = vlog.get(a)
            if vl is not None and vl[-1][0][0] > ts:
                return True
        return False

    def _last_key(self, dev_id: str) -> float:
        """The newest processing key that changed or judged a device."""
        return max(self._watermark.get(dev_id, _NO_KEY), self._notified.get(dev_id, _NO_KEY))

    def _schedule(self, dev_id: str, key: float) -> None:
        """Re-play a device from ``key`` on, before the batch is committed."""
        p = self._pending.get(dev_id)
        if p is None:
            self._pending[dev_id] = key
            heapq.heappush(self._pending_order, (len(self._static[dev_id].ancestors), dev_id))
        elif key < p:
            self._pending[dev_id] = key

    def _schedule_dependant(self, dev_id: str, key: float) -> None:
        """Re-play a dependant whose ancestor's view changed at ``key``, unless nothing it did
        since could have depended on it: its ancestors matter to a device only while it is
        failing (its failed rounds are judged against them, their messages reach it)."""
        if self._core[dev_id].fail_streak > 0 or self._judged.get(dev_id, _NO_KEY) >= key:
            self._schedule(dev_id, key)

    def _run_pending(self, commit: Commit) -> None:
        """Re-play what was scheduled, ancestors before their dependants (a re-play only
        schedules dependants, deeper in the tree)."""
        order = self._pending_order
        while order:
            _, dev_id = heapq.heappop(order)
            key = self._pending.pop(dev_id, None)
            if key is not None:
                self._replay_device(dev_id, key, commit)

    def _record(self, tr: Transition, st: _Static, commit: Commit) -> None:
        tl = self._timelines.setdefault(tr.device, [])
        if tl and tl[-1][0] == tr.ts:
            # A state that lasted no time (e.g. UNREACHABLE then DOWN at the same instant
            # during a re-play): the later one replaces it, in memory and in the store.
            superseded = tl.pop()
            if superseded[1] in IMPAIRED:
                self._outage_counts[tr.device] = max(0, self._outage_counts.get(tr.device, 0) - 1)
            pending = [t for t in commit.transitions if t.device == tr.device and t.ts == tr.ts]
            if pending:
                commit.transitions = [t for t in commit.transitions if not (t.device == tr.device and t.ts == tr.ts)]
                commit.opened = [o for o in commit.opened if not (o.device == tr.device and o.start == tr.ts)]
            else:
                prev = commit.rewrite_from.get(tr.device)
                commit.rewrite_from[tr.device] = tr.ts if prev is None else min(prev, tr.ts)
            before = tl[-1][1] if tl else State.UNKNOWN
            if tr.new == before:
                self._commune_dirty_for(tr.device)
                return  # back where it was: no transition at all
            tr = replace(tr, old=before)
        commit.transitions.append(tr)
        tl.append((tr.ts, tr.new))
        if tr.new in IMPAIRED:
            self._outage_counts[tr.device] = self._outage_counts.get(tr.device, 0) + 1
            commit.opened.append(
                Outage(
                    device=tr.device,
                    commune=st.commune,
                    district=st.district,
                    state=tr.new,
                    start=tr.ts,
                    end=None,
                    cause=tr.cause,
                    root_cause=tr.root_cause,
                )
            )
        self._commune_dirty_for(tr.device)

    def _commune_dirty_for(self, dev_id: str) -> None:
        c = self._commune_of_access.get(dev_id)
        if c is not None:
            self._commune_dirty.add(c)
        self._snapshot_dirty = True

    def _rewrite(self, dev_id: str, since: float, core: DeviceState, commit: Commit) -> None:
        """Forget a device's transitions from ``since`` on and restore ``core``."""
        tl = self._timelines.get(dev_id, [])
        keep = [p for p in tl if p[0] < since]
        removed = [p for p in tl if p[0] >= since]
        self._timelines[dev_id] = keep
        n_out = sum(1 for _, s in removed if s in IMPAIRED)
        if n_out:
            self._outage_counts[dev_id] = max(0, self._outage_counts.get(dev_id, 0) - n_out)
        commit.transitions = [t for t in commit.transitions if not (t.device == dev_id and t.ts >= since)]
        commit.opened = [o for o in commit.opened if not (o.device == dev_id and o.start >= since)]
        prev = commit.rewrite_from.get(dev_id)
        commit.rewrite_from[dev_id] = since if prev is None else min(prev, since)
        self._core[dev_id] = core
        commit.devices[dev_id] = b""
        c = self._commune_of_access.get(dev_id)
        if c is not None:
            self._commune_dirty.add(c)
        self._snapshot_dirty = True

    # --- late samples ----------------------------------------------------------------

    def _maybe_checkpoint(self, dev_id: str, live: Live, boundary: float) -> None:
        """Remember a settled moment (no streak under way, no round open) to re-play from:
        the state with every sample before ``boundary`` applied, none from it on."""
        window = self._sset.reorder_window_s
        rl = self._replay.get(dev_id)
        if window <= 0 or (rl is not None and rl.new is not None and boundary - rl.new.ts < window):
            return  # the common case: the newer checkpoint is recent enough
        if dev_id in self._pending:
            return  # a re-play is due from a checkpoint this one would retire
        core = self._core[dev_id]
        if core.fail_streak or (core.ok_streak and core.base != State.UP) or live.round_start is not None:
            return
        if rl is None:
            rl = self._replay[dev_id] = _ReplayLog(samples=SampleLog())
        cp = _Checkpoint(boundary, core, None, False, live.last_seen, live.maint_checked)
        rl.old, rl.new = rl.new, cp
        if rl.old is not None and rl.samples is not None:
            rl.samples.drop_before(rl.old.ts)

    def _log_sample(self, rl: _ReplayLog, dev_id: str, ts: float, ok: bool) -> None:
        if rl.samples is None or rl.new is None:
            return
        rl.samples.append(ts, ok)
        if len(rl.samples) > REPLAY_LOG_MAX:
            # Too long unsettled: give up the older checkpoint and what only it needed.
            rl.old = None
            rl.samples.drop_before(rl.new.ts)
            if len(rl.samples) > REPLAY_LOG_MAX:
                self._replay.pop(dev_id)

    def _late(self, s: wire.Sample, st: _Static, live: Live, commit: Commit) -> None:
        dev_id = s.device
        self.late_samples += 1
        rl = self._replay.get(dev_id)
        wm = self._watermark[dev_id]
        cp: _Checkpoint | None = None
        if rl is not None and wm - s.ts <= self._sset.reorder_window_s:
            cp = next((c for c in (rl.new, rl.old) if c is not None and c.ts <= s.ts), None)
        if cp is None or rl is None or rl.samples is None:
            # Too late to re-play: the measurements are shown, the state stays.
            if live.round_start is not None and s.ts >= live.round_start and s.ok and not live.round_ok:
                live.round_ok = True
                self._feed(dev_id, Round(s.ts, True), commit)
            return
        self.late_replayed += 1
        # In the log, in time order; the device is re-played once per batch, however many
        # of its samples came late.
        rl.samples.insert(s.ts, s.ok)
        self._schedule(dev_id, s.ts)

    def _replay_device(self, dev_id: str, key: float, commit: Commit) -> None:
        """Re-play a device from its newest checkpoint before ``key``; if what its
        dependants see of it changed, re-play them too."""
        rl = self._replay.get(dev_id)
        if rl is None or rl.samples is None:
            return
        cp = next((c for c in (rl.new, rl.old) if c is not None and c.ts <= key), None)
        if cp is None:
            return  # nothing to re-play from: what was decided stays
        self.replays += 1
        self._touch(dev_id)
        st = self._static[dev_id]
        before = self._vlog_cut(dev_id, cp.ts) if st.descendants else []
        self._replay_from(dev_id, st=st, live=self._live[dev_id], rl=rl, cp=cp, commit=commit)
        if st.descendants:
            vl = self._vlog.get(dev_id, [])
            after = vl[bisect.bisect_left(vl, (cp.ts,), key=_view_key) :]
            # Compared without the stamps' counters, which a re-play renumbers.
            was = {(e[0][0], len(e[0]), *e[1:]) for e in before}
            now = {(e[0][0], len(e[0]), *e[1:]) for e in after}
            if was != now:
                changed = min(e[0] for e in was ^ now)
                for d in st.descendants:
                    self._schedule_dependant(d, changed)

    def _replay_from(
        self, dev_id: str, *, st: _Static, live: Live, rl: _ReplayLog, cp: _Checkpoint, commit: Commit
    ) -> None:
        """Re-play a device's logged samples from checkpoint ``cp``, in processing-key order
        with what its ancestors told it (their view logs), as live in-order processing would."""
        if rl.samples is None:
            return
        wm = self._watermark.get(dev_id, cp.ts)
        self._rewrite(dev_id, cp.ts, cp.core, commit)
        live.round_start, live.round_ok, live.round_reason = cp.round_start, cp.round_ok, ""
        live.last_seen, live.maint_checked = cp.last_seen, cp.maint_checked
        stale_after = self._sset.stale_after_intervals * st.interval_s
        # Re-play without checkpointing: the checkpoints stay where they were.
        replay_log, self._replay[dev_id] = rl, _ReplayLog()
        # The ancestors' messages in the span, in the order the live cascade delivers them:
        # a message after those its own changes caused (``stamp + (inf,)``).
        notes = sorted(
            ((*e[0], _INF), e[0], e[4])
            for a in st.ancestors
            for e in self._vlog.get(a, ())
            if e[0][0] >= cp.ts and e[4] is not None
        )
        k = 0
        saved = self._key, self._cause, self._bound
        self._historical = True

        def tell(upto: _Stamp) -> None:
            nonlocal k
            while k < len(notes) and notes[k][0] <= upto:
                bound, stamp, note_ts = notes[k]
                k += 1
                if self._core[dev_id].fail_streak > 0 and note_ts is not None:
                    self._key, self._cause, self._bound = stamp[0], stamp, bound
                    self._notified[dev_id] = max(self._notified.get(dev_id, _NO_KEY), stamp[0])
                    self._feed(dev_id, AncestorChanged(note_ts), commit)

        try:
            for ts, ok in list(rl.samples):
                if ts < cp.ts:
                    continue
                at = (ts, _INF)
                tell(at)
                self._key, self._cause, self._bound = ts, None, at
                if live.last_seen is not None and ts - live.last_seen > stale_after:
                    self._close_round(dev_id, st, live, commit)
                    self._feed(dev_id, Stale(live.last_seen + st.interval_s, "no data"), commit)
                self._step(ts, ok, "no answer", dev_id=dev_id, st=st, live=live, commit=commit)
                live.last_seen = ts if live.last_seen is None else max(live.last_seen, ts)
            tell((_INF,))
        finally:
            self._historical = False
            self._key, self._cause, self._bound = saved
            self._replay[dev_id] = replay_log
        if cp is rl.old:
            # The newer checkpoint did not know the late sample: the older one takes its place.
            rl.new, rl.old = cp, None
        self._watermark[dev_id] = max(wm, live.last_seen or wm)

    # --- status, tick ------------------------------------------------------------------

    def agent_status(self, status: wire.AgentStatus, received_at: float) -> None:
        """An agent's birth message or last will; offline makes its devices UNKNOWN at once."""
        with self._transaction():
            self._agent_status(status, received_at)

    def _agent_status(self, status: wire.AgentStatus, received_at: float) -> None:
        prev = self._agents.get(status.agent)
        online = status.state == "online"
        self._agents[status.agent] = AgentView(
            id=status.agent,
            online=online,
            last_seen=received_at if online else (prev.last_seen if prev else None),
            version=status.version or (prev.version if prev else ""),
            devices=status.devices or (prev.devices if prev else 0),
            last_seq=prev.last_seq if prev else None,
        )
        commit = Commit()
        commit.agents[status.agent] = _encoder.encode(self._agents[status.agent])
        if not online:
            self._key = received_at
            ts = status.ts or received_at
            for dev_id, live in self._live.items():
                if live.agent == status.agent:
                    # A last will carries the time the agent connected, often before its last
                    # sample: the device was seen then, so UNKNOWN starts just after. Dated at
                    # the sample itself, it would supersede the UP that sample may have made,
                    # and retracting the UNKNOWN later could not bring that UP back.
                    since = ts if live.last_seen is None else max(ts, live.last_seen + STALE_EPSILON_S)
                    self._go_stale(dev_id, since, f"agent {status.agent} offline", commit)
            self._run_pending(commit)
        self._finish(commit)

    def _go_stale(self, dev_id: str, ts: float, cause: str, commit: Commit) -> None:
        core = self._core[dev_id]
        if core.base == State.UNKNOWN:
            return
        live = self._live[dev_id]
        self._close_round(dev_id, self._static[dev_id], live, commit)
        before = self._core[dev_id]
        self._feed(dev_id, Stale(ts, cause), commit)
        if self._core[dev_id] is not before:
            live.pre_stale = before

    def tick(self, now: float) -> None:
        """Periodic work: close rounds that nobody answered, staleness to UNKNOWN,
        maintenance boundaries, refreshing availability, checkpoints and retention."""
        with self._transaction():
            self._tick(now)
        # Only when someone reads snapshots: a simulation that never looks costs nothing.
        if self._snapshot_read and now - self._avail_at >= AVAILABILITY_REFRESH_S:
            self.refresh_availability(now)

    def _tick(self, now: float) -> None:
        commit = Commit()
        for dev_id, st in self._static.items():
            live = self._live[dev_id]
            # Processing keys in measurement time: when the next round's sample would have
            # decided it, not the tick's own time (which is later than samples still in
            # flight, and would make their devices look as if heard out of order).
            if live.round_start is not None and now - live.round_start >= st.interval_s:
                self._key = live.round_start + st.interval_s
                self._close_round(dev_id, st, live, commit)
            if live.last_seen is not None:
                stale_after = self._sset.stale_after_intervals * st.interval_s
                if now - live.last_seen > stale_after:
                    self._key = live.last_seen + stale_after
                    self._go_stale(dev_id, live.last_seen + st.interval_s, "no data", commit)
            self._key = now
            if st.windows:
                t0 = live.maint_checked if live.maint_checked is not None else self._started
                if live.maint_checked is None:
                    w = mnt.in_maintenance(st.windows, t0)
                    if w is not None:
                        self._feed(dev_id, Maintenance(t0, True, w.reason or "maintenance"), commit)
                for t, on, why in mnt.changes(st.windows, t0, now):
                    self._feed(dev_id, Maintenance(t, on, why), commit)
                self._touch(dev_id)
                self._live[dev_id].maint_checked = max(now, t0)
        if now - self._checkpoint_at >= self._checkpoint_s:
            self._checkpoint_at = now
            for dev_id in self._static:
                commit.devices[dev_id] = b""
        if now - self._pruned_at >= 3600.0:
            self._pruned_at = now
            self._store.prune(now, history_keep_s=HISTORY_KEEP_S)
            self._trim_memory(now)
        self._run_pending(commit)
        self._finish(commit)

    def refresh_availability(self, now: float) -> None:
        """Recompute the snapshot's availability over the standard windows ending at ``now``."""
        self._snapshot_read = False
        self._avail_at = now
        self._availability = self._standard_availability(now)
        self._snapshot_dirty = True

    def _trim_memory(self, now: float) -> None:
        since = now - MEMORY_S
        for dev_id, tl in self._timelines.items():
            i = 0
            while i + 1 < len(tl) and tl[i + 1][0] <= since:
                i += 1
            if i:
                self._timelines[dev_id] = tl[i:]
        self._mem_since = since
        self._commune_dirty.update(self._all_communes)

    def _finish(self, commit: Commit) -> None:
        for dev_id in commit.devices:
            commit.devices[dev_id] = _saved_encoder.encode(_Saved(self._core[dev_id], self._live[dev_id]))
        if (
            commit.transitions
            or commit.devices
            or commit.ledger is not None
            or commit.agents
            or commit.history
            or commit.rewrite_from
        ):
            self._store.commit(commit)
        if commit.transitions or commit.devices or commit.agents:
            self._snapshot_dirty = True

    def close(self) -> None:
        """Save every device's state and close the store."""
        commit = Commit()
        for dev_id in self._static:
            commit.devices[dev_id] = b""
        self._finish(commit)
        self._store.close()

    # --- the read model ----------------------------------------------------------------

    def _commune_timelines(self) -> dict[str, list[tuple[float, State]]]:
        if self._commune_dirty:
            for c in self._commune_dirty:
                devs = self._access.get(c, ())
                self._commune_tl[c] = av.commune_timeline([self._timelines.get(d, []) for d in devs])
            self._commune_dirty.clear()
        return self._commune_tl

    def _timelines_from(
        self, start: float
    ) -> tuple[dict[str, list[tuple[float, State]]], dict[str, list[tuple[float, State]]]]:
        """Device and commune timelines covering ``start`` on (from memory, else the store)."""
        if start >= self._mem_since:
            return self._timelines, self._commune_timelines()
        dev_tl = self._store.timelines(start)
        com_tl = {c: av.commune_timeline([dev_tl.get(d, []) for d in devs]) for c, devs in self._access.items()}
        return dev_tl, com_tl

    def _communes_of(self, scope: Scope, ident: str) -> Sequence[str]:
        if scope == "commune":
            return (ident,) if ident in self._access else ()
        if scope == "district":
            return self._district_communes.get(ident, ())
        return self._all_communes

    def availability(self, scope: Scope, ident: str, start: float, end: float) -> Availability:
        """Time in states of a device, commune, district or the province over ``[start, end)``."""
        dev_tl, com_tl = self._timelines_from(start)
        if scope == "device":
            return av.device_availability(dev_tl.get(ident, []), start, end)
        return av.total(av.device_availability(com_tl.get(c, []), start, end) for c in self._communes_of(scope, ident))

    def time_weighted_coverage(self, scope: Scope, ident: str, start: float, end: float) -> float:
        """Average share of the unit's communes connected over ``[start, end)``."""
        _, com_tl = self._timelines_from(start)
        return cov.time_weighted(com_tl, self._communes_of(scope, ident), start, end)

    def coverage_series(self, start: float, end: float, step_s: float) -> list[CoveragePoint]:
        """Province coverage sampled every ``step_s`` over ``[start, end]``."""
        _, com_tl = self._timelines_from(start)
        return cov.series(com_tl, self._all_communes, start, end, step_s)

    def outages(
        self,
        start: float,
        end: float,
        *,
        device: str | None = None,
        commune: str | None = None,
        district: str | None = None,
        limit: int | None = None,
    ) -> list[Outage]:
        """Outages overlapping ``[start, end)``, newest first."""
        return self._store.outages(start, end, device=device, commune=commune, district=district, limit=limit)

    def history(self, device: str, since: float) -> list[HistoryPoint]:
        """Recent latency points of a device, oldest first."""
        return self._store.history(device, since)

    def transitions(self, device: str, start: float, end: float) -> list[Transition]:
        """A device's stored transitions in ``[start, end)`` (for explanations)."""
        return self._store.transitions(device, start, end)

    def device_state(self, device: str) -> DeviceState | None:
        """The core state of a device (for tests and diagnostics)."""
        return self._core.get(device)

    def _standard_availability(self, now: float) -> StandardAvailability:
        com_tl = self._commune_timelines()
        starts = [now - w for w in STANDARD_WINDOWS_S]
        # Most units share the same figures (up the whole window): one object for each
        # distinct value keeps a national snapshot's memory small (values are immutable).
        one: dict[Availability, Availability] = {}
        same: dict[tuple[Availability, ...], tuple[Availability, ...]] = {}

        def shared(items: Iterable[Availability]) -> tuple[Availability, ...]:
            t = tuple(one.setdefault(a, a) for a in items)
            return same.setdefault(t, t)

        def windows(tl: list[tuple[float, State]]) -> tuple[Availability, ...]:
            return shared(av.device_availability(tl, start, now) for start in starts)

        empty: list[tuple[float, State]] = []
        devices = {dev_id: windows(self._timelines.get(dev_id, empty)) for dev_id in self._static}
        communes = {c: windows(com_tl.get(c, empty)) for c in self._all_communes}
        n = range(len(STANDARD_WINDOWS_S))
        districts = {
            d: shared(av.total(communes[c][i] for c in cs) for i in n) for d, cs in self._district_communes.items()
        }
        province = {self._inventory.province.code: shared(av.total(a[i] for a in communes.values()) for i in n)}
        return StandardAvailability(
            {"device": devices, "commune": communes, "district": districts, "province": province}
        )

    def snapshot(self) -> Snapshot:
        """The current state, immutable; rebuilt at most once a second when samples arrive."""
        now = self._clock()
        self._snapshot_read = True
        if self._avail_at == float("-inf"):
            # The first read before any tick: compute the standard windows once, now.
            self._avail_at = now
            self._availability = self._standard_availability(now)
            self._snapshot_dirty = True
        snap = self._snapshot
        if snap is not None and (not self._snapshot_dirty or now - snap.taken_at < SNAPSHOT_MAX_AGE_S):
            return snap
        snap = self._build_snapshot(now)
        self._snapshot = snap
        self._snapshot_dirty = False
        return snap

    def _device_view(self, dev_id: str) -> DeviceView:
        st = self._static[dev_id]
        core = self._core[dev_id]
        live = self._live[dev_id]
        m = self._measured.get(dev_id) or _NOTHING_MEASURED
        d = st.device
        return DeviceView(
            id=dev_id,
            role=d.role.value,
            name=d.name,
            address=d.address,
            commune=st.commune,
            district=st.district,
            parent=d.parent,
            agent=live.agent,
            state=core.state,
            since=core.since,
            cause=core.cause,
            root_cause=core.root_cause,
            flapping=core.flapping,
            last_seen=live.last_seen,
            last_ok=live.last_ok,
            rtt_min_s=m.rtt_min_s,
            rtt_avg_s=m.rtt_avg_s,
            rtt_max_s=m.rtt_max_s,
            jitter_s=m.jitter_s,
            loss_ratio=m.loss_ratio,
            response_s=m.response_s,
            sys_uptime_s=live.sys_uptime_s,
            sys_name=live.sys_name,
            sys_descr=live.sys_descr,
            is_access=d.is_access,
            interfaces=tuple(_interface_view(i) for i in m.interfaces or ()),
            unread=m.unread or {},
        )

    def _build_snapshot(self, now: float) -> Snapshot:
        for dev_id in self._dirty_views:
            if dev_id in self._static:
                self._views[dev_id] = self._device_view(dev_id)
        self._dirty_views.clear()
        devices = dict(self._views)
        com_tl = self._commune_timelines()
        communes: dict[str, CommuneView] = {}
        states: dict[str, State] = {}
        provisioned: dict[str, bool] = {}
        idx = self._inventory.index
        for code in self._all_communes:
            access = self._access.get(code, ())
            tl = com_tl.get(code)
            cstate = tl[-1][1] if tl else State.UNKNOWN
            since = tl[-1][0] if tl else self._started
            root = None
            if cstate == State.UNREACHABLE:
                root = next((self._core[d].root_cause for d in access if self._core[d].root_cause), None)
            district = idx.commune_district.get(code)
            communes[code] = CommuneView(
                code=code,
                name=idx.communes[code].name,
                district=district.code if district else None,
                connected=cstate == State.UP,
                provisioned=bool(access),
                state=cstate,
                since=since,
                devices=tuple(dv.id for dv in idx.communes[code].devices),
                root_cause=root,
            )
            states[code] = cstate
            provisioned[code] = bool(access)
        districts = {
            code: DistrictView(
                code=code,
                name=d.name,
                counts=cov.counts(self._district_communes[code], states, provisioned),
                devices=tuple(dv.id for dv in d.devices),
                communes=self._district_communes[code],
            )
            for code, d in idx.districts.items()
        }
        province: Counts = cov.counts(self._all_communes, states, provisioned)
        ingest = self._ingest()
        return Snapshot(
            taken_at=now,
            province_code=self._inventory.province.code,
            province_name=self._inventory.province.name,
            edition=self._inventory.edition,
            devices=devices,
            communes=communes,
            districts=districts,
            province=province,
            agents=dict(self._agents),
            ingest=ingest,
            availability=self._availability,
            outage_counts=dict(self._outage_counts),
        )

    def _ingest(self) -> IngestCounters:
        if self._ingest_counters is None:
            return IngestCounters(
                batches=self.batches,
                samples=self.samples,
                duplicates=self.duplicates,
                late_samples=self.late_samples,
                unknown_devices=self.unknown_samples,
            )
        ic = self._ingest_counters()
        return replace(
            ic,
            late_samples=max(ic.late_samples, self.late_samples),
            unknown_devices=max(ic.unknown_devices, self.unknown_samples),
        )


_NOTHING_MEASURED = Measured()


def _interface_view(i: wire.Interface) -> InterfaceView:
    return InterfaceView(
        index=i.index,
        name=i.name,
        alias=i.alias,
        oper_status=i.oper_status,
        admin_status=i.admin_status,
        speed_bps=i.speed_bps,
        in_bps=i.in_bps,
        out_bps=i.out_bps,
        in_octets=i.in_octets,
        out_octets=i.out_octets,
        in_errors=i.in_errors,
        out_errors=i.out_errors,
        in_discards=i.in_discards,
        out_discards=i.out_discards,
    )
