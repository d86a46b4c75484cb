"""The collector's engine: one inventory's device states, outages, availability and
coverage, with its store.

It puts together the parts a newcomer can read one at a time:

* :mod:`collector.devices` — the inventory indexed (:class:`~collector.devices.Topology`)
  and each device's runtime records;
* :mod:`collector.apply` — the write path: batches, agent statuses and the tick turned
  into states and transitions, one store transaction per batch;
* :mod:`collector.replay` — what late samples need: checkpoints, sample logs, the
  ancestors' view logs, the moment a judgement is made in;
* :mod:`collector.readmodel` — timelines, availability and coverage over any window, and
  the immutable snapshot the exporters and pages render.

No asyncio and no MQTT here: the ingest calls :meth:`Engine.apply_batch` and
:meth:`Engine.agent_status`, a periodic task calls :meth:`Engine.tick`. The methods are
not re-entrant; call them from one thread. The read methods over a window that
:meth:`Engine.reads_store` says is in the store may be called from another thread: they
read on the store's own read-only connection.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import cast

import msgspec

from netmon.agent import wire
from netmon.collector.apply import Writer
from netmon.collector.devices import Topology
from netmon.collector.model import (
    Availability,
    IngestCounters,
    Snapshot,
    StandardAvailability,
    StoreHealth,
)
from netmon.collector.readmodel import (
    MEMORY_S,
    DeviceViews,
    History,
    RecentLog,
    SnapshotParts,
    ViewInputs,
    build_snapshot,
    standard_availability,
    standard_availability_steps,
)
from netmon.collector.state import DeviceState
from netmon.collector.steps import Steps
from netmon.collector.store import ENVIRONMENT_ERRORS, SqliteStore, Store
from netmon.config.inventory import Inventory
from netmon.config.settings import CollectorSettings

log = logging.getLogger(__name__)

#: How often the snapshot's availability figures are recomputed (they are for windows of an hour and more).
AVAILABILITY_REFRESH_S = 60.0
#: Devices and communes per tick in that refresh (a national one takes about ten ticks
#: instead of one 0.3-0.5 s stall of the event loop).
AVAILABILITY_STEP_UNITS = 4000
#: How often every device's record is saved whole (between, each batch saves what it moved).
CHECKPOINT_S = 300.0
#: One latency point per device per this many seconds goes to the store for the charts
#: (a province: one a minute); a large inventory is thinned so that the store receives
#: about this many points per second at most...
HISTORY_STEP_S = 60.0
HISTORY_POINTS_PER_S = 100.0
#: ...and they are kept this long.
HISTORY_KEEP_S = 86400.0
#: How often retention is applied to the store and the recent log.
PRUNE_S = 3600.0
#: A snapshot younger than this is served again even if samples arrived since.
SNAPSHOT_MAX_AGE_S = 1.0


@dataclass(slots=True)
class _StoreHealthTracker:
    """Whether the store takes writes, and since when it does not."""

    failing_since: float | None = None
    error: str = ""
    failures: int = 0

    def failed(self, exc: BaseException, now: float) -> None:
        self.failures += 1
        msg = f"{type(exc).__name__}: {exc}"
        if self.failing_since is None or msg != self.error:
            log.error(
                "store write failed, nothing lost (batches stay with the broker and are applied when it works again): %s",
                msg,
            )
        if self.failing_since is None:
            self.failing_since = now
        self.error = msg

    def worked(self, now: float) -> None:
        if self.failing_since is not None:
            log.warning("store writes again after %.0f s of failures", now - self.failing_since)
            self.failing_since = None
            self.error = ""

    def view(self) -> StoreHealth:
        return StoreHealth(
            ok=self.failing_since is None, since=self.failing_since, error=self.error, failures=self.failures
        )


class Engine(History):
    """Device states, outages, availability and coverage of one inventory: its write side,
    and the read model (:class:`~collector.readmodel.History`) over its recent log and store.

    Args:
        inventory: The network.
        settings: The collector's settings (state rules, maintenance windows, store).
        store: Where effects are persisted; None keeps everything in memory only.
        clock: The time source (tests and the demo inject a simulated clock).
        ingest_counters: The ingestor's counters, shown in the snapshot.
        history_step_s: One latency point per device per this many seconds for the charts
            (default: a minute, thinned for large inventories; ``math.inf``: none).
        checkpoint_s: How often every device's record is saved whole.
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
        # Without a store, an in-memory SQLite one: one code path, outages queryable all the same.
        self._store: SqliteStore | Store = store if store is not None else SqliteStore.open(":memory:")
        self._clock = clock
        self._ingest_counters = ingest_counters
        self._checkpoint_s = checkpoint_s
        now = clock()
        self._checkpoint_at = now
        self._pruned_at = float("-inf")
        self._health = _StoreHealthTracker()
        topology = Topology.build(inventory, settings)
        reader = self._store.reader
        self._memory = RecentLog.from_store(topology, reader, now - MEMORY_S)
        super().__init__(topology, reader, self._memory)
        step = history_step_s or max(HISTORY_STEP_S, len(topology.facts) / HISTORY_POINTS_PER_S)
        self._writer = Writer(topology, settings.state, self._store, self._memory, now=now, history_step_s=step)
        #: What each device's view is made of, as of the last snapshot.
        self._views: dict[str, ViewInputs] = {}
        self._snapshot: Snapshot | None = None
        self._availability: Mapping[tuple[str, str, int], Availability] = {}
        self._avail_at = float("-inf")
        self._avail_job: Steps[StandardAvailability] | None = None
        # Computed in full at the first read (0.3-0.5 s at national scale, once), then
        # refreshed by the ticks, a step each, once a minute while snapshots are read.
        self._snapshot_read = False

    # --- the write side ---------------------------------------------------------------------

    def reload(self, inventory: Inventory) -> None:
        """Take a new inventory: new devices start UNKNOWN, removed ones are forgotten
        (their stored transitions and outages stay)."""
        topology = Topology.build(inventory, self._settings)
        self._writer.retopologise(topology, self._clock())
        self._memory.retopologise(topology)
        self.topology = topology
        for gone in [d for d in self._views if d not in topology.facts]:
            del self._views[gone]
        if isinstance(self._store, SqliteStore):
            self._store.forget_devices(topology.facts)
        self._snapshot = None  # of the old topology: nothing in it is reused
        self._avail_at = float("-inf")
        self._avail_job = None

    def apply_batch(self, batch: wire.SampleBatch, received_at: float) -> None:
        """Apply an agent's batch and persist its effects with ``(agent, seq)`` atomically.

        If the store fails (disk full, I/O error), the error propagates and the engine's
        memory is rolled back to before the batch, so that its redelivery is applied as if
        for the first time.
        """
        self._write(lambda: self._writer.apply_batch(batch, received_at), received_at)

    def agent_status(self, status: wire.AgentStatus, received_at: float) -> None:
        """An agent's birth message or last will; offline makes its devices UNKNOWN at once."""
        self._write(lambda: self._writer.agent_status(status, received_at), received_at)

    def _write(self, work: Callable[[], bool], now: float) -> None:
        try:
            wrote = work()
        except ENVIRONMENT_ERRORS as exc:
            self._health.failed(exc, now)
            raise
        if wrote:
            self._health.worked(now)

    def tick(self, now: float) -> None:
        """Periodic work: close rounds that nobody answered, staleness to UNKNOWN,
        maintenance boundaries, checkpoints and retention, refreshing availability.

        A store that fails (disk full) does not stop the collector: the tick's work is
        rolled back and done again by the next tick, the failure is in the snapshot's
        ``store`` health, and everything resumes by itself when the store works again.
        """
        checkpoint = now - self._checkpoint_at >= self._checkpoint_s
        try:
            wrote = self._writer.tick(now, checkpoint=checkpoint)
            if now - self._pruned_at >= PRUNE_S:
                self._store.prune(now, history_keep_s=HISTORY_KEEP_S)
                self._pruned_at = now
                self._memory.trim(now)
        except ENVIRONMENT_ERRORS as exc:
            self._health.failed(exc, now)
        else:
            if wrote:
                self._health.worked(now)
            if checkpoint:
                self._checkpoint_at = now
        # Only when someone reads snapshots: a simulation that never looks costs nothing.
        if self._avail_job is None and self._snapshot_read and now - self._avail_at >= AVAILABILITY_REFRESH_S:
            self._snapshot_read = False
            self._avail_at = now
            self._avail_job = Steps(
                standard_availability_steps(self.topology, self._memory, now, units_per_step=AVAILABILITY_STEP_UNITS)
            )
        job = self._avail_job
        if job is not None and job.step():
            self._avail_job = None
            self._availability = cast(StandardAvailability, job.result)
            self._writer.changed = True

    def close(self) -> None:
        """Save every device's state and close the store."""
        try:
            self._writer.save_all()
        finally:
            self._store.close()

    # --- counters -----------------------------------------------------------------------------

    @property
    def late_samples(self) -> int:
        """Samples older than their device's newest (re-played or not)."""
        return self._writer.counters.late_samples

    @property
    def late_replayed(self) -> int:
        """Late samples that were re-played."""
        return self._writer.counters.late_replayed

    @property
    def replays(self) -> int:
        """Device re-plays."""
        return self._writer.replayer.replays

    @property
    def unknown_samples(self) -> int:
        """Samples of devices the inventory does not have."""
        return self._writer.counters.unknown_samples

    @property
    def batches(self) -> int:
        """Batches applied."""
        return self._writer.counters.batches

    @property
    def samples(self) -> int:
        """Samples in the batches applied."""
        return self._writer.counters.samples

    @property
    def duplicates(self) -> int:
        """Batches dropped as already applied."""
        return self._writer.counters.duplicates

    # --- the read side -----------------------------------------------------------------------

    def device_state(self, device: str) -> DeviceState | None:
        """The core state of a device (for tests and diagnostics)."""
        return self._writer.records.core.get(device)

    def refresh_availability(self, now: float) -> None:
        """Recompute the snapshot's availability over the standard windows ending at ``now``."""
        self._snapshot_read = False
        self._avail_at = now
        self._avail_job = None
        self._availability = standard_availability(self.topology, self._memory, now)
        self._writer.changed = True

    def snapshot(self) -> Snapshot:
        """The current state, immutable; rebuilt at most once a second when samples arrive."""
        now = self._clock()
        self._snapshot_read = True
        if self._avail_job is None and now - self._avail_at >= 2 * AVAILABILITY_REFRESH_S:
            # Figures the ticks have not kept fresh (the first read long after the start,
            # after an inventory reload, or without ticks): computed now, at once.
            self.refresh_availability(now)
        snap = self._snapshot
        w = self._writer
        if snap is not None and (not (w.changed or w.dirty_views) or now - snap.taken_at < SNAPSHOT_MAX_AGE_S):
            return snap
        topo = self.topology
        copy = msgspec.structs.replace
        core, live, measured, tallies = w.records.core, w.records.live, w.records.measured, self._memory.reboot_tallies
        for dev_id in w.dirty_views:
            if dev_id in topo.facts:
                m = measured.get(dev_id)
                self._views[dev_id] = ViewInputs(
                    core[dev_id], copy(live[dev_id]), None if m is None else copy(m), tallies.get(dev_id)
                )
        w.dirty_views.clear()
        w.changed = False
        parts = SnapshotParts(
            devices=DeviceViews(topo, dict(self._views)),
            core=w.records.core,
            agents=w.records.agents,
            ingest=self._ingest(),
            availability=self._availability,
            started=w.started,
            store=self._health.view(),
        )
        snap = self._snapshot = build_snapshot(topo, self._memory, parts, now, previous=snap)
        return snap

    def _ingest(self) -> IngestCounters:
        c = self._writer.counters
        if self._ingest_counters is None:
            return IngestCounters(
                batches=c.batches,
                samples=c.samples,
                duplicates=c.duplicates,
                late_samples=c.late_samples,
                unknown_devices=c.unknown_samples,
            )
        ic = self._ingest_counters()
        return replace(
            ic,
            late_samples=max(ic.late_samples, c.late_samples),
            unknown_devices=max(ic.unknown_devices, c.unknown_samples),
        )
