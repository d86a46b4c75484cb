"""Late samples: what is kept so that a device can be re-played, and the moment a
judgement is made in.

Samples are applied in measurement-time order. A sample older than the device's newest
applied sample is *late* (an agent's backlog, sent behind its live data after a broker
outage). Within ``reorder_window_s`` the device is re-played from a *checkpoint* — a
settled moment, no streak under way — with the late sample merged into its logged
samples, and its stored transitions from the checkpoint on are rewritten.

A device's judgement depends on what its ancestors were *at the moment it was made*: a
child whose own threshold is reached while its uplink is failing but not yet confirmed is
held until the uplink's verdict. So every device with dependants keeps a :class:`ViewLog`
of each change of what they see of it (base state, root cause, streak under way, and the
message it sent them), stamped with where it happened in processing order. A re-play
reads its ancestors' views from those logs at its own :class:`Moment`, and gets their
messages in the order the live cascade delivered them.

This module holds the data (checkpoints, sample logs, view logs, the queue of pending
re-plays), the rules on them and the re-plays themselves (:class:`Replayer`), which drive
the write path's steps (:mod:`collector.apply`).
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, NamedTuple, Protocol

import msgspec

from netmon.collector.devices import DeviceFacts, Live, Topology
from netmon.collector.model import State
from netmon.collector.records import DeviceRecords
from netmon.collector.samplelog import SampleLog
from netmon.collector.state import AncestorChanged, DeviceState, Event, Stale
from netmon.config.settings import StateSettings

if TYPE_CHECKING:
    from netmon.collector.journal import Txn

NO_KEY = float("-inf")
INF = float("inf")
#: A device's recent samples kept for re-play, at most (per device).
REPLAY_LOG_MAX = 512

#: Where a change happened in processing order: the processing key (the measurement time
#: of what was being applied), then a counter; a change caused by an ancestor's message
#: extends that message's stamp, so that stamps order changes as the live cascade made them.
Stamp = tuple[float, ...]


class Moment(msgspec.Struct, frozen=True):
    """When, in processing order, a judgement is made, and what it may see (a msgspec
    struct: one is made per device per round, and its constructor is C).

    Attributes:
        key: The processing key: the measurement time of the sample being applied (or of
            the decision the tick makes for a device).
        cause: The stamp of the ancestor's message being delivered (None: a sample or the
            tick).
        bound: In a re-play, the ancestors' view changes that are visible: those stamped
            up to here. Live, the ancestors' current states are seen.
        replaying: Whether this is a re-play: ancestors are read from their view logs, and
            a change is not propagated to dependants (they are re-played after).
    """

    key: float
    cause: Stamp | None = None
    bound: Stamp = (INF,)
    replaying: bool = False

    @classmethod
    def live(cls, key: float) -> Moment:
        """Live processing at ``key``."""
        return cls(key)

    def delivering(self, stamp: Stamp) -> Moment:
        """The same moment, delivering an ancestor's message stamped ``stamp``."""
        return Moment(self.key, stamp, self.bound, self.replaying)

    def stamp(self, counter: int) -> Stamp:
        """The stamp of a change made now, the ``counter``-th one."""
        return (*(self.cause or (self.key,)), float(counter))


class View(NamedTuple):
    """A change of what a device's dependants see of it.

    Attributes:
        stamp: Where it happened in processing order.
        base: Its base state from then on.
        root_cause: Its root cause from then on.
        streak: Whether a failure streak is under way.
        notify_ts: The time of the ancestor message it sent its dependants (None: none).
    """

    stamp: Stamp
    base: State
    root_cause: str | None
    streak: bool
    notify_ts: float | None


class Message(NamedTuple):
    """An ancestor's message to its dependants, as a re-play delivers it.

    Attributes:
        after: It is delivered once the re-play has passed this point (just after the
            changes it caused: ``stamp + (inf,)``).
        stamp: The stamp of the change that sent it.
        ts: The time of the change it announces.
    """

    after: Stamp
    stamp: Stamp
    ts: float


_stamp_of = attrgetter("stamp")


