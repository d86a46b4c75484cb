"""What each commit saves of the devices' live records.

A device's whole record is saved when its core state changes; in between, every commit
saves a *live tail* of each device it moved (:class:`~collector.devices.LiveTail`), so that
a collector killed at any moment comes back with the rounds and silences exactly as they
were. Loading applies to each device the tails newer than its whole save.

The tails grow with every batch, so once they pass about :data:`TAIL_BYTES_PER_DEVICE`
bytes a device, every device is saved whole again and the older tails are dropped. At
national scale that is 30,000 records: saved in one commit they stall the batch that
carries them for a few hundred milliseconds, so a large inventory is saved a slice of
:data:`SLICE_DEVICES` devices per commit instead (a *rolling* save). Once the last slice is
written, every device's whole save is at least as new as the first slice's commit, and the
tails up to that commit are dropped. The periodic checkpoint (every device saved whole,
every ``checkpoint_s``) is a rolling save too.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from netmon.collector.store import Commit

#: The live tails saved since every device was last saved whole are bounded by about this
#: many bytes per device (about one whole save).
TAIL_BYTES_PER_DEVICE = 200
#: Devices saved whole per commit during a rolling save.
SLICE_DEVICES = 1000


@dataclass(slots=True)
class RollingSave:
    """A rolling save under way.

    Attributes:
        devices: Every device to save, in order (the inventory's when it began).
        done: How many of them are saved.
        first_gen: The commit that saved the first slice.
        tail_bytes: Bytes of the tails saved after ``first_gen`` (kept when it ends).
    """

    devices: list[str]
    done: int = 0
    first_gen: int = 0
    tail_bytes: int = 0


@dataclass(slots=True)
class TailSaves:
    """How much of the live tails is saved, and the rolling save under way (if any)."""

    tail_bytes: int = 0
    rolling: RollingSave | None = None
    #: A checkpoint is due: the next commit begins a whole save whatever the tails' size.
    due: bool = False

    def plan(self, commit: Commit, devices: Collection[str]) -> Slice | None:
        """Add to ``commit`` the whole saves it should carry beside its tails (``commit.tails``,
        already encoded); ``devices`` are the inventory's, in order. Returns the slice of a
        rolling save it carries (None: none), for :meth:`committed`."""
        if commit.drop_tails:
            return None  # every device is saved whole already
        rolling = self.rolling
        if rolling is None:
            new = len(commit.tails or b"")
            if not self.due and self.tail_bytes + new <= TAIL_BYTES_PER_DEVICE * max(1, len(devices)):
                return None
            order = list(devices)
            if len(order) <= SLICE_DEVICES:
                # Small enough for one commit: every device whole, and no tails at all.
                commit.tails = None
                commit.drop_tails = True
                commit.devices.update(dict.fromkeys(order, b""))
                return None
            rolling = RollingSave(order)
        step = Slice(rolling, min(rolling.done + SLICE_DEVICES, len(rolling.devices)))
        commit.devices.update((d, b"") for d in rolling.devices[rolling.done : step.upto] if d in devices)
        if step.last:
            # Devices that joined the inventory during the save: saved now, as the tails
            # before the first slice go.
            commit.devices.update((d, b"") for d in set(devices).difference(rolling.devices))
            commit.drop_tails_upto = rolling.first_gen
        return step

    def committed(self, commit: Commit, step: Slice | None) -> None:
        """``commit``, planned with ``step``, is written: account for its tails and move the
        save on."""
        new = len(commit.tails or b"")
        if commit.drop_tails:
            self.tail_bytes, self.rolling, self.due = 0, None, False
            return
        self.tail_bytes += new
        if step is None:
            return
        rolling = step.rolling
        if rolling.done == 0:
            rolling.first_gen = commit.gen  # its own tails go with the rest at the end
            self.due = False
        else:
            rolling.tail_bytes += new
        rolling.done = step.upto
        if step.last:
            self.tail_bytes, self.rolling = rolling.tail_bytes, None
        else:
            self.rolling = rolling


@dataclass(frozen=True, slots=True)
class Slice:
    """The slice of a rolling save a commit carries: its devices up to ``upto``."""

    rolling: RollingSave
    upto: int

    @property
    def last(self) -> bool:
        """Whether it ends the save."""
        return self.upto == len(self.rolling.devices)
