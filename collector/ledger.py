"""Which batch sequence numbers of an agent were applied: the de-duplication ledger.

An agent numbers its batches 1, 2, 3, ... and keeps them in its outbox until the broker
acknowledges them; after a long outage it drains the backlog oldest first while live
batches overtake it, and a batch the outbox had to drop never comes. So the numbers seen
are not a prefix: they are kept as sorted, disjoint, closed ranges. Any order of arrival
is accepted, however far live data runs ahead of a backlog. Gaps are few (one per
backlog being drained, one per batch the outbox dropped), and when more than
``max_ranges`` accumulate the oldest gap is closed: numbers that old are taken as lost.

Pure: no I/O. The store persists :meth:`SeenSequences.encode`.
"""

from __future__ import annotations

from bisect import bisect_right

import msgspec

#: Gaps kept per agent before the oldest is given up (each costs two integers).
MAX_RANGES = 1024


class SeenSequences:
    """The set of sequence numbers applied for one agent, as disjoint closed ranges."""

    __slots__ = ("_hi", "_lo", "max_ranges")

    def __init__(self, ranges: list[tuple[int, int]] | None = None, *, max_ranges: int = MAX_RANGES) -> None:
        self._lo: list[int] = []
        self._hi: list[int] = []
        self.max_ranges = max_ranges
        for lo, hi in sorted(ranges or ()):  # merge overlapping or adjacent ranges
            if self._lo and lo <= self._hi[-1] + 1:
                self._hi[-1] = max(self._hi[-1], hi)
            else:
                self._lo.append(lo)
                self._hi.append(hi)

    def __contains__(self, seq: object) -> bool:
        if not isinstance(seq, int):
            return False
        i = bisect_right(self._lo, seq) - 1
        return i >= 0 and seq <= self._hi[i]

    def add(self, seq: int) -> None:
        """Record ``seq`` as applied (idempotent)."""
        i = bisect_right(self._lo, seq) - 1  # the range starting at or before seq
        if i >= 0 and seq <= self._hi[i]:
            return
        joins_left = i >= 0 and self._hi[i] == seq - 1
        joins_right = i + 1 < len(self._lo) and self._lo[i + 1] == seq + 1
        if joins_left and joins_right:
            self._hi[i] = self._hi[i + 1]
            del self._lo[i + 1]
            del self._hi[i + 1]
        elif joins_left:
            self._hi[i] = seq
        elif joins_right:
            self._lo[i + 1] = seq
        else:
            self._lo.insert(i + 1, seq)
            self._hi.insert(i + 1, seq)
            if len(self._lo) > self.max_ranges:
                # close the oldest gap: batches that old are not coming any more
                self._hi[0] = self._hi[1]
                del self._lo[1]
                del self._hi[1]

    def ranges(self) -> list[tuple[int, int]]:
        """The ranges, oldest first."""
        return list(zip(self._lo, self._hi, strict=True))

    def count(self) -> int:
        """How many numbers are recorded."""
        return sum(hi - lo + 1 for lo, hi in zip(self._lo, self._hi, strict=True))

    def encode(self) -> str:
        """JSON text of the ranges, for the store."""
        return msgspec.json.encode(self.ranges()).decode()

    @classmethod
    def decode(cls, text: str | bytes) -> SeenSequences:
        """Inverse of :meth:`encode`."""
        return cls([(int(lo), int(hi)) for lo, hi in msgspec.json.decode(text, type=list[tuple[int, int]])])