class ViewLogs:
    """Per device with dependants, the changes of what they see of it, in stamp order.

    Args:
        keep_s: Changes older than this behind the newest one are folded into the log's
            base view (no checkpoint can be older: three reorder windows).
    """

    def __init__(self, keep_s: float) -> None:
        self._logs: dict[str, list[View]] = {}
        self._keep_s = keep_s
        self._count = 0
        #: No view log has a change after this processing key.
        self.max_key = NO_KEY

    def get(self, dev_id: str) -> list[View] | None:
        """A device's log (None: it never changed in a way its dependants see)."""
        return self._logs.get(dev_id)

    def restore(self, dev_id: str, log: list[View] | None) -> None:
        """Put back a log as it was (undoing a failed transaction)."""
        if log is None:
            self._logs.pop(dev_id, None)
        else:
            self._logs[dev_id] = log

    def forget(self, dev_id: str) -> None:
        """A device left the inventory."""
        self._logs.pop(dev_id, None)

    def at(self, dev_id: str, bound: Stamp) -> View | None:
        """What the dependants saw of a device after the changes stamped up to ``bound``."""
        vl = self._logs.get(dev_id)
        if vl is None:
            return None
        return vl[max(0, bisect.bisect_right(vl, bound, key=_stamp_of) - 1)]

    def record(self, dev_id: str, moment: Moment, old: DeviceState, new: DeviceState, notify_ts: float | None) -> Stamp:
        """Log a change from ``old`` to ``new`` made at ``moment``; returns its stamp."""
        self._count += 1
        stamp = moment.stamp(self._count)
        vl = self._logs.get(dev_id)
        if vl is None:
            vl = self._logs[dev_id] = [View((NO_KEY,), old.base, old.root_cause, old.fail_streak > 0, None)]
        else:
            vl = self._logs[dev_id] = list(vl)  # copy on write: a journal may hold the old list
        entry = View(stamp, new.base, new.root_cause, new.fail_streak > 0, notify_ts)
        self.max_key = max(self.max_key, stamp[0])
        if stamp >= vl[-1].stamp:
            vl.append(entry)
        else:
            vl.insert(bisect.bisect_right(vl, stamp, key=_stamp_of), entry)
        keep = (stamp[0] - self._keep_s,)
        if len(vl) > 32 and vl[1].stamp < keep:
            # Older than any checkpoint can be: the last of those becomes the base view.
            i = bisect.bisect_left(vl, keep, key=_stamp_of)
            prev = vl[i - 1]
            self._logs[dev_id] = [View((NO_KEY,), prev.base, prev.root_cause, prev.streak, None), *vl[i:]]
        return stamp

    def cut(self, dev_id: str, key: float) -> list[View]:
        """Forget a device's changes from ``key`` on (to be told again); returns them."""
        vl = self._logs.get(dev_id)
        if vl is None:
            return []
        i = max(bisect.bisect_left(vl, (key,), key=_stamp_of), 1)  # the base view stays
        self._logs[dev_id] = vl[:i]
        return vl[i:]

    def since(self, dev_id: str, key: float) -> list[View]:
        """A device's changes from ``key`` on."""
        vl = self._logs.get(dev_id, [])
        return vl[bisect.bisect_left(vl, (key,), key=_stamp_of) :]

    def moved_after(self, ancestors: Iterable[str], ts: float) -> bool:
        """Whether an ancestor's view changed at a processing key after ``ts``."""
        logs = self._logs
        for a in ancestors:
            vl = logs.get(a)
            if vl is not None and vl[-1].stamp[0] > ts:
                return True
        return False

    def messages(self, ancestors: Iterable[str], from_key: float) -> list[Message]:
        """The ancestors' messages from ``from_key`` on, in the order the live cascade
        delivered them: each after the changes it caused."""
        return sorted(
            Message((*v.stamp, INF), v.stamp, v.notify_ts)
            for a in ancestors
            for v in self._logs.get(a, ())
            if v.stamp[0] >= from_key and v.notify_ts is not None
        )


def changed_views(before: list[View], after: list[View]) -> float | None:
    """The earliest processing key at which two runs of a device's view changes differ
    (None: the same); compared without the stamps' counters, which a re-play renumbers."""
    was = {(v.stamp[0], len(v.stamp), *v[1:]) for v in before}
    now = {(v.stamp[0], len(v.stamp), *v[1:]) for v in after}
    if was == now:
        return None
    return min(e[0] for e in was ^ now)


