"""Which batch sequence numbers of an agent were applied: the de-duplication ledger.

An agent numbers its batches in its outbox (a new outbox starts at the current time in
milliseconds, then counts up by one) and keeps them until the broker acknowledges them;
after a long outage it drains the backlog oldest first while live batches overtake it,
and a batch the outbox had to drop never comes. So the numbers seen are not a prefix:
they are kept as sorted, disjoint, closed ranges, and any order of arrival is accepted,
however far live data runs ahead of a backlog.

**Never a number that was not seen.** A number is reported as applied only if a batch
with it was applied. The ledger is bounded (``max_ranges`` ranges per agent), and when a
batch would exceed the bound the ledger *forgets* the range that was extended least
recently; it never fills a gap. (An earlier version closed the lowest gap instead: 1,030
forged batches numbered far above an agent's own made every later real batch of that
agent a "duplicate", for good, since the ledger is persisted.) Forgetting costs at most
the de-duplication of batches that old, should they ever be delivered again; filling cost
real data. Legitimate agents never come near the bound: a few ranges per backlog.

**Gaps are loss, jumps are not.** Between two ranges lie numbers not (or not yet)
received: a backlog still draining, or batches the agent's outbox dropped. Gaps up to
:data:`MAX_GAP` numbers are counted as missing batches (exported per agent, so that real
loss is visible); a wider one is a *jump* — an agent that lost its outbox starts again at
the current time in milliseconds, and a forged number lands anywhere — and is not counted
as loss.

Pure: no I/O. The store persists :meth:`SeenSequences.encode`.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import msgspec

#: Ranges kept per agent before the least recently extended one is forgotten.
MAX_RANGES = 1024
#: The widest gap counted as missing batches. An outbox drops at most ``max_bytes`` of
#: batches (256 MiB by default: about a million of the smallest); a wider gap is a jump.
MAX_GAP = 1_000_000


@dataclass(frozen=True, slots=True)
class Gaps:
    """The holes in an agent's sequence numbers.

    Attributes:
        gaps: Gaps of at most :data:`MAX_GAP` numbers between applied ranges.
        missing: Batches in those gaps: not received yet (a backlog) or lost.
        jumps: Wider gaps (a new outbox, or a forged number): not counted as missing.
    """

    gaps: int = 0
    missing: int = 0
    jumps: int = 0


class SeenSequences:
    """The set of sequence numbers applied for one agent, as disjoint closed ranges.

    Each range remembers when it was last extended (a counter of additions, persisted
    with it), so the bound forgets the staleest range, never the one an agent is adding to.
    """

    __slots__ = ("_hi", "_lo", "_tick", "_touched", "max_ranges")

    def __init__(self, ranges: list[tuple[int, int]] | None = None, *, max_ranges: int = MAX_RANGES) -> None:
        self._lo: list[int] = []
        self._hi: list[int] = []
        self._touched: list[int] = []
        self._tick = 0
        self.max_ranges = max_ranges
        self._load([(lo, hi, 0) for lo, hi in ranges or ()])

    def _load(self, triples: list[tuple[int, int, int]]) -> None:
        for lo, hi, touched in sorted(triples):  # merge overlapping or adjacent ranges
            if self._lo and lo <= self._hi[-1] + 1:
                self._hi[-1] = max(self._hi[-1], hi)
                self._touched[-1] = max(self._touched[-1], touched)
            else:
                self._lo.append(lo)
                self._hi.append(hi)
                self._touched.append(touched)
        self._tick = max(self._touched, default=0)

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
        self._tick += 1
        tick = self._tick
        joins_left = i >= 0 and self._hi[i] == seq - 1
        joins_right = i + 1 < len(self._lo) and self._lo[i + 1] == seq + 1
        if joins_left and joins_right:
            self._hi[i] = self._hi[i + 1]
            self._touched[i] = tick
            del self._lo[i + 1], self._hi[i + 1], self._touched[i + 1]
        elif joins_left:
            self._hi[i] = seq
            self._touched[i] = tick
        elif joins_right:
            self._lo[i + 1] = seq
            self._touched[i + 1] = tick
        else:
            self._lo.insert(i + 1, seq)
            self._hi.insert(i + 1, seq)
            self._touched.insert(i + 1, tick)
            if len(self._lo) > self.max_ranges:
                # forget the range extended least recently; never fill a gap (see module doc)
                j = min(range(len(self._touched)), key=self._touched.__getitem__)
                del self._lo[j], self._hi[j], self._touched[j]

    def ranges(self) -> list[tuple[int, int]]:
        """The ranges, lowest first."""
        return list(zip(self._lo, self._hi, strict=True))

    def count(self) -> int:
        """How many numbers are recorded."""
        return sum(hi - lo + 1 for lo, hi in zip(self._lo, self._hi, strict=True))

    def gaps(self) -> Gaps:
        """The gaps between the ranges: missing batches, and jumps."""
        gaps = missing = jumps = 0
        for k in range(1, len(self._lo)):
            width = self._lo[k] - self._hi[k - 1] - 1
            if width > MAX_GAP:
                jumps += 1
            else:
                gaps += 1
                missing += width
        return Gaps(gaps, missing, jumps)

    def encode(self) -> str:
        """JSON text of the ranges and when each was last extended, for the store."""
        return msgspec.json.encode(list(zip(self._lo, self._hi, self._touched, strict=True))).decode()

    @classmethod
    def decode(cls, text: str | bytes, *, max_ranges: int = MAX_RANGES) -> SeenSequences:
        """Inverse of :meth:`encode`; also reads the older ``[lo, hi]`` pairs (never touched)."""
        seen = cls(max_ranges=max_ranges)
        rows = msgspec.json.decode(text, type=list[list[int]])
        seen._load([(r[0], r[1], r[2] if len(r) > 2 else 0) for r in rows])
        return seen
