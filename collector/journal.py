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
    """A device as it was before the transaction first changed it (a msgspec struct: one is
    made per device per batch, and its constructor is C).

    ``timeline_ts`` and ``timeline_code`` are its timeline's last point, packed (a
    transaction may replace it).
    """

    core: DeviceState
    live: Live
    watermark: float | None
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
        devices: Per device it changed, the device before.
        views: Per device whose view log it changed, the log before.
        moved: Devices whose live record it moved (saved as live tails).
    """

    commit: Commit
    devices: dict[str, DeviceBefore] = field(default_factory=dict)
    views: dict[str, list[View] | None] = field(default_factory=dict)
    moved: set[str] = field(default_factory=set)

    def touch(self, dev_id: str, records: DeviceRecords, recent: RecentLog) -> None:
        """Journal a device before its first change in the transaction."""
        if dev_id in self.devices:
            return
        tl = recent.device.get(dev_id)
        # The hot path (once per device per batch): the packed arrays, no method call.
        n = 0 if tl is None else len(tl.codes)
        self.devices[dev_id] = DeviceBefore(
            core=records.core[dev_id],
            live=msgspec.structs.replace(records.live[dev_id]),
            watermark=records.watermark.get(dev_id),
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
        """Put back every device and view log the transaction changed."""
        for dev_id, b in self.devices.items():
            records.core[dev_id] = b.core
            records.live[dev_id] = b.live
            if b.watermark is None:
                records.watermark.pop(dev_id, None)
            else:
                records.watermark[dev_id] = b.watermark
            if b.timeline is None:
                recent.device.pop(dev_id, None)
            else:
                del b.timeline[b.timeline_len :]
                if b.timeline_len:
                    b.timeline.times[b.timeline_len - 1] = b.timeline_ts
                    b.timeline.codes[b.timeline_len - 1] = b.timeline_code
                recent.device[dev_id] = b.timeline
            if b.outages is None:
                recent.outage_counts.pop(dev_id, None)
            else:
                recent.outage_counts[dev_id] = b.outages
            # Reboots are only appended within a transaction: what it added is at the end.
            del recent.reboots.get(dev_id, [])[b.reboots :]
            if b.reboot_tally is None:
                recent.reboot_tallies.pop(dev_id, None)
            else:
                recent.reboot_tallies[dev_id] = b.reboot_tally
            recent.touched(dev_id)
        for dev_id, vl in self.views.items():
            views.restore(dev_id, vl)