@dataclass(slots=True)
class Checkpoint:
    """A settled moment of a device, from which its recent samples can be re-played.

    Attributes:
        ts: Every sample before this time is applied in ``core``, none from it on.
        core: Its core state then.
        round_start: The round under way then (None: none).
        round_ok: Whether that round had answered.
        last_seen: Its newest sample's time then.
        maint_checked: Up to when maintenance was applied then.
    """

    ts: float
    core: DeviceState
    round_start: float | None
    round_ok: bool
    last_seen: float | None
    maint_checked: float | None


@dataclass(slots=True)
class ReplayLog:
    """A device's samples since its older checkpoint: times and verdicts, packed, and why
    the failed ones failed (a re-played DOWN names the probe's reason, as the live one did).

    Two checkpoints are kept, so that a late sample up to a reorder window older than the
    newest one still finds one before it.
    """

    old: Checkpoint | None = None
    new: Checkpoint | None = None
    samples: SampleLog = field(default_factory=SampleLog)
    #: Per failed sample's time, its reason (failures are few: a dict, not a column; None
    #: until the first, as most devices never fail).
    reasons: dict[float, str] | None = None

    def add(self, ts: float, ok: bool, reason: str, *, late: bool = False) -> None:
        """Log a sample: in order (appended), or late (inserted in its place)."""
        if late:
            self.samples.insert(ts, ok)
        else:
            self.samples.append(ts, ok)
        if not ok and reason:
            if self.reasons is None:
                self.reasons = {}
            self.reasons[ts] = reason

    def reason(self, ts: float) -> str:
        """Why the sample at ``ts`` failed."""
        return self.reasons.get(ts, "no answer") if self.reasons else "no answer"

    def _drop_before(self, ts: float) -> None:
        self.samples.drop_before(ts)
        if self.reasons:
            self.reasons = {t: r for t, r in self.reasons.items() if t >= ts} or None

    def before(self, ts: float) -> Checkpoint | None:
        """The newest checkpoint at or before ``ts``."""
        return next((c for c in (self.new, self.old) if c is not None and c.ts <= ts), None)

    def advance(self, cp: Checkpoint) -> None:
        """Take a new checkpoint: the newer one becomes the older, and samples only the
        retired one needed are forgotten."""
        self.old, self.new = self.new, cp
        if self.old is not None:
            self._drop_before(self.old.ts)

    def log(self, ts: float, ok: bool, reason: str) -> bool:
        """Log a sample in order; False when the log grew too long to keep (give it up)."""
        self.add(ts, ok, reason)
        if len(self.samples) <= REPLAY_LOG_MAX:
            return True
        if self.new is not None:
            # Too long unsettled: give up the older checkpoint and what only it needed.
            self.old = None
            self._drop_before(self.new.ts)
        return len(self.samples) <= REPLAY_LOG_MAX


class Pending:
    """Devices to re-play before the batch commits, each from its earliest key, ancestors
    first (a re-play only schedules dependants, deeper in the tree)."""

    def __init__(self) -> None:
        self._from: dict[str, float] = {}
        self._order: list[tuple[int, str]] = []

    def __contains__(self, dev_id: str) -> bool:
        return dev_id in self._from

    def get(self, dev_id: str) -> float | None:
        """From where a device is due to be re-played (None: it is not)."""
        return self._from.get(dev_id)

    def add(self, dev_id: str, key: float, depth: int) -> None:
        """Re-play ``dev_id`` (at ``depth`` in the tree) from ``key`` on."""
        p = self._from.get(dev_id)
        if p is None:
            self._from[dev_id] = key
            heapq.heappush(self._order, (depth, dev_id))
        elif key < p:
            self._from[dev_id] = key

    def put_back(self, dev_id: str, key: float | None) -> None:
        """Restore a device's due key as it was (None: not due)."""
        if key is None:
            self._from.pop(dev_id, None)
        else:
            self._from[dev_id] = key

    def drain(self) -> Iterator[tuple[str, float]]:
        """Each due device and its key, ancestors first, until none is due (devices may be
        added while draining)."""
        while self._order:
            _, dev_id = heapq.heappop(self._order)
            key = self._from.pop(dev_id, None)
            if key is not None:
                yield dev_id, key

    def clear(self) -> None:
        """Nothing is due (a failed transaction)."""
        self._from.clear()
        self._order.clear()


