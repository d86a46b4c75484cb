"""A timeline, packed: a device's (or a commune's) states in time order, 9 bytes a point.

The collector keeps the recent transition log of every device and commune in memory (a
national inventory: 40,000 timelines of about ten points). As lists of ``(ts, state)``
tuples that cost 88 bytes a point; here the times are one ``array('d')`` and the states one
``bytearray``, and a point is made only when it is read.

A :class:`Timeline` reads like a sequence of :class:`Point` (index, slice, iterate, compare
with a list of pairs) and is changed only at its end (append, pop, cut), as the transition
log is.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple, overload

from netmon.collector.model import State

#: The states by their code in a packed timeline.
STATES: tuple[State, ...] = tuple(State)
_CODE = {s: i for i, s in enumerate(STATES)}


class Point(NamedTuple):
    """A point of a timeline: the device (or commune) is in ``state`` from ``ts`` on."""

    ts: float
    state: State


class Timeline(Sequence[Point]):
    """Points ``(ts, state)`` in time order, packed.

    Args:
        points: The points, oldest first.
    """

    __slots__ = ("codes", "times")

    times: array[float]
    codes: bytearray

    def __init__(self, points: Iterable[tuple[float, State]] = ()) -> None:
        self.times = array("d")
        self.codes = bytearray()
        for ts, state in points:
            self.append(Point(ts, state))

    @classmethod
    def of(cls, timeline: Sequence[tuple[float, State]]) -> Timeline:
        """``timeline`` itself when it is packed, else a packed copy."""
        return timeline if isinstance(timeline, Timeline) else cls(timeline)

    def _from(self, times: array[float], codes: bytearray) -> Timeline:
        tl = Timeline()
        tl.times = times
        tl.codes = codes
        return tl

    def __len__(self) -> int:
        return len(self.codes)

    def __iter__(self) -> Iterator[Point]:
        for ts, code in zip(self.times, self.codes, strict=True):
            yield Point(ts, STATES[code])

    @overload
    def __getitem__(self, i: int) -> Point: ...
    @overload
    def __getitem__(self, i: slice) -> Timeline: ...
    def __getitem__(self, i: int | slice) -> Point | Timeline:
        if isinstance(i, slice):
            return self._from(self.times[i], self.codes[i])
        return Point(self.times[i], STATES[self.codes[i]])

    def __setitem__(self, i: int, point: tuple[float, State]) -> None:
        self.times[i] = point[0]
        self.codes[i] = _CODE[point[1]]

    def __delitem__(self, i: slice) -> None:
        del self.times[i]
        del self.codes[i]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Timeline):
            return self.times == other.times and self.codes == other.codes
        if isinstance(other, Sequence):
            return len(other) == len(self) and all(a == tuple(b) for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Timeline({[(p.ts, p.state.value) for p in self]!r})"

    def state(self, i: int) -> State:
        """The state of the ``i``-th point."""
        return STATES[self.codes[i]]

    def append(self, point: tuple[float, State]) -> None:
        """Add a point at the end (the newest)."""
        self.times.append(point[0])
        self.codes.append(_CODE[point[1]])

    def pop(self) -> Point:
        """Remove the newest point and return it."""
        p = self[-1]
        del self.times[-1]
        del self.codes[-1]
        return p

    def copy(self) -> Timeline:
        """A copy that changes apart."""
        return self._from(array("d", self.times), bytearray(self.codes))

    def nbytes(self) -> int:
        """The bytes its points take."""
        return self.times.itemsize * len(self.times) + len(self.codes)
