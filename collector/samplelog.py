"""A device's recent samples for re-play, packed: 4 bytes a sample instead of 9.

The engine keeps every sample of every device for up to two reorder windows (about
5 million at national scale). Each is stored as the step from the previous one in units
of 2**-22 s (the resolution of a float64 Unix time between 2004 and 2038) with the verdict
in the low bit; the first is kept as the base the steps start from. A time that this step
does not give back exactly (a gap of more than 512 s, times of another resolution) is
kept whole beside it: the re-play sees exactly the times that were logged.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator

_SCALE = float(2**22)
#: The step that marks a time kept whole.
_WHOLE = 2**31 - 1


class SampleLog:
    """Times and verdicts of samples in time order."""

    __slots__ = ("_base", "_last", "_steps", "_whole")
    _steps: array[int]
    _whole: array[float] | None
    _last: float
    _base: float

    def __init__(self) -> None:
        self._reset(())

    def __len__(self) -> int:
        return len(self._steps)

    def __iter__(self) -> Iterator[tuple[float, bool]]:
        whole = iter(self._whole or ())
        ts = self._base
        for word in self._steps:
            step = word >> 1
            ts = next(whole) if step == _WHOLE else ts + step / _SCALE
            yield ts, bool(word & 1)

    def append(self, ts: float, ok: bool) -> None:
        """Log a sample at least as recent as the last one (else it is kept whole)."""
        if not self._steps:
            self._base = self._last = ts  # the first is a step of 0 from the base
        d = (ts - self._last) * _SCALE
        # The same expression as in __iter__ decides: a step is kept only if it gives ts back.
        if 0.0 <= d < _WHOLE and d == (step := int(d)) and self._last + step / _SCALE == ts:
            self._steps.append(step << 1 | ok)
        else:
            self._steps.append(_WHOLE << 1 | ok)
            if self._whole is None:
                self._whole = array("d")
            self._whole.append(ts)
        self._last = ts

    def insert(self, ts: float, ok: bool) -> None:
        """Log a late sample in its place in time (after the samples of the same time)."""
        samples = list(self)
        i = len(samples)
        while i > 0 and samples[i - 1][0] > ts:
            i -= 1
        samples.insert(i, (ts, ok))
        self._reset(samples)

    def drop_before(self, ts: float) -> None:
        """Forget the samples older than ``ts``.

        The steps kept are not re-encoded: the last time forgotten becomes the base the
        first of them steps from, so every time comes back as the same sum as before.
        """
        whole = self._whole
        t, cut, wholes = self._base, 0, 0
        for word in self._steps:
            step = word >> 1
            nt = whole[wholes] if step == _WHOLE and whole is not None else t + step / _SCALE
            if not nt < ts:
                break
            if step == _WHOLE:
                wholes += 1
            t, cut = nt, cut + 1
        if cut == len(self._steps):
            self._reset(())
        elif cut:
            del self._steps[:cut]
            if whole is not None:
                del whole[:wholes]
                self._whole = whole or None
            self._base = t

    def _reset(self, samples: Iterable[tuple[float, bool]]) -> None:
        self._steps = array("I")
        self._whole = None
        self._base = self._last = 0.0
        for ts, ok in samples:
            self.append(ts, ok)
