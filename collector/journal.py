"""One write transaction: what it will commit, and a journal of what it changed in memory,
so that a failed commit (disk full, I/O error) puts the memory back as it was and the
batch's redelivery is applied as if for the first time."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec

from netmon.collector.devices import Live
from netmon.collector.readmodel import RebootTally, RecentLog
from netmon.collector.records import DeviceRecords
from netmon.collector.replay import View, ViewLogs
from netmon.collector.state import DeviceState
from netmon.collector.store import Commit
from netmon.collector.timeline import Timeline


class DeviceBefore(msgspec.Struct):
    """A device's records as they were before the transaction first changed them (a
    msgspec struct: one is made per device per batch, and its constructor is C)."""

    core: DeviceState
    live: Live
    watermark: float | None


class RecentBefore(msgspec.Struct):
    """A device's part of the recent log before the transaction first changed it: journaled
    only when a transition or a reboot is recorded, which few batches do.

    ``timeline_ts`` and ``timeline_code`` are its timeline's last point, packed (a
    transaction may replace it).
    """

    timeline: Timeline | None
    timeline_len: int
    timeline_ts: float
    timeline_code: int
    outages: int | None
    reboots: int
    reboot_tally: RebootTally | None


@dataclass(slots=True)
class Txn:
    """One transaction.

    Attributes:
        commit: What it will write.
        devices: Per device it changed, its records before.
        recent: Per device whose part of the recent log it changed, that part before.
        views: Per device whose view log it changed, the log before.
        moved: Devices whose live record it moved (saved as live tails).
    """

    commit: Commit
    devices: dict[str, DeviceBefore] = field(default_factory=dict)
    recent: dict[str, RecentBefore] = field(default_factory=dict)
    views: dict[str, list[View] | None] = field(default_factory=dict)
    moved: set[str] = field(default_factory=set)

    def touch(self, dev_id: str, records: DeviceRecords) -> None:
        """Journal a device's records before their first change in the transaction (the
        hot path: once per device per batch)."""
        if dev_id not in self.devices:
            self.devices[dev_id] = DeviceBefore(
                records.core[dev_id], msgspec.structs.replace(records.live[dev_id]), records.watermark.get(dev_id)
            )

    def touch_recent(self, dev_id: str, recent: RecentLog) -> None:
        """Journal a device's part of the recent log before its first change in the
        transaction."""
        if dev_id in self.recent:
            return
        tl = recent.device.get(dev_id)
        n = 0 if tl is None else len(tl.codes)
        self.recent[dev_id] = RecentBefore(
            timeline=tl,
            timeline_len=n,
            timeline_ts=tl.times[n - 1] if tl is not None and n else 0.0,
            timeline_code=tl.codes[n - 1] if tl is not None and n else 0,
            outages=recent.outage_counts.get(dev_id),
            reboots=len(recent.reboots.get(dev_id, ())),
            reboot_tally=recent.reboot_tallies.get(dev_id),
        )

    def edit_views(self, dev_id: str, views: ViewLogs) -> None:
        """Journal a device's view log before the transaction changes it."""
        if dev_id not in self.views:
            self.views[dev_id] = views.get(dev_id)

    def rollback(self, records: DeviceRecords, recent: RecentLog, views: ViewLogs) -> None:
        """Put back every device, part of the recent log and view log the transaction changed."""
        for dev_id, b in self.devices.items():
            records.core[dev_id] = b.core
            records.live[dev_id] = b.live
            if b.watermark is None:
                records.watermark.pop(dev_id, None)
            else:
                records.watermark[dev_id] = b.watermark
        for dev_id, r in self.recent.items():
            if r.timeline is None:
                recent.device.pop(dev_id, None)
            else:
                del r.timeline[r.timeline_len :]
                if r.timeline_len:
                    r.timeline.times[r.timeline_len - 1] = r.timeline_ts
                    r.timeline.codes[r.timeline_len - 1] = r.timeline_code
                recent.device[dev_id] = r.timeline
            if r.outages is None:
                recent.outage_counts.pop(dev_id, None)
            else:
                recent.outage_counts[dev_id] = r.outages
            # Reboots are only appended within a transaction: what it added is at the end.
            del recent.reboots.get(dev_id, [])[r.reboots :]
            if r.reboot_tally is None:
                recent.reboot_tallies.pop(dev_id, None)
            else:
                recent.reboot_tallies[dev_id] = r.reboot_tally
            recent.touched(dev_id)
        for dev_id, vl in self.views.items():
            views.restore(dev_id, vl)