class Steps(Protocol):
    """What a re-play needs of the write path (:class:`collector.apply.Writer`)."""

    def journal(self, dev_id: str, tx: Txn) -> None:
        """Journal a device before the transaction changes it."""
        ...

    def rewrite(self, dev_id: str, since: float, core: DeviceState, tx: Txn) -> None:
        """Forget a device's transitions from ``since`` on and restore ``core``."""
        ...

    def step(
        self, ts: float, ok: bool, reason: str, *, dev_id: str, f: DeviceFacts, live: Live, tx: Txn, moment: Moment
    ) -> None:
        """A sample's part in its round."""
        ...

    def close_round(
        self, dev_id: str, f: DeviceFacts, live: Live, tx: Txn, moment: Moment, *, boundary: float | None = None
    ) -> None:
        """Decide the open round."""
        ...

    def feed(self, dev_id: str, event: Event, tx: Txn, moment: Moment) -> None:
        """Feed an event to the core."""
        ...


class Replayer:
    """Late samples and re-plays: every device's re-play log, the ancestors' view logs,
    the queue of re-plays due before the batch commits.

    Args:
        topology: The inventory, indexed.
        settings: The state rules (``reorder_window_s``).
        records: The write path's tables (watermarks and core states are read).
    """

    def __init__(self, topology: Topology, settings: StateSettings, records: DeviceRecords) -> None:
        self.topology = topology
        self._window = settings.reorder_window_s
        self._records = records
        self.logs: dict[str, ReplayLog] = {}
        self.views = ViewLogs(keep_s=3 * settings.reorder_window_s)
        self.pending = Pending()
        #: Per device, the newest key an ancestor's message reached it.
        self.notified: dict[str, float] = {}
        #: Per device, the newest key its ancestors mattered to it.
        self.judged: dict[str, float] = {}
        #: Device re-plays run.
        self.replays = 0

    def forget(self, dev_id: str) -> None:
        """A device left the inventory."""
        self.logs.pop(dev_id, None)
        self.views.forget(dev_id)
        self.notified.pop(dev_id, None)
        self.judged.pop(dev_id, None)

    def last_key(self, dev_id: str) -> float:
        """The newest processing key that changed or judged a device."""
        return max(self._records.watermark.get(dev_id, NO_KEY), self.notified.get(dev_id, NO_KEY))

    def schedule(self, dev_id: str, key: float) -> None:
        """Re-play a device from ``key`` on, before the batch is committed."""
        self.pending.add(dev_id, key, len(self.topology.facts[dev_id].ancestors))

    def schedule_dependant(self, dev_id: str, key: float) -> None:
        """Re-play a dependant whose ancestor's view changed at ``key``, unless nothing it did
        since could have depended on it: its ancestors matter to a device only while it is
        failing (its failed rounds are judged against them, their messages reach it)."""
        if self._records.core[dev_id].fail_streak > 0 or self.judged.get(dev_id, NO_KEY) >= key:
            self.schedule(dev_id, key)

    def first_sample(self, dev_id: str, ts: float, live: Live) -> None:
        """A device's first sample ever: nothing applied before it, so its state now is a
        checkpoint for samples up to a reorder window older."""
        if self._window > 0:
            cp = Checkpoint(ts - self._window, self._records.core[dev_id], None, False, None, live.maint_checked)
            self.logs[dev_id] = ReplayLog(new=cp)

    def log(self, dev_id: str, ts: float, ok: bool, reason: str) -> None:
        """Log a sample applied in order (if the device has a checkpoint to re-play from)."""
        rl = self.logs.get(dev_id)
        if rl is None or rl.new is None:
            return
        if ok and len(rl.samples) < REPLAY_LOG_MAX:
            rl.samples.append(ts, True)  # the common case of ``ReplayLog.log``, without two calls
        elif not rl.log(ts, ok, reason):
            del self.logs[dev_id]

    def maybe_checkpoint(self, dev_id: str, live: Live, boundary: float) -> None:
        """Remember a settled moment (no streak under way, no round open) to re-play from:
        the state with every sample before ``boundary`` applied, none from it on."""
        rl = self.logs.get(dev_id)
        if self._window <= 0 or (rl is not None and rl.new is not None and boundary - rl.new.ts < self._window):
            return  # the common case: the newer checkpoint is recent enough
        if dev_id in self.pending:
            return  # a re-play is due from a checkpoint this one would retire
        core = self._records.core[dev_id]
        if core.fail_streak or (core.ok_streak and core.base != State.UP) or live.round_start is not None:
            return
        if rl is None:
            rl = self.logs[dev_id] = ReplayLog()
        rl.advance(Checkpoint(boundary, core, None, False, live.last_seen, live.maint_checked))

    def late(self, dev_id: str, ts: float, ok: bool, reason: str) -> bool:
        """A late sample: merged into the device's log and a re-play scheduled (True), or
        too late to re-play — older than the window or than every checkpoint (False)."""
        rl = self.logs.get(dev_id)
        if rl is None or self._records.watermark[dev_id] - ts > self._window or rl.before(ts) is None:
            return False
        # In the log, in time order; the device is re-played once per batch, however many
        # of its samples came late.
        rl.add(ts, ok, reason, late=True)
        self.schedule(dev_id, ts)
        return True

    def drain(self, tx: Txn, steps: Steps) -> None:
        """Run the re-plays due, ancestors first."""
        for dev_id, key in self.pending.drain():
            self._replay_device(dev_id, key, tx, steps)

    def _replay_device(self, dev_id: str, key: float, tx: Txn, steps: Steps) -> None:
        """Re-play a device from its newest checkpoint before ``key``; if what its
        dependants see of it changed, re-play them too."""
        rl = self.logs.get(dev_id)
        if rl is None:
            return
        cp = rl.before(key)
        if cp is None:
            return  # nothing to re-play from: what was decided stays
        self.replays += 1
        steps.journal(dev_id, tx)
        f = self.topology.facts[dev_id]
        before: list[View] = []
        if f.descendants:
            tx.edit_views(dev_id, self.views)
            before = self.views.cut(dev_id, cp.ts)
        self._replay_from(dev_id, f=f, rl=rl, cp=cp, tx=tx, steps=steps)
        if f.descendants:
            changed = changed_views(before, self.views.since(dev_id, cp.ts))
            if changed is not None:
                for d in f.descendants:
                    self.schedule_dependant(d, changed)

    def _replay_from(
        self, dev_id: str, *, f: DeviceFacts, rl: ReplayLog, cp: Checkpoint, tx: Txn, steps: Steps
    ) -> None:
        """Re-play a device's logged samples from checkpoint ``cp``, in processing-key order
        with what its ancestors told it (their view logs), as live in-order processing would."""
        records = self._records
        live = records.live[dev_id]
        wm = records.watermark.get(dev_id, cp.ts)
        steps.rewrite(dev_id, cp.ts, cp.core, tx)
        live.round_start, live.round_ok, live.round_reason = cp.round_start, cp.round_ok, ""
        live.last_seen, live.maint_checked = cp.last_seen, cp.maint_checked
        messages = self.views.messages(f.ancestors, cp.ts)
        k = 0

        def tell(upto: Stamp) -> None:
            # The ancestors' messages up to this point, as the live cascade delivered them.
            nonlocal k
            while k < len(messages) and messages[k].after <= upto:
                msg = messages[k]
                k += 1
                if records.core[dev_id].fail_streak > 0:
                    self.notified[dev_id] = max(self.notified.get(dev_id, NO_KEY), msg.stamp[0])
                    at = Moment(msg.stamp[0], msg.stamp, msg.after, replaying=True)
                    steps.feed(dev_id, AncestorChanged(msg.ts), tx, at)

        for ts, ok in list(rl.samples):
            if ts < cp.ts:
                continue
            upto = (ts, INF)
            tell(upto)
            moment = Moment(ts, None, upto, replaying=True)
            if live.last_seen is not None and ts - live.last_seen > f.stale_after_s:
                steps.close_round(dev_id, f, live, tx, moment)
                steps.feed(dev_id, Stale(live.last_seen + f.interval_s, "no data"), tx, moment)
            steps.step(ts, ok, rl.reason(ts), dev_id=dev_id, f=f, live=live, tx=tx, moment=moment)
            live.last_seen = ts if live.last_seen is None else max(live.last_seen, ts)
        tell((INF,))
        if cp is rl.old:
            # The newer checkpoint did not know the late sample: the older one takes its place.
            rl.new, rl.old = cp, None
        records.watermark[dev_id] = max(wm, live.last_seen or wm)
